package lab.obi.agent.integration;

import org.junit.jupiter.api.AfterAll;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.TestInstance;

import java.net.URI;
import java.net.http.HttpClient;
import java.net.http.HttpRequest;
import java.net.http.HttpResponse;
import java.time.Duration;

import static org.junit.jupiter.api.Assertions.*;

/**
 * With obi.metrics.exponential-histograms=true, Prometheus (native histograms, protobuf scrape) gets
 * base-2 exponential histograms: p99.9 of a known mix comes back within a few percent, where
 * fixed buckets would only say "between 1 and 2.5 s". Peer addresses are asked for here, too.
 */
@TestInstance(TestInstance.Lifecycle.PER_CLASS)
class NativeHistogramIT {

    private static final int FAST = 999;
    private static final String SELECTOR = "http_server_request_duration_seconds{service_name=\"jdk-backend\"}";

    private Lab lab;
    private PrometheusServer prometheus;

    @BeforeAll
    void sendAKnownMix() throws Exception {
        lab = new Lab();
        lab.startBackends();
        lab.startAgent("-Dobi.request-log.enabled=false", "-Dobi.metrics.exponential-histograms=true",
                "-Dobi.metrics.peer-addresses=true");
        prometheus = new PrometheusServer(lab);
        prometheus.start(lab.agentMetricsPort, "exemplar-storage,native-histograms");
        HttpClient client = HttpClient.newBuilder().version(HttpClient.Version.HTTP_1_1).build();
        String base = "http://127.0.0.1:" + lab.jdkPort;
        client.send(HttpRequest.newBuilder(URI.create(base + "/slow?ms=1200")).build(),
                HttpResponse.BodyHandlers.discarding());
        for (int i = 0; i < FAST; i++) {
            client.send(HttpRequest.newBuilder(URI.create(base + "/fast")).build(), HttpResponse.BodyHandlers.discarding());
        }
        assertEquals(FAST + 1, prometheus.awaitValue("histogram_count(sum(" + SELECTOR + "))", FAST + 1,
                Duration.ofSeconds(30)).orElse(-1), 0.0, "requests in the native histogram\n" + lab.agentLog());
    }

    @Test
    void peerAddressesAreLabelsWhenAskedFor() throws Exception {
        assertEquals(FAST + 1, prometheus.query("histogram_count(sum(http_server_request_duration_seconds{"
                + "service_name=\"jdk-backend\",client_address=\"127.0.0.1\"}))").orElseThrow(), 0.0);
    }

    @AfterAll
    void stopEverything() throws Exception {
        if (lab != null) {
            lab.close();
        }
    }

    @Test
    void p999IsTheSlowRequestWithinTheBucketResolution() throws Exception {
        double p999 = prometheus.query("histogram_quantile(0.9995, sum(" + SELECTOR + "))").orElseThrow();
        assertTrue(p999 > 1.1 && p999 < 1.4, "the one 1.2 s request: p99.95 = " + p999);
        double p50 = prometheus.query("histogram_quantile(0.5, sum(" + SELECTOR + "))").orElseThrow();
        assertTrue(p50 < 0.005, "the fast ones: p50 = " + p50);
    }
}
