package lab.obi.agent.integration;

import com.fasterxml.jackson.databind.JsonNode;
import lab.obi.agent.contract.KernelCounter;
import org.junit.jupiter.api.AfterAll;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.MethodOrderer;
import org.junit.jupiter.api.Order;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.TestInstance;
import org.junit.jupiter.api.TestMethodOrder;

import java.io.ByteArrayOutputStream;
import java.io.IOException;
import java.io.InputStream;
import java.net.Socket;
import java.net.URI;
import java.net.http.HttpClient;
import java.net.http.HttpRequest;
import java.net.http.HttpResponse;
import java.nio.charset.StandardCharsets;
import java.nio.file.FileSystemException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Duration;
import java.util.ArrayList;
import java.util.HashMap;
import java.util.HashSet;
import java.util.HexFormat;
import java.util.List;
import java.util.Map;
import java.util.Random;
import java.util.Set;
import java.util.concurrent.TimeUnit;
import java.util.function.Predicate;
import java.util.regex.Matcher;
import java.util.regex.Pattern;
import java.util.stream.Collectors;

import static org.junit.jupiter.api.Assertions.*;

/**
 * Faults of the agent itself, in the order a bad day brings them, against nginx under wrk: its ring
 * buffer overflows while it stalls, it is killed with SIGKILL under load, it restarts and finds
 * keep-alive connections older than itself, the disk of its request log fills up, a pid it named
 * passes to another process, and SIGTERM stops it with spans and metrics in flight. Each check adds
 * its figure to target/reliability/faults-agent.json (docs/reliability.md).
 */
@TestInstance(TestInstance.Lifecycle.PER_CLASS)
@TestMethodOrder(MethodOrderer.OrderAnnotation.class)
class AgentFaultsIT {

    private static final Duration STALL = Duration.ofMillis(1500);
    private static final int KEEP_ALIVE_CONNECTIONS = 6;
    private static final long KILL_LATENCY_BOUND_MS = 1000;
    private static final long STOP_BOUND_MS = 5000;
    /** docs: the resolver re-reads a process's start time at most once a second */
    private static final Duration REVALIDATION = Duration.ofMillis(1000);
    /** Long enough to cover the agent's start (2-3 s) on both sides. */
    private static final Duration CHURN = Duration.ofSeconds(6);
    /** The scan that finishes connections whose close went unseen counts one after 1 s. */
    private static final Duration CLOSE_MISSED_SCAN = Duration.ofMillis(2500);

    private final HttpClient http = HttpClient.newBuilder().version(HttpClient.Version.HTTP_1_1).build();
    private final ReliabilityFigures figures = new ReliabilityFigures("faults-agent");
    private final List<Socket> olderThanTheAgent = new ArrayList<>();
    private Lab lab;
    private CollectorServer collector;
    private Path logDisk;
    private Path requestLog;
    private String local;

    @BeforeAll
    void nginxAndACollector() throws Exception {
        figures.clear();
        lab = new Lab();
        lab.startNginx();
        collector = new CollectorServer(lab);
        collector.start();
        local = "http://127.0.0.1:" + lab.nginxPort;
        logDisk = Files.createDirectories(lab.path("log-disk"));
        Lab.sh("mount", "-t", "tmpfs", "-o", "size=1m", "obi-faults-log", logDisk.toString());
        requestLog = logDisk.resolve("requests.jsonl");
    }

    @AfterAll
    void stopEverything() throws Exception {
        for (Socket s : olderThanTheAgent) {
            s.close();
        }
        if (lab != null) {
            lab.close();
        }
        if (logDisk != null) {
            Lab.shQuiet("umount", "-l", logDisk.toString());
        }
    }

    @Test
    @Order(1)
    void aFullRingBufferIsCountedAndCaptureRecovers() throws Exception {
        lab.startAgent("-Dobi.bpf.ringbuf-size-mb=1");
        AgentBpf kernel = AgentBpf.of(lab.agentPid());
        Process wrk = lab.start("wrk-stall", "wrk", "-t2", "-c16", "-d4s", local + "/local");
        Thread.sleep(500);
        lab.signalAgent("STOP"); // a stalled reader: the kernel keeps writing into 1 MiB
        Thread.sleep(STALL.toMillis());
        lab.signalAgent("CONT");
        assertTrue(wrk.waitFor(30, TimeUnit.SECONDS));
        long submitted = kernel.counter(KernelCounter.RECORDS);
        awaitDrained(kernel); // every record the kernel submitted was received, and assembled

        double ringbufFull = lab.agentMetric(dropped("ringbuf_full"));
        double otherDrops = lab.agentMetric("obi_agent_dropped_total") - ringbufFull;
        assertTrue(ringbufFull > 0, "the stalled reader overflowed the ring buffer");
        assertEquals(kernel.counter(KernelCounter.RINGBUF_FULL), (long) ringbufFull, "the metric is the kernel's counter");
        RequestLog log = RequestLog.read(lab.path("requests.jsonl"));
        long seenByServer = count(log, e -> server(e) && "/local".equals(e.path("route").asText()));
        long seenByClient = count(log, e -> "client".equals(e.path("direction").asText())
                && e.path("peer_port").asInt() == lab.nginxPort);
        long served = NginxLog.read(lab.path("logs/access.log")).stream().filter(l -> l.path().equals("/local")).count();
        long missing = (served - seenByServer) + (served - seenByClient);
        assertTrue(missing > 0, "the overflow cost exchanges");
        assertTrue(missing <= ringbufFull + otherDrops, "every exchange missing is covered by a counted drop: "
                + missing + " missing, " + ringbufFull + " records lost");

        long recoveredAt = System.nanoTime();
        for (int i = 0; i < 20; i++) {
            get("/recovered/" + i);
        }
        awaitLog(lab.path("requests.jsonl"), e -> server(e) && "/recovered/{id}".equals(e.path("route").asText()), 20);
        long recoveryMs = (System.nanoTime() - recoveredAt) / 1_000_000;
        assertTrue(lab.agentProcess().isAlive());

        String scenario = "ring buffer 1 MiB, reader stopped " + STALL.toMillis() + " ms under wrk";
        figures.add(scenario, "requests served by nginx (wrk)", Long.toString(served), "");
        figures.add(scenario, "records lost in the kernel, counted (ringbuf_full = kernel counter)",
                String.format("%.0f", ringbufFull), "> 0");
        figures.add(scenario, "exchanges missing from the log (server and client sides)", Long.toString(missing),
                "<= records lost");
        figures.add(scenario, "records the kernel submitted, all received by the agent", Long.toString(submitted), "all");
        figures.add(scenario, "then 20 requests one by one: all in the log", "20 of 20, within " + recoveryMs + " ms",
                "all");
    }

    @Test
    @Order(2)
    void sigkillUnderLoadDisturbsNothingAndLeavesNothingAttached() throws Exception {
        for (int i = 0; i < KEEP_ALIVE_CONNECTIONS; i++) {
            Socket s = new Socket("127.0.0.1", lab.nginxPort);
            olderThanTheAgent.add(s);
            assertEquals(200, exchange(s, "/local"));
        }
        long pid = lab.agentPid();
        AgentBpf attached = AgentBpf.of(pid);
        assertTrue(attached.tracepoints() >= 13 && attached.uprobes() > 0, // syscalls 2, TCP 10, exec 1
                "tracepoints and OpenSSL uprobes attached: " + attached);

        Process wrk = lab.start("wrk-kill", "wrk", "-t2", "-c16", "-d4s", "--latency", local + "/local");
        Thread.sleep(1500);
        lab.signalAgent("KILL");
        assertTrue(wrk.waitFor(30, TimeUnit.SECONDS));
        assertTrue(lab.agentProcess().waitFor(10, TimeUnit.SECONDS));
        Wrk load = Wrk.parse(Files.readString(lab.log("wrk-kill")));
        assertEquals(0, load.errors(), "nginx's clients saw no error: " + load);
        assertTrue(load.maxLatencyMs() < KILL_LATENCY_BOUND_MS, "and no stall: " + load);

        long deadline = System.nanoTime() + Duration.ofSeconds(10).toNanos();
        String left = attached.stillThere(pid);
        while (!left.isEmpty() && System.nanoTime() < deadline) {
            Thread.sleep(200);
            left = attached.stillThere(pid);
        }
        assertEquals("", left, "the kernel freed everything the agent had attached");
        assertEquals("", Files.readString(Path.of("/sys/kernel/tracing/uprobe_events")).trim(), "no uprobe left");
        assertEquals(200, get("/local"));

        String scenario = "SIGKILL under wrk (-t2 -c16)";
        figures.add(scenario, "wrk: errors, max latency", load.errors() + ", " + load.maxLatencyMs() + " ms",
                "0, < " + KILL_LATENCY_BOUND_MS + " ms");
        figures.add(scenario, "attached before: tracepoints, OpenSSL uprobes, programs, maps",
                attached.tracepoints() + ", " + attached.uprobes() + ", " + attached.programs().size() + ", "
                        + attached.maps().size(), "");
        figures.add(scenario, "left in the kernel afterwards (bpftool prog, link, map, perf list)", "none", "none");
    }

    @Test
    @Order(3)
    void aRestartedAgentPicksUpKeepAliveConnectionsOlderThanItself() throws Exception {
        lab.startAgent(Map.of("OTEL_EXPORTER_OTLP_ENDPOINT", "http://127.0.0.1:" + collector.grpcPort,
                "OTEL_METRIC_EXPORT_INTERVAL", "60000"), "-Dobi.request-log.path=" + requestLog);
        Map<Integer, Socket> byPort = new HashMap<>();
        for (int i = 0; i < olderThanTheAgent.size(); i++) {
            Socket s = olderThanTheAgent.get(i);
            byPort.put(s.getLocalPort(), s);
            assertEquals(404, exchange(s, "/picked-up/" + i));
        }
        try (Socket fresh = new Socket("127.0.0.1", lab.nginxPort)) { // the test's HttpClient pools older ones
            assertEquals(404, exchange(fresh, "/fresh/1"));
        }
        List<JsonNode> picked = awaitLog(requestLog,
                e -> server(e) && "/picked-up/{id}".equals(e.path("route").asText()), KEEP_ALIVE_CONNECTIONS);
        for (JsonNode e : picked) {
            assertTrue(byPort.containsKey(e.path("peer_port").asInt()), "one of the old connections: " + e);
            assertEquals(404, e.path("status").asInt());
            assertEquals(1, e.path("request_index").asInt(), "the first request the agent saw on it");
            assertFalse(e.path("new_connection").asBoolean(), "not new: it was open before the agent: " + e);
            assertTrue(e.path("connection_age_ns").isMissingNode(), "its age is unknown: " + e);
        }
        assertEquals(KEEP_ALIVE_CONNECTIONS, picked.stream().map(e -> e.path("peer_port").asInt()).distinct().count());
        JsonNode fresh = awaitLog(requestLog, e -> server(e) && "/fresh/{id}".equals(e.path("route").asText()), 1).get(0);
        assertTrue(fresh.path("new_connection").asBoolean() && fresh.path("connection_age_ns").asLong() > 0,
                "a connection opened after the start is new and has an age: " + fresh);
        figures.add("restart after SIGKILL", "keep-alive connections opened before it, their next request reported",
                KEEP_ALIVE_CONNECTIONS + " of " + KEEP_ALIVE_CONNECTIONS
                        + " (request_index 1, new_connection false, no connection_age_ns)", "all");
    }

    @Test
    @Order(4)
    void aFullDiskCostsCountedLinesAndWritingResumes() throws Exception {
        long rssBefore = lab.agentRssKiB();
        Path filler = logDisk.resolve("filler");
        Lab.shQuiet("dd", "if=/dev/zero", "of=" + filler, "bs=4096"); // until the disk is full
        for (int i = 0; i < 200; i++) {
            get("/full/" + i);
        }
        long deadline = System.nanoTime() + Duration.ofSeconds(10).toNanos();
        while (lab.agentMetric(dropped("write_failure")) == 0 && System.nanoTime() < deadline) {
            Thread.sleep(200);
        }
        double lost = lab.agentMetric(dropped("write_failure"));
        assertTrue(lost > 0, "the lines that found the disk full are counted");
        assertEquals(1, Lab.occurrences(lab.agentLog(), "writing the request log failed"), "said once");

        Files.delete(filler);
        for (int i = 0; i < 20; i++) {
            get("/resumed/" + i);
        }
        awaitLog(requestLog, e -> server(e) && "/resumed/{id}".equals(e.path("route").asText()), 20);
        // It says so once writes have gone through for a while (2 s): a request every 200 ms meanwhile.
        deadline = System.nanoTime() + Duration.ofSeconds(10).toNanos();
        for (int i = 20; !lab.agentLog().contains("the request log is written again") && System.nanoTime() < deadline; i++) {
            get("/resumed/" + i);
            Thread.sleep(200);
        }
        assertEquals(1, Lab.occurrences(lab.agentLog(), "the request log is written again"), "said once");
        RequestLog log = RequestLog.read(requestLog); // fails on any line that is not whole JSON
        // A nearly full disk still takes a few small writes: each exchange is written or counted lost.
        long written = count(log, e -> "/full/{id}".equals(e.path("route").asText()));
        lost = lab.agentMetric(dropped("write_failure"));
        assertTrue(written + lost >= 400, "both sides of 200 requests, written or counted: " + written + " + " + lost);
        long rssAfter = lab.agentRssKiB();
        assertTrue(rssAfter < rssBefore + 64 * 1024, "memory bounded: " + rssBefore + " -> " + rssAfter + " KiB");
        assertTrue(lab.agentProcess().isAlive());

        String scenario = "request log on a 1 MiB tmpfs, filled up";
        figures.add(scenario, "200 requests: exchange lines written + lines lost and counted (write_failure)",
                written + " + " + String.format("%.0f", lost), ">= 400 (both sides)");
        figures.add(scenario, "log lines about it (failed, written again)", "1, 1", "1 per state change");
        figures.add(scenario, "after room came back: 20 requests in the log, every line whole JSON", "20 of 20, yes",
                "all");
        figures.add(scenario, "agent RSS change", (rssAfter - rssBefore) / 1024 + " MiB", "< 64 MiB");
    }

    @Test
    @Order(5)
    void aPidThatPassesToAnotherProcessGetsItsNewName() throws Exception {
        int portA = Lab.freePort();
        Process a = pythonServer("pid-owner-a", portA);
        assertEquals(200, getFrom(portA, "/"));
        awaitLog(requestLog, e -> server(e) && e.path("local_port").asInt() == portA
                && "pid-owner-a".equals(e.path("service").asText()), 1);
        long pid = a.pid();
        a.destroy();
        assertTrue(a.waitFor(10, TimeUnit.SECONDS));
        // Its keep-alive connection closes with it: that record is named after the process has exited.
        JsonNode closed = awaitLog(requestLog, e -> "connection".equals(e.path("record").asText())
                && e.path("local_port").asInt() == portA, 1).get(0);
        assertEquals("pid-owner-a", closed.path("service").asText(), "named as when it was alive: " + closed);

        int portB = Lab.freePort();
        Process b = startPythonServer("pid-owner-b", portB, pid);
        for (int attempt = 0; attempt < 50 && b.pid() != pid; attempt++) {
            b.destroy(); // another process forked first: try again
            b.waitFor();
            b = startPythonServer("pid-owner-b", portB, pid);
        }
        assertEquals(pid, b.pid(), "the next process took the pid (ns_last_pid)");
        awaitListening("pid-owner-b", portB);
        Thread.sleep(REVALIDATION.toMillis() + 200);
        assertEquals(200, getFrom(portB, "/"));
        JsonNode reused = awaitLog(requestLog, e -> server(e) && e.path("local_port").asInt() == portB, 1).get(0);
        assertEquals(pid, reused.path("pid").asLong());
        assertEquals("pid-owner-b", reused.path("service").asText(), "the pid's new owner: " + reused);
        b.destroy();
        figures.add("a server exits, its pid goes to the next process (ns_last_pid)",
                "the exited one's last record (its connection's close), the new one's exchange: named",
                "pid-owner-a, pid-owner-b", "each its own");
    }

    @Test
    @Order(6)
    void sigtermFlushesSpansMetricsAndTheLogQuickly() throws Exception {
        Random random = new Random(18);
        Set<String> traces = new HashSet<>();
        for (int i = 0; i < 30; i++) {
            String trace = hex(random, 16);
            traces.add(trace);
            HttpResponse<Void> r = http.send(HttpRequest.newBuilder(URI.create(local + "/local"))
                    .header("traceparent", "00-" + trace + "-" + hex(random, 8) + "-01").build(),
                    HttpResponse.BodyHandlers.discarding());
            assertEquals(200, r.statusCode());
        }
        long stopping = System.nanoTime();
        lab.agentProcess().destroy(); // SIGTERM right after the last response
        assertTrue(lab.agentProcess().waitFor(30, TimeUnit.SECONDS));
        long stopMs = (System.nanoTime() - stopping) / 1_000_000;
        assertTrue(stopMs < STOP_BOUND_MS, "stopped in " + stopMs + " ms");
        assertEquals(143, lab.agentProcess().exitValue(), "the JVM's exit on SIGTERM once its shutdown completed");
        assertTrue(lab.agentLog().contains("stopped; requests reported="), "the shutdown completed: " + lab.agentLog());

        // The Collector writes its files every second.
        Set<String> exported = Set.of();
        long counted = 0;
        long deadline = System.nanoTime() + Duration.ofSeconds(10).toNanos();
        while ((exported.size() < traces.size() || counted < 30) && System.nanoTime() < deadline) {
            Thread.sleep(300);
            exported = collector.spans().stream().map(s -> s.path("traceId").asText()).filter(traces::contains)
                    .collect(Collectors.toSet());
            counted = 0;
            for (JsonNode point : collector.lastDataPoints("http.server.request.duration")) {
                if ("/local".equals(CollectorServer.attribute(point.path("attributes"), "http.route"))) {
                    counted += point.path("count").asLong();
                }
            }
        }
        assertEquals(traces, exported, "every span of the last requests reached the Collector");
        assertEquals(30, counted, "the metrics were pushed at the stop (the interval is a minute)");
        assertEquals(30, count(RequestLog.read(requestLog), e -> server(e) && "/local".equals(e.path("route").asText())));
        figures.add("SIGTERM right after 30 requests", "time to exit, exit code", stopMs + " ms, 143",
                "< " + STOP_BOUND_MS + " ms, 143 (128 + SIGTERM)");
        figures.add("SIGTERM right after 30 requests", "spans at the Collector, metric count pushed, log lines",
                exported.size() + ", " + counted + ", 30", "30, 30, 30");
    }

    /**
     * ext4 turns itself read-only on an error (errors=remount-ro, the common default), with the log
     * open. Writes then fail until the disk is back: here a new file system mounted at the same
     * place, as after a repair. The agent must count what it loses and find the log there again.
     */
    @Test
    @Order(7)
    void aDiskGoneReadOnlyCostsCountedLinesAndTheLogIsFoundAgainWhenItIsBack() throws Exception {
        Path disk = Files.createDirectories(lab.path("ext4-disk"));
        Path log = disk.resolve("requests.jsonl");
        mountNewExt4(lab.path("ext4-a.img"), disk);
        try {
            lab.startAgent("-Dobi.request-log.path=" + log);
            for (int i = 0; i < 20; i++) {
                get("/before/" + i);
            }
            awaitLog(log, e -> server(e) && "/before/{id}".equals(e.path("route").asText()), 20);

            String device = Path.of(Lab.sh("findmnt", "-n", "-o", "SOURCE", disk.toString()).trim()).getFileName()
                    .toString();
            Files.writeString(Path.of("/sys/fs/ext4", device, "trigger_fs_error"), "1");
            assertTrue(readOnly(disk), "ext4 made itself read-only");
            for (int i = 0; i < 100; i++) {
                get("/read-only/" + i);
            }
            long deadline = System.nanoTime() + Duration.ofSeconds(10).toNanos();
            while (lab.agentMetric(dropped("write_failure")) < 200 && System.nanoTime() < deadline) {
                Thread.sleep(200);
            }
            double lost = lab.agentMetric(dropped("write_failure"));
            assertTrue(lost >= 200, "both sides of 100 requests (and any line still due), lost and counted: " + lost);
            assertEquals(1, Lab.occurrences(lab.agentLog(), "writing the request log failed"), "said once");

            // Over the read-only one, with no gap: an unmounted moment would let the log be opened in
            // the directory underneath, which the new disk then hides
            mountNewExt4(lab.path("ext4-b.img"), disk);
            deadline = System.nanoTime() + Duration.ofSeconds(15).toNanos();
            for (int i = 0; !lab.agentLog().contains("the request log is written again") && System.nanoTime() < deadline;
                 i++) {
                get("/back/" + i);
                Thread.sleep(200);
            }
            assertEquals(1, Lab.occurrences(lab.agentLog(), "the request log is written again"), "said once");
            long back = count(RequestLog.read(log), e -> server(e) && "/back/{id}".equals(e.path("route").asText()));
            assertTrue(back > 0, "the log is written on the disk that came back");
            assertTrue(lab.agentProcess().isAlive());

            String scenario = "request log on ext4 that turns read-only (errors=remount-ro), then a disk mounted there";
            figures.add(scenario, "100 requests while read-only: lines lost and counted (write_failure)",
                    String.format("%.0f", lost), ">= 200 (both sides)");
            figures.add(scenario, "log lines about it (failed, written again)", "1, 1", "1 per state change");
            figures.add(scenario, "lines on the new disk", back + ", whole JSON", "> 0");
        } finally {
            lab.stopAgent();
            Lab.shQuiet("umount", "-l", disk.toString()); // the new disk
            Lab.shQuiet("umount", "-l", disk.toString()); // the read-only one under it
        }
    }

    /**
     * Connections opened and closed all through the agent's start: one tracked before the close's
     * program was attached would lose its close (close_missed: 84 in this test when the syscall
     * programs were attached first). Last, on its own agent: its traffic must not count in the others.
     */
    @Test
    @Order(8)
    void anAgentStartedUnderConnectionChurnMissesNoClose() throws Exception {
        Process churn = lab.start("wrk-churn", "wrk", "-t2", "-c32", "-d" + CHURN.toSeconds() + "s",
                "-H", "Connection: close", local + "/local");
        try {
            lab.startAgent("-Dobi.request-log.enabled=false");
            assertTrue(churn.waitFor(30, TimeUnit.SECONDS));
            Thread.sleep(CLOSE_MISSED_SCAN.toMillis());
            Wrk churned = Wrk.parse(Files.readString(lab.log("wrk-churn")));
            assertEquals(0.0, lab.agentMetric(dropped("close_missed")),
                    "no close missed while the agent started under " + churned.requests() + " short connections");
            figures.add("agent started under wrk -c32 with Connection: close", "connections, closes missed",
                    churned.requests() + ", 0", "0 missed");
        } finally {
            lab.stopAgent();
        }
    }

    private static boolean readOnly(Path disk) throws Exception {
        long deadline = System.nanoTime() + Duration.ofSeconds(5).toNanos();
        while (System.nanoTime() < deadline) {
            try {
                Files.writeString(disk.resolve("probe"), "x");
            } catch (FileSystemException e) {
                return "Read-only file system".equals(e.getReason());
            }
            Thread.sleep(100);
        }
        return false;
    }

    private static void mountNewExt4(Path image, Path at) throws Exception {
        Lab.sh("truncate", "-s", "32M", image.toString());
        Lab.sh("mkfs.ext4", "-q", "-F", image.toString());
        Lab.sh("mount", "-o", "loop,errors=remount-ro", image.toString(), at.toString());
    }

    // ---- helpers

    private record Wrk(long requests, long errors, long maxLatencyMs) {
        private static final Pattern REQUESTS = Pattern.compile("(\\d+) requests in");
        private static final Pattern LATENCY = Pattern.compile("Latency\\s+\\S+\\s+\\S+\\s+([\\d.]+)(us|ms|s)\\s");
        private static final Pattern NON_2XX = Pattern.compile("Non-2xx or 3xx responses: (\\d+)");
        private static final Pattern SOCKET = Pattern.compile(
                "Socket errors: connect (\\d+), read (\\d+), write (\\d+), timeout (\\d+)");

        static Wrk parse(String out) {
            Matcher requests = REQUESTS.matcher(out);
            Matcher latency = LATENCY.matcher(out);
            assertTrue(requests.find() && latency.find(), "wrk's output: " + out);
            double max = Double.parseDouble(latency.group(1));
            long maxMs = Math.round(switch (latency.group(2)) {
                case "us" -> max / 1000;
                case "ms" -> max;
                default -> max * 1000;
            });
            long errors = 0;
            Matcher non2xx = NON_2XX.matcher(out);
            if (non2xx.find()) {
                errors += Long.parseLong(non2xx.group(1));
            }
            Matcher socket = SOCKET.matcher(out);
            if (socket.find()) {
                for (int g = 1; g <= 4; g++) {
                    errors += Long.parseLong(socket.group(g));
                }
            }
            return new Wrk(Long.parseLong(requests.group(1)), errors, maxMs);
        }
    }

    private static String dropped(String reason) {
        return "obi_agent_dropped_total\\{obi_drop_reason=\"" + reason + "\"";
    }

    private static boolean server(JsonNode e) {
        return "exchange".equals(e.path("record").asText()) && "server".equals(e.path("direction").asText());
    }

    private static long count(RequestLog log, Predicate<JsonNode> filter) {
        return log.exchanges().stream().filter(filter).count();
    }

    /**
     * Until the agent has received every record the kernel had submitted when it was called, and
     * handed them to the sinks. (Its counters never stand still: every scrape of its metrics is an
     * exchange of the test's own, captured.)
     */
    private void awaitDrained(AgentBpf kernel) throws Exception {
        long submitted = kernel.counter(KernelCounter.RECORDS);
        long deadline = System.nanoTime() + Duration.ofSeconds(30).toNanos();
        while (System.nanoTime() < deadline) {
            if (lab.agentMetric("obi_agent_records_total") >= submitted
                    && lab.agentMetric("obi_agent_queue_depth\\{obi_queue=\"records\"") == 0) {
                return;
            }
            Thread.sleep(300);
        }
        fail("the agent did not receive the " + submitted + " records the kernel submitted");
    }

    /** Lines of the log (exchanges and connections) that match, once there are at least that many. */
    private List<JsonNode> awaitLog(Path file, Predicate<JsonNode> filter, int atLeast) throws Exception {
        long deadline = System.nanoTime() + Duration.ofSeconds(15).toNanos();
        List<JsonNode> found = List.of();
        while (System.nanoTime() < deadline) {
            if (Files.exists(file)) {
                RequestLog log = RequestLog.read(file);
                List<JsonNode> all = new ArrayList<>(log.exchanges());
                all.addAll(log.connections());
                found = all.stream().filter(filter).toList();
                if (found.size() >= atLeast) {
                    return found;
                }
            }
            Thread.sleep(200);
        }
        fail("found " + found.size() + " of " + atLeast + " lines in " + file + ":\n" + lab.agentLog());
        return found;
    }

    private int get(String path) throws Exception {
        return http.send(HttpRequest.newBuilder(URI.create(local + path)).build(), HttpResponse.BodyHandlers.discarding())
                .statusCode();
    }

    private int getFrom(int port, String path) throws Exception {
        return http.send(HttpRequest.newBuilder(URI.create("http://127.0.0.1:" + port + path)).build(),
                HttpResponse.BodyHandlers.discarding()).statusCode();
    }

    private Process pythonServer(String service, int port) throws Exception {
        Process p = lab.startWithEnvironment(service, Map.of("OTEL_SERVICE_NAME", service), "python3", "-m",
                "http.server", "-p", "HTTP/1.1", "--bind", "127.0.0.1", Integer.toString(port));
        awaitListening(service, port);
        return p;
    }

    /** A server that should get the pid after the given one: the kernel hands out ns_last_pid + 1 next. */
    private Process startPythonServer(String service, int port, long pid) throws Exception {
        Files.writeString(Path.of("/proc/sys/kernel/ns_last_pid"), Long.toString(pid - 1));
        return lab.startWithEnvironment(service, Map.of("OTEL_SERVICE_NAME", service), "python3", "-m",
                "http.server", "-p", "HTTP/1.1", "--bind", "127.0.0.1", Integer.toString(port));
    }

    private void awaitListening(String service, int port) throws Exception {
        if (!Lab.listens(port, Duration.ofSeconds(10))) {
            throw new IllegalStateException(service + " did not listen:\n" + Files.readString(lab.log(service)));
        }
    }

    /** One request on a keep-alive socket of the test's own; returns the status. */
    private static int exchange(Socket socket, String path) throws IOException {
        socket.getOutputStream().write(("GET " + path + " HTTP/1.1\r\nHost: localhost\r\n\r\n")
                .getBytes(StandardCharsets.US_ASCII));
        InputStream in = socket.getInputStream();
        ByteArrayOutputStream head = new ByteArrayOutputStream();
        while (!head.toString(StandardCharsets.US_ASCII).endsWith("\r\n\r\n")) {
            int b = in.read();
            if (b < 0) {
                throw new IOException("connection closed in the response head: " + head);
            }
            head.write(b);
        }
        String text = head.toString(StandardCharsets.US_ASCII);
        Matcher length = Pattern.compile("(?i)content-length: (\\d+)").matcher(text);
        assertTrue(length.find(), text);
        in.readNBytes(Integer.parseInt(length.group(1)));
        return Integer.parseInt(text.substring(9, 12));
    }

    private static String hex(Random random, int bytes) {
        byte[] b = new byte[bytes];
        random.nextBytes(b);
        b[0] |= 1;
        return HexFormat.of().formatHex(b);
    }
}
