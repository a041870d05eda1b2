package lab.obi.agent.sink.otlp;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertTrue;

import io.opentelemetry.sdk.autoconfigure.spi.internal.DefaultConfigProperties;
import java.time.Duration;
import java.util.Map;
import org.junit.jupiter.api.Test;

class OtlpEnvironmentTest {

    private static OtlpEnvironment of(Map<String, String> variables) {
        return new OtlpEnvironment(DefaultConfigProperties.createFromMap(variables));
    }

    @Test
    void withoutAnEndpointNothingIsPushed() {
        OtlpEnvironment none = of(Map.of());
        assertFalse(none.endpointConfigured());
        assertEquals("off (set OTEL_EXPORTER_OTLP_ENDPOINT)", none.describe(true, true));
        assertEquals(Duration.ofSeconds(60), none.metricExportInterval());
    }

    @Test
    void anEndpointForAnySignalTurnsPushingOn() {
        OtlpEnvironment all = of(Map.of("otel.exporter.otlp.endpoint", "http://collector:4317",
                "otel.metric.export.interval", "1000"));
        assertTrue(all.endpointConfigured());
        assertEquals("http://collector:4317 (grpc; metrics on, traces off)", all.describe(true, false));
        assertEquals(Duration.ofSeconds(1), all.metricExportInterval());

        OtlpEnvironment traces = of(Map.of("otel.exporter.otlp.traces.endpoint", "http://collector:4318/v1/traces",
                "otel.exporter.otlp.protocol", "http/protobuf"));
        assertTrue(traces.endpointConfigured());
        assertEquals("per signal (http/protobuf; metrics off, traces on)", traces.describe(false, true));
    }
}
