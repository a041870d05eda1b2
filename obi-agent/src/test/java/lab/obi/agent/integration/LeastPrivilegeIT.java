package lab.obi.agent.integration;

import com.fasterxml.jackson.databind.JsonNode;
import org.junit.jupiter.api.AfterAll;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.MethodOrderer;
import org.junit.jupiter.api.Order;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.TestInstance;
import org.junit.jupiter.api.TestMethodOrder;

import java.io.IOException;
import java.net.URI;
import java.net.http.HttpClient;
import java.net.http.HttpRequest;
import java.net.http.HttpResponse;
import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Duration;
import java.util.List;
import java.util.Map;
import java.util.Optional;
import java.util.TreeMap;
import java.util.concurrent.TimeUnit;
import java.util.regex.Matcher;
import java.util.regex.Pattern;

import static org.junit.jupiter.api.Assertions.*;

/**
 * The agent with every capability dropped but the ones it is given, the way a container engine runs
 * it: as root, with the bounding, permitted, effective and inheritable sets cut down by setpriv. The
 * least-privilege set (compose.least-privilege.yaml) captures and names every process; without
 * CAP_BPF or CAP_PERFMON the agent refuses to start with one line that names the missing one; without
 * CAP_SYS_PTRACE or CAP_DAC_READ_SEARCH it starts, says what it cannot read, and names those
 * processes by what it can. Two servers to name: one of root, named after its executable (readable
 * only with CAP_SYS_PTRACE: the server holds capabilities the agent lacks), and one of nobody with
 * OTEL_SERVICE_NAME (its environ, mode 0400, readable only with CAP_DAC_READ_SEARCH). On this kernel
 * the environ of root's processes is readable without CAP_SYS_PTRACE; their exe, maps and root are not.
 */
@TestInstance(TestInstance.Lifecycle.PER_CLASS)
@TestMethodOrder(MethodOrderer.OrderAnnotation.class)
class LeastPrivilegeIT {

    /** compose.least-privilege.yaml's cap_add, in setpriv's spelling. */
    static final List<String> LEAST_PRIVILEGE = List.of("bpf", "perfmon", "sys_ptrace", "dac_read_search");
    /** Not a pyenv shim of root's home, which nobody cannot enter: the system's python, a symlink. */
    private static final String SYSTEM_PYTHON = "/usr/bin/python3";

    private final HttpClient http = HttpClient.newBuilder().version(HttpClient.Version.HTTP_1_1).build();
    private final ReliabilityFigures figures = new ReliabilityFigures("privilege");
    private Lab lab;
    private final int rootPort = Lab.freePort();
    private final int nobodyPort = Lab.freePort();
    /** Root's HTTPS server (Python's ssl module: the host's OpenSSL). */
    private final int httpsPort = Lab.freePort();
    /**
     * The same server as a container runs it: in a mount namespace of its own, on an overlay root
     * whose upper layer holds its own copy of libssl (another inode than the host's), so the agent
     * finds and probes it only through /proc/PID/root.
     */
    private final int containedHttpsPort = Lab.freePort();
    private Path containerRoot;
    /** What the servers are named by without their environment: the executable (a symlink's target), the kernel's name. */
    private String executableName;
    private static final String KERNEL_NAME = "python3";

    @BeforeAll
    void twoServersOfTwoUsers() throws Exception {
        figures.clear();
        lab = new Lab();
        assertTrue(Files.readString(Path.of(System.getProperty("obi.repo", "..")).resolve("compose.least-privilege.yaml"))
                .replaceAll("#.*", "").replaceAll("\\s+", " ")
                .contains("cap_add: !override - BPF - PERFMON - SYS_PTRACE - DAC_READ_SEARCH"),
                "this test runs the set compose.least-privilege.yaml gives");
        executableName = Path.of(SYSTEM_PYTHON).toRealPath().getFileName().toString();
        assertNotEquals(KERNEL_NAME, executableName, "the executable's name tells it from the kernel's name");
        lab.start("root-server", SYSTEM_PYTHON, "-m", "http.server", "--bind", "127.0.0.1", Integer.toString(rootPort));
        lab.startWithEnvironment("nobody-server", Map.of("OTEL_SERVICE_NAME", "nobody-svc"), "setpriv",
                "--reuid=65534", "--regid=65534", "--clear-groups", SYSTEM_PYTHON, "-m", "http.server",
                "--directory", "/", "--bind", "127.0.0.1", Integer.toString(nobodyPort));
        Path tls = lab.selfSignedCertificate();
        lab.startWithEnvironment("https-server", Map.of("TLS_CERT", tls.resolve("cert.pem").toString(), "TLS_KEY",
                tls.resolve("key.pem").toString()), "python3", lab.copyResource("py_backend.py").toString(),
                Integer.toString(httpsPort));
        startContainedHttpsServer(tls);
        awaitListening(rootPort);
        awaitListening(nobodyPort);
        awaitListening(httpsPort);
        awaitListening(containedHttpsPort);
    }

    private void startContainedHttpsServer(Path tls) throws Exception {
        Path layers = Files.createDirectories(lab.path("container"));
        Path upper = Files.createDirectories(layers.resolve("upper"));
        Path work = Files.createDirectories(layers.resolve("work"));
        containerRoot = Files.createDirectories(layers.resolve("root"));
        Path srv = Files.createDirectories(upper.resolve("srv"));
        Files.copy(lab.copyResource("py_backend.py"), srv.resolve("py_backend.py"));
        Files.copy(tls.resolve("cert.pem"), srv.resolve("cert.pem"));
        Files.copy(tls.resolve("key.pem"), srv.resolve("key.pem"));
        Path libssl = Path.of("/usr/lib/x86_64-linux-gnu/libssl.so.3").toRealPath();
        Path ownLibssl = upper.resolve(Path.of("/").relativize(libssl));
        Files.createDirectories(ownLibssl.getParent());
        Files.copy(libssl, ownLibssl);
        Lab.sh("mount", "-t", "overlay", "obi-container", "-o", "lowerdir=/,upperdir=" + upper + ",workdir=" + work,
                containerRoot.toString());
        lab.startWithEnvironment("contained-https-server", Map.of("TLS_CERT", "/srv/cert.pem", "TLS_KEY", "/srv/key.pem"),
                "unshare", "--mount", "chroot", containerRoot.toString(), SYSTEM_PYTHON, "/srv/py_backend.py",
                Integer.toString(containedHttpsPort));
    }

    @AfterAll
    void stopEverything() throws Exception {
        if (lab != null) {
            lab.close();
        }
        if (containerRoot != null) {
            Lab.shQuiet("umount", "-l", containerRoot.toString());
        }
    }

    @Test
    @Order(1)
    void theLeastPrivilegeSetCapturesAndNamesEveryProcess() throws Exception {
        Run run = runWith(LEAST_PRIVILEGE, List.of());
        assertEquals(Map.of(rootPort, executableName, nobodyPort, "nobody-svc"), run.names());
        assertTrue(run.tlsLibraries() >= 1, "the host's libssl probed (multi-uprobe links need no CAP_SYS_ADMIN)");
        assertEquals("/fast", run.httpsRoute(), "the HTTPS request seen in clear");
        assertEquals("/fast", run.containedHttpsRoute(), "the HTTPS request of a process in a container's namespace");
    }

    @Test
    @Order(2)
    void sysAdminStandsForBpfAndPerfmonOnOlderEngines() throws Exception {
        Run run = runWith(List.of("sys_admin", "sys_ptrace", "dac_read_search"), List.of());
        assertEquals(Map.of(rootPort, executableName, nobodyPort, "nobody-svc"), run.names());
        assertTrue(run.tlsLibraries() >= 1, "the host's libssl probed");
        assertEquals("/fast", run.httpsRoute(), "the HTTPS request seen in clear");
    }

    @Test
    @Order(5)
    void withoutBpfOrPerfmonItRefusesToStartWithOneLine() throws Exception {
        for (String missing : List.of("bpf", "perfmon")) {
            List<String> caps = LEAST_PRIVILEGE.stream().filter(c -> !c.equals(missing)).toList();
            Process agent = lab.launchAgent(setpriv(caps), Map.of());
            assertTrue(agent.waitFor(60, TimeUnit.SECONDS), "it exits");
            String log = lab.agentLog();
            assertEquals(2, agent.exitValue(), log);
            String expected = "cannot start: missing privileges to load BPF programs: no CAP_" + missing.toUpperCase();
            assertTrue(log.contains(expected), "names the capability: " + log);
            assertFalse(log.contains("\tat ") || log.contains("Exception"), "no stack trace: " + log);
            String line = log.lines().filter(l -> l.contains("cannot start:")).findFirst().orElseThrow();
            figures.add("without CAP_" + missing.toUpperCase(), "exit code, the line it prints",
                    "2, `" + line.substring(line.indexOf("cannot start:")).replaceAll(" \\(effective.*", "") + " ...`",
                    "2, one line");
        }
    }

    @Test
    @Order(3)
    void withoutDacReadSearchOtherUsersProcessesLoseTheirEnvironment() throws Exception {
        Map<Integer, String> names = runWith(List.of("bpf", "perfmon", "sys_ptrace"),
                List.of("no CAP_DAC_READ_SEARCH: ")).names();
        assertEquals(Map.of(rootPort, executableName, nobodyPort, executableName), names,
                "nobody's environment cannot be read: it is named after its executable");
    }

    @Test
    @Order(4)
    void withoutSysPtraceExecutablesOfProcessesWithMorePrivilegesAreUnknown() throws Exception {
        Map<Integer, String> names = runWith(List.of("bpf", "perfmon", "dac_read_search"),
                List.of("no CAP_SYS_PTRACE: ")).names();
        assertEquals(Map.of(rootPort, KERNEL_NAME, nobodyPort, "nobody-svc"), names,
                "root's server holds capabilities the agent lacks: its executable cannot be read");
    }

    /**
     * What one run named each server's service, how many OpenSSL libraries it probed, and the route
     * of the HTTPS server's request ("-" when it was not seen).
     */
    private record Run(Map<Integer, String> names, long tlsLibraries, String httpsRoute, String containedHttpsRoute) {
    }

    /**
     * Runs the agent with exactly these capabilities, one request to each server, and returns the
     * service each was named; checks that it said exactly these warnings.
     */
    private Run runWith(List<String> capabilities, List<String> warnings) throws Exception {
        lab.launchAgent(setpriv(capabilities), Map.of());
        lab.awaitAgent();
        long effective = capabilities(lab.agentPid());
        assertEquals(expectedMask(capabilities), effective, "the agent runs with exactly " + capabilities);
        for (int port : List.of(rootPort, nobodyPort)) {
            http.send(HttpRequest.newBuilder(URI.create("http://127.0.0.1:" + port + "/")).build(),
                    HttpResponse.BodyHandlers.discarding());
        }
        assertEquals(0, lab.run("curl-https", Duration.ofSeconds(10), "curl", "-sk", "--fail", "-o", "/dev/null",
                "https://127.0.0.1:" + httpsPort + "/fast"));
        assertEquals(0, lab.run("curl-https", Duration.ofSeconds(10), "curl", "-sk", "--fail", "-o", "/dev/null",
                "https://127.0.0.1:" + containedHttpsPort + "/fast"));
        Map<Integer, String> names = new TreeMap<>();
        String httpsRoute = "-";
        String containedHttpsRoute = "-";
        long deadline = System.nanoTime() + Duration.ofSeconds(15).toNanos();
        while ((names.size() < 2 || httpsRoute.equals("-") || containedHttpsRoute.equals("-"))
                && System.nanoTime() < deadline) {
            Thread.sleep(200);
            names.clear();
            if (Files.exists(lab.path("requests.jsonl"))) {
                for (JsonNode e : RequestLog.read(lab.path("requests.jsonl")).exchanges()) {
                    int port = e.path("local_port").asInt();
                    if ("server".equals(e.path("direction").asText()) && (port == rootPort || port == nobodyPort)) {
                        names.put(port, e.path("service").asText());
                    } else if ("server".equals(e.path("direction").asText()) && port == httpsPort) {
                        httpsRoute = e.path("route").asText();
                    } else if ("server".equals(e.path("direction").asText()) && port == containedHttpsPort) {
                        containedHttpsRoute = e.path("route").asText();
                    }
                }
            }
        }
        assertEquals(2, names.size(), "both servers' requests captured:\n" + lab.agentLog());
        double tlsLibraries = lab.agentMetric("obi_agent_tls_libraries");
        String log = lab.agentLog();
        for (String warning : List.of("no CAP_SYS_PTRACE: ", "no CAP_DAC_READ_SEARCH: ")) {
            assertEquals(warnings.contains(warning) ? 1 : 0, Lab.occurrences(log, warning), warning + " in\n" + log);
        }
        assertFalse(log.contains("\tat ") || log.contains("Exception"), "no stack trace: " + log);
        lab.stopAgent();
        Files.delete(lab.path("requests.jsonl"));

        String set = String.join(", ", capabilities.stream().map(c -> "CAP_" + c.toUpperCase()).toList());
        figures.add(set, "CapEff, programs attached, OpenSSL libraries probed, HTTPS request seen: on the host,"
                + " in a container's mount namespace (overlay root, its own libssl)",
                "0x" + Long.toHexString(effective) + ", " + programsAttached(log) + ", " + (long) tlsLibraries + ", "
                        + seen(httpsRoute) + ", " + seen(containedHttpsRoute), "");
        figures.add(set, "named: root's server (no OTEL_SERVICE_NAME), nobody's server (OTEL_SERVICE_NAME nobody-svc)",
                names.get(rootPort) + ", " + names.get(nobodyPort), "");
        if (!warnings.isEmpty()) {
            figures.add(set, "what it says at start", warnings.stream().map(w -> "`" + w.trim() + " ...`").toList()
                    .toString().replaceAll("[\\[\\]]", ""), "");
        }
        return new Run(names, (long) tlsLibraries, httpsRoute, containedHttpsRoute);
    }

    private static String seen(String route) {
        return route.equals("-") ? "no" : "yes (" + route + ")";
    }

    /** setpriv as a container engine would start it: root, every other capability out of every set. */
    private static List<String> setpriv(List<String> capabilities) {
        String keep = String.join(",", capabilities.stream().map(c -> "+" + c).toList());
        return List.of("setpriv", "--inh-caps=-all", "--ambient-caps=-all", "--bounding-set=-all," + keep, "--");
    }

    private static long expectedMask(List<String> capabilities) {
        Map<String, Integer> numbers = Map.of("dac_read_search", 2, "sys_ptrace", 19, "sys_admin", 21, "perfmon", 38,
                "bpf", 39);
        long mask = 0;
        for (String c : capabilities) {
            mask |= 1L << numbers.get(c);
        }
        return mask;
    }

    private static long capabilities(long pid) throws IOException {
        Optional<String> line = Files.readAllLines(Path.of("/proc/" + pid + "/status")).stream()
                .filter(l -> l.startsWith("CapEff:")).findFirst();
        return Long.parseUnsignedLong(line.orElseThrow().substring("CapEff:".length()).trim(), 16);
    }

    private static String programsAttached(String log) {
        Matcher m = Pattern.compile("capturing: (\\d+) programs").matcher(log);
        return m.find() ? m.group(1) : "?";
    }

    private static void awaitListening(int port) throws Exception {
        assertTrue(Lab.listens(port, Duration.ofSeconds(10)), "a server did not listen on " + port);
    }
}
