package lab.obi.agent.process;

import static java.nio.charset.StandardCharsets.UTF_8;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertSame;

import java.io.IOException;
import java.io.OutputStream;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.Arrays;
import java.util.List;
import java.util.Random;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.TimeUnit;
import java.util.stream.Stream;
import org.junit.jupiter.api.BeforeEach;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.Arguments;
import org.junit.jupiter.params.provider.CsvSource;
import org.junit.jupiter.params.provider.MethodSource;
import org.junit.jupiter.params.provider.ValueSource;

class ProcessResolverTest {

    private static final String ID = "0123456789abcdef0123456789abcdef0123456789abcdef0123456789abcdef";

    @TempDir
    Path proc;

    @BeforeEach
    void hostname() throws IOException {
        Files.createDirectories(proc.resolve("sys/kernel"));
        Files.writeString(proc.resolve("sys/kernel/hostname"), "node-1\n");
    }

    private Path process(int pid, long startTime, String comm) throws IOException {
        return FakeProc.process(proc, pid, comm, startTime);
    }

    private static void nulSeparated(Path file, List<String> entries) throws IOException {
        Files.write(file, (String.join("\0", entries) + "\0").getBytes(UTF_8));
    }

    static Stream<Arguments> serviceNames() {
        List<String> javaJar = List.of("/usr/bin/java", "-Xmx1g", "-cp", "x.jar", "-jar", "/app/billing-service.jar", "--port=1");
        return Stream.of(
                Arguments.of(List.of("OTEL_SERVICE_NAME=orders", "OTEL_RESOURCE_ATTRIBUTES=service.name=ignored"), javaJar, "orders"),
                Arguments.of(List.of("PATH=/bin", "OTEL_RESOURCE_ATTRIBUTES=deployment.environment=prod, service.name = payments ,x=y"), javaJar, "payments"),
                Arguments.of(List.of("OTEL_SERVICE_NAME=  ", "OTEL_RESOURCE_ATTRIBUTES=service.name="), javaJar, "billing-service"),
                Arguments.of(List.of("OTEL_RESOURCE_ATTRIBUTES=garbage,,=,service.namex=no"), javaJar, "billing-service"),
                Arguments.of(List.of("XOTEL_SERVICE_NAME=nope"), javaJar, "billing-service"),
                Arguments.of(List.of(), List.of("java", "-cp", "/app/lib/*", "-Dx=y", "com.example.shop.CatalogMain", "arg"), "CatalogMain"),
                Arguments.of(List.of(), List.of("java", "-classpath", "a.jar", "Main"), "Main"),
                Arguments.of(List.of(), List.of("java", "--module-path", "mods", "-m", "shop/com.example.shop.Cart"), "Cart"),
                Arguments.of(List.of(), List.of("java", "--module=shop"), "shop"),
                Arguments.of(List.of(), List.of("java", "@argfile", "src/Hello.java"), "Hello"),
                Arguments.of(List.of(), List.of("java", "-jar"), "server"),
                Arguments.of(List.of(), List.of("java", "-version"), "server"),
                Arguments.of(List.of(), List.of("python3", "-jar", "x.jar"), "server"),
                Arguments.of(List.of(), List.of(), "server"));
    }

    @ParameterizedTest
    @MethodSource("serviceNames")
    void serviceNameFallsBackInOrder(List<String> environ, List<String> cmdline, String expected) throws IOException {
        Path dir = process(100, 5, "srv-comm");
        Files.createSymbolicLink(dir.resolve("exe"), Path.of("/opt/bin/server"));
        nulSeparated(dir.resolve("environ"), environ);
        nulSeparated(dir.resolve("cmdline"), cmdline);
        assertEquals(expected, new ProcessResolver(proc).resolve(100, "kcomm").serviceName());
    }

    @Test
    void javaIsRecognisedByItsExecutable() throws IOException {
        Path dir = process(100, 5, "java");
        Files.createSymbolicLink(dir.resolve("exe"), Path.of("/usr/lib/jvm/17/bin/java"));
        nulSeparated(dir.resolve("cmdline"), List.of("my-launcher", "-jar", "inventory.jar"));
        assertEquals("inventory", new ProcessResolver(proc).resolve(100, "kcomm").serviceName());
    }

    @Test
    void withoutExecutableTheCommNamesTheService() throws IOException {
        process(100, 5, "worker");
        ProcessInfo info = new ProcessResolver(proc).resolve(100, "kcomm");
        assertEquals(new ProcessInfo(100, "worker", null, "worker", null, "node-1/100"), info);
    }

    @Test
    void withoutCommTheKernelsNameIsUsed() throws IOException {
        Path dir = process(100, 5, "x");
        Files.delete(dir.resolve("comm"));
        ProcessInfo info = new ProcessResolver(proc).resolve(100, "kcomm");
        assertEquals("kcomm", info.comm());
        assertEquals("kcomm", info.serviceName());
    }

    @Test
    void deletedExecutableKeepsItsName() throws IOException {
        Path dir = process(100, 5, "app");
        Files.createSymbolicLink(dir.resolve("exe"), Path.of("/srv/api-gateway (deleted)"));
        ProcessInfo info = new ProcessResolver(proc).resolve(100, "kcomm");
        assertEquals("/srv/api-gateway", info.exe());
        assertEquals("api-gateway", info.serviceName());
    }

    @ParameterizedTest
    @CsvSource(delimiter = '|', nullValues = "null", value = {
        "0::/system.slice/docker-" + ID + ".scope | " + ID,
        "12:pids:/docker/" + ID + " | " + ID,
        "0::/kubepods.slice/kubepods-burstable.slice/kubepods-burstable-pod1.slice/cri-containerd-" + ID + ".scope | " + ID,
        "0::/kubepods.slice/kubepods-pod1.slice/crio-" + ID + ".scope | " + ID,
        "0::/machine.slice/libpod-" + ID + ".scope/container | " + ID,
        "0::/machine.slice/libpod-conmon-" + ID + ".scope | null",
        "0::/user.slice/user-1000.slice/session-2.scope | null",
        "0::/docker/" + "0123456789abcdef" + " | null",
        "0::/docker/" + ID + "0 | null",
        "0::/docker/" + "0123456789ABCDEF0123456789ABCDEF0123456789ABCDEF0123456789ABCDEF | null",
        "0::/ | null",
    })
    void containerId(String cgroup, String expected) throws IOException {
        Path dir = process(100, 5, "app");
        Files.writeString(dir.resolve("cgroup"), "1:name=systemd:/init.scope\n" + cgroup + "\n");
        assertEquals(expected, new ProcessResolver(proc).resolve(100, "kcomm").containerId());
    }

    @ParameterizedTest
    @ValueSource(strings = {"a b", "(sd-pam)", "x) S 1 2 3 (", ") ) )", "" })
    void startTimeIsReadAfterTheLastParenthesis(String comm) throws IOException {
        Path dir = process(100, 5, "first");
        Files.writeString(dir.resolve("stat"), FakeProc.stat(100, comm, 5));
        ProcessResolver resolver = new ProcessResolver(proc, 16, 0);
        ProcessInfo first = resolver.resolve(100, "kcomm");
        Files.writeString(dir.resolve("comm"), "second\n");
        assertSame(first, resolver.resolve(100, "kcomm"), "same start time: cached");
        Files.writeString(dir.resolve("stat"), FakeProc.stat(100, comm, 6));
        assertEquals("second", resolver.resolve(100, "kcomm").comm(), "new start time: the pid was reused");
    }

    @Test
    void withinTheRevalidationPeriodProcfsIsNotReadAgain() throws IOException {
        Path dir = process(100, 5, "first");
        ProcessResolver resolver = new ProcessResolver(proc, 16, 60_000_000_000L);
        ProcessInfo first = resolver.resolve(100, "kcomm");
        Files.writeString(dir.resolve("stat"), FakeProc.stat(100, "first", 6));
        assertSame(first, resolver.resolve(100, "kcomm"), "start time not re-read within the period");
    }

    @Test
    void pidsThatShareASlotOfTheLockFreeCacheKeepTheirOwnNames() throws IOException {
        process(100, 5, "nginx");
        process(100 + 256, 5, "wrk");
        ProcessResolver resolver = new ProcessResolver(proc, 16, 60_000_000_000L);
        for (int i = 0; i < 3; i++) {
            assertEquals("nginx", resolver.resolve(100, "kcomm").comm());
            assertEquals("wrk", resolver.resolve(100 + 256, "kcomm").comm());
        }
    }

    @Test
    void aProcessThatExecsAnotherExecutableIsReadAgain() throws IOException {
        Path dir = process(100, 5, "sh");
        Files.createSymbolicLink(dir.resolve("exe"), Path.of("/usr/bin/dash"));
        ProcessResolver resolver = new ProcessResolver(proc, 16, 0);
        assertEquals("dash", resolver.resolve(100, "kcomm").serviceName());
        Files.delete(dir.resolve("exe"));
        Files.createSymbolicLink(dir.resolve("exe"), Path.of("/usr/sbin/nginx"));
        Files.writeString(dir.resolve("comm"), "nginx\n");
        ProcessInfo after = resolver.resolve(100, "kcomm");
        assertEquals("nginx", after.serviceName(), "same pid and start time, another executable");
        assertEquals("/usr/sbin/nginx", after.exe());
        assertSame(after, resolver.resolve(100, "kcomm"), "the same executable is not read again");
    }

    @Test
    void cacheIsBounded() throws IOException {
        ProcessResolver resolver = new ProcessResolver(proc, 2, 0);
        for (int pid = 1; pid <= 3; pid++) {
            process(pid, 5, "p" + pid);
        }
        ProcessInfo one = resolver.resolve(1, "k");
        resolver.resolve(2, "k");
        assertSame(one, resolver.resolve(1, "k"));
        resolver.resolve(3, "k"); // evicts 2, the least recently used
        assertSame(one, resolver.resolve(1, "k"));
        Files.writeString(proc.resolve("2/comm"), "renamed\n");
        assertEquals("renamed", resolver.resolve(2, "k").comm());
    }

    @ParameterizedTest
    @ValueSource(ints = {0, -1, 99})
    void goneProcessIsDescribedByTheKernelsName(int pid) {
        ProcessInfo info = new ProcessResolver(proc).resolve(pid, "curl");
        assertEquals(new ProcessInfo(pid, "curl", null, "curl", null, "node-1/" + pid), info);
    }

    @Test
    void processThatExitedKeepsTheIdentityReadWhileItRan() throws IOException {
        Path dir = process(100, 5, "app");
        ProcessResolver resolver = new ProcessResolver(proc, 16, 0);
        ProcessInfo running = resolver.resolve(100, "kcomm");
        Files.delete(dir.resolve("stat"));
        assertSame(running, resolver.resolve(100, "kcomm"));
    }

    @Test
    void goneProcessIsNotLookedUpAgainWithinTheRevalidationPeriod() throws IOException {
        ProcessResolver resolver = new ProcessResolver(proc, 16, 60_000_000_000L);
        assertEquals("kcomm", resolver.resolve(100, "kcomm").comm());
        process(100, 5, "app");
        assertEquals("kcomm", resolver.resolve(100, "kcomm").comm(), "procfs not read again within the period");
        assertEquals("app", new ProcessResolver(proc, 16, 0).resolve(100, "kcomm").comm());
    }

    @Test
    void gonePidThatComesBackIsReadAfresh() throws IOException {
        ProcessResolver resolver = new ProcessResolver(proc, 16, 0);
        assertEquals("kcomm", resolver.resolve(100, "kcomm").comm());
        process(100, 5, "app");
        assertEquals("app", resolver.resolve(100, "kcomm").comm());
    }

    @Test
    void aProcessThatExitsWhileItIsReadIsNamedByTheKernel() throws Exception {
        Path dir = process(100, 5, "app");
        Path environ = dir.resolve("environ");
        assertEquals(0, new ProcessBuilder("mkfifo", environ.toString()).start().waitFor());
        ProcessResolver resolver = new ProcessResolver(proc, 16, 0);
        CompletableFuture<ProcessInfo> resolving = CompletableFuture.supplyAsync(() -> resolver.resolve(100, "kcomm"));
        // The resolver reads the environment (a pipe here) after the start time; meanwhile its pid
        // passes to another process.
        try (OutputStream pipe = Files.newOutputStream(environ)) {
            Files.writeString(dir.resolve("stat"), FakeProc.stat(100, "other", 6));
            pipe.write("OTEL_SERVICE_NAME=another\0".getBytes(UTF_8));
        }
        assertEquals(new ProcessInfo(100, "kcomm", null, "kcomm", null, "node-1/100"),
                resolving.get(10, TimeUnit.SECONDS));
    }

    @Test
    void nothingKnownAtAll() {
        ProcessInfo info = new ProcessResolver(proc.resolve("missing")).resolve(7, null);
        assertEquals(new ProcessInfo(7, null, null, ProcessResolver.UNKNOWN_SERVICE, null, "localhost/7"), info);
    }

    @ParameterizedTest
    @ValueSource(strings = {"", "garbage", "1 (x)", "1 (x) S 1 2 3", "1 (x) S 1 2 3 4 5 6 7 8 9 10 11 12 13 14 15 16 17 18 notanumber"})
    void unreadableStatMeansGone(String stat) throws IOException {
        Path dir = process(100, 5, "app");
        Files.writeString(dir.resolve("stat"), stat);
        assertEquals("kcomm", new ProcessResolver(proc).resolve(100, "kcomm").comm());
    }

    @Test
    void unreadableFilesAreSkipped() throws IOException {
        // Running as root ignores file modes; a directory where a file should be fails to read just the same.
        Path dir = process(100, 5, "app");
        Files.createDirectories(dir.resolve("environ"));
        Files.createDirectories(dir.resolve("cmdline"));
        Files.createDirectories(dir.resolve("cgroup"));
        Files.createDirectories(dir.resolve("exe"));
        assertEquals(new ProcessInfo(100, "app", null, "app", null, "node-1/100"),
                new ProcessResolver(proc).resolve(100, "kcomm"));
    }

    @Test
    void binaryGarbageNeverThrows() throws IOException {
        Random random = new Random(7);
        Path dir = process(100, 5, "app");
        for (int round = 0; round < 200; round++) {
            for (String file : List.of("environ", "cmdline", "cgroup", "comm")) {
                byte[] junk = new byte[random.nextInt(2048)];
                random.nextBytes(junk);
                Files.write(dir.resolve(file), junk);
            }
            ProcessInfo info = new ProcessResolver(proc).resolve(100, "kcomm");
            assertEquals(100, info.pid());
        }
    }

    @Test
    void hugeEnvironmentIsReadOnlyInPart() throws IOException {
        Path dir = process(100, 5, "app");
        byte[] filler = new byte[300 * 1024];
        Arrays.fill(filler, (byte) 'x');
        String tail = "\0OTEL_SERVICE_NAME=too-far\0";
        byte[] environ = Arrays.copyOf(filler, filler.length + tail.length());
        System.arraycopy(tail.getBytes(UTF_8), 0, environ, filler.length, tail.length());
        Files.write(dir.resolve("environ"), environ);
        assertEquals("app", new ProcessResolver(proc).resolve(100, "kcomm").serviceName());
    }

    @Test
    void cutOffEnvironmentEntryIsIgnored() throws IOException {
        Path dir = process(100, 5, "app");
        int limit = 256 * 1024;
        String first = "OTEL_RESOURCE_ATTRIBUTES=service.name=whole\0";
        String cut = "OTEL_SERVICE_NAME=partial-";
        StringBuilder environ = new StringBuilder(first).append("P=").append("y".repeat(limit - first.length() - cut.length() - 3)).append('\0');
        environ.append(cut).append("name-beyond-the-limit\0");
        Files.write(dir.resolve("environ"), environ.toString().getBytes(UTF_8));
        assertEquals("whole", new ProcessResolver(proc).resolve(100, "kcomm").serviceName());
    }

    @Test
    void blankHostnameFallsBackToLocalhost() throws IOException {
        Files.writeString(proc.resolve("sys/kernel/hostname"), " \n");
        assertEquals("localhost/9", new ProcessResolver(proc).resolve(9, "x").serviceInstanceId());
    }
}
