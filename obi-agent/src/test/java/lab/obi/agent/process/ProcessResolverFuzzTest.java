package lab.obi.agent.process;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertNotNull;
import static org.junit.jupiter.api.Assertions.assertTrue;

import com.code_intelligence.jazzer.api.FuzzedDataProvider;
import com.code_intelligence.jazzer.junit.FuzzTest;
import java.io.IOException;
import java.io.UncheckedIOException;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.Arrays;

/**
 * A process controls its own /proc files (its name, command line, environment; its cgroup only in
 * part): the resolver must name every process whatever they hold. The files are written to a
 * procfs stand-in; the fuzzer fills them.
 */
class ProcessResolverFuzzTest {

    private static final int PID = 4242;
    private static final Path PROC = procRoot();

    @FuzzTest
    void procFiles(FuzzedDataProvider data) throws IOException {
        Path dir = PROC.resolve(Integer.toString(PID));
        String kernelComm = data.consumeString(16);
        write(dir.resolve("stat"), data.consumeBoolean() ? data.consumeBytes(400)
                : (PID + " (" + data.consumeString(32) + ") S 1 1 1 0 -1 0 0 0 0 0 0 0 0 0 20 0 1 0 "
                        + data.consumeLong() + " 1 1\n").getBytes(StandardCharsets.UTF_8));
        write(dir.resolve("comm"), data.consumeBytes(20));
        write(dir.resolve("cgroup"), data.consumeBytes(300));
        Files.deleteIfExists(dir.resolve("exe"));
        if (data.consumeBoolean()) {
            // any name a process can exec; the stand-in link points nowhere real
            String name = data.consumeString(64).replace("\0", "").replace("..", "_");
            Files.createSymbolicLink(dir.resolve("exe"), Path.of("/nonexistent/" + name.replace('/', '_')));
        }
        write(dir.resolve("cmdline"), data.consumeBytes(300));
        write(dir.resolve("environ"), data.consumeRemainingAsBytes());
        ProcessInfo info = new ProcessResolver(PROC, 16, 0).resolve(PID, kernelComm);
        assertNotNull(info.serviceName());
        assertEquals(PID, info.pid());
        assertTrue(info.containerId() == null || info.containerId().length() == 64);
    }

    /** What the resolver's parsing of a process's own strings returns stays within those strings. */
    @FuzzTest
    void namesFromArguments(FuzzedDataProvider data) {
        String attributes = data.consumeString(200);
        String service = ProcessResolver.resourceServiceName(attributes);
        assertTrue(service == null || service.length() <= attributes.length());
        String cgroup = data.consumeString(300);
        String container = ProcessResolver.containerId(cgroup);
        assertTrue(container == null || container.length() == 64);
        String[] argv = data.consumeRemainingAsString().split("\0", -1);
        String java = ProcessResolver.javaServiceName(Arrays.asList(argv), data.consumeBoolean() ? "/usr/bin/java" : null);
        assertTrue(java == null || java.length() <= String.join("", argv).length());
    }

    private static void write(Path file, byte[] bytes) throws IOException {
        Files.write(file, bytes);
    }

    private static void delete(Path root) {
        try (var paths = Files.walk(root)) {
            paths.sorted(java.util.Comparator.reverseOrder()).forEach(p -> p.toFile().delete());
        } catch (IOException | UncheckedIOException ignored) {
            // a temporary directory: best effort
        }
    }

    private static Path procRoot() {
        try {
            Path shm = Path.of("/dev/shm");
            Path root = Files.isDirectory(shm) ? Files.createTempDirectory(shm, "obi-fuzz-proc-")
                    : Files.createTempDirectory("obi-fuzz-proc-");
            Files.createDirectories(root.resolve("sys/kernel"));
            Files.writeString(root.resolve("sys/kernel/hostname"), "fuzz\n");
            Files.createDirectories(root.resolve(Integer.toString(PID)));
            Runtime.getRuntime().addShutdownHook(new Thread(() -> delete(root)));
            return root;
        } catch (IOException e) {
            throw new UncheckedIOException(e);
        }
    }
}
