package lab.obi.agent.integration;

import org.junit.jupiter.api.Test;

import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;
import java.util.concurrent.TimeUnit;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

/**
 * The agent as shipped (its jar, obi-agent/jvm.options), given values out of range: it stops before
 * loading anything, with exit code 2 and one line per broken constraint (config.ConfigConstraints,
 * which Quarkus finds through META-INF/services).
 */
class InvalidConfigurationIT {

    @Test
    void outOfRangeValuesStopTheAgentWithOneLineEach() throws Exception {
        String jar = System.getProperty("obi.agent.jar", "target/quarkus-app/quarkus-run.jar");
        assertTrue(Files.isRegularFile(Path.of(jar)), "agent jar " + jar + " missing: build it with `make build`");
        List<String> command = new ArrayList<>(List.of(Path.of(System.getProperty("java.home"), "bin", "java").toString(),
                "@" + Path.of("jvm.options").toAbsolutePath(),
                "-Dobi.capture.request-head-bytes=2048", "-Dobi.bpf.ringbuf-size-mb=3", "-Dobi.slow.threshold=0s",
                "-jar", Path.of(jar).toAbsolutePath().toString()));
        Path stderr = Files.createTempFile("obi-invalid-config", ".log");
        Process agent = new ProcessBuilder(command).redirectOutput(ProcessBuilder.Redirect.DISCARD)
                .redirectError(stderr.toFile()).start();
        boolean stopped = agent.waitFor(60, TimeUnit.SECONDS);
        if (!stopped) {
            agent.destroyForcibly().waitFor();
        }
        String errors = Files.readString(stderr);
        Files.delete(stderr);
        assertTrue(stopped, "the agent ran with values out of range:\n" + errors);
        assertEquals(2, agent.exitValue(), errors);
        assertEquals(List.of(
                "cannot start: obi.bpf.ringbuf-size-mb must be a power of two",
                "cannot start: obi.capture.request-head-bytes must be less than or equal to 1024",
                "cannot start: obi.slow.threshold must be longer than 0"), errors.lines().toList());
    }
}
