package lab.obi.agent.integration;

import com.fasterxml.jackson.databind.ObjectMapper;
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
import java.util.HashSet;
import java.util.Map;
import java.util.Random;
import java.util.Set;
import java.util.concurrent.TimeUnit;

import static org.junit.jupiter.api.Assertions.*;

/**
 * The stack's other parts down and back, with the agent running as compose.yaml runs it: its spans
 * through the lab's Collector (collector-config/collector.yaml) to Jaeger, its metrics pulled by
 * Prometheus. Neither is the agent's peer, so what must hold is end to end: spans of requests made
 * while Jaeger was down reach it once it is back (the Collector's exporter queues and retries), and
 * requests made while Prometheus was down are in its counters once it scrapes again.
 */
@TestInstance(TestInstance.Lifecycle.PER_CLASS)
@TestMethodOrder(MethodOrderer.OrderAnnotation.class)
class StackFaultsIT {

    private static final int COLLECTOR_GRPC = 4317; // collector-config/collector.yaml: the stack's fixed ports
    private static final int COLLECTOR_HEALTH = 13133;
    private static final int REQUESTS_WHILE_DOWN = 10;

    private final Path repo = Path.of(System.getProperty("obi.repo", "..")).toAbsolutePath().normalize();
    private final HttpClient http = HttpClient.newBuilder().version(HttpClient.Version.HTTP_1_1).build();
    private final ObjectMapper json = new ObjectMapper();
    private final ReliabilityFigures figures = new ReliabilityFigures("faults-stack");
    private final int jaegerOtlpPort = Lab.freePort();
    private final int jaegerUiPort = Lab.freePort();
    private final int prometheusPort = Lab.freePort();
    private final Random random = new Random(19);
    private Lab lab;
    private Process jaeger;
    private Process prometheus;
    private DashboardQueries queries;

    @BeforeAll
    void theStackAndTheAgent() throws Exception {
        figures.clear();
        lab = new Lab();
        lab.startNginx(); // its /jdk/ upstream is not started: 502, which the tail sampler keeps
        String collector = Lab.requiredBinary("obi.collector.bin", "collector-config/build.sh");
        jaeger = startJaeger();
        lab.startWithEnvironment("collector", Map.of("JAEGER_OTLP_ENDPOINT", "127.0.0.1:" + jaegerOtlpPort), collector,
                "--config", repo.resolve("collector-config/collector.yaml").toString());
        lab.awaitHttp("http://127.0.0.1:" + COLLECTOR_HEALTH + "/", "collector", deadline(60));
        lab.startAgent(Map.of("OTEL_EXPORTER_OTLP_ENDPOINT", "http://127.0.0.1:" + COLLECTOR_GRPC),
                "-Dobi.request-log.enabled=false", "-Dobi.metrics.otlp.enabled=false");
        prometheus = startPrometheus();
        queries = new DashboardQueries(repo, "http://127.0.0.1:" + prometheusPort, 1);
    }

    @AfterAll
    void stopEverything() throws Exception {
        if (lab != null) {
            lab.close();
        }
    }

    @Test
    @Order(1)
    void spansOfRequestsMadeWhileJaegerWasDownReachItWhenItIsBack() throws Exception {
        String before = failingRequest("/jdk/before");
        assertTrue(awaitTraces(Set.of(before), deadline(60)).isEmpty(), "a kept trace reaches Jaeger");

        stop(jaeger);
        Set<String> whileDown = new HashSet<>();
        for (int i = 0; i < REQUESTS_WHILE_DOWN; i++) {
            whileDown.add(failingRequest("/jdk/while-jaeger-is-down/" + i));
        }
        Thread.sleep(10_000); // the Collector's first export attempts fail and are retried
        jaeger = startJaeger(); // in-memory storage: what it holds now came after the restart
        long back = System.nanoTime();
        Set<String> missing = awaitTraces(whileDown, deadline(90));
        long seconds = TimeUnit.NANOSECONDS.toSeconds(System.nanoTime() - back);
        assertEquals(Set.of(), missing, "traces of the requests made while Jaeger was down");
        assertEquals(0, lab.agentMetric("obi_agent_dropped_total"), "the agent lost nothing");

        String scenario = "Jaeger stopped for 10 s behind the lab's Collector";
        figures.add(scenario, "traces of the " + REQUESTS_WHILE_DOWN + " requests made meanwhile (502, kept by the"
                + " tail sampler), in Jaeger after its restart", (REQUESTS_WHILE_DOWN - missing.size()) + " of "
                + REQUESTS_WHILE_DOWN + ", within " + seconds + " s", "all");
        figures.add(scenario, "records the agent dropped", "0", "0");
    }

    @Test
    @Order(2)
    void requestsMadeWhilePrometheusWasDownAreInItsCountersWhenItScrapesAgain() throws Exception {
        String query = "sum(http_server_request_duration_seconds_count{service_name=\"nginx\",http_route=\"/local\"})";
        get("/local");
        long deadline = deadline(30);
        while (queries.value(query, now()) < 1 && System.nanoTime() < deadline) {
            Thread.sleep(500);
        }
        double before = queries.value(query, now());
        assertEquals(1, before, "scraped before it stops");

        stop(prometheus);
        for (int i = 0; i < REQUESTS_WHILE_DOWN; i++) {
            get("/local");
        }
        Thread.sleep(5_000);
        prometheus = startPrometheus(); // the same storage
        deadline = deadline(30);
        while (queries.value(query, now()) < 1 + REQUESTS_WHILE_DOWN && System.nanoTime() < deadline) {
            Thread.sleep(500);
        }
        double after = queries.value(query, now());
        assertEquals(1 + REQUESTS_WHILE_DOWN, after, "every request made meanwhile is counted");

        String scenario = "Prometheus stopped for 5 s (the agent's /metrics not scraped)";
        figures.add(scenario, "requests made meanwhile, in the counter once it scrapes again",
                String.format("%.0f of %d", after - before, REQUESTS_WHILE_DOWN), "all");
    }

    /** A request to nginx's /jdk/ (no backend: 502) in a trace of its own; returns the trace id. */
    private String failingRequest(String path) throws Exception {
        String trace = hex(16);
        HttpResponse<Void> r = http.send(HttpRequest.newBuilder(URI.create("http://127.0.0.1:" + lab.nginxPort + path))
                .header("traceparent", "00-" + trace + "-" + hex(8) + "-01").build(), HttpResponse.BodyHandlers.discarding());
        assertEquals(502, r.statusCode());
        return trace;
    }

    private void get(String path) throws Exception {
        assertEquals(200, http.send(HttpRequest.newBuilder(URI.create("http://127.0.0.1:" + lab.nginxPort + path)).build(),
                HttpResponse.BodyHandlers.discarding()).statusCode());
    }

    /** The traces Jaeger still does not have at the deadline. */
    private Set<String> awaitTraces(Set<String> traces, long deadline) throws Exception {
        Set<String> missing = new HashSet<>(traces);
        while (!missing.isEmpty() && System.nanoTime() < deadline) {
            for (String trace : new ArrayList<>(missing)) {
                HttpResponse<String> r = http.send(HttpRequest.newBuilder(URI.create("http://127.0.0.1:" + jaegerUiPort
                        + "/api/traces/" + trace)).build(), HttpResponse.BodyHandlers.ofString());
                if (r.statusCode() == 200 && json.readTree(r.body()).path("data").size() > 0) {
                    missing.remove(trace);
                }
            }
            Thread.sleep(1000);
        }
        return missing;
    }

    private Process startJaeger() throws Exception {
        return lab.startJaeger(repo, jaegerOtlpPort, jaegerUiPort, Map.of());
    }

    /** Prometheus scraping only the agent, every second, on storage that outlives a restart. */
    private Process startPrometheus() throws Exception {
        Path config = lab.path("prometheus.yml");
        Files.writeString(config, """
                global:
                  scrape_interval: 1s
                scrape_configs:
                  - job_name: obi-agent
                    static_configs:
                      - targets: ["127.0.0.1:%d"]
                """.formatted(lab.agentMetricsPort));
        Process p = lab.start("prometheus", "prometheus", "--config.file=" + config,
                "--storage.tsdb.path=" + lab.path("prometheus-data"), "--web.listen-address=127.0.0.1:" + prometheusPort);
        lab.awaitHttp("http://127.0.0.1:" + prometheusPort + "/-/ready", "prometheus", deadline(60));
        return p;
    }

    private static void stop(Process p) throws InterruptedException {
        p.destroy();
        assertTrue(p.waitFor(30, TimeUnit.SECONDS), "stopped");
    }

    private String hex(int bytes) {
        StringBuilder b = new StringBuilder();
        for (int i = 0; i < bytes; i++) {
            b.append(String.format("%02x", random.nextInt(256)));
        }
        return b.toString();
    }

    private static long deadline(int seconds) {
        return System.nanoTime() + Duration.ofSeconds(seconds).toNanos();
    }

    private static long now() {
        return System.currentTimeMillis() / 1000;
    }
}
