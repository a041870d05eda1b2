package lab.obi.agent.integration;

import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.ObjectMapper;

import java.io.IOException;
import java.net.Socket;
import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Duration;
import java.util.ArrayList;
import java.util.List;
import java.util.Map;
import java.util.concurrent.TimeUnit;

/**
 * The lab's OpenTelemetry Collector (built from Go modules by collector-config/build.sh) with the
 * test pipeline collector-config/test-collector.yaml: OTLP in, JSON files out.
 */
final class CollectorServer {

    private final Lab lab;
    final int grpcPort = Lab.freePort();
    final int httpPort = Lab.freePort();
    private final Path traces;
    private final Path metrics;
    private final ObjectMapper json = new ObjectMapper();
    private Process process;

    CollectorServer(Lab lab) {
        this.lab = lab;
        this.traces = lab.path("collector-traces.jsonl");
        this.metrics = lab.path("collector-metrics.jsonl");
    }

    void start() throws Exception {
        String binary = System.getProperty("obi.collector.bin", "");
        Path config = Path.of(System.getProperty("obi.collector.test-config", "../collector-config/test-collector.yaml"));
        if (binary.isEmpty() || !Files.isExecutable(Path.of(binary))) {
            throw new IllegalStateException("no Collector binary (obi.collector.bin='" + binary
                    + "'): build it with collector-config/build.sh, `make test` does");
        }
        process = lab.startWithEnvironment("collector", Map.of(
                        "OBI_OTLP_GRPC", "127.0.0.1:" + grpcPort,
                        "OBI_OTLP_HTTP", "127.0.0.1:" + httpPort,
                        "OBI_TRACES_FILE", traces.toString(),
                        "OBI_METRICS_FILE", metrics.toString(),
                        "OBI_HEALTH", "127.0.0.1:" + Lab.freePort()),
                binary, "--config", config.toAbsolutePath().toString());
        long deadline = System.nanoTime() + Duration.ofSeconds(30).toNanos();
        while (System.nanoTime() < deadline) {
            try (Socket ignored = new Socket("127.0.0.1", grpcPort)) {
                return;
            } catch (IOException notYet) {
                if (!process.isAlive()) {
                    break;
                }
                Thread.sleep(200);
            }
        }
        throw new IllegalStateException("the Collector did not start:\n" + Files.readString(lab.log("collector")));
    }

    void stop() throws InterruptedException {
        process.destroy();
        process.waitFor(15, TimeUnit.SECONDS);
    }

    /** Every span the Collector wrote, each with its resource's service.name under "service.name". */
    List<JsonNode> spans() throws IOException {
        List<JsonNode> spans = new ArrayList<>();
        for (JsonNode request : lines(traces)) {
            for (JsonNode resourceSpans : request.path("resourceSpans")) {
                String service = attribute(resourceSpans.path("resource").path("attributes"), "service.name");
                for (JsonNode scope : resourceSpans.path("scopeSpans")) {
                    for (JsonNode span : scope.path("spans")) {
                        ((com.fasterxml.jackson.databind.node.ObjectNode) span).put("service.name", service);
                        spans.add(span);
                    }
                }
            }
        }
        return spans;
    }

    /**
     * The data points of a metric in the Collector's last metrics export (cumulative temporality),
     * each with its resource's attributes under "resource".
     */
    List<JsonNode> lastDataPoints(String metricName) throws IOException {
        List<JsonNode> points = new ArrayList<>();
        List<JsonNode> exports = lines(metrics);
        if (exports.isEmpty()) {
            return points;
        }
        for (JsonNode resourceMetrics : exports.get(exports.size() - 1).path("resourceMetrics")) {
            JsonNode resource = resourceMetrics.path("resource").path("attributes");
            for (JsonNode scope : resourceMetrics.path("scopeMetrics")) {
                for (JsonNode metric : scope.path("metrics")) {
                    if (metric.path("name").asText().equals(metricName)) {
                        List<JsonNode> found = new ArrayList<>();
                        metric.path("histogram").path("dataPoints").forEach(found::add);
                        metric.path("sum").path("dataPoints").forEach(found::add);
                        found.forEach(p -> ((com.fasterxml.jackson.databind.node.ObjectNode) p).set("resource", resource));
                        points.addAll(found);
                    }
                }
            }
        }
        return points;
    }

    static String attribute(JsonNode attributes, String key) {
        for (JsonNode a : attributes) {
            if (a.path("key").asText().equals(key)) {
                JsonNode v = a.path("value");
                return v.has("stringValue") ? v.path("stringValue").asText() : v.path("intValue").asText();
            }
        }
        return null;
    }

    private List<JsonNode> lines(Path file) throws IOException {
        List<JsonNode> nodes = new ArrayList<>();
        if (!Files.exists(file)) {
            return nodes;
        }
        List<String> lines = Files.readAllLines(file);
        for (int i = 0; i < lines.size(); i++) {
            if (lines.get(i).isBlank()) {
                continue;
            }
            try {
                nodes.add(json.readTree(lines.get(i)));
            } catch (com.fasterxml.jackson.core.JsonProcessingException e) {
                if (i < lines.size() - 1) {
                    throw e;
                }
                // the Collector is still writing the last line
            }
        }
        return nodes;
    }
}
