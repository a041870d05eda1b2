package lab.obi.agent.integration;

import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.ObjectMapper;

import java.net.URI;
import java.net.URLEncoder;
import java.net.http.HttpClient;
import java.net.http.HttpRequest;
import java.net.http.HttpResponse;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.time.Duration;
import java.util.OptionalDouble;

/** Debian's Prometheus, scraping the agent every second, queried through its HTTP API. */
final class PrometheusServer {

    private final Lab lab;
    private final int port = Lab.freePort();
    private final HttpClient http = HttpClient.newHttpClient();
    private final ObjectMapper json = new ObjectMapper();

    PrometheusServer(Lab lab) {
        this.lab = lab;
    }

    void start(int agentMetricsPort) throws Exception {
        start(agentMetricsPort, "exemplar-storage");
    }

    /** @param features Prometheus feature flags, e.g. "exemplar-storage,native-histograms" */
    void start(int agentMetricsPort, String features) throws Exception {
        Files.writeString(lab.path("prometheus.yml"), """
                global:
                  scrape_interval: 1s
                  evaluation_interval: 1s
                scrape_configs:
                  - job_name: obi-agent
                    static_configs:
                      - targets: ["127.0.0.1:%d"]
                """.formatted(agentMetricsPort));
        lab.start("prometheus", "prometheus", "--config.file=" + lab.path("prometheus.yml"),
                "--storage.tsdb.path=" + lab.path("prometheus-data"), "--web.listen-address=127.0.0.1:" + port,
                "--enable-feature=" + features);
        long deadline = System.nanoTime() + Duration.ofSeconds(30).toNanos();
        while (System.nanoTime() < deadline) {
            try {
                if (get("/-/ready").statusCode() == 200) {
                    return;
                }
            } catch (java.io.IOException notYet) {
                // still starting
            }
            Thread.sleep(200);
        }
        throw new IllegalStateException("Prometheus did not become ready:\n" + Files.readString(lab.log("prometheus")));
    }

    /** The value of an instant query returning one sample, empty when it returns none. */
    OptionalDouble query(String promql) throws Exception {
        HttpResponse<String> response = get("/api/v1/query?query=" + URLEncoder.encode(promql, StandardCharsets.UTF_8));
        JsonNode body = json.readTree(response.body());
        if (!"success".equals(body.path("status").asText())) {
            throw new IllegalStateException("query failed: " + promql + " -> " + response.body());
        }
        JsonNode result = body.path("data").path("result");
        if (result.isEmpty()) {
            return OptionalDouble.empty();
        }
        if (result.size() > 1) {
            throw new IllegalStateException("expected one sample: " + promql + " -> " + result);
        }
        return OptionalDouble.of(Double.parseDouble(result.get(0).path("value").get(1).asText()));
    }

    /** The exemplars of the last five minutes for a series selector: one entry per series. */
    JsonNode exemplars(String selector) throws Exception {
        long now = System.currentTimeMillis() / 1000;
        HttpResponse<String> response = get("/api/v1/query_exemplars?query="
                + URLEncoder.encode(selector, StandardCharsets.UTF_8) + "&start=" + (now - 300) + "&end=" + now);
        JsonNode body = json.readTree(response.body());
        if (!"success".equals(body.path("status").asText())) {
            throw new IllegalStateException("exemplar query failed: " + selector + " -> " + response.body());
        }
        return body.path("data");
    }

    /** Polls until the query returns the value, or returns what it last saw after the timeout. */
    OptionalDouble awaitValue(String promql, double expected, Duration timeout) throws Exception {
        long deadline = System.nanoTime() + timeout.toNanos();
        OptionalDouble last = OptionalDouble.empty();
        while (System.nanoTime() < deadline) {
            last = query(promql);
            if (last.isPresent() && last.getAsDouble() == expected) {
                return last;
            }
            Thread.sleep(500);
        }
        return last;
    }

    /** The body of a GET on Prometheus's HTTP API, e.g. "/api/v1/series?match[]=...". */
    String api(String pathAndQuery) throws Exception {
        return get(pathAndQuery).body();
    }

    private HttpResponse<String> get(String pathAndQuery) throws Exception {
        return http.send(HttpRequest.newBuilder(URI.create("http://127.0.0.1:" + port + pathAndQuery)).build(),
                HttpResponse.BodyHandlers.ofString());
    }
}
