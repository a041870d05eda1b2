package lab.obi.agent.integration;

import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.ObjectMapper;
import org.junit.jupiter.api.AfterAll;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.MethodOrderer;
import org.junit.jupiter.api.Order;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.TestInstance;
import org.junit.jupiter.api.TestMethodOrder;

import java.io.BufferedReader;
import java.io.InputStreamReader;
import java.io.OutputStream;
import java.net.URI;
import java.net.http.HttpClient;
import java.net.http.HttpRequest;
import java.net.http.HttpResponse;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Duration;
import java.util.ArrayList;
import java.util.HashMap;
import java.util.HashSet;
import java.util.List;
import java.util.Map;
import java.util.Set;
import java.util.TreeMap;
import java.util.concurrent.TimeUnit;
import java.util.regex.Matcher;
import java.util.regex.Pattern;

import static org.junit.jupiter.api.Assertions.*;

/**
 * What strangers send, against Debian's nginx with the agent running on this kernel
 * (hostile_clients.py): random bytes and the openers of other protocols, TLS bytes on a plain port,
 * a 64 KiB request line, a 60 KB header, requests one byte per segment and split into pieces, 10,000
 * connections at once, 2,000 idle connections then 200 requests on them, clients that vanish
 * (half-open). For each, nginx's access log is the reference, joined by client port and request
 * number: no request nginx saw goes unreported, none is reported that nginx did not see, every status
 * is nginx's; the kernel's connection table is back to its baseline once the connections are gone.
 * Last, a table too small on purpose: every connection it refuses is counted, and the requests missed
 * are exactly those. The figures go to target/reliability/kernel-input.md (docs/reliability.md).
 */
@TestInstance(TestInstance.Lifecycle.PER_CLASS)
@TestMethodOrder(MethodOrderer.OrderAnnotation.class)
class HostileInputIT {

    private static final Duration SETTLE = Duration.ofSeconds(30);
    /** A request line nginx logged: a method and the start of a target (a 64 KiB one is cut). */
    private static final Pattern REQUEST_LINE = Pattern.compile("[A-Z]+ /.*");
    private static final Pattern METRIC = Pattern.compile("(?m)^(\\w+)(\\{[^}]*})? (\\S+)$");
    private static final int SMALL_TABLE = 1024;

    private final ObjectMapper json = new ObjectMapper();
    private final HttpClient http = HttpClient.newHttpClient();
    private final List<String> rows = new ArrayList<>();
    private Lab lab;
    private Path clients;
    private int port;
    private int shortTimeoutPort;
    private long baseline;
    private long peakRssKiB;
    private String skipsLine = "";

    /** What one scenario did and what the agent made of it. */
    private record Outcome(int connections, int nginxRequests, int reported, int missed, int falseExchanges,
                           Map<String, Integer> statuses, long tableDuring, long tableAfter, long rssKiB) {
    }

    @BeforeAll
    void nginxAndTheAgent() throws Exception {
        lab = new Lab();
        port = Lab.freePort();
        shortTimeoutPort = Lab.freePort();
        clients = lab.copyResource("hostile_clients.py");
        Files.createDirectories(lab.path("logs"));
        Files.createDirectories(lab.path("tmp"));
        Files.writeString(lab.path("nginx.conf"), Files.readString(lab.copyResource("hostile-nginx.conf"))
                .replace("@DIR@", lab.dir.toString()).replace("@PORT@", Integer.toString(port))
                .replace("@SHORT_PORT@", Integer.toString(shortTimeoutPort)));
        lab.start("nginx", "nginx", "-p", lab.dir.toString(), "-c", lab.path("nginx.conf").toString(), "-g", "daemon off;");
        lab.awaitHttp("http://127.0.0.1:" + port + "/ready", "nginx", System.nanoTime() + Duration.ofSeconds(30).toNanos());
        lab.startAgent();
        baseline = settledTable(Long.MAX_VALUE);
        rows.add("| scenario | connections | requests (nginx) | reported | missed | false | statuses | table during | table after | agent RSS |");
        rows.add("|---|---:|---:|---:|---:|---:|---|---:|---:|---:|");
    }

    @AfterAll
    void report() throws Exception {
        if (lab == null) {
            return;
        }
        try {
            Path out = Path.of(System.getProperty("obi.reliability.dir", "target/reliability")).resolve("kernel-input.md");
            Files.createDirectories(out.getParent());
            Files.writeString(out, String.join("\n", rows) + "\n\nConnection table at the start: " + baseline
                    + " entries; the agent's peak RSS over the run: " + peakRssKiB / 1024 + " MiB.\n"
                    + (skipsLine.isEmpty() ? "" : "\n" + skipsLine + "\n"));
        } finally {
            lab.close();
        }
    }

    @Test
    @Order(1)
    void randomBytesAndOtherProtocolsAreNoExchange() throws Exception {
        Outcome o = scenario("binary", "200 connections of random bytes, TLS, HTTP/2, SSH, Redis, PostgreSQL openers",
                port, 200);
        assertEquals(0, o.nginxRequests(), "nginx saw no request line");
        assertEquals(0, o.reported(), "no exchange from bytes that are not HTTP/1.x");
    }

    @Test
    @Order(2)
    void aRequestLineOf64KiBIsReportedWithNginxsStatus() throws Exception {
        Outcome o = scenario("long_line", "a 64 KiB request line", port, 5);
        assertEquals(Map.of("414", 5), o.statuses());
    }

    @Test
    @Order(3)
    void aHeaderOf60KBIsReportedWithNginxsStatus() throws Exception {
        Outcome o = scenario("big_header", "a 60 KB header", port, 5);
        assertEquals(Map.of("400", 5), o.statuses());
    }

    @Test
    @Order(4)
    void aRequestOneBytePerSegmentIsReported() throws Exception {
        Outcome o = scenario("one_byte_per_read", "one byte per segment, 20 ms apart (slowloris)", port, 5);
        assertEquals(Map.of("200", 5), o.statuses());
    }

    @Test
    @Order(5)
    void aHeadSplitIntoManyReadsIsReported() throws Exception {
        Outcome o = scenario("split_head", "heads in pieces of 1-9 bytes", port, 50);
        assertEquals(Map.of("200", 50), o.statuses());
    }

    @Test
    @Order(6)
    void tenThousandConnectionsAtOnceAreAllReportedAndTheTableEmpties() throws Exception {
        Outcome o = scenario("concurrent", "10,000 connections open at once", port, 10_000);
        assertEquals(Map.of("200", 10_000), o.statuses());
        assertTrue(o.tableDuring() - o.tableAfter() >= 10_000, "nginx's side of every connection is tracked while"
                + " open, and forgotten at its close: " + o.tableDuring() + " then " + o.tableAfter());
        AgentBpf.Skips skips = AgentBpf.of(lab.agentPid()).skips();
        double counted = metric("obi_agent_dropped_total", "program_skipped");
        skipsLine = String.format("Events the kernel skipped a program for (it was running on that CPU already) after"
                + " this scenario: %d taken by the TCP hooks' `_nested` programs, %d lost, counted as"
                + " `program_skipped`: %.0f.", skips.takenByTwins(), skips.lost(), counted);
        assertEquals(skips.lost(), (long) counted, "the skips no program made up for are counted as drops: " + skips);
    }

    @Test
    @Order(7)
    void requestsOnConnectionsThatWereIdleAreReported() throws Exception {
        Outcome o = scenario("idle_then_requests", "2,000 idle connections, then 200 requests on them", port, 2_000);
        assertEquals(Map.of("200", 200), o.statuses());
        assertTrue(o.tableDuring() <= baseline, "idle connections cost no entry: " + o.tableDuring());
    }

    @Test
    @Order(8)
    void clientsThatVanishLeaveNothingBehindOnceTheNetworkIsBack() throws Exception {
        Outcome o = scenario("half_open", "40 clients vanish (half-open): 20 answered and idle, 20 mid-head",
                shortTimeoutPort, 40);
        assertEquals(Map.of("200", 20, "408", 20), o.statuses(), "nginx's timeout of a head cut short is 408 in both");
        assertTrue(o.tableDuring() - o.tableAfter() >= 40, "the server's sides stay tracked while it cannot know,"
                + " and go once the network is back: " + o.tableDuring() + " then " + o.tableAfter());
    }

    /**
     * A connection table of 1,024 entries under 3,000 connections at once: the connections it cannot
     * hold are refused and counted (conn_table_full), and the requests missed are exactly theirs.
     * Both ends of each connection are observed (the Python client too), so each refused entry is one
     * missed exchange, client or server side.
     */
    @Test
    @Order(9)
    void everyConnectionTheTableRefusesIsCountedAndOnlyThoseAreMissed() throws Exception {
        lab.stopAgent();
        Path requests = lab.path("requests.jsonl");
        Files.move(requests, lab.path("requests-before-small-table.jsonl"));
        lab.startAgent("-Dobi.bpf.max-connections=" + SMALL_TABLE);
        double refusedBefore = metric("obi_agent_dropped_total", "conn_table_full");
        int connections = 3_000;
        Outcome o = scenario("concurrent", "3,000 connections at once, table of " + SMALL_TABLE + " entries", port,
                connections, false);
        double refused = metric("obi_agent_dropped_total", "conn_table_full") - refusedBefore;
        long clientSides = lines(requests, 0).stream().filter(r -> r.path("record").asText().equals("exchange")
                && r.path("direction").asText().equals("client") && r.path("peer_port").asInt() == port).count();
        long reported = o.reported() + clientSides;
        rows.add(String.format("| refusals: table of %d | %d | %d | server %d, client %d | %d | 0 | refused and counted: %.0f"
                + " | %d | %d | %d MiB |", SMALL_TABLE, connections, o.nginxRequests(), o.reported(), clientSides,
                o.missed(), refused, o.tableDuring(), o.tableAfter(), o.rssKiB() / 1024));
        assertTrue(refused > 0, "a table of " + SMALL_TABLE + " cannot hold " + connections + " connections");
        assertEquals(2L * connections - reported, (long) refused,
                "every exchange not reported (server " + o.missed() + ", client " + (connections - clientSides)
                        + ") is one connection the table refused");
    }

    private Outcome scenario(String name, String description, int target, int count) throws Exception {
        return scenario(name, description, target, count, true);
    }

    /**
     * Runs the clients, then joins nginx's access log lines of their ports with the agent's server
     * records of the same ports, by request number on the connection.
     *
     * @param complete every request nginx saw must be reported (false: the refusals, counted instead)
     */
    private Outcome scenario(String name, String description, int target, int count, boolean complete) throws Exception {
        Path requests = lab.path("requests.jsonl");
        int logFrom = Files.readAllLines(lab.path("logs/access.log")).size();
        int requestsFrom = lines(requests, 0).size();
        progress(name + ": " + description);
        Process p = new ProcessBuilder("python3", clients.toString(), name, "127.0.0.1", Integer.toString(target),
                Integer.toString(count)).directory(lab.dir.toFile()).redirectError(lab.log("clients-" + name).toFile()).start();
        BufferedReader out = new BufferedReader(new InputStreamReader(p.getInputStream(), StandardCharsets.UTF_8));
        JsonNode result = json.readTree(requireLine(out, p, name));
        long during = table();
        long rss = lab.agentRssKiB();
        peakRssKiB = Math.max(peakRssKiB, rss);
        if (result.has("holding")) {
            progress(name + ": holding " + result.get("holding") + ", table " + during + ", RSS " + rss / 1024 + " MiB");
            if (name.equals("half_open")) {
                Thread.sleep(3_000); // nginx's timeouts (2 s) pass while the network is gone
                during = Math.min(during, table());
            }
            try (OutputStream go = p.getOutputStream()) {
                go.write("go\n".getBytes(StandardCharsets.UTF_8));
            }
            result = json.readTree(requireLine(out, p, name));
        }
        assertTrue(p.waitFor(2, TimeUnit.MINUTES), name + " did not finish");
        assertEquals(0, p.exitValue(), name + ": " + Files.readString(lab.log("clients-" + name)));
        Set<Integer> ports = new HashSet<>();
        result.path("ports").forEach(n -> ports.add(n.asInt()));

        Map<String, String> nginx = new HashMap<>(); // port/request number -> status
        List<String> accessLog = Files.readAllLines(lab.path("logs/access.log"));
        for (String text : accessLog.subList(logFrom, accessLog.size())) {
            NginxLog.Line line = NginxLog.parse(text);
            if (ports.contains(line.remotePort()) && REQUEST_LINE.matcher(line.request()).matches()) {
                nginx.put(line.remotePort() + "/" + line.connectionRequests(), Integer.toString(line.status()));
            }
        }
        // Connections closed and their entries gone: what the agent will write of them is written,
        // or on its way (the refusals' case, where missed requests are expected, waits for the log to be quiet).
        long after = settledTable(baseline);
        if (!complete) {
            awaitQuiet(requests);
        }
        long deadline = System.nanoTime() + SETTLE.toNanos();
        Map<String, String> agent = serverRecords(requests, requestsFrom, target, ports);
        while (complete && !agent.keySet().containsAll(nginx.keySet()) && System.nanoTime() < deadline) {
            Thread.sleep(200);
            agent = serverRecords(requests, requestsFrom, target, ports);
        }
        peakRssKiB = Math.max(peakRssKiB, lab.agentRssKiB());

        Set<String> missed = new HashSet<>(nginx.keySet());
        missed.removeAll(agent.keySet());
        Set<String> falseExchanges = new HashSet<>(agent.keySet());
        falseExchanges.removeAll(nginx.keySet());
        Map<String, Integer> statuses = new TreeMap<>();
        List<String> differing = new ArrayList<>();
        for (Map.Entry<String, String> e : agent.entrySet()) {
            String expected = nginx.get(e.getKey());
            if (expected != null) {
                statuses.merge(e.getValue(), 1, Integer::sum);
                if (!expected.equals(e.getValue())) {
                    differing.add(e.getKey() + " nginx " + expected + " agent " + e.getValue());
                }
            }
        }
        Outcome o = new Outcome(ports.size(), nginx.size(), agent.size() - falseExchanges.size(), missed.size(),
                falseExchanges.size(), statuses, during, after, rss);
        progress(name + ": " + o);
        if (complete) {
            rows.add(String.format("| %s | %,d | %,d | %,d | %d | %d | %s | %,d | %,d | %d MiB |", description,
                    o.connections(), o.nginxRequests(), o.reported(), o.missed(), o.falseExchanges(),
                    statuses.isEmpty() ? "-" : statuses.toString().replaceAll("[{}]", ""), during, after, rss / 1024));
            assertEquals(Set.of(), missed, name + ": requests nginx logged that the agent did not report (the agent's"
                    + " drops: " + drops() + ")");
        }
        assertEquals(Set.of(), falseExchanges, name + ": exchanges the agent reported that nginx never logged");
        assertEquals(List.of(), differing, name + ": statuses that differ from nginx's");
        assertTrue(after <= baseline, name + ": the connection table is back to its baseline (" + baseline + "): " + after);
        return o;
    }

    private static String requireLine(BufferedReader out, Process p, String name) throws Exception {
        String line = out.readLine();
        if (line == null) {
            p.waitFor(10, TimeUnit.SECONDS);
            fail(name + " printed nothing (exit " + (p.isAlive() ? "none yet" : p.exitValue()) + ")");
        }
        return line;
    }

    /** The agent's server records on the port, of these clients: client port/request index -> status. */
    private Map<String, String> serverRecords(Path requests, int from, int target, Set<Integer> ports) throws Exception {
        Map<String, String> records = new HashMap<>();
        for (JsonNode r : lines(requests, from)) {
            if (r.path("record").asText().equals("exchange") && r.path("direction").asText().equals("server")
                    && r.path("local_port").asInt() == target && ports.contains(r.path("peer_port").asInt())) {
                records.put(r.path("peer_port").asInt() + "/" + r.path("request_index").asInt(), r.path("status").asText("-"));
            }
        }
        return records;
    }

    /** The request log's complete lines from line {@code from} on (the agent may be writing the last one). */
    private List<JsonNode> lines(Path file, int from) throws Exception {
        if (!Files.exists(file)) {
            return List.of();
        }
        String text = Files.readString(file);
        String complete = text.substring(0, text.lastIndexOf('\n') + 1);
        List<String> all = complete.lines().toList();
        List<JsonNode> nodes = new ArrayList<>();
        for (String line : all.subList(Math.min(from, all.size()), all.size())) {
            nodes.add(json.readTree(line));
        }
        return nodes;
    }

    /** Until the file has not grown for a second (or SETTLE passed). */
    private static void awaitQuiet(Path file) throws Exception {
        long deadline = System.nanoTime() + SETTLE.toNanos();
        long size = -1;
        while (Files.size(file) != size && System.nanoTime() < deadline) {
            size = Files.size(file);
            Thread.sleep(1_000);
        }
    }

    /** The connection table once it stops shrinking below the given bound, or after SETTLE. */
    private long settledTable(long bound) throws Exception {
        long deadline = System.nanoTime() + SETTLE.toNanos();
        long entries = table();
        while (entries > bound && System.nanoTime() < deadline) {
            Thread.sleep(250);
            entries = table();
        }
        return entries;
    }

    private long table() throws Exception {
        return (long) metric("obi_agent_connections_tracked", null);
    }

    /** A sample of the agent's own metrics; with a drop reason, that series of obi_agent_dropped_total. */
    private double metric(String name, String dropReason) throws Exception {
        String text = metricsText();
        for (Matcher m = METRIC.matcher(text); m.find(); ) {
            if (m.group(1).equals(name) && (dropReason == null
                    || (m.group(2) != null && m.group(2).contains("obi_drop_reason=\"" + dropReason + "\"")))) {
                return Double.parseDouble(m.group(3));
            }
        }
        throw new AssertionError(name + " not on the agent's endpoint");
    }

    private String metricsText() throws Exception {
        return http.send(HttpRequest.newBuilder(URI.create("http://127.0.0.1:" + lab.agentMetricsPort + "/metrics"))
                .timeout(Duration.ofSeconds(20)).build(), HttpResponse.BodyHandlers.ofString()).body();
    }

    /** The agent's drops so far, by reason: where missed requests went, if the agent knows. */
    private String drops() throws Exception {
        String text = metricsText();
        List<String> drops = new ArrayList<>();
        for (Matcher m = METRIC.matcher(text); m.find(); ) {
            if (m.group(1).equals("obi_agent_dropped_total") && Double.parseDouble(m.group(3)) > 0) {
                drops.add(m.group(2) + " " + m.group(3));
            }
        }
        return drops.isEmpty() ? "none" : String.join(", ", drops);
    }

    private static void progress(String message) {
        System.err.println("hostile: " + message);
    }
}
