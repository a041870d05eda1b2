package lab.obi.agent.telemetry;

import io.opentelemetry.api.common.AttributeKey;
import io.opentelemetry.api.common.Attributes;
import io.opentelemetry.api.metrics.Meter;
import io.opentelemetry.api.metrics.ObservableLongMeasurement;
import io.opentelemetry.exporter.prometheus.PrometheusHttpServer;
import io.opentelemetry.sdk.metrics.Aggregation;
import io.opentelemetry.sdk.metrics.InstrumentSelector;
import io.opentelemetry.sdk.metrics.InstrumentType;
import io.opentelemetry.sdk.metrics.SdkMeterProvider;
import io.opentelemetry.sdk.metrics.SdkMeterProviderBuilder;
import io.opentelemetry.sdk.metrics.View;
import io.opentelemetry.sdk.resources.Resource;

import java.io.UncheckedIOException;
import java.net.InetAddress;
import java.net.UnknownHostException;
import java.util.function.Supplier;

/**
 * The agent's OpenTelemetry metrics: request metrics for every observed process and the agent's own
 * health, served on a Prometheus scrape endpoint (OpenMetrics; native histograms when exponential
 * histograms are on).
 */
public final class Telemetry implements AutoCloseable {

    private static final AttributeKey<String> DROP_REASON = AttributeKey.stringKey("obi.drop.reason");

    private final SdkMeterProvider meterProvider;
    private final PrometheusHttpServer prometheus;
    private final HttpMetrics httpMetrics;

    public record Settings(String prometheusHost, int prometheusPort, boolean exponentialHistograms) {
    }

    public Telemetry(Settings settings, Supplier<SelfStats> selfStats) {
        try {
            prometheus = PrometheusHttpServer.builder().setHost(settings.prometheusHost())
                    .setPort(settings.prometheusPort()).build();
        } catch (UncheckedIOException e) {
            throw new IllegalArgumentException("cannot serve Prometheus metrics on " + settings.prometheusHost() + ":"
                    + settings.prometheusPort() + " (" + e.getCause().getMessage()
                    + "): set obi.metrics.prometheus.port, or 0 to turn the endpoint off");
        }
        SdkMeterProviderBuilder builder = SdkMeterProvider.builder()
                .setResource(Resource.getDefault().merge(Resource.create(Attributes.of(
                        AttributeKey.stringKey("service.name"), "obi-agent",
                        AttributeKey.stringKey("host.name"), hostName()))))
                .registerMetricReader(prometheus);
        if (settings.exponentialHistograms()) {
            builder.registerView(InstrumentSelector.builder().setType(InstrumentType.HISTOGRAM).build(),
                    View.builder().setAggregation(Aggregation.base2ExponentialBucketHistogram()).build());
        }
        meterProvider = builder.build();
        Meter meter = meterProvider.get("lab.obi.agent");
        httpMetrics = new HttpMetrics(meter);
        registerSelfMetrics(meter, selfStats);
    }

    public HttpMetrics httpMetrics() {
        return httpMetrics;
    }

    private static void registerSelfMetrics(Meter meter, Supplier<SelfStats> selfStats) {
        ObservableLongMeasurement records = meter.counterBuilder("obi.agent.records").setUnit("{record}")
                .setDescription("Exchange records received from the kernel").buildObserver();
        ObservableLongMeasurement logged = meter.counterBuilder("obi.agent.requests").setUnit("{request}")
                .setDescription("HTTP requests reported").buildObserver();
        ObservableLongMeasurement notHttp = meter.counterBuilder("obi.agent.not_http").setUnit("{record}")
                .setDescription("Records whose bytes were not an HTTP/1.x request (parse failures)").buildObserver();
        ObservableLongMeasurement dropped = meter.counterBuilder("obi.agent.dropped").setUnit("{record}")
                .setDescription("What could not be captured or kept, by reason").buildObserver();
        ObservableLongMeasurement queue = meter.gaugeBuilder("obi.agent.queue.depth").ofLongs().setUnit("{record}")
                .setDescription("Records waiting between the ring buffer and assembly").buildObserver();
        meter.batchCallback(() -> {
            SelfStats s = selfStats.get();
            records.record(s.recordsReceived());
            logged.record(s.requestsReported());
            notHttp.record(s.notHttp());
            s.drops().forEach((reason, count) -> dropped.record(count, Attributes.of(DROP_REASON, reason)));
            queue.record(s.queueDepth());
        }, records, logged, notHttp, dropped, queue);
    }

    private static String hostName() {
        try {
            return InetAddress.getLocalHost().getHostName();
        } catch (UnknownHostException e) {
            return "localhost";
        }
    }

    @Override
    public void close() {
        meterProvider.close();
    }
}
