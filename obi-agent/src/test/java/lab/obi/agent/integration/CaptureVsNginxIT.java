package lab.obi.agent.integration;

import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.ObjectMapper;
import org.junit.jupiter.api.AfterAll;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.TestInstance;

import java.io.InputStream;
import java.io.OutputStream;
import com.sun.net.httpserver.HttpServer;
import java.net.InetSocketAddress;
import java.net.ServerSocket;
import java.net.Socket;
import java.net.URI;
import java.net.http.HttpClient;
import java.net.http.HttpRequest;
import java.net.http.HttpResponse;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.time.Duration;
import java.util.ArrayList;
import java.util.Comparator;
import java.util.HashMap;
import java.util.HashSet;
import java.util.List;
import java.util.Map;
import java.util.Random;
import java.util.Set;
import java.util.TreeMap;
import java.util.concurrent.CompletableFuture;
import java.util.function.Predicate;
import java.util.stream.Collectors;

import static org.junit.jupiter.api.Assertions.*;

/**
 * obi-agent against real programs: Debian's nginx in front of a JDK HttpServer and Python's
 * http.server, driven by wrk (keep-alive), curl with --max-time, a Java HttpClient with timeouts,
 * pipelining, 100-continue and non-HTTP bytes. nginx's access log is the reference.
 */
@TestInstance(TestInstance.Lifecycle.PER_CLASS)
class CaptureVsNginxIT {

    private static final int CURL_ABANDONS = 20;
    private static final int JAVA_CLIENT_REQUESTS = 40;
    private static final int HALF_CLOSING_CLIENTS = 40;

    private Lab lab;
    private List<NginxLog.Line> nginxLines;
    private List<JsonNode> records;
    private Map<NginxLog.Line, JsonNode> matches;
    private int curlTimeouts;
    private int javaTimeouts;
    private int pipelinedClientPort;
    private int garbageClientPort;
    /** Ephemeral ports are reused during the run: records of a port are looked up from this time on. */
    private long pipeliningStartUnixNs;
    private long garbageStartUnixNs;
    private int echoPort;
    private int dualStackPort;
    private JsonNode vectoredPorts;
    private List<Integer> halfClosingPorts;
    private long halfClosingStartUnixNs;

    @BeforeAll
    void runWorkloadUnderTheAgent() throws Exception {
        lab = new Lab();
        lab.startBackends();
        lab.startNginx();
        lab.startAgent();
        String base = "http://127.0.0.1:" + lab.nginxPort;

        lab.run("wrk", Duration.ofSeconds(60), "wrk", "-t1", "-c8", "-d8s",
                "-s", lab.copyResource("mix.lua").toString(), base);
        curlTimeouts = curlWithMaxTime(base + "/jdk/slow?ms=1500");
        javaTimeouts = javaClientWithTimeouts(base);
        pipeliningStartUnixNs = System.currentTimeMillis() * 1_000_000L;
        pipelinedClientPort = pipelineThreeRequests();
        lab.run("curl-100-continue", Duration.ofSeconds(20), "curl", "-sS", "-o", "/dev/null",
                "-H", "Expect: 100-continue", "--data-binary", "@" + lab.path("static/file.bin"), base + "/jdk/upload");
        lab.run("curl-head", Duration.ofSeconds(20), "curl", "-sS", "-o", "/dev/null", "-I", base + "/jdk/fast");
        lab.run("curl-ipv6", Duration.ofSeconds(20), "curl", "-sS", "-o", "/dev/null",
                "http://[::1]:" + lab.nginxPort + "/local?via=ipv6");
        dualStackPort = requestToADualStackServer();
        vectoredPorts = vectoredCalls();
        echoPort = nonHttpToAnEchoServer();
        halfClosingStartUnixNs = System.currentTimeMillis() * 1_000_000L;
        halfClosingPorts = halfClosingClients();
        garbageStartUnixNs = System.currentTimeMillis() * 1_000_000L;
        garbageClientPort = garbageToNginx();
        Thread.sleep(2_000); // abandoned /slow requests finish on the backend
        records = readRecords();
        nginxLines = NginxLog.read(lab.path("logs/access.log"));
        matches = matchToNginx();
        printSummary();
    }

    @AfterAll
    void stopEverything() throws Exception {
        if (lab != null) {
            lab.close();
        }
    }

    private int curlWithMaxTime(String url) throws Exception {
        List<Process> curls = new ArrayList<>();
        for (int i = 0; i < CURL_ABANDONS; i++) {
            curls.add(new ProcessBuilder("curl", "-s", "-o", "/dev/null", "--max-time", "0.2", url)
                    .redirectErrorStream(true).redirectOutput(ProcessBuilder.Redirect.DISCARD).start());
            Thread.sleep(20);
        }
        int timeouts = 0;
        for (Process curl : curls) {
            if (curl.waitFor() == 28) { // CURLE_OPERATION_TIMEDOUT
                timeouts++;
            }
        }
        return timeouts;
    }

    /** Half the requests outlast the client's 300 ms timeout. */
    private int javaClientWithTimeouts(String base) {
        HttpClient client = HttpClient.newBuilder().version(HttpClient.Version.HTTP_1_1).build();
        List<CompletableFuture<HttpResponse<String>>> calls = new ArrayList<>();
        for (int i = 0; i < JAVA_CLIENT_REQUESTS; i++) {
            int ms = i % 2 == 0 ? 50 : 1000;
            HttpRequest request = HttpRequest.newBuilder(URI.create(base + "/jdk/slow?ms=" + ms))
                    .timeout(Duration.ofMillis(300)).build();
            calls.add(client.sendAsync(request, HttpResponse.BodyHandlers.ofString()));
        }
        return ClientTimeouts.count(calls);
    }

    private int pipelineThreeRequests() throws Exception {
        try (Socket s = new Socket("127.0.0.1", lab.nginxPort)) {
            String requests = "GET /jdk/users/1 HTTP/1.1\r\nHost: lab\r\n\r\n"
                    + "GET /py/fast HTTP/1.1\r\nHost: lab\r\n\r\n"
                    + "GET /jdk/fast HTTP/1.1\r\nHost: lab\r\nConnection: close\r\n\r\n";
            s.getOutputStream().write(requests.getBytes(StandardCharsets.US_ASCII));
            String responses = new String(s.getInputStream().readAllBytes(), StandardCharsets.US_ASCII);
            assertEquals(3, responses.split("HTTP/1.1 200", -1).length - 1, "nginx answered the pipelined requests");
            return s.getLocalPort();
        }
    }

    /**
     * Clients that half-close right after their request and read the answer, which nginx follows
     * with its own FIN: that FIN often closes the client's socket (time-wait) before it has read.
     */
    private List<Integer> halfClosingClients() throws Exception {
        List<Integer> ports = new ArrayList<>();
        for (int i = 0; i < HALF_CLOSING_CLIENTS; i++) {
            try (Socket s = new Socket("127.0.0.1", lab.nginxPort)) {
                s.getOutputStream().write("GET /local?half-close HTTP/1.1\r\nHost: lab\r\n\r\n"
                        .getBytes(StandardCharsets.US_ASCII));
                s.shutdownOutput();
                String answer = new String(s.getInputStream().readAllBytes(), StandardCharsets.US_ASCII);
                assertTrue(answer.startsWith("HTTP/1.1 200"), answer);
                ports.add(s.getLocalPort());
            }
        }
        return ports;
    }

    /** A JDK HttpServer on the IPv6 wildcard address, reached over IPv4: the socket is v4-mapped IPv6. */
    private int requestToADualStackServer() throws Exception {
        HttpServer server = HttpServer.create(new InetSocketAddress(Lab.freePort()), 16);
        server.createContext("/", exchange -> {
            exchange.sendResponseHeaders(200, 3);
            exchange.getResponseBody().write("ok\n".getBytes(StandardCharsets.US_ASCII));
            exchange.close();
        });
        server.start();
        try {
            int port = server.getAddress().getPort();
            lab.run("curl-v4-mapped", Duration.ofSeconds(20), "curl", "-sS", "-o", "/dev/null",
                    "http://127.0.0.1:" + port + "/dual-stack");
            return port;
        } finally {
            server.stop(0);
        }
    }

    /** sendmsg and recvmsg with several iovecs each (vectored_io.py): the ports of its client and of its server. */
    private JsonNode vectoredCalls() throws Exception {
        String name = "vectored-io";
        int exit = lab.run(name, Duration.ofSeconds(30), "python3", lab.copyResource("vectored_io.py").toString(),
                Integer.toString(lab.nginxPort));
        List<String> output = Files.readAllLines(lab.log(name));
        assertEquals(0, exit, String.join("\n", output));
        return new ObjectMapper().readTree(output.get(output.size() - 1));
    }

    /** An SSH banner and random bytes both ways on a plain TCP echo service. */
    private int nonHttpToAnEchoServer() throws Exception {
        try (ServerSocket server = new ServerSocket(Lab.freePort())) { // not the dual-stack server's port again
            Thread echo = new Thread(() -> {
                try (Socket c = server.accept()) {
                    c.getInputStream().transferTo(c.getOutputStream());
                } catch (Exception ignored) {
                    // the test asserts on what the agent saw, not on the echo
                }
            });
            echo.start();
            byte[] random = new byte[8192];
            new Random(42).nextBytes(random);
            try (Socket s = new Socket("127.0.0.1", server.getLocalPort())) {
                OutputStream out = s.getOutputStream();
                out.write("SSH-2.0-OpenSSH_9.2p1 Debian-2\r\n".getBytes(StandardCharsets.US_ASCII));
                out.write(random);
                s.shutdownOutput();
                s.getInputStream().readAllBytes();
            }
            echo.join(5_000);
            return server.getLocalPort();
        }
    }

    /** A TLS ClientHello-like start on nginx's plain HTTP port: nginx answers 400, no request exists. */
    private int garbageToNginx() throws Exception {
        try (Socket s = new Socket("127.0.0.1", lab.nginxPort)) {
            byte[] hello = {0x16, 0x03, 0x01, 0x02, 0x00, 0x01, 0x00, 0x01, (byte) 0xfc, 0x03, 0x03, '\r', '\n', '\r', '\n'};
            s.getOutputStream().write(hello);
            s.shutdownOutput();
            InputStream in = s.getInputStream();
            in.readAllBytes();
            return s.getLocalPort();
        }
    }

    private List<JsonNode> readRecords() throws Exception {
        List<JsonNode> all = RequestLog.read(lab.stopAgent()).exchanges();
        assertFalse(all.isEmpty(), "the agent wrote no request at all:\n" + lab.agentLog());
        return all;
    }

    private List<JsonNode> records(Predicate<JsonNode> filter) {
        return records.stream().filter(filter).toList();
    }

    private Predicate<JsonNode> server(int port) {
        return r -> r.path("direction").asText().equals("server") && r.path("local_port").asInt() == port;
    }

    private Predicate<JsonNode> clientTo(int port) {
        return r -> r.path("direction").asText().equals("client") && r.path("peer_port").asInt() == port;
    }

    private static long endUnixNs(JsonNode r) {
        return r.path("start_unix_ns").asLong() + r.path("duration_ns").asLong();
    }

    /** nginx line -> the agent's server record on nginx's port: same peer port and request index, closest end. */
    private Map<NginxLog.Line, JsonNode> matchToNginx() {
        Map<String, List<JsonNode>> byKey = records(server(lab.nginxPort)).stream().collect(Collectors.groupingBy(
                r -> r.path("peer_port").asInt() + "/" + r.path("request_index").asInt()));
        Set<JsonNode> used = new HashSet<>();
        Map<NginxLog.Line, JsonNode> matched = new HashMap<>();
        for (NginxLog.Line line : httpLines()) {
            byKey.getOrDefault(line.remotePort() + "/" + line.connectionRequests(), List.of()).stream()
                    .filter(r -> !used.contains(r))
                    .filter(r -> Math.abs(endUnixNs(r) - line.endUnixNs()) < 2_000_000_000L)
                    .min(Comparator.comparingLong(r -> Math.abs(endUnixNs(r) - line.endUnixNs())))
                    .ifPresent(r -> {
                        used.add(r);
                        matched.put(line, r);
                    });
        }
        return matched;
    }

    private List<NginxLog.Line> httpLines() {
        return nginxLines.stream().filter(NginxLog.Line::isHttpRequest).toList();
    }

    /** $request_time - duration, in ms: positive when nginx counted longer than the agent. */
    private static double requestTimeMinusDurationMs(NginxLog.Line line, JsonNode r) {
        return line.requestTimeSeconds() * 1000 - r.path("duration_ns").asLong() / 1e6;
    }

    private static List<Double> abs(List<Double> values) {
        return values.stream().map(Math::abs).sorted().toList();
    }

    private static double mean(List<Double> values) {
        return values.stream().mapToDouble(Double::doubleValue).average().orElse(Double.NaN);
    }

    private void printSummary() {
        List<Double> errors = abs(matches.entrySet().stream()
                .map(e -> requestTimeMinusDurationMs(e.getKey(), e.getValue())).toList());
        System.out.printf("%n== obi-agent vs nginx: %d access-log lines (%d HTTP), %d matched, %d records in total%n",
                nginxLines.size(), httpLines().size(), matches.size(), records.size());
        System.out.printf("   nginx 499s: %d, agent 499s on nginx: %d; curl timeouts: %d; Java client timeouts: %d%n",
                httpLines().stream().filter(l -> l.status() == 499).count(),
                records(server(lab.nginxPort)).stream().filter(r -> r.path("status").asInt() == 499).count(),
                curlTimeouts, javaTimeouts);
        if (!errors.isEmpty()) {
            System.out.printf("   |duration - $request_time|: p50 %.3f ms, p99 %.3f ms, max %.3f ms%n",
                    errors.get(errors.size() / 2), errors.get((int) (errors.size() * 0.99)), errors.get(errors.size() - 1));
            errorsByKind().forEach((kind, e) -> System.out.printf(
                    "     %-6s %5d requests: mean %+.3f ms; |that|: p50 %.3f ms, p95 %.3f ms, max %.3f ms%n",
                    kind, e.size(), mean(e), quantile(abs(e), 0.5), quantile(abs(e), 0.95), quantile(abs(e), 1.0)));
            List<Double> lag = lagsOf499s();
            if (!lag.isEmpty()) {
                System.out.printf("     499s' $request_time - duration: min %.3f ms, median %.3f ms, max %.3f ms%n",
                        lag.get(0), quantile(lag, 0.5), lag.get(lag.size() - 1));
            }
        }
    }

    @Test
    void capturesAtLeast999PermilleOfNginxRequests() {
        List<NginxLog.Line> lines = httpLines();
        List<NginxLog.Line> missed = lines.stream().filter(l -> !matches.containsKey(l)).toList();
        assertTrue(lines.size() > 1000, "workload too small to measure 99.9%: " + lines.size() + " lines");
        assertTrue(missed.size() <= lines.size() / 1000,
                missed.size() + " of " + lines.size() + " nginx requests not captured, e.g. "
                        + missed.stream().limit(10).toList());
    }

    @Test
    void theWorkloadIsMostlyAnsweredRequests() {
        long answered = httpLines().stream().filter(l -> l.status() < 400 || l.status() == 404 || l.status() >= 500
                || l.status() == 499).count();
        assertTrue(answered >= 0.99 * httpLines().size(), "nginx rejected the workload's requests: "
                + httpLines().stream().collect(Collectors.groupingBy(NginxLog.Line::status, Collectors.counting())));
    }

    @Test
    void statusIsNginxsStatusForEveryMatchedRequest() {
        List<String> different = matches.entrySet().stream()
                .filter(e -> e.getValue().path("status").asInt() != e.getKey().status())
                .map(e -> e.getKey() + " -> " + e.getValue()).toList();
        assertEquals(List.of(), different.stream().limit(10).toList(), different.size() + " status mismatches");
    }

    @Test
    void abandonedRequestsAre499WithPrecisionAndRecallOf100Percent() {
        long truePositives = matches.entrySet().stream()
                .filter(e -> e.getKey().status() == 499 && e.getValue().path("status").asInt() == 499).count();
        long nginx499 = matches.keySet().stream().filter(l -> l.status() == 499).count();
        long agent499 = matches.values().stream().filter(r -> r.path("status").asInt() == 499).count();
        assertTrue(nginx499 >= CURL_ABANDONS, "the workload must produce 499s, nginx logged " + nginx499);
        assertEquals(agent499, truePositives, "499 precision");
        assertEquals(nginx499, truePositives, "499 recall");
        matches.values().stream().filter(r -> r.path("status").asInt() == 499).forEach(r -> {
            assertTrue(r.path("aborted").asBoolean(), "a 499 is an aborted request: " + r);
            assertTrue(Set.of("fin", "rst").contains(r.path("abort_kind").asText()), "client went away: " + r);
        });
    }

    /**
     * $request_time is the difference of two readings of nginx's cached millisecond clock, which is
     * updated once per event-loop iteration: each reading trails the true time by up to 1 ms of
     * truncation plus how long nginx has been busy (or descheduled) since its last epoll_wait. The
     * truncation alone puts a request anywhere within 1 ms of the agent's duration, how far depending
     * on the fraction of a millisecond its duration has (a backend that answers in 20.5 ms is 0.5 ms off
     * every time), but it averages out: with the request's start uniform within nginx's millisecond,
     * it adds nothing to the mean of $request_time - duration whatever the durations are. What stays
     * in the mean is how much later than its clock's reading nginx reads the request (which makes the
     * difference positive) and writes the answer (negative): a busy host lengthens the iterations
     * (a CI run: py -0.27 ms, static -0.15 ms, jdk -0.08 ms). So each kind of answered request (a
     * static file, a local answer, either backend) must agree on average within 0.5 ms and in 95% of
     * its requests within 2 ms; an idle host puts 99% of them within 1.5 ms, one busy with other work stretches
     * nginx's iterations (a run with two busy loops beside it: 1% beyond 2 ms, at most 7), so the whole
     * run allows the reference's noise a longer tail. A kind whose duration is measured to the wrong
     * event moves the mean, a few requests off by more than a busy host explains fail the 95%. The
     * 499s have their own test, below.
     */
    @Test
    void durationAgreesWithRequestTimeWithinItsResolution() {
        Map<String, List<Double>> byKind = errorsByKind();
        byKind.remove("499");
        List<String> disagreeing = byKind.entrySet().stream()
                .filter(e -> Math.abs(mean(e.getValue())) > 0.5 || quantile(abs(e.getValue()), 0.95) > 2.0)
                .map(e -> e.getKey() + String.format(" (%d requests: mean %+.3f ms, |that| p95 %.3f ms)",
                        e.getValue().size(), mean(e.getValue()), quantile(abs(e.getValue()), 0.95)))
                .toList();
        assertEquals(List.of(), disagreeing, "|duration - $request_time| by kind of request");
        assertTrue(byKind.keySet().containsAll(Set.of("static", "local", "jdk", "py")), byKind.keySet().toString());
        List<Double> all = abs(byKind.values().stream().flatMap(List::stream).toList());
        long close = all.stream().filter(ms -> ms <= 5.0).count();
        assertTrue(close >= 0.99 * all.size(), close + " of " + all.size() + " within 5 ms of $request_time");
    }

    /**
     * A 499 ends on different events on each side: the agent's duration at the client's close, nginx's
     * $request_time at the clock its event loop read when it woke and found the connection broken.
     * How far apart they land is that loop's latency, both ways (a run: -1.25 to +1.07 ms), which a
     * busy host stretches; and the curls give up together, their exits loading the host just then, so
     * one late wake-up moves many 499s at once (a CI run: p95 2.96 ms over 46). So a 499 agrees in its
     * median within 1 ms and in 90% of them within 10 ms: a duration that ran to the upstream's answer
     * (1.3 s later) or stopped at the request (200 ms earlier) fails both.
     */
    @Test
    void a499sDurationEndsAtTheClientsClose() {
        List<Double> lagMs = lagsOf499s();
        List<Double> offMs = abs(lagMs);
        assertTrue(lagMs.size() >= CURL_ABANDONS, "499s matched: " + lagMs.size());
        assertTrue(quantile(offMs, 0.5) <= 1.0 && quantile(offMs, 0.9) <= 10.0,
                String.format("$request_time - duration of the 499s: min %.3f ms, median %.3f ms, max %.3f ms;"
                        + " |that|: median %.3f ms, p90 %.3f ms", lagMs.get(0), quantile(lagMs, 0.5),
                        lagMs.get(lagMs.size() - 1), quantile(offMs, 0.5), quantile(offMs, 0.9)));
    }

    /** $request_time - duration of each matched 499, in ms, sorted. */
    private List<Double> lagsOf499s() {
        return matches.entrySet().stream().filter(e -> e.getKey().status() == 499)
                .map(e -> requestTimeMinusDurationMs(e.getKey(), e.getValue())).sorted().toList();
    }

    /** Each matched request's $request_time - duration in ms, by kind: 499, or the path's first segment. */
    private Map<String, List<Double>> errorsByKind() {
        return matches.entrySet().stream().collect(Collectors.groupingBy(
                e -> e.getKey().status() == 499 ? "499" : e.getKey().path().replaceFirst("^/([^/?]*).*", "$1"),
                TreeMap::new, Collectors.mapping(e -> requestTimeMinusDurationMs(e.getKey(), e.getValue()), Collectors.toList())));
    }

    private static double quantile(List<Double> values, double q) {
        List<Double> sorted = values.stream().sorted().toList();
        return sorted.get(Math.min(sorted.size() - 1, (int) (sorted.size() * q)));
    }

    @Test
    void theJdkBackendSawNginxGiveUpOnSlowRequests() throws Exception {
        long nginxAbandonedSlow = httpLines().stream()
                .filter(l -> l.status() == 499 && l.path().startsWith("/jdk/slow")).count();
        List<JsonNode> backendAborted = records(server(lab.jdkPort).and(r -> r.path("route").asText().equals("/slow"))
                .and(r -> r.path("aborted").asBoolean()));
        List<JsonNode> nginxGaveUp = records(clientTo(lab.jdkPort).and(r -> r.path("comm").asText().equals("nginx"))
                .and(r -> r.path("route").asText().equals("/slow"))
                .and(r -> r.path("abort_kind").asText().equals("client_close")));
        long writeFailures = Files.readAllLines(lab.path(Lab.JDK_REQUEST_LOG)).stream()
                .filter(l -> l.contains(" /slow?") && l.contains(" write-failed ")).count();
        System.out.printf("   backend hop: nginx 499 on /jdk/slow %d, nginx upstream client_close %d,"
                + " JDK server aborted %d (%s), JDK's own failed writes %d%n", nginxAbandonedSlow, nginxGaveUp.size(),
                backendAborted.size(), backendAborted.stream().collect(Collectors.groupingBy(
                        r -> r.path("abort_kind").asText() + "/" + r.path("status").asText(), Collectors.counting())),
                writeFailures);
        assertEquals(nginxAbandonedSlow, nginxGaveUp.size(), "nginx closed its upstream connection for each 499");
        assertEquals(nginxAbandonedSlow, backendAborted.size(), "the JDK backend's requests nginx gave up on");
        // The JDK sleeps on, then writes its status line into the connection nginx closed: that is its status.
        backendAborted.forEach(r -> {
            assertEquals(200, r.path("status").asInt(), "the JDK wrote 200 after nginx had left: " + r);
            assertEquals("fin", r.path("abort_kind").asText(), r.toString());
        });
        assertTrue(writeFailures <= backendAborted.size());
    }

    @Test
    void curlTimeoutsAreClientClosesAfter200Milliseconds() {
        List<JsonNode> curl = records(clientTo(lab.nginxPort).and(r -> r.path("comm").asText().equals("curl"))
                .and(r -> r.path("route").asText().equals("/jdk/slow")));
        assertEquals(CURL_ABANDONS, curlTimeouts, "every curl gave up");
        assertEquals(curlTimeouts, curl.size(), "one client record per curl");
        for (JsonNode r : curl) {
            assertTrue(r.path("aborted").asBoolean(), r.toString());
            assertEquals("client_close", r.path("abort_kind").asText(), r.toString());
            long tta = r.path("time_to_abandon_ns").asLong();
            assertTrue(tta >= 150_000_000L && tta <= 350_000_000L, "curl --max-time 0.2 gave up after " + tta + " ns");
        }
    }

    @Test
    void javaClientTimeoutsAreClientCloses() {
        long pid = ProcessHandle.current().pid();
        List<JsonNode> mine = records(clientTo(lab.nginxPort).and(r -> r.path("pid").asLong() == pid)
                .and(r -> r.path("route").asText().equals("/jdk/slow")));
        long abandoned = mine.stream().filter(r -> r.path("abort_kind").asText().equals("client_close")).count();
        assertEquals(JAVA_CLIENT_REQUESTS / 2, javaTimeouts, "half the Java requests timed out");
        assertEquals(javaTimeouts, abandoned, "client_close records of this JVM: " + mine);
        assertEquals(JAVA_CLIENT_REQUESTS - javaTimeouts,
                mine.stream().filter(r -> r.path("status").asInt() == 200 && !r.path("aborted").asBoolean()).count());
    }

    @Test
    void aClientThatHalfClosedReadsItsWholeAnswer() {
        List<String> wrong = new ArrayList<>();
        for (int port : halfClosingPorts) {
            List<JsonNode> exchanges = records(clientTo(lab.nginxPort).and(r -> r.path("local_port").asInt() == port)
                    .and(r -> r.path("start_unix_ns").asLong() >= halfClosingStartUnixNs));
            if (exchanges.size() != 1 || exchanges.get(0).path("status").asInt() != 200
                    || exchanges.get(0).path("aborted").asBoolean() || exchanges.get(0).path("bytes_in").asLong() == 0) {
                wrong.add(port + ": " + exchanges);
            }
        }
        assertEquals(List.of(), wrong, "of " + HALF_CLOSING_CLIENTS + " half-closing clients");
    }

    @Test
    void pipelinedRequestsAreEachCaptured() {
        List<JsonNode> pipelined = records(server(lab.nginxPort).and(r -> r.path("peer_port").asInt() == pipelinedClientPort)
                .and(r -> r.path("start_unix_ns").asLong() >= pipeliningStartUnixNs));
        assertEquals(List.of(1, 2, 3), pipelined.stream().map(r -> r.path("request_index").asInt()).sorted().toList());
        assertEquals(Set.of("/jdk/users/{id}", "/py/fast", "/jdk/fast"),
                pipelined.stream().map(r -> r.path("route").asText()).collect(Collectors.toSet()));
    }

    @Test
    void hundredContinueEndsWithTheFinalStatus() {
        List<JsonNode> upload = records(server(lab.nginxPort).and(r -> r.path("route").asText().equals("/jdk/upload")));
        assertEquals(1, upload.size(), upload.toString());
        assertEquals(200, upload.get(0).path("status").asInt());
        assertEquals("POST", upload.get(0).path("method").asText());
        assertTrue(upload.get(0).path("bytes_in").asLong() >= 256 * 1024, "the body was read: " + upload.get(0));
    }

    @Test
    void responsesWithoutBodyAndSendfileAreComplete() {
        Map<String, Integer> expected = Map.of("/jdk/status", 204, "/static/file.bin", 200, "/local", 200);
        for (Map.Entry<String, Integer> e : expected.entrySet()) {
            List<JsonNode> found = records(server(lab.nginxPort).and(r -> r.path("route").asText().equals(e.getKey()))
                    .and(r -> r.path("status").asInt() == e.getValue()).and(r -> !r.path("aborted").asBoolean()));
            assertFalse(found.isEmpty(), "no complete " + e);
        }
        assertFalse(records(server(lab.nginxPort).and(r -> r.path("status").asInt() == 304)).isEmpty(), "304");
        assertFalse(records(server(lab.nginxPort).and(r -> r.path("method").asText().equals("HEAD"))
                .and(r -> r.path("status").asInt() == 200)).isEmpty(), "HEAD");
        JsonNode sendfile = records(server(lab.nginxPort).and(r -> r.path("route").asText().equals("/static/file.bin")))
                .get(0);
        assertTrue(sendfile.path("bytes_out").asLong() >= 256 * 1024, "sendfile bytes counted: " + sendfile);
    }

    @Test
    void vectoredSendmsgAndRecvmsgAreFollowed() {
        int clientPort = vectoredPorts.path("client_port").asInt();
        List<JsonNode> client = records(clientTo(lab.nginxPort).and(r -> r.path("local_port").asInt() == clientPort));
        assertEquals(List.of(1, 2), client.stream().map(r -> r.path("request_index").asInt()).sorted().toList(),
                "two keep-alive requests written by sendmsg: " + client);
        assertTrue(client.stream().allMatch(r -> r.path("status").asInt() == 200 && r.path("route").asText().equals("/local")
                && !r.path("aborted").asBoolean()), client.toString());
        List<JsonNode> server = records(server(vectoredPorts.path("server_port").asInt()));
        assertEquals(1, server.size(), server.toString());
        JsonNode chunked = server.get(0);
        assertEquals(200, chunked.path("status").asInt(), chunked.toString());
        assertFalse(chunked.path("aborted").asBoolean(), chunked.toString());
        // the server holds the connection 1.5 s after its last chunk: an end found only at the close is that late
        assertTrue(chunked.path("duration_ns").asLong() < 1_000_000_000L, "ended at the last chunk's iovec: " + chunked);
    }

    @Test
    void thePythonBackendIsSeenOnBothSides() {
        List<JsonNode> python = records(server(lab.pythonPort));
        assertTrue(python.stream().anyMatch(r -> r.path("route").asText().equals("/fast") && r.path("status").asInt() == 200),
                "python /fast");
        assertTrue(python.stream().anyMatch(r -> r.path("status").asInt() == 503), "python 503");
        assertTrue(python.stream().allMatch(r -> r.path("comm").asText().startsWith("python")), "comm python");
    }

    @Test
    void ipv6AndV4MappedSocketsAreCaptured() {
        List<JsonNode> ipv6 = records(server(lab.nginxPort).and(r -> r.path("local_address").asText().equals("::1")));
        assertEquals(1, ipv6.size(), "the request over ::1");
        assertEquals("::1", ipv6.get(0).path("peer_address").asText());
        List<JsonNode> mapped = records(server(dualStackPort).and(r -> r.path("route").asText().equals("/dual-stack")));
        assertEquals(1, mapped.size(), "the request to the dual-stack server");
        assertEquals("127.0.0.1", mapped.get(0).path("local_address").asText(), "v4-mapped shown as IPv4");
        assertEquals(200, mapped.get(0).path("status").asInt());
    }

    @Test
    void processIdentityComesFromProc() {
        JsonNode python = records(server(lab.pythonPort)).get(0);
        assertEquals("py-backend", python.path("service").asText(), "OTEL_SERVICE_NAME of the process");
        JsonNode nginx = records(server(lab.nginxPort)).get(0);
        assertEquals("nginx", nginx.path("service").asText(), "executable name");
        assertEquals("/usr/sbin/nginx", nginx.path("exe").asText());
        assertTrue(nginx.path("pid").asInt() > 0);
    }

    @Test
    void nonHttpTrafficProducesNoRequest() {
        assertEquals(List.of(), records(r -> r.path("local_port").asInt() == echoPort
                || r.path("peer_port").asInt() == echoPort), "echo service");
        assertEquals(List.of(), records(r -> r.path("start_unix_ns").asLong() >= garbageStartUnixNs
                && (r.path("local_port").asInt() == garbageClientPort || r.path("peer_port").asInt() == garbageClientPort)),
                "TLS-like bytes to nginx");
    }
}
