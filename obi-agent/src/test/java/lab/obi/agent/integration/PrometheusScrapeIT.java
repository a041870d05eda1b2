package lab.obi.agent.integration;

import com.fasterxml.jackson.databind.JsonNode;
import org.junit.jupiter.api.AfterAll;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.TestInstance;

import java.net.URI;
import java.net.http.HttpClient;
import java.net.http.HttpRequest;
import java.net.http.HttpResponse;
import java.time.Duration;
import java.util.ArrayList;
import java.util.List;
import java.util.OptionalDouble;
import java.util.concurrent.CompletableFuture;

import static org.junit.jupiter.api.Assertions.*;

/**
 * Debian's Prometheus scrapes the agent while a Java client sends the JDK backend a known mix:
 * fast requests, slow ones that complete, and slow ones the client abandons (the JDK, which does not
 * notice, writes its 200 into the closed connection 2 s later). PromQL over the exported histograms
 * must give back that mix.
 */
@TestInstance(TestInstance.Lifecycle.PER_CLASS)
class PrometheusScrapeIT {

    private static final int FAST = 100;
    private static final int SLOW = 10;
    private static final int ABANDONED = 10;
    private static final String BACKEND = "service_name=\"jdk-backend\"";

    private Lab lab;
    private PrometheusServer prometheus;
    private int clientTimeouts;

    @BeforeAll
    void runAKnownMix() throws Exception {
        lab = new Lab();
        lab.startBackends();
        lab.startAgent("-Dobi.request-log.enabled=false");
        prometheus = new PrometheusServer(lab);
        prometheus.start(lab.agentMetricsPort);

        String base = "http://127.0.0.1:" + lab.jdkPort;
        HttpClient client = HttpClient.newBuilder().version(HttpClient.Version.HTTP_1_1).build();
        for (int i = 0; i < FAST; i++) {
            client.send(HttpRequest.newBuilder(URI.create(base + "/fast")).build(), HttpResponse.BodyHandlers.ofString());
        }
        List<CompletableFuture<HttpResponse<String>>> slow = new ArrayList<>();
        for (int i = 0; i < SLOW; i++) {
            slow.add(client.sendAsync(HttpRequest.newBuilder(URI.create(base + "/slow?ms=300")).build(),
                    HttpResponse.BodyHandlers.ofString()));
        }
        slow.forEach(CompletableFuture::join);
        // Abandoned in two waves, the second once Prometheus has seen the first: Prometheus takes a
        // new series' first value as its start, so only later abandons show in rate().
        String abandoned = "sum(obi_http_abandoned_total{" + BACKEND + ",obi_direction=\"server\"})";
        clientTimeouts += abandonWave(client, base, ABANDONED / 2);
        prometheus.awaitValue(abandoned, ABANDONED / 2, Duration.ofSeconds(30));
        clientTimeouts += abandonWave(client, base, ABANDONED - ABANDONED / 2);
        assertEquals(ABANDONED, clientTimeouts, "the client gave up on every 2 s request");
        OptionalDouble total = prometheus.awaitValue(
                "sum(http_server_request_duration_seconds_count{" + BACKEND + "})", FAST + SLOW + ABANDONED,
                Duration.ofSeconds(30));
        assertEquals(FAST + SLOW + ABANDONED, total.orElse(-1), 0.0,
                "requests Prometheus scraped from the agent\n" + lab.agentLog());
        Thread.sleep(3_000); // a few more scrapes, so rate() has two samples of every series
    }

    /** Requests of 2 s with a client timeout of 200 ms; returns how many timed out. */
    private static int abandonWave(HttpClient client, String base, int count) {
        List<CompletableFuture<HttpResponse<String>>> calls = new ArrayList<>();
        for (int i = 0; i < count; i++) {
            calls.add(client.sendAsync(HttpRequest.newBuilder(URI.create(base + "/slow?ms=2000"))
                    .timeout(Duration.ofMillis(200)).build(), HttpResponse.BodyHandlers.ofString()));
        }
        return ClientTimeouts.count(calls);
    }

    @AfterAll
    void stopEverything() throws Exception {
        if (lab != null) {
            lab.close();
        }
    }

    @Test
    void theAbandonRatioIsTheShareOfAbandonedRequestsAnsweredAfterTheClientLeft() throws Exception {
        double ratio = prometheus.query("sum(obi_http_abandoned_total{" + BACKEND + ",obi_direction=\"server\"})"
                + " / sum(http_server_request_duration_seconds_count{" + BACKEND + "})").orElseThrow();
        assertEquals((double) ABANDONED / (FAST + SLOW + ABANDONED), ratio, 1e-9);
        assertEquals(ABANDONED, prometheus.query("sum(obi_http_abandoned_total{" + BACKEND
                + ",http_response_status_code=\"200\"})").orElseThrow(), 0.0, "the JDK wrote 200 after the client left");
        assertEquals(0, prometheus.query("sum(http_server_request_duration_seconds_count{" + BACKEND
                + ",http_response_status_code=\"499\"})").orElse(0), 0.0, "no request went without a status line");
        double rate = prometheus.query("sum(rate(obi_http_abandoned_total{" + BACKEND + "}[1m]))").orElseThrow();
        assertTrue(rate > 0, "the abandon rate over the last minute");
    }

    @Test
    void abandonedRequestsAreCountedByAbortKind() throws Exception {
        assertEquals(ABANDONED, prometheus.query("sum(obi_http_abandoned_total{" + BACKEND
                + ",obi_direction=\"server\",obi_abort_kind=\"fin\"})").orElseThrow(), 0.0);
        assertEquals(ABANDONED, prometheus.query("sum(obi_http_time_to_abandon_seconds_count{" + BACKEND
                + "})").orElseThrow(), 0.0);
        double p50TimeToAbandon = prometheus.query("histogram_quantile(0.5, sum by (le) "
                + "(obi_http_time_to_abandon_seconds_bucket{" + BACKEND + "}))").orElseThrow();
        assertTrue(p50TimeToAbandon > 0.1 && p50TimeToAbandon <= 0.25,
                "the client gave up after 200 ms: " + p50TimeToAbandon);
    }

    @Test
    void quantilesFromTheHistogramsSeparateFastSlowAndAbandoned() throws Exception {
        String buckets = "sum by (le) (http_server_request_duration_seconds_bucket{" + BACKEND + "})";
        double p50 = prometheus.query("histogram_quantile(0.5, " + buckets + ")").orElseThrow();
        double p90 = prometheus.query("histogram_quantile(0.9, " + buckets + ")").orElseThrow();
        double p99 = prometheus.query("histogram_quantile(0.99, " + buckets + ")").orElseThrow();
        assertTrue(p50 < 0.01, "100 of 120 requests are fast: p50 " + p50);
        assertTrue(p90 > 0.25 && p90 <= 0.5, "the 300 ms requests hold the 84th-92nd percentiles: p90 " + p90);
        assertTrue(p99 > 1.0 && p99 <= 2.5, "the abandoned requests ran 2 s on the backend: p99 " + p99);
    }

    @Test
    void selfTelemetryShowsNoDropsAndIgnoresPrometheusItself() throws Exception {
        assertTrue(prometheus.query("sum(obi_agent_records_total)").orElseThrow() >= FAST + SLOW + ABANDONED);
        assertEquals(0, prometheus.query("sum(obi_agent_dropped_total)").orElseThrow(), 0.0);
        assertTrue(prometheus.query("sum(obi_agent_ignored_total)").orElseThrow() > 0, "its scrapes are seen...");
        assertTrue(prometheus.query("http_client_request_duration_seconds_count{service_name=\"prometheus\"}")
                .isEmpty(), "...and not reported");
        assertTrue(prometheus.query("count(http_server_request_duration_seconds_count{client_address!=\"\"})")
                .isEmpty(), "peer addresses are aggregated by default");
    }

    @Test
    void durationBucketsCarryTraceIdExemplars() throws Exception {
        JsonNode series = prometheus.exemplars("http_server_request_duration_seconds_bucket{" + BACKEND + "}");
        assertFalse(series.isEmpty(), "exemplars stored by Prometheus");
        JsonNode exemplar = series.get(0).path("exemplars").get(0);
        assertTrue(exemplar.path("labels").path("trace_id").asText().matches("[0-9a-f]{32}"), exemplar.toString());
    }
}
