package lab.obi.agent.integration;

import com.fasterxml.jackson.databind.JsonNode;
import org.junit.jupiter.api.AfterAll;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.MethodOrderer;
import org.junit.jupiter.api.Order;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.TestInstance;
import org.junit.jupiter.api.TestMethodOrder;

import java.net.URI;
import java.net.http.HttpClient;
import java.net.http.HttpRequest;
import java.net.http.HttpResponse;
import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Duration;
import java.util.ArrayList;
import java.util.HexFormat;
import java.util.List;
import java.util.Map;
import java.util.Random;
import java.util.concurrent.CompletableFuture;
import java.util.function.Predicate;

import static org.junit.jupiter.api.Assertions.*;

/**
 * The agent exports over OTLP to the lab's real Collector (built from Go modules); the test reads
 * back what the Collector received: spans whose parents are the traceparent/uber-trace-id the client
 * sent, histogram counts equal to the requests sent, and export that survives a Collector outage.
 */
@TestInstance(TestInstance.Lifecycle.PER_CLASS)
@TestMethodOrder(MethodOrderer.OrderAnnotation.class)
class CollectorExportIT {

    private static final int W3C = 20;
    private static final int JAEGER = 10;
    private static final int ABANDONED = 5;
    private static final int PROXIED = 1;
    private static final int SERVER_SPANS = W3C + JAEGER + ABANDONED + PROXIED;

    private final Random random = new Random(7);
    private final HttpClient client = HttpClient.newBuilder().version(HttpClient.Version.HTTP_1_1).build();
    private Lab lab;
    private CollectorServer collector;
    private String base;
    private final List<String[]> w3cSent = new ArrayList<>();
    private final List<String[]> jaegerSent = new ArrayList<>();

    @BeforeAll
    void exportThroughTheCollector() throws Exception {
        lab = new Lab();
        lab.startBackends();
        collector = new CollectorServer(lab);
        collector.start();
        lab.startAgent(Map.of("OTEL_EXPORTER_OTLP_ENDPOINT", "http://127.0.0.1:" + collector.grpcPort,
                "OTEL_METRIC_EXPORT_INTERVAL", "1000"), "-Dobi.request-log.enabled=false");
        base = "http://127.0.0.1:" + lab.jdkPort;

        for (int i = 0; i < W3C; i++) {
            String[] ids = {hex(16), hex(8)};
            w3cSent.add(ids);
            get("/users/" + (1000 + i), "traceparent", "00-" + ids[0] + "-" + ids[1] + "-01");
        }
        for (int i = 0; i < JAEGER; i++) {
            String[] ids = {hex(8), hex(8)};
            jaegerSent.add(ids);
            get("/fast", "uber-trace-id", ids[0] + ":" + ids[1] + ":0:1");
        }
        get("/proxy?port=" + lab.pythonPort, "x-test", "downstream call on the handler thread");
        List<CompletableFuture<HttpResponse<Void>>> slow = new ArrayList<>();
        for (int i = 0; i < ABANDONED; i++) {
            slow.add(client.sendAsync(HttpRequest.newBuilder(URI.create(base + "/slow?ms=1500"))
                    .timeout(Duration.ofMillis(200)).build(), HttpResponse.BodyHandlers.discarding()));
        }
        assertEquals(ABANDONED, ClientTimeouts.count(slow));
        awaitServerSpans(SERVER_SPANS, s -> true);
    }

    @AfterAll
    void stopEverything() throws Exception {
        if (lab != null) {
            lab.close();
        }
    }

    private void get(String path, String header, String value) throws Exception {
        HttpResponse<Void> r = client.send(HttpRequest.newBuilder(URI.create(base + path)).header(header, value).build(),
                HttpResponse.BodyHandlers.discarding());
        assertEquals(200, r.statusCode());
    }

    private String hex(int bytes) {
        byte[] b = new byte[bytes];
        random.nextBytes(b);
        b[0] |= 1; // never all zero
        return HexFormat.of().formatHex(b);
    }

    private List<JsonNode> serverSpans() throws Exception {
        return collector.spans().stream()
                .filter(s -> "jdk-backend".equals(s.path("service.name").asText()) && s.path("kind").asInt() == 2)
                .toList();
    }

    private void awaitServerSpans(int count, Predicate<JsonNode> filter) throws Exception {
        long deadline = System.nanoTime() + Duration.ofSeconds(40).toNanos();
        while (serverSpans().stream().filter(filter).count() < count && System.nanoTime() < deadline) {
            Thread.sleep(500);
        }
        assertEquals(count, serverSpans().stream().filter(filter).count(),
                "server spans of jdk-backend the Collector received\n" + lab.agentLog());
    }

    @Test
    @Order(1)
    void serverSpansContinueTheW3cTraceparent() throws Exception {
        List<JsonNode> spans = serverSpans();
        for (String[] sent : w3cSent) {
            JsonNode span = spans.stream().filter(s -> s.path("traceId").asText().equals(sent[0])).findFirst()
                    .orElseThrow(() -> new AssertionError("no span in trace " + sent[0]));
            assertEquals(sent[1], span.path("parentSpanId").asText(), "parent is the caller's span");
            assertEquals("GET /users/{id}", span.path("name").asText());
            assertEquals("200", CollectorServer.attribute(span.path("attributes"), "http.response.status_code"));
        }
    }

    @Test
    @Order(1)
    void serverSpansContinueTheJaegerUberTraceId() throws Exception {
        List<JsonNode> spans = serverSpans();
        for (String[] sent : jaegerSent) {
            String traceId = "0".repeat(16) + sent[0];
            JsonNode span = spans.stream().filter(s -> s.path("traceId").asText().equals(traceId)).findFirst()
                    .orElseThrow(() -> new AssertionError("no span in trace " + traceId));
            assertEquals(sent[1], span.path("parentSpanId").asText());
        }
    }

    @Test
    @Order(1)
    void theClientSpanIsTheOneItsHeaderNames() throws Exception {
        String[] sent = w3cSent.get(0);
        JsonNode clientSpan = collector.spans().stream()
                .filter(s -> s.path("kind").asInt() == 3 && s.path("traceId").asText().equals(sent[0]))
                .findFirst().orElseThrow(() -> new AssertionError("no client span for trace " + sent[0]));
        assertEquals(sent[1], clientSpan.path("spanId").asText(), "the server span's parent exists in the trace");
    }

    @Test
    @Order(1)
    void aCallMadeWhileServingARequestIsItsChild() throws Exception {
        JsonNode server = serverSpans().stream().filter(s -> s.path("name").asText().equals("GET /proxy"))
                .findFirst().orElseThrow(() -> new AssertionError("no server span for /proxy"));
        List<JsonNode> children = collector.spans().stream()
                .filter(s -> s.path("kind").asInt() == 3 && "jdk-backend".equals(s.path("service.name").asText()))
                .filter(s -> s.path("parentSpanId").asText().equals(server.path("spanId").asText()))
                .toList();
        assertEquals(1, children.size(), "the JDK backend's call to the Python backend, child of /proxy");
        assertEquals(server.path("traceId").asText(), children.get(0).path("traceId").asText());
        assertEquals(String.valueOf(lab.pythonPort),
                CollectorServer.attribute(children.get(0).path("attributes"), "server.port"));
    }

    @Test
    @Order(1)
    void abandonedRequestsAreErrorSpansWithTheAbandonEvent() throws Exception {
        List<JsonNode> slow = serverSpans().stream().filter(s -> s.path("name").asText().equals("GET /slow")).toList();
        assertEquals(ABANDONED, slow.size());
        for (JsonNode span : slow) {
            assertEquals(2, span.path("status").path("code").asInt(), "STATUS_CODE_ERROR: " + span);
            // The JDK does not notice its client left: its 200 goes into the closed connection 1.3 s later.
            assertEquals("200", CollectorServer.attribute(span.path("attributes"), "http.response.status_code"));
            assertEquals("fin", CollectorServer.attribute(span.path("attributes"), "error.type"));
            JsonNode event = span.path("events").get(0);
            assertEquals("obi.abandoned", event.path("name").asText());
            assertEquals("fin", CollectorServer.attribute(event.path("attributes"), "obi.abort.kind"));
        }
    }

    @Test
    @Order(1)
    void durationHistogramCountsEqualTheRequestsSent() throws Exception {
        long deadline = System.nanoTime() + Duration.ofSeconds(20).toNanos();
        long total = 0;
        long abandoned = 0;
        while (System.nanoTime() < deadline) {
            total = 0;
            abandoned = 0;
            for (JsonNode point : collector.lastDataPoints("http.server.request.duration")) {
                JsonNode resource = point.path("resource");
                if (!"jdk-backend".equals(CollectorServer.attribute(resource, "service.name"))) {
                    continue;
                }
                assertNotNull(CollectorServer.attribute(resource, "service.instance.id"), "per-process resource");
                assertNotNull(CollectorServer.attribute(resource, "process.pid"));
                assertNotNull(CollectorServer.attribute(resource, "host.name"));
                assertNull(CollectorServer.attribute(point.path("attributes"), "service.name"), "in the resource, not the point");
                long count = point.path("count").asLong();
                total += count;
                if ("fin".equals(CollectorServer.attribute(point.path("attributes"), "error.type"))) {
                    abandoned += count;
                }
            }
            if (total == SERVER_SPANS) {
                break;
            }
            Thread.sleep(500);
        }
        assertEquals(SERVER_SPANS, total, "http.server.request.duration count of jdk-backend");
        assertEquals(ABANDONED, abandoned, "of which abandoned (error.type fin)");
    }

    @Test
    @Order(2)
    void aCollectorOutageCostsCountedDropsAndExportResumes() throws Exception {
        ReliabilityFigures figures = new ReliabilityFigures("faults-collector");
        figures.clear();
        collector.stop();
        long rssBefore = lab.agentRssKiB();
        double requestsBefore = lab.agentMetric("obi_agent_requests_total");
        for (int i = 0; i < 500; i++) {
            get("/fast", "x-outage", "1");
        }
        long deadline = System.nanoTime() + Duration.ofSeconds(40).toNanos();
        while ((lab.agentMetric(SPANS_FAILED) == 0 || lab.agentMetric(METRICS_FAILED) < 2)
                && System.nanoTime() < deadline) {
            Thread.sleep(500);
        }
        double requests = lab.agentMetric("obi_agent_requests_total") - requestsBefore;
        assertTrue(requests >= 1000, "capture went on while the Collector was down (both sides of 500 requests)");
        double spansFailed = lab.agentMetric(SPANS_FAILED);
        double pushesFailed = lab.agentMetric(METRICS_FAILED);
        assertTrue(spansFailed > 0, "spans that could not be exported are counted");
        assertTrue(pushesFailed >= 2, "metric pushes that failed are counted");
        long rssAfter = lab.agentRssKiB();
        assertTrue(rssAfter < rssBefore + 100 * 1024, "agent memory stayed bounded: " + rssBefore + " -> " + rssAfter);
        assertEquals(1, Lab.occurrences(lab.agentLog(), "span export failed"), "said once, not per batch:\n" + lab.agentLog());
        assertEquals(1, Lab.occurrences(lab.agentLog(), "metric export failed"), "said once, not per push");
        figures.add("Collector down", "requests captured meanwhile (both sides)", String.format("%.0f", requests), ">= 1000");
        figures.add("Collector down", "spans lost, counted (span_export_failed)", String.format("%.0f", spansFailed), "> 0");
        figures.add("Collector down", "metric pushes failed, counted (metric_export_failed)",
                String.format("%.0f", pushesFailed), ">= 2");
        figures.add("Collector down", "agent RSS change", (rssAfter - rssBefore) / 1024 + " MiB", "< 100 MiB");
        figures.add("Collector down", "log lines about it (span, metric export)", "1, 1", "1 per state change");

        collector.start();
        String[] ids = {hex(16), hex(8)};
        get("/users/1", "traceparent", "00-" + ids[0] + "-" + ids[1] + "-01");
        awaitServerSpans(1, s -> s.path("traceId").asText().equals(ids[0]));
        long logDeadline = System.nanoTime() + Duration.ofSeconds(10).toNanos();
        while (Lab.occurrences(lab.agentLog(), "metric export recovered") == 0 && System.nanoTime() < logDeadline) {
            Thread.sleep(200);
        }
        assertEquals(1, Lab.occurrences(lab.agentLog(), "span export recovered"));
        assertEquals(1, Lab.occurrences(lab.agentLog(), "metric export recovered"));
        figures.add("Collector back", "a span sent after the restart reaches it; log lines (span, metric export)",
                "yes; 1, 1", "1 per state change");
    }

    /** The same spans over OTLP/HTTP: the agent's encoded requests through the SDK's HTTP transport. */
    @Test
    @Order(3)
    void spansGoOverHttpProtobufToo() throws Exception {
        lab.stopAgent();
        lab.startAgent(Map.of("OTEL_EXPORTER_OTLP_ENDPOINT", "http://127.0.0.1:" + collector.httpPort,
                "OTEL_EXPORTER_OTLP_PROTOCOL", "http/protobuf"), "-Dobi.request-log.enabled=false");
        String[] ids = {hex(16), hex(8)};
        get("/users/7", "traceparent", "00-" + ids[0] + "-" + ids[1] + "-01");
        awaitServerSpans(1, s -> s.path("traceId").asText().equals(ids[0]));
        JsonNode span = serverSpans().stream().filter(s -> s.path("traceId").asText().equals(ids[0])).findFirst()
                .orElseThrow();
        assertEquals(ids[1], span.path("parentSpanId").asText());
        assertEquals("GET /users/{id}", span.path("name").asText());
        assertEquals("200", CollectorServer.attribute(span.path("attributes"), "http.response.status_code"));
        assertEquals(0, Lab.occurrences(lab.agentLog(), "spans are encoded by the SDK"), "the agent's encoder sent it");
    }

    private static final String SPANS_FAILED = "obi_agent_dropped_total\\{obi_drop_reason=\"span_export_failed\"";
    private static final String METRICS_FAILED = "obi_agent_dropped_total\\{obi_drop_reason=\"metric_export_failed\"";
}
