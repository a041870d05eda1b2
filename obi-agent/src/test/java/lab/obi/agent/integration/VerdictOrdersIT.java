package lab.obi.agent.integration;

import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.ObjectMapper;
import org.junit.jupiter.api.AfterAll;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.TestInstance;

import java.net.ServerSocket;
import java.net.Socket;
import java.net.URI;
import java.net.http.HttpClient;
import java.net.http.HttpRequest;
import java.net.http.HttpResponse;
import java.nio.file.Files;
import java.time.Duration;
import java.util.ArrayList;
import java.util.List;
import java.util.Map;
import java.util.TreeMap;
import java.util.function.Predicate;
import java.util.regex.Matcher;
import java.util.regex.Pattern;
import java.util.stream.Collectors;

import static java.nio.charset.StandardCharsets.US_ASCII;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertTrue;

/**
 * The verdict in every order of events, each provoked on purpose (abandon_orders.py): the client's
 * FIN before or after the answer, a half-close that waits and one that nobody answers, a FIN in the
 * request's own segment, a reset before and during the response, a head and an upload cut short,
 * pipelining, a keep-alive request closed as soon as it is sent; nginx as the load balancer with and
 * without proxy_ignore_client_abort, the JDK and Python backends behind it and reached directly.
 * The references are nginx's access log and the backends' own logs of the status line they wrote;
 * every request carries an id, so the three are joined line by line.
 */
@TestInstance(TestInstance.Lifecycle.PER_CLASS)
class VerdictOrdersIT {

    private static final int ROUNDS = 3;
    /** The agent's obi.capture.peer-fin-wait here: longer than any scenario's server takes after a FIN. */
    private static final Duration PEER_FIN_WAIT = Duration.ofSeconds(3);
    private static final String NEVER_REACTS = "never-reacts-1";
    private static final Pattern ID = Pattern.compile("[?&]id=([A-Za-z0-9_-]+)");

    /** What a scenario provokes: nginx's status, and whether and how the agent must say the client left. */
    private record Expected(int nginxStatus, boolean aborted, String abortKind, boolean requestComplete) {
        static Expected answered(int status) {
            return new Expected(status, false, null, true);
        }

        static Expected left(int status, String kind) {
            return new Expected(status, true, kind, true);
        }

        static Expected leftMidRequest(String kind) {
            return new Expected(400, true, kind, false);
        }
    }

    /** By scenario; a keep-alive scenario's first request is an ordinary one, its second the provoked one. */
    private static final Map<String, Expected> EXPECTED = Map.ofEntries(
            Map.entry("answered", Expected.answered(200)),
            Map.entry("fin_then_answered_jdk", Expected.left(200, "fin")),
            Map.entry("fin_then_answered_py", Expected.left(200, "fin")),
            Map.entry("fin_lb_gives_up_jdk", Expected.left(499, "fin")),
            Map.entry("fin_lb_gives_up_py", Expected.left(499, "fin")),
            Map.entry("half_close_answered", Expected.answered(200)),
            Map.entry("half_close_unanswered", Expected.left(499, "fin")),
            Map.entry("fin_with_request", Expected.left(499, "fin")),
            Map.entry("head_cut", Expected.leftMidRequest("fin")),
            Map.entry("upload_cut", Expected.leftMidRequest("fin")),
            Map.entry("upload_cut_rst", Expected.leftMidRequest("rst")),
            Map.entry("rst_before_answer", Expected.left(499, "rst")),
            Map.entry("rst_then_answered", Expected.left(200, "rst")),
            Map.entry("rst_mid_response", Expected.left(200, "rst")),
            Map.entry("pipelined", Expected.answered(200)),
            Map.entry("keepalive_then_fin_answered", Expected.left(200, "fin")),
            Map.entry("keepalive_then_fin_gives_up", Expected.left(499, "fin")));

    /** One request the client program sent: its scenario, id, where to and from which local port. */
    private record Sent(String scenario, String id, String target, int port) {
    }

    /** A backend's own log line: the status line it wrote ("-": none) and what happened. */
    private record BackendLine(String backend, int clientPort, String id, String statusWritten, String outcome) {
        /** The status the agent must report for it (the rule in docs/verdict.md). */
        int expectedStatus() {
            if (!statusWritten.equals("-")) {
                return Integer.parseInt(statusWritten);
            }
            return outcome.equals("read-failed") ? 400 : 499;
        }
    }

    private Lab lab;
    private List<Sent> sent;
    private Map<String, NginxLog.Line> nginxById;
    private List<BackendLine> backendLines;
    private List<JsonNode> exchanges;
    private String metrics;
    private int neverReactingPort;

    @BeforeAll
    void provokeEveryOrderOfEvents() throws Exception {
        lab = new Lab();
        lab.startBackends();
        lab.startNginx();
        lab.startAgent("-Dobi.routes.keep-query=true", "-Dobi.capture.peer-fin-wait=" + PEER_FIN_WAIT.toSeconds() + "s");
        try (ServerSocket neverReacts = new ServerSocket(Lab.freePort())) {
            neverReactingPort = neverReacts.getLocalPort();
            Socket held = clientLeavesAServerThatNeverReacts(neverReacts);
            provokeTheOrdersThroughNginx();
            // Long after the wait ran out, the server answers and closes: too late to be that request's.
            held.getOutputStream().write("HTTP/1.1 200 OK\r\nContent-Length: 0\r\n\r\n".getBytes(US_ASCII));
            held.close();
        }
        List<NginxLog.Line> nginx = NginxLog.read(lab.path("logs/access.log"));
        nginxById = nginx.stream().collect(Collectors.toMap(l -> id(l.request()), l -> l));
        backendLines = new ArrayList<>(readBackendLog("jdk", Lab.JDK_REQUEST_LOG));
        backendLines.addAll(readBackendLog("py", Lab.PY_REQUEST_LOG));
        metrics = scrapeOnceEveryRequestIsIn(nginx.size());
        exchanges = RequestLog.read(lab.stopAgent()).exchanges();
        printSummary();
    }

    /**
     * A server that reads the request and then does nothing at all (its socket stays in CLOSE_WAIT)
     * once the client has sent it and left. Returns the server's end of the connection.
     */
    private static Socket clientLeavesAServerThatNeverReacts(ServerSocket server) throws Exception {
        String request = "GET /stuck?id=" + NEVER_REACTS + " HTTP/1.1\r\nHost: lab\r\n\r\n";
        try (Socket client = new Socket("127.0.0.1", server.getLocalPort())) {
            client.getOutputStream().write(request.getBytes(US_ASCII));
            Socket held = server.accept();
            held.getInputStream().readNBytes(request.length());
            return held;
        }
    }

    /** Over HTTP, then over HTTPS (nginx's TLS listener; the backends behind it in clear). */
    private void provokeTheOrdersThroughNginx() throws Exception {
        String script = lab.copyResource("abandon_orders.py").toString();
        for (List<String> run : List.of(List.of(Integer.toString(lab.nginxPort)),
                List.of(Integer.toString(lab.nginxTlsPort), "tls"))) {
            List<String> command = new ArrayList<>(List.of("python3", script, run.get(0), Integer.toString(lab.jdkPort),
                    Integer.toString(lab.pythonPort), Integer.toString(ROUNDS)));
            command.addAll(run.subList(1, run.size()));
            int exit = lab.run("orders", Duration.ofMinutes(3), command.toArray(String[]::new));
            assertEquals(0, exit, "abandon_orders.py failed:\n" + Files.readString(lab.log("orders")));
        }
        sent = readSent();
    }

    private static boolean throughNginx(Sent s) {
        return s.target().startsWith("lb");
    }

    /** The nginx listener a request went to. */
    private int nginxPort(String id) {
        return sent.stream().filter(s -> s.id().equals(id)).findFirst().map(s -> s.target().equals("lb-tls")
                ? lab.nginxTlsPort : lab.nginxPort).orElseThrow(() -> new AssertionError("no request sent with id " + id));
    }

    private boolean onNginx(JsonNode r) {
        int port = r.path("local_port").asInt();
        return r.path("direction").asText().equals("server") && (port == lab.nginxPort || port == lab.nginxTlsPort);
    }

    @AfterAll
    void stopEverything() throws Exception {
        if (lab != null) {
            lab.close();
        }
    }

    private List<Sent> readSent() throws Exception {
        ObjectMapper json = new ObjectMapper();
        List<Sent> all = new ArrayList<>();
        for (String line : Files.readAllLines(lab.log("orders"))) {
            if (line.startsWith("{")) {
                JsonNode n = json.readTree(line);
                all.add(new Sent(n.path("scenario").asText(), n.path("id").asText(), n.path("target").asText(),
                        n.path("port").asInt()));
            }
        }
        return all;
    }

    private List<BackendLine> readBackendLog(String backend, String file) throws Exception {
        List<BackendLine> lines = new ArrayList<>();
        for (String line : Files.readAllLines(lab.path(file))) {
            String[] f = line.split(" ", 4);
            lines.add(new BackendLine(backend, Integer.parseInt(f[0]), id(f[1]), f[2], f[3]));
        }
        return lines;
    }

    /** The agent's Prometheus endpoint once it has counted a server request for every nginx line. */
    private String scrapeOnceEveryRequestIsIn(int nginxLines) throws Exception {
        HttpClient http = HttpClient.newHttpClient();
        HttpRequest scrape = HttpRequest.newBuilder(URI.create("http://127.0.0.1:" + lab.agentMetricsPort + "/metrics"))
                .build();
        long deadline = System.nanoTime() + Duration.ofSeconds(30).toNanos();
        String text;
        do {
            Thread.sleep(500);
            text = http.send(scrape, HttpResponse.BodyHandlers.ofString()).body();
        } while (sum(text, "http_server_request_duration_seconds_count", nginxServer()) < nginxLines
                && System.nanoTime() < deadline);
        return text;
    }

    private static Predicate<String> nginxServer() {
        return labels -> labels.contains("service_name=\"nginx\"");
    }

    /** Sums the samples of a metric whose labels pass the filter, in the Prometheus text format. */
    private static double sum(String exposition, String metric, Predicate<String> labels) {
        double total = 0;
        for (String line : exposition.split("\n")) {
            if (line.startsWith(metric + "{")) {
                int close = line.lastIndexOf('}');
                if (labels.test(line.substring(metric.length(), close + 1))) {
                    total += Double.parseDouble(line.substring(close + 1).trim().split(" ")[0]);
                }
            }
        }
        return total;
    }

    static String id(String text) {
        Matcher m = ID.matcher(text);
        return m.find() ? m.group(1) : null;
    }

    private List<JsonNode> serverRecords(int port, String id) {
        return exchanges.stream().filter(r -> r.path("direction").asText().equals("server")
                && r.path("local_port").asInt() == port && id.equals(id(r.path("route").asText()))).toList();
    }

    private JsonNode onlyServerRecord(int port, String id) {
        List<JsonNode> found = serverRecords(port, id);
        assertEquals(1, found.size(), "server records on port " + port + " for request " + id + ": " + found);
        return found.get(0);
    }

    private int backendPort(BackendLine line) {
        return line.backend().equals("jdk") ? lab.jdkPort : lab.pythonPort;
    }

    private static String verdict(JsonNode r) {
        return r.path("status").asText("-") + (r.path("aborted").asBoolean() ? " " + r.path("abort_kind").asText() : "")
                + (r.path("truncated").asBoolean() ? " truncated" : "")
                + (r.path("request_complete").asBoolean(true) ? "" : " incomplete");
    }

    private void printSummary() {
        Map<String, Map<String, Long>> byScenario = new TreeMap<>();
        for (Sent s : sent) {
            if (throughNginx(s) && nginxById.containsKey(s.id())) {
                List<JsonNode> records = serverRecords(nginxPort(s.id()), s.id());
                String agent = records.size() == 1 ? verdict(records.get(0)) : records.size() + " records";
                byScenario.computeIfAbsent(s.scenario() + (s.target().equals("lb-tls") ? " (TLS)" : ""), k -> new TreeMap<>())
                        .merge("nginx " + nginxById.get(s.id()).status() + " / agent " + agent, 1L, Long::sum);
            }
        }
        System.out.printf("%n== the verdict in every order of events, %d rounds: nginx's $status / the agent's record%n",
                ROUNDS);
        byScenario.forEach((scenario, outcomes) -> System.out.printf("   %-28s %s%n", scenario, outcomes));
        Map<String, Long> backend = backendLines.stream().collect(Collectors.groupingBy(
                l -> l.backend() + " wrote " + l.statusWritten() + " (" + l.outcome().split(" ")[0] + ") / agent "
                        + serverRecords(backendPort(l), l.id()).stream().map(VerdictOrdersIT::verdict).toList(),
                TreeMap::new, Collectors.counting()));
        System.out.println("   backend hop: " + backend);
    }

    @Test
    void everyNginxLineIsOneRecordWithNginxsStatus() {
        List<String> different = new ArrayList<>();
        for (NginxLog.Line line : nginxById.values()) {
            JsonNode r = onlyServerRecord(nginxPort(id(line.request())), id(line.request()));
            if (r.path("status").asInt(-1) != line.status()) {
                different.add(line + " -> " + r);
            }
        }
        assertTrue(nginxById.size() >= ROUNDS * EXPECTED.size(), "nginx logged " + nginxById.size() + " requests");
        assertEquals(List.of(), different, different.size() + " of " + nginxById.size() + " statuses differ");
    }

    @Test
    void the499sAreExactlyNginxs() {
        long nginx499 = nginxById.values().stream().filter(l -> l.status() == 499).count();
        long agent499 = exchanges.stream().filter(r -> onNginx(r) && r.path("status").asInt() == 499).count();
        long both = nginxById.values().stream().filter(l -> l.status() == 499
                && onlyServerRecord(nginxPort(id(l.request())), id(l.request())).path("status").asInt() == 499).count();
        assertTrue(nginx499 >= 2 * ROUNDS * 6L, "the scenarios provoke 499s over HTTP and HTTPS: nginx logged "
                + nginx499);
        assertEquals(nginx499, both, "499 recall");
        assertEquals(agent499, both, "499 precision");
    }

    @Test
    void eachOrderOfEventsWasProvokedAndIsJudgedAsSuch() {
        Map<String, List<Sent>> byScenario = sent.stream().filter(VerdictOrdersIT::throughNginx)
                .collect(Collectors.groupingBy(s -> s.scenario() + (s.target().equals("lb-tls") ? " (TLS)" : "")));
        assertEquals(EXPECTED.size() * 2, byScenario.size(), "scenarios through the load balancer, HTTP and HTTPS: "
                + byScenario.keySet());
        List<String> wrong = new ArrayList<>();
        byScenario.forEach((scenario, requests) -> {
            Expected expected = EXPECTED.get(scenario.replace(" (TLS)", ""));
            for (int i = 0; i < requests.size(); i++) {
                Sent s = requests.get(i);
                // a keep-alive scenario's first request (even positions) is answered like any other
                boolean ordinary = scenario.startsWith("keepalive_") && i % 2 == 0;
                Expected want = ordinary ? Expected.answered(200) : expected;
                NginxLog.Line line = nginxById.get(s.id());
                JsonNode r = onlyServerRecord(nginxPort(s.id()), s.id());
                boolean ok = line != null && line.status() == want.nginxStatus()
                        && r.path("aborted").asBoolean() == want.aborted()
                        && (!want.aborted() || r.path("abort_kind").asText().equals(want.abortKind()))
                        && r.path("request_complete").asBoolean(true) == want.requestComplete();
                if (!ok) {
                    wrong.add(scenario + " " + s.id() + ": nginx " + (line == null ? "-" : line.status())
                            + ", agent " + verdict(r) + ", wanted " + want);
                }
            }
        });
        assertEquals(List.of(), wrong);
    }

    /**
     * The clients that half-closed (shutdown(SHUT_WR) after the request) waited for the server: their
     * own records end with what it did: its answer (one without a length ends with its close) or its
     * close without one (aborted, fin), never a close of theirs. The server's FIN reaches them in
     * FIN_WAIT2, not CLOSE_WAIT; one that came first turns their half-close into LAST_ACK.
     */
    @Test
    void aClientThatHalfClosedEndsWithWhatTheServerDid() {
        Map<String, Boolean> answeredByScenario = Map.of("half_close_answered", true, "direct_half_close_answered", true,
                "direct_half_close_unframed", true, "direct_unframed_then_half_close", true, "half_close_unanswered", false,
                "fin_with_request", false);
        List<String> wrong = new ArrayList<>();
        Map<String, Long> checked = new TreeMap<>();
        for (Sent s : sent) {
            Boolean answered = answeredByScenario.get(s.scenario());
            if (answered == null || s.target().equals("lb-tls")) {
                continue; // Python's SSLSocket.shutdown() drops the TLS session: its client reads ciphertext
            }
            List<JsonNode> found = exchanges.stream().filter(r -> r.path("direction").asText().equals("client")
                    && r.path("local_port").asInt() == s.port() && s.id().equals(id(r.path("route").asText()))).toList();
            boolean ok = found.size() == 1 && (answered
                    ? found.get(0).path("status").asInt() == 200 && !found.get(0).path("aborted").asBoolean()
                    : !found.get(0).has("status") && found.get(0).path("abort_kind").asText().equals("fin"));
            if (!ok) {
                wrong.add(s.scenario() + " " + s.target() + " " + s.id() + ": " + found);
            }
            checked.merge(s.scenario(), 1L, Long::sum);
        }
        assertEquals(List.of(), wrong, "client records of half-closing clients, checked: " + checked);
        assertEquals(answeredByScenario.keySet(), checked.keySet(), "every half-closing scenario ran");
    }

    @Test
    void httpsIsToldApartInTheLogAndTheMetrics() {
        for (JsonNode r : exchanges) {
            if (onNginx(r)) {
                assertEquals(r.path("local_port").asInt() == lab.nginxTlsPort, r.path("tls").asBoolean(),
                        "read through OpenSSL exactly on the TLS listener: " + r);
            }
        }
        for (String scheme : List.of("http", "https")) {
            int port = scheme.equals("https") ? lab.nginxTlsPort : lab.nginxPort;
            long nginx499 = nginxById.values().stream().filter(l -> l.status() == 499
                    && nginxPort(id(l.request())) == port).count();
            double counted = sum(metrics, "http_server_request_duration_seconds_count", nginxServer()
                    .and(l -> l.contains("url_scheme=\"" + scheme + "\"") && l.contains("http_response_status_code=\"499\"")));
            assertEquals(nginx499, counted, 0.0, "nginx's 499s over " + scheme);
        }
    }

    @Test
    void abandonTimesAreWhenTheClientLeft() {
        Map<String, long[]> boundsMs = Map.of(
                "fin_then_answered_jdk", new long[] {90, 200},
                "fin_lb_gives_up_py", new long[] {90, 200},
                "half_close_unanswered", new long[] {40, 150},
                "rst_before_answer", new long[] {90, 200},
                "fin_with_request", new long[] {0, 0});
        for (Sent s : sent) {
            long[] bounds = boundsMs.get(s.scenario());
            if (bounds != null) {
                JsonNode r = onlyServerRecord(nginxPort(s.id()), s.id());
                double ms = r.path("time_to_abandon_ns").asLong(-1) / 1e6;
                assertTrue(ms >= bounds[0] && ms <= bounds[1] + 0.5, s + ": time to abandon " + ms + " ms: " + r);
            }
        }
    }

    @Test
    void theBackendsOwnLogsAgreeOnTheBackendHop() {
        List<String> different = new ArrayList<>();
        for (BackendLine line : backendLines) {
            JsonNode r = onlyServerRecord(backendPort(line), line.id());
            if (r.path("status").asInt(-1) != line.expectedStatus()) {
                different.add(line + " -> " + r);
            }
        }
        assertEquals(List.of(), different);
        Predicate<BackendLine> answeredAfterItsClientLeft = l -> !l.statusWritten().equals("-")
                && onlyServerRecord(backendPort(l), l.id()).path("aborted").asBoolean();
        for (String backend : List.of("jdk", "py")) {
            assertTrue(backendLines.stream().filter(l -> l.backend().equals(backend))
                    .anyMatch(answeredAfterItsClientLeft), backend + " answered after its client left, and was seen to");
            assertTrue(backendLines.stream().anyMatch(l -> l.backend().equals(backend)
                    && l.outcome().equals("read-failed")), backend + " saw an upload cut short");
        }
    }

    @Test
    void noRecordHasNeitherAStatusNorAVerdict() {
        List<JsonNode> neither = exchanges.stream().filter(r -> !r.has("status") && !r.path("aborted").asBoolean())
                .toList();
        assertEquals(List.of(), neither);
        assertFalse(exchanges.stream().anyMatch(r -> r.path("direction").asText().equals("server") && !r.has("status")),
                "every server record has a status");
    }

    @Test
    void aServerThatNeverReactsIsReportedOnceTheWaitRunsOut() {
        JsonNode r = onlyServerRecord(neverReactingPort, NEVER_REACTS);
        assertEquals(499, r.path("status").asInt(), r.toString());
        assertEquals("fin", r.path("abort_kind").asText(), r.toString());
        double waitedS = r.path("duration_ns").asLong() / 1e9;
        assertTrue(waitedS >= PEER_FIN_WAIT.toSeconds() && waitedS < PEER_FIN_WAIT.toSeconds() + 1.5,
                "reported within a second of the wait running out: " + r);
        assertEquals(1, sum(metrics, "obi_agent_peer_fin_waits_expired_total", labels -> true),
                "counted as given up on");
        assertEquals(1, exchanges.stream().filter(e -> e.path("direction").asText().equals("server")
                && e.path("local_port").asInt() == neverReactingPort).count(), "its late answer is no exchange");
    }

    @Test
    void metricsFollowTheSameRule() {
        Map<Integer, Long> nginxStatuses = nginxById.values().stream()
                .collect(Collectors.groupingBy(NginxLog.Line::status, TreeMap::new, Collectors.counting()));
        Map<Integer, Long> counted = new TreeMap<>();
        for (int status : nginxStatuses.keySet()) {
            counted.put(status, (long) sum(metrics, "http_server_request_duration_seconds_count",
                    nginxServer().and(l -> l.contains("http_response_status_code=\"" + status + "\""))));
        }
        assertEquals(nginxStatuses, counted, "http.server.request.duration counts by status for nginx");
        Map<Integer, Long> abandonedRecords = exchanges.stream().filter(r -> onNginx(r) && r.path("aborted").asBoolean())
                .collect(Collectors.groupingBy(r -> r.path("status").asInt(), TreeMap::new, Collectors.counting()));
        Map<Integer, Long> abandonedCounted = new TreeMap<>();
        for (int status : abandonedRecords.keySet()) {
            abandonedCounted.put(status, (long) sum(metrics, "obi_http_abandoned_total", nginxServer()
                    .and(l -> l.contains("obi_direction=\"server\"")
                            && l.contains("http_response_status_code=\"" + status + "\""))));
        }
        assertEquals(abandonedRecords, abandonedCounted, "obi.http.abandoned by status for nginx");
        assertEquals(nginxStatuses.get(499), abandonedCounted.get(499), "the 499s among the abandons");
        assertTrue(abandonedCounted.getOrDefault(200, 0L) >= ROUNDS * 4L, "answered after the client left: abandons"
                + " with status 200");
    }
}
