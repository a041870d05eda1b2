package lab.obi.agent.pipeline;

import io.quarkus.runtime.configuration.DurationConverter;
import io.smallrye.config.SmallRyeConfigBuilder;
import lab.obi.agent.capture.RecordBuilder;
import lab.obi.agent.config.AgentConfig;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Duration;
import java.util.List;
import java.util.Map;

import static org.junit.jupiter.api.Assertions.assertTrue;

/** The worker between the ring buffer and the sinks, with the defaults and a request log in a file. */
class PipelineTest {

    @TempDir
    Path dir;

    /**
     * A slow request is held a moment for calls that may end after it; on a quiet host no record
     * follows it, and its line must still reach the file (it once waited for the next request).
     */
    @Test
    void aSlowRequestHeldForItsCallsIsWrittenWhenNothingFollowsIt() throws Exception {
        Path log = dir.resolve("requests.jsonl");
        Pipeline pipeline = new Pipeline(config(log), Map::of, () -> 0, () -> 0, (pid, started) -> { });
        pipeline.start();
        try {
            RecordBuilder slow = new RecordBuilder();
            slow.pid = (int) ProcessHandle.current().pid();
            slow.endNs = slow.startNs + Duration.ofSeconds(2).toNanos();
            pipeline.enqueue(List.of(slow.build()));

            long deadline = System.nanoTime() + Duration.ofSeconds(5).toNanos();
            while (!written(log) && System.nanoTime() < deadline) {
                Thread.sleep(50);
            }
            assertTrue(written(log), "the slow request's line is in the file without another record after it");
        } finally {
            pipeline.close();
        }
    }

    private static boolean written(Path log) throws Exception {
        return Files.exists(log) && Files.readString(log).contains("\"route\":\"/users/");
    }

    private static AgentConfig config(Path log) {
        // Quarkus's converter: durations are written as "500ms" in the defaults, as users write them.
        return new SmallRyeConfigBuilder().withMapping(AgentConfig.class)
                .withConverter(Duration.class, 200, new DurationConverter()).withDefaultValues(Map.of(
                        "obi.request-log.path", log.toString(), "obi.request-log.lines", "all",
                        "obi.metrics.prometheus.enabled", "false", "obi.metrics.otlp.enabled", "false",
                        "obi.traces.otlp.enabled", "false"))
                .build().getConfigMapping(AgentConfig.class);
    }
}
