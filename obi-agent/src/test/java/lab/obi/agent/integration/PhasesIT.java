package lab.obi.agent.integration;

import com.fasterxml.jackson.databind.JsonNode;
import org.junit.jupiter.api.AfterAll;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.TestInstance;

import java.nio.file.Files;
import java.time.Duration;
import java.util.ArrayList;
import java.util.List;
import java.util.Map;
import java.util.Optional;
import java.util.regex.Matcher;
import java.util.regex.Pattern;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertTrue;

/**
 * Each phase of a request provoked on purpose against real servers: a server that leaves a
 * connection in its accept queue for 300 ms, one that does not read a request for 300 ms, one that
 * takes 300 ms to answer. Each phase is measured within {@link #BOUND_MS} of what was provoked, the
 * slow request's cause names it, and the phases add up to what curl waited. Then nginx, an event
 * loop with one worker and twenty requests in flight at once, forwards each to the JDK backend: each
 * upstream call joins the request it forwards, never a neighbour's, and the request's time is the
 * backend's processing.
 */
@TestInstance(TestInstance.Lifecycle.PER_CLASS)
class PhasesIT {

    private static final long PROVOKED_MS = 300;
    /** Python's sleep and the scheduler of a busy 2-core machine: a few ms; more is a wrong phase. */
    private static final long BOUND_MS = 40;
    private static final int CONCURRENT = 20;
    private static final long BACKEND_MS = 400;

    private Lab lab;
    private CollectorServer collector;
    private final int acceptLatePort = Lab.freePort();
    private final int readLatePort = Lab.freePort();
    private final int answerLatePort = Lab.freePort();
    private final int nginxPort = Lab.freePort();
    private final Map<Integer, Double> curlSeconds = new java.util.HashMap<>();
    private RequestLog log;
    private String metrics;
    private String nginxAccessLog;

    @BeforeAll
    void provokeEachPhase() throws Exception {
        lab = new Lab();
        lab.startBackends();
        String server = lab.copyResource("slow_server.py").toString();
        lab.start("accept-late", "python3", server, Integer.toString(acceptLatePort), "300", "0", "0");
        lab.start("read-late", "python3", server, Integer.toString(readLatePort), "0", "300", "0");
        lab.start("answer-late", "python3", server, Integer.toString(answerLatePort), "0", "0", "300");
        Files.createDirectories(lab.path("logs"));
        Files.createDirectories(lab.path("tmp"));
        String conf = new String(PhasesIT.class.getResourceAsStream("/integration/phases-nginx.conf").readAllBytes())
                .replace("@DIR@", lab.path("").toString()).replace("@PORT@", Integer.toString(nginxPort))
                .replace("@JDK_PORT@", Integer.toString(lab.jdkPort));
        Files.writeString(lab.path("phases-nginx.conf"), conf);
        lab.start("phases-nginx", "nginx", "-p", lab.path("").toString(), "-c",
                lab.path("phases-nginx.conf").toString(), "-g", "daemon off;");
        collector = new CollectorServer(lab);
        collector.start();
        lab.startAgent(Map.of("OTEL_EXPORTER_OTLP_ENDPOINT", "http://127.0.0.1:" + collector.grpcPort),
                "-Dobi.metrics.otlp.enabled=false", "-Dobi.slow.threshold=200ms", "-Dobi.routes.keep-query=true");
        Thread.sleep(1_000); // the servers' listening sockets

        for (int port : List.of(acceptLatePort, readLatePort, answerLatePort)) {
            curlSeconds.put(port, curl("http://127.0.0.1:" + port + "/late"));
        }

        // An event loop with requests in flight at once: each upstream call must join its own request.
        List<Process> clients = new ArrayList<>();
        for (int i = 0; i < CONCURRENT; i++) {
            clients.add(new ProcessBuilder("curl", "-s", "-o", "/dev/null", "-m", "10", "http://127.0.0.1:" + nginxPort
                    + "/jdk/slow?ms=" + BACKEND_MS + "&id=req" + (char) ('a' + i)).start());
            Thread.sleep(15);
        }
        for (Process c : clients) {
            assertEquals(0, c.waitFor(), "curl through nginx");
        }
        Thread.sleep(500);
        metrics = lab.scrapeAgent();
        log = RequestLog.read(lab.stopAgent());
        nginxAccessLog = Files.readString(lab.path("logs/phases-access.log"));
    }

    @AfterAll
    void stop() throws Exception {
        if (collector != null) {
            collector.stop();
        }
        if (lab != null) {
            lab.close();
        }
    }

    @Test
    void aConnectionLeftInTheAcceptQueueIsAcceptQueue() {
        JsonNode e = serverExchange(acceptLatePort);
        assertPhase(e, "accept_queue");
        assertEquals("accept_queue", e.path("slow_cause").asText(), e.toString());
    }

    @Test
    void aRequestLeftUnreadIsReceiveQueue() {
        JsonNode e = serverExchange(readLatePort);
        assertPhase(e, "receive_queue");
        assertEquals("receive_queue", e.path("slow_cause").asText(), e.toString());
    }

    @Test
    void aLateAnswerIsProcessing() {
        JsonNode e = serverExchange(answerLatePort);
        assertPhase(e, "processing");
        assertEquals("processing", e.path("slow_cause").asText(), e.toString());
        JsonNode client = log.exchanges().stream().filter(r -> r.path("direction").asText().equals("client")
                && r.path("peer_port").asInt() == answerLatePort).findFirst().orElseThrow();
        assertEquals("processing", client.path("slow_cause").asText(), "curl waited for the server: " + client);
    }

    /**
     * The transfer and processing phases are the duration, to the nanosecond; with the queues before
     * them they are what curl waited, less its connect and a round trip.
     */
    @Test
    void thePhasesAddUpToTheDurationAndToWhatTheClientWaited() {
        for (JsonNode e : log.exchanges()) {
            if (e.path("abort_kind").asText().equals("connect")) {
                continue; // a connect that never got through: its time was all connect
            }
            JsonNode p = e.path("phases_ns");
            long inside = p.path("request_transfer").asLong() + p.path("processing").asLong()
                    + p.path("response_transfer").asLong();
            assertEquals(e.path("duration_ns").asLong(), inside, "phases of " + e);
        }
        for (int port : List.of(acceptLatePort, readLatePort, answerLatePort)) {
            JsonNode server = serverExchange(port);
            JsonNode client = log.exchanges().stream().filter(r -> r.path("direction").asText().equals("client")
                    && r.path("peer_port").asInt() == port).findFirst().orElseThrow();
            long serverTotal = sum(server.path("phases_ns"));
            long clientWait = client.path("duration_ns").asLong();
            double curlMs = curlSeconds.get(port) * 1000;
            assertTrue(Math.abs(serverTotal - clientWait) < 5_000_000L,
                    "server's phases " + serverTotal + " ns vs the client's wait " + clientWait + " ns: " + server);
            assertTrue(Math.abs(curlMs - (clientWait + client.path("phases_ns").path("connect").asLong()) / 1e6) < 10,
                    "curl's own " + curlMs + " ms vs its phases: " + client);
            System.out.printf("== port %d: curl %.1f ms; the server's phases %s add to %.1f ms%n", port, curlMs,
                    server.path("phases_ns"), serverTotal / 1e6);
        }
    }

    @Test
    void anEventLoopsUpstreamCallsJoinTheRequestTheyForward() {
        int linked = 0;
        List<String> wrong = new ArrayList<>();
        List<String> unlinked = new ArrayList<>();
        for (int i = 0; i < CONCURRENT; i++) {
            String id = "id=req" + (char) ('a' + i);
            JsonNode request = nginx("server", id).orElseThrow(() -> new AssertionError(id + " at nginx"));
            JsonNode call = nginx("client", id).orElseThrow(() -> new AssertionError(id + " from nginx"));
            if (!call.has("parent_conn_id")) {
                unlinked.add(id);
            } else if (call.path("parent_conn_id").asLong() == request.path("conn_id").asLong()
                    && call.path("parent_request_index").asInt() == request.path("request_index").asInt()) {
                linked++;
                assertEquals("processing", request.path("slow_cause").asText(),
                        "nginx waited on the backend's processing: " + request);
            } else {
                wrong.add(id);
            }
        }
        System.out.printf("== nginx, one worker, %d requests in flight: %d upstream calls joined their request,"
                + " %d not joined, %d joined another%n", CONCURRENT, linked, unlinked.size(), wrong.size());
        assertEquals(List.of(), wrong, "a call joined to a request it does not forward");
        assertTrue(linked >= CONCURRENT * 9 / 10, linked + " of " + CONCURRENT + " joined; not: " + unlinked);
        assertEquals(CONCURRENT, nginxAccessLog.lines().filter(l -> l.startsWith("200 ")).count(), nginxAccessLog);
    }

    @Test
    void slowRequestsAreCountedByCauseAndTheirPhasesAreSpans() throws Exception {
        Matcher accept = Pattern.compile("(?m)^obi_http_server_slow_requests_total\\{(?=[^}]*obi_slow_cause=\"accept_queue\")"
                + "(?=[^}]*http_route=\"/late\")[^}]*} ([0-9.eE+-]+)").matcher(metrics);
        double acceptQueueSlow = 0;
        while (accept.find()) {
            acceptQueueSlow += Double.parseDouble(accept.group(1));
        }
        assertEquals(1, acceptQueueSlow, "one slow request for the accept queue, on /late:\n"
                + metrics.lines().filter(l -> l.contains("slow_requests") && l.contains("/late")).toList());
        assertTrue(metrics.contains("obi_http_server_phase_duration_seconds_bucket{"), "phase histograms");
        assertTrue(metrics.lines().anyMatch(l -> l.startsWith("obi_http_server_phase_duration_seconds_count{")
                && l.contains("obi_phase=\"receive_queue\"")), "the receive queue's histogram");

        JsonNode server = serverExchange(readLatePort);
        long deadline = System.nanoTime() + Duration.ofSeconds(15).toNanos();
        List<String> children;
        do {
            List<JsonNode> spans = collector.spans();
            Optional<JsonNode> span = spans.stream().filter(s -> s.path("kind").asInt() == 2 && server.path("conn_id")
                    .asText().equals(CollectorServer.attribute(s.path("attributes"), "obi.connection.id"))).findFirst();
            children = span.map(s -> spans.stream().filter(c -> c.path("parentSpanId").asText()
                    .equals(s.path("spanId").asText())).map(c -> c.path("name").asText()).sorted().toList())
                    .orElse(List.of());
            if (children.contains("receive queue")) {
                assertEquals("receive_queue", CollectorServer.attribute(span.orElseThrow().path("attributes"),
                        "obi.slow.cause"));
                break;
            }
            Thread.sleep(500);
        } while (System.nanoTime() < deadline);
        assertTrue(children.contains("receive queue") && children.contains("processing"),
                "the slow request's phases as child spans: " + children);
    }

    private void assertPhase(JsonNode e, String phase) {
        long ns = e.path("phases_ns").path(phase).asLong();
        long lowest = PROVOKED_MS * 1_000_000L - arrivalAfterHandshakeNs(e, phase);
        assertTrue(ns >= lowest && ns < (PROVOKED_MS + BOUND_MS) * 1_000_000L,
                phase + " of " + PROVOKED_MS + " ms provoked, measured " + ns / 1e6 + " ms: " + e);
        e.path("phases_ns").fields().forEachRemaining(other -> assertTrue(other.getKey().equals(phase)
                || other.getValue().asLong() < BOUND_MS * 1_000_000L, "only " + phase + " is long: " + e));
        System.out.printf("== %s: %d ms provoked, %.1f ms measured%n", phase, PROVOKED_MS, ns / 1e6);
    }

    /**
     * The server starts its delay when the handshake completes, but a request waits in the accept
     * queue from its arrival, which curl sends a moment later (up to a ms or two on a busy host): the
     * time the request did not wait is the connection's age less its queues.
     */
    private static long arrivalAfterHandshakeNs(JsonNode e, String phase) {
        if (!phase.equals("accept_queue")) {
            return 0;
        }
        JsonNode phases = e.path("phases_ns");
        long lag = e.path("connection_age_ns").asLong() - phases.path("accept_queue").asLong()
                - phases.path("receive_queue").asLong();
        assertTrue(lag >= 0 && lag < BOUND_MS * 1_000_000L, "the request arrives just after the handshake: " + e);
        return lag;
    }

    private JsonNode serverExchange(int port) {
        return log.exchanges().stream().filter(r -> r.path("direction").asText().equals("server")
                        && r.path("local_port").asInt() == port).findFirst()
                .orElseThrow(() -> new AssertionError("the server's record on port " + port));
    }

    private Optional<JsonNode> nginx(String direction, String id) {
        return log.exchanges().stream().filter(r -> r.path("comm").asText().equals("nginx")
                && r.path("direction").asText().equals(direction) && r.path("route").asText().endsWith(id)).findFirst();
    }

    private static long sum(JsonNode phases) {
        long total = 0;
        for (JsonNode ns : phases) {
            total += ns.asLong();
        }
        return total;
    }

    private static double curl(String url) throws Exception {
        Process p = new ProcessBuilder("curl", "-s", "-o", "/dev/null", "-m", "5", "-w", "%{time_total}", url).start();
        String seconds = new String(p.getInputStream().readAllBytes()).trim();
        assertEquals(0, p.waitFor(), "curl " + url);
        assertFalse(seconds.isEmpty());
        return Double.parseDouble(seconds);
    }
}
