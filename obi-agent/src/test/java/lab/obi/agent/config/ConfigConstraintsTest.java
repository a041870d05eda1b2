package lab.obi.agent.config;

import io.quarkus.runtime.configuration.DurationConverter;
import io.smallrye.config.ConfigValidationException;
import io.smallrye.config.PropertiesConfigSource;
import io.smallrye.config.SmallRyeConfigBuilder;
import org.junit.jupiter.api.Test;

import java.time.Duration;
import java.util.ArrayList;
import java.util.List;
import java.util.Map;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;

/** The constraints on obi.*, checked by SmallRye Config as the agent builds it (through the same registration). */
class ConfigConstraintsTest {

    private static AgentConfig build(Map<String, String> properties) {
        return new SmallRyeConfigBuilder()
                .withMapping(AgentConfig.class)
                .withConverter(Duration.class, 200, new DurationConverter()) // as users write them: "500ms"
                .withCustomizers(new ConfigConstraints.Registration())
                .withSources(new PropertiesConfigSource(properties, "test", 500))
                .build()
                .getConfigMapping(AgentConfig.class);
    }

    private static List<String> problems(Map<String, String> properties) {
        ConfigValidationException e = assertThrows(ConfigValidationException.class, () -> build(properties));
        List<String> messages = new ArrayList<>();
        for (int i = 0; i < e.getProblemCount(); i++) {
            messages.add(e.getProblem(i).getMessage());
        }
        return messages;
    }

    @Test
    void theDefaultsAreValid() {
        AgentConfig config = build(Map.of());
        assertEquals(512, config.capture().requestHeadBytes());
        assertEquals(4, config.bpf().ringbufSizeMb());
    }

    @Test
    void valuesOnTheBoundsAreValid() {
        AgentConfig config = build(Map.of("obi.capture.request-head-bytes", "64", "obi.bpf.ringbuf-size-mb", "256",
                "obi.request-log.sample-ratio", "1", "obi.health.port", "0", "obi.capture.peer-fin-wait", "PT0.000000001S"));
        assertEquals(64, config.capture().requestHeadBytes());
    }

    @Test
    void everyBrokenConstraintIsOneLineNamingItsProperty() {
        assertEquals(List.of(
                        "obi.bpf.max-connections must be greater than or equal to 1024",
                        "obi.bpf.ringbuf-size-mb must be a power of two",
                        "obi.capture.peer-fin-wait must be longer than 0",
                        "obi.capture.queue-capacity must be greater than 0",
                        "obi.capture.request-head-bytes must be greater than or equal to 64",
                        "obi.health.port must be greater than or equal to 0",
                        "obi.metrics.prometheus.port must be less than or equal to 65535",
                        "obi.request-log.sample-ratio must be greater than or equal to 0",
                        "obi.routes.max-per-service must be greater than 0",
                        "obi.slow.threshold must be longer than 0",
                        "obi.traces.otlp.queue-capacity must be greater than 0"),
                problems(Map.ofEntries(
                        Map.entry("obi.bpf.max-connections", "1023"),
                        Map.entry("obi.bpf.ringbuf-size-mb", "3"),
                        Map.entry("obi.capture.peer-fin-wait", "0s"),
                        Map.entry("obi.capture.queue-capacity", "0"),
                        Map.entry("obi.capture.request-head-bytes", "63"),
                        Map.entry("obi.health.port", "-1"),
                        Map.entry("obi.metrics.prometheus.port", "65536"),
                        Map.entry("obi.request-log.sample-ratio", "-0.01"),
                        Map.entry("obi.routes.max-per-service", "-5"),
                        Map.entry("obi.slow.threshold", "-1s"),
                        Map.entry("obi.traces.otlp.queue-capacity", "0"))));
    }

    @Test
    void aValueCanBreakTwoConstraints() {
        assertEquals(List.of("obi.bpf.ringbuf-size-mb must be a power of two",
                        "obi.bpf.ringbuf-size-mb must be less than or equal to 256"),
                problems(Map.of("obi.bpf.ringbuf-size-mb", "300")));
        assertEquals(List.of("obi.request-log.sample-ratio must be less than or equal to 1"),
                problems(Map.of("obi.request-log.sample-ratio", "1.0001")));
    }
}
