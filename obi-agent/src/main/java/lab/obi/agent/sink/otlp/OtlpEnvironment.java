package lab.obi.agent.sink.otlp;

import io.opentelemetry.exporter.otlp.internal.OtlpMetricExporterProvider;
import io.opentelemetry.exporter.otlp.internal.OtlpSpanExporterProvider;
import io.opentelemetry.sdk.autoconfigure.spi.ConfigProperties;
import io.opentelemetry.sdk.autoconfigure.spi.internal.DefaultConfigProperties;
import io.opentelemetry.sdk.metrics.export.MetricExporter;
import io.opentelemetry.sdk.trace.export.SpanExporter;

import java.time.Duration;
import java.util.Map;

/**
 * The standard OTEL_* variables (and otel.* system properties), read once: where the OTLP exporters
 * send, over which protocol, with which headers and timeouts, and how often metrics are pushed.
 * Without an endpoint nothing is pushed.
 */
public final class OtlpEnvironment {

    private final ConfigProperties properties;

    public OtlpEnvironment(ConfigProperties properties) {
        this.properties = properties;
    }

    public static OtlpEnvironment read() {
        return new OtlpEnvironment(DefaultConfigProperties.create(Map.of()));
    }

    public boolean endpointConfigured() {
        return properties.getString("otel.exporter.otlp.endpoint") != null
                || properties.getString("otel.exporter.otlp.traces.endpoint") != null
                || properties.getString("otel.exporter.otlp.metrics.endpoint") != null;
    }

    public MetricExporter metricExporter() {
        return new OtlpMetricExporterProvider().createExporter(properties);
    }

    public Duration metricExportInterval() {
        return properties.getDuration("otel.metric.export.interval", Duration.ofSeconds(60));
    }

    public SpanExporter spanExporter() {
        return new OtlpSpanExporterProvider().createExporter(properties);
    }

    /** Where signals go, for the start-up line. */
    public String describe(boolean metrics, boolean traces) {
        if (!endpointConfigured()) {
            return "off (set OTEL_EXPORTER_OTLP_ENDPOINT)";
        }
        String endpoint = properties.getString("otel.exporter.otlp.endpoint", "per signal");
        String protocol = properties.getString("otel.exporter.otlp.protocol", "grpc");
        return endpoint + " (" + protocol + "; metrics " + (metrics ? "on" : "off") + ", traces "
                + (traces ? "on" : "off") + ")";
    }
}
