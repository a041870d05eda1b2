package lab.obi.agent.integration;

import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.ObjectMapper;
import com.fasterxml.jackson.dataformat.yaml.YAMLMapper;
import org.junit.jupiter.api.AfterAll;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.TestInstance;

import java.io.IOException;
import java.net.URI;
import java.net.URLEncoder;
import java.net.http.HttpClient;
import java.net.http.HttpRequest;
import java.net.http.HttpResponse;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Duration;
import java.util.List;
import java.util.Map;
import java.util.Set;
import java.util.TreeMap;
import java.util.concurrent.TimeUnit;
import java.util.regex.Matcher;
import java.util.regex.Pattern;
import java.util.stream.Stream;

import static org.junit.jupiter.api.Assertions.*;

/**
 * The stack's configuration run for real on this host, without containers: the demo workload
 * (demo/: nginx as the load balancer with demo/lb/obi-lb.conf, cloud A and cloud B JDK backends,
 * the load generator with client timeouts), obi-agent observing it, the Collector with
 * collector-config/collector.yaml, Jaeger v2 with jaeger/config.yaml, Prometheus with
 * prometheus/prometheus.yml and its rules. Cloud B lives in a network namespace, and
 * demo/fault/netplan-apply restarts its interfaces mid-run, as in the seed incident.
 * <p>
 * Then every query of every Grafana dashboard runs against that Prometheus and must return series,
 * every datasource uid the dashboards use must be provisioned, and Jaeger must hold the abandoned
 * requests that the tail sampler kept.
 */
@TestInstance(TestInstance.Lifecycle.PER_CLASS)
class StackDashboardsIT {

    private static final String CLOUD_B = "10.216.0.2";
    private static final String WARM_UP = "warm-up";
    /** demo/lb/obi-lb.conf: '$remote_addr "$request" $status ...' */
    private static final Pattern LB_LINE = Pattern.compile("^\\S+ \"[A-Z]+ (/[^ ?\"]*)\\S* HTTP/1\\.[01]\" (\\d{3}) ");
    private static final Duration LOAD_BEFORE = Duration.ofSeconds(25);
    private static final String SLOW_BACKEND_MS = "300";
    private static final Duration LOAD_AFTER = Duration.ofSeconds(30);
    private static final int SCRAPE_SECONDS = 5; // prometheus/prometheus.yml
    private static final int COLLECTOR_GRPC = 4317; // collector-config/collector.yaml: the stack's fixed ports
    private static final int COLLECTOR_METRICS = 8889;
    private static final int COLLECTOR_SELF = 8888;
    private static final int COLLECTOR_HEALTH = 13133;

    private final Path repo = Path.of(System.getProperty("obi.repo", "..")).toAbsolutePath().normalize();
    private final String ns = "obi-stack-" + ProcessHandle.current().pid();
    private final String hostSide = "obis" + (ProcessHandle.current().pid() % 100000);
    private final int lbPort = Lab.freePort();
    private final int lbTlsPort = Lab.freePort();
    private final int prometheusPort = Lab.freePort();
    private final int jaegerUiPort = Lab.freePort();
    private final int jaegerOtlpPort = Lab.freePort();
    private final HttpClient http = HttpClient.newHttpClient();
    private final ObjectMapper json = new ObjectMapper();
    private Lab lab;
    private long startSeconds;
    private long endSeconds;
    /** Just before the load generator stops: the requests it leaves open then end as 499s, on both clouds. */
    private long loadStopSeconds;
    private String netplanOutput;

    @BeforeAll
    void runTheStackAndTheIncident() throws Exception {
        lab = new Lab();
        String collector = Lab.requiredBinary("obi.collector.bin", "collector-config/build.sh");
        Lab.requiredBinary("obi.jaeger.bin", ".ci/build-go-program jaeger ..."); // before anything starts
        for (int port : List.of(COLLECTOR_GRPC, 4318, COLLECTOR_METRICS, COLLECTOR_SELF, COLLECTOR_HEALTH)) {
            try (java.net.ServerSocket free = new java.net.ServerSocket(port)) {
                assertTrue(free.isBound());
            } catch (IOException e) {
                fail("port " + port + " is taken: the stack's Collector config listens there (" + e.getMessage() + ")");
            }
        }
        startCloudB();
        startDemo();
        lab.startJaeger(repo, jaegerOtlpPort, jaegerUiPort,
                Map.of("PROMETHEUS_URL", "http://127.0.0.1:" + prometheusPort));
        lab.startWithEnvironment("collector", Map.of("JAEGER_OTLP_ENDPOINT", "127.0.0.1:" + jaegerOtlpPort), collector,
                "--config", repo.resolve("collector-config/collector.yaml").toString());
        awaitHttp("http://127.0.0.1:" + COLLECTOR_HEALTH + "/", "collector");
        startPrometheus();
        // As compose.yaml runs it: scraped by Prometheus, spans to the Collector, metrics not pushed twice.
        lab.startAgent(Map.of("OTEL_EXPORTER_OTLP_ENDPOINT", "http://127.0.0.1:" + COLLECTOR_GRPC),
                "-Dobi.metrics.peer-addresses=true", "-Dobi.request-log.enabled=false", "-Dobi.metrics.otlp.enabled=false");

        warmUpEveryRoute();
        startSeconds = System.currentTimeMillis() / 1000;
        Process loadgen = lab.startWithEnvironment("loadgen", Map.of("OTEL_SERVICE_NAME", "loadgen", "TARGET",
                "http://127.0.0.1:" + lbPort, "TARGET_TLS", "https://127.0.0.1:" + lbTlsPort, "RATE", "50", "CLIENTS",
                "128", "REPORT_S", "5"), java(),
                source("demo/app/LoadGenerator.java"));
        Thread.sleep(LOAD_BEFORE.toMillis());
        Process netplan = new ProcessBuilder("ip", "netns", "exec", ns, "sh",
                repo.resolve("demo/fault/netplan-apply").toString(), "3000").redirectErrorStream(true).start();
        netplanOutput = new String(netplan.getInputStream().readAllBytes());
        assertEquals(0, netplan.waitFor(), netplanOutput);
        Thread.sleep(LOAD_AFTER.toMillis());
        // The load stops (its clients' open requests end as nginx logs them), so the counters and the
        // load balancer's access log can be compared over the whole run.
        loadStopSeconds = System.currentTimeMillis() / 1000;
        loadgen.destroy();
        assertTrue(loadgen.waitFor(30, TimeUnit.SECONDS), "the load generator stops");
        // Recording rules run every 15 s and the Collector flushes span metrics every 15 s.
        Thread.sleep(20_000);
        endSeconds = System.currentTimeMillis() / 1000;
    }

    @AfterAll
    void stopEverything() throws Exception {
        if (lab != null) {
            lab.close();
        }
        VethNamespace.remove(ns, hostSide);
    }

    @Test
    void everyDashboardQueryReturnsSeries() throws Exception {
        DashboardQueries.Result result = queries().run(startSeconds, endSeconds);
        assertTrue(result.queries() > 30, "the dashboards hold " + result.queries() + " queries");
        assertEquals(List.of(), result.empty(), "panel queries that returned no series (of " + result.queries() + ")");
    }

    @Test
    void everyDatasourceTheDashboardsUseIsProvisioned() throws Exception {
        assertEquals(3, dashboards().size());
        assertEquals(List.of(), queries().unprovisionedDatasources());
        JsonNode providers = new YAMLMapper().readTree(repo.resolve("grafana/provisioning/dashboards/obi.yaml").toFile());
        assertEquals("/etc/grafana/dashboards", providers.path("providers").get(0).path("options").path("path").asText());
        assertTrue(Files.readString(repo.resolve("compose.yaml")).contains("./grafana/dashboards:/etc/grafana/dashboards"),
                "compose.yaml mounts the dashboards where the provider reads them");
    }

    @Test
    void theIncidentShowsOnCloudBAndNotOnCloudA() throws Exception {
        assertTrue(netplanOutput.contains("routes re-applied"), netplanOutput);
        String window = (endSeconds - startSeconds) + "s";
        // Up to the load's stop: the requests its clients leave open then are abandons of no incident
        String loadWindow = (loadStopSeconds - startSeconds) + "s";
        double abandonedB = queries().value("sum(increase(obi_http_abandoned_total{service_name=\"nginx\","
                + "obi_direction=\"server\",http_route=~\"/b/.*\"}[" + loadWindow + "]))", loadStopSeconds);
        double abandonedA = queries().value("sum(increase(obi_http_abandoned_total{service_name=\"nginx\","
                + "obi_direction=\"server\",http_route=~\"/a/.*\"}[" + loadWindow + "]))", loadStopSeconds);
        System.out.printf("== 499s at the load balancer until the load stopped: cloud B %.1f, cloud A %.1f%n", abandonedB,
                abandonedA);
        assertTrue(abandonedB >= 3, "clients gave up on cloud B while its interfaces restarted: " + abandonedB);
        assertTrue(abandonedB > 3 * abandonedA, "499s: cloud B " + abandonedB + ", cloud A " + abandonedA);
        double outages = sum("sum(increase(obi_network_interface_state_changes_total{network_interface_name=\""
                + hostSide + "\",obi_network_interface_state!=\"up\"}[" + window + "]))");
        assertTrue(outages >= 1, "the restart of cloud B's interface is an outage of " + hostSide + ": " + outages);
        double retransmitsB = sum("sum(increase(obi_tcp_retransmits_total{service_name=\"nginx\",server_address=\""
                + CLOUD_B + "\"}[" + window + "]))");
        assertTrue(retransmitsB > 0, "nginx retransmitted to cloud B during the outage: " + retransmitsB);
    }

    /**
     * The table of slow requests and why: cloud B's at the load balancer are the network's (its
     * upstream calls retransmitted while cloud B's interface restarted), those that waited on cloud
     * A's slow backend are processing, at the load balancer and at the backend.
     */
    @Test
    void theSlowRequestsTableSaysNetworkForCloudBAndProcessingForTheSlowBackend() throws Exception {
        List<DashboardQueries.SlowRow> rows = queries().slowRequests(endSeconds);
        Map<String, Double> lbB = DashboardQueries.byCause(rows,
                r -> r.service().equals("nginx") && r.route().startsWith("/b/"));
        Map<String, Double> lbA = DashboardQueries.byCause(rows,
                r -> r.service().equals("nginx") && r.route().startsWith("/a/"));
        Map<String, Double> cloudA = DashboardQueries.byCause(rows, r -> r.service().equals("cloud-a"));
        System.out.printf("== slow requests by cause: load balancer /b/ %s, /a/ %s; cloud-a %s%n", lbB, lbA, cloudA);
        double networkB = lbB.getOrDefault("network", 0.0);
        assertTrue(networkB >= 3, "cloud B's slow requests are the network's: " + lbB);
        assertTrue(lbB.entrySet().stream().allMatch(c -> c.getKey().equals("network") || c.getValue() < networkB),
                "network first for cloud B: " + lbB);
        assertTrue(lbA.getOrDefault("processing", 0.0) >= 3, "the slow backend's requests: " + lbA);
        // One run in several has one /a/ request (of ~250) called the network's, unexplained so far
        assertTrue(lbA.getOrDefault("network", 0.0) <= 0.05 * lbA.get("processing"), "cloud A's network was fine: " + lbA);
        assertTrue(cloudA.getOrDefault("processing", 0.0) >= 3, "the slow backend itself: " + cloudA);
        assertEquals(Set.of("processing"), cloudA.keySet(), cloudA.toString());
    }

    /**
     * One request per route before the measured window, so that every series the "499 ratio" panel
     * reads exists, with a scrape, before the load starts: rate() takes a series' first sample as its
     * start, and would miss the load's first requests otherwise.
     */
    private void warmUpEveryRoute() throws Exception {
        for (String route : List.of("/a/api/orders", "/a/api/orders/1", "/a/api/checkout", "/b/api/orders",
                "/b/api/orders/1", "/b/api/checkout")) {
            assertEquals(0, lab.run("warm-up", Duration.ofSeconds(30), "curl", "-sS", "-o", "/dev/null",
                    "http://127.0.0.1:" + lbPort + route + "?" + WARM_UP));
        }
        Thread.sleep(3 * SCRAPE_SECONDS * 1000L);
    }

    /**
     * The load balancer's requests and 499s per route, from its access log, against the agent's
     * counters that the "499 ratio" panel is computed from (equal, request for request) and against the
     * panel's own query. The panel is evaluated over the load's window with its edges on the agent's
     * scrapes: rate() then extrapolates by a millisecond at most, and is the share itself.
     */
    @Test
    void the499RatioOnTheDashboardIsTheLoadBalancers() throws Exception {
        Map<String, long[]> lb = new TreeMap<>(); // route -> {requests, 499s}
        for (String line : Files.readAllLines(lab.path("lb-access.log"))) {
            Matcher m = LB_LINE.matcher(line);
            assertTrue(m.find(), "an access-log line of the obi_lb format: " + line);
            if (!m.group(1).contains("/api/") || line.contains(WARM_UP)) {
                continue; // the readiness probes, sent before the agent started, and the warm-up
            }
            long[] counts = lb.computeIfAbsent(m.group(1).replaceAll("/\\d+$", "/{id}"), r -> new long[2]);
            counts[0]++;
            counts[1] += m.group(2).equals("499") ? 1 : 0;
        }
        DashboardQueries q = queries();
        List<Double> scrapes = q.sampleTimes("up{job=\"obi-agent\"}", endSeconds, endSeconds - startSeconds + 60);
        double first = scrapes.stream().filter(t -> t <= startSeconds).reduce((a, b) -> b).orElseThrow();
        double last = scrapes.get(scrapes.size() - 1);
        String requests = "sum by (http_route) (http_server_request_duration_seconds_count{service_name=\"nginx\"})";
        String closed = "sum by (http_route) (obi_http_abandoned_total{service_name=\"nginx\",obi_direction=\"server\","
                + "http_response_status_code=\"499\"})";
        Map<String, Double> requestsInWindow = q.difference(requests, first, last, "http_route");
        Map<String, Double> closedInWindow = q.difference(closed, first, last, "http_route");
        String window = Math.round((last - first) * 1000) + 1 + "ms";
        Map<String, Double> panel = q.byLabel(q.panelQuery("499 ratio by service and route")
                .replace("$service", "nginx").replace("$__rate_interval", window), last, "http_route");
        long total499 = 0;
        for (Map.Entry<String, long[]> route : lb.entrySet()) {
            String r = route.getKey();
            long[] counts = route.getValue();
            total499 += counts[1];
            assertEquals(counts[0], requestsInWindow.getOrDefault(r, 0.0), 0.0, "requests to " + r);
            assertEquals(counts[1], closedInWindow.getOrDefault(r, 0.0), 0.0, "499s on " + r);
            double share = (double) counts[1] / counts[0];
            assertEquals(share, panel.getOrDefault(r, 0.0), 1e-4 * share + 1e-9, "the panel's 499 ratio of " + r);
        }
        assertTrue(total499 >= 3, "the incident made clients leave: " + lb);
        double overHttps = q.value("sum(http_server_request_duration_seconds_count{service_name=\"nginx\","
                + "url_scheme=\"https\",http_response_status_code=\"499\"})", endSeconds);
        assertTrue(overHttps >= 1, "the mobile clients' 499s are seen on the load balancer's TLS side: " + overHttps);
    }

    @Test
    void jaegerHoldsTheAbandonedRequestsTheTailSamplerKept() throws Exception {
        String tags = URLEncoder.encode("{\"http.response.status_code\":\"499\"}", StandardCharsets.UTF_8);
        JsonNode traces = json.readTree(get("http://127.0.0.1:" + jaegerUiPort + "/api/traces?service=nginx&limit=50&tags="
                + tags + "&lookback=1h").body()).path("data");
        assertTrue(traces.size() > 0, "traces of abandoned requests in Jaeger");
        boolean abandonEvent = false;
        boolean outageEvent = false;
        for (JsonNode trace : traces) {
            for (JsonNode span : trace.path("spans")) {
                for (JsonNode log : span.path("logs")) {
                    for (JsonNode field : log.path("fields")) {
                        if (field.path("key").asText().equals("event")) {
                            abandonEvent |= field.path("value").asText().equals("obi.abandoned");
                            outageEvent |= field.path("value").asText().equals("obi.network.interface.down");
                        }
                    }
                }
            }
        }
        assertTrue(abandonEvent, "the abandon is an event on the span");
        assertTrue(outageEvent, "abandoned requests during the restart carry the interface outage");
        JsonNode services = json.readTree(get("http://127.0.0.1:" + jaegerUiPort + "/api/services").body()).path("data");
        assertTrue(services.toString().contains("cloud-b"), "cloud B's spans reached Jaeger: " + services);
    }

    private DashboardQueries queries() {
        return new DashboardQueries(repo, "http://127.0.0.1:" + prometheusPort, SCRAPE_SECONDS);
    }

    private List<Path> dashboards() throws IOException {
        List<Path> all = queries().files();
        assertEquals(3, all.size(), "three dashboards: " + all);
        return all;
    }

    private double sum(String promql) throws Exception {
        return queries().value(promql, endSeconds);
    }

    private void startCloudB() throws Exception {
        VethNamespace net = VethNamespace.create(ns, hostSide, "eth0", "10.216.0.1/24", CLOUD_B + "/24");
        net.exec("ip", "route", "add", "default", "via", "10.216.0.1");
        for (String port : List.of("8080", "8081")) {
            lab.startWithEnvironment("cloud-b-" + port, Map.of("OTEL_SERVICE_NAME", "cloud-b", "CLOUD", "cloud-b",
                    "PORT", port), "ip", "netns", "exec", ns, java(), "-Dsun.net.httpserver.nodelay=true",
                    source("demo/app/Backend.java"));
        }
    }

    private void startDemo() throws Exception {
        int a1 = Lab.freePort();
        int a2 = Lab.freePort();
        for (int port : List.of(a1, a2)) {
            // a2 is the demo's slow backend (make slow-backend): its checkout takes about a second
            // (without its own tail: a slow answer on top of a slow backend would make clients give up on cloud A)
            lab.startWithEnvironment("cloud-a-" + port, Map.of("OTEL_SERVICE_NAME", "cloud-a", "CLOUD", "cloud-a",
                    "PORT", Integer.toString(port), "LATENCY_MS", port == a2 ? SLOW_BACKEND_MS : "15",
                    "TAIL_PERCENT", port == a2 ? "0" : "1"), java(),
                    "-Dsun.net.httpserver.nodelay=true", source("demo/app/Backend.java"));
        }
        String server = Files.readString(repo.resolve("demo/lb/obi-lb.conf"))
                .replace("backend-a1:8080", "127.0.0.1:" + a1).replace("backend-a2:8080", "127.0.0.1:" + a2)
                .replace("backend-b1:8080", CLOUD_B + ":8080").replace("backend-b2:8080", CLOUD_B + ":8081")
                .replace("listen 80;", "listen 127.0.0.1:" + lbPort + ";")
                .replace("listen 443 ssl;", "listen 127.0.0.1:" + lbTlsPort + " ssl;")
                .replace("/etc/nginx/certs/lb.pem", lab.selfSignedCertificate().resolve("cert.pem").toString())
                .replace("/etc/nginx/certs/lb.key", lab.selfSignedCertificate().resolve("key.pem").toString())
                .replace("/var/log/nginx/access.log", lab.path("lb-access.log").toString());
        Files.writeString(lab.path("lb-server.conf"), server);
        Files.createDirectories(lab.path("lb-tmp"));
        String dir = lab.path("lb-tmp").toString();
        Files.writeString(lab.path("lb.conf"), """
                user root;
                worker_processes 1;
                pid %s/nginx.pid;
                error_log %s/error.log warn;
                events { worker_connections 4096; }
                http {
                  client_body_temp_path %s; proxy_temp_path %s; fastcgi_temp_path %s; uwsgi_temp_path %s; scgi_temp_path %s;
                  include %s;
                }
                """.formatted(dir, dir, dir, dir, dir, dir, dir, lab.path("lb-server.conf")));
        lab.start("lb", "nginx", "-p", dir, "-c", lab.path("lb.conf").toString(), "-g", "daemon off;");
        awaitHttp("http://127.0.0.1:" + lbPort + "/b/healthz", "lb");
        awaitHttp("http://127.0.0.1:" + lbPort + "/a/healthz", "lb");
    }

    private void startPrometheus() throws Exception {
        Path config = Files.createDirectories(lab.path("prometheus-config"));
        Files.writeString(config.resolve("prometheus.yml"), Files.readString(repo.resolve("prometheus/prometheus.yml"))
                .replace("host.docker.internal:9464", "127.0.0.1:" + lab.agentMetricsPort)
                .replace("collector:8889", "127.0.0.1:" + COLLECTOR_METRICS)
                .replace("collector:8888", "127.0.0.1:" + COLLECTOR_SELF)
                .replace("jaeger:14269", "127.0.0.1:14269"));
        Files.createDirectories(config.resolve("rules"));
        try (Stream<Path> rules = Files.list(repo.resolve("prometheus/rules"))) {
            for (Path rule : rules.filter(Files::isRegularFile).toList()) {
                Files.copy(rule, config.resolve("rules").resolve(rule.getFileName()));
            }
        }
        lab.start("prometheus", "prometheus", "--config.file=" + config.resolve("prometheus.yml"),
                "--storage.tsdb.path=" + lab.path("prometheus-data"), "--web.listen-address=127.0.0.1:" + prometheusPort,
                "--enable-feature=exemplar-storage,native-histograms");
        awaitHttp("http://127.0.0.1:" + prometheusPort + "/-/ready", "prometheus");
    }

    private String source(String relative) {
        return repo.resolve(relative).toString();
    }

    private static String java() {
        return Path.of(System.getProperty("java.home"), "bin", "java").toString();
    }

    private HttpResponse<String> get(String url) throws Exception {
        return http.send(HttpRequest.newBuilder(URI.create(url)).timeout(Duration.ofSeconds(10)).build(),
                HttpResponse.BodyHandlers.ofString());
    }

    private void awaitHttp(String url, String name) throws Exception {
        lab.awaitHttp(url, name, System.nanoTime() + Duration.ofSeconds(60).toNanos());
    }
}
