package lab.obi.agent.integration;

import org.junit.jupiter.api.AfterAll;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.MethodOrderer;
import org.junit.jupiter.api.Order;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.TestInstance;
import org.junit.jupiter.api.TestMethodOrder;

import java.net.URI;
import java.net.URLEncoder;
import java.net.http.HttpClient;
import java.net.http.HttpRequest;
import java.net.http.HttpResponse;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Duration;
import java.util.ArrayList;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.OptionalDouble;
import java.util.Set;

import static org.junit.jupiter.api.Assertions.*;

/**
 * What the agent lets out of what it sees, with every output on: the request log, the Prometheus
 * endpoint scraped by Debian's Prometheus, spans and metrics pushed over OTLP into the lab's Collector,
 * and its own log. Distinctive secrets go through nginx (and on to the JDK backend) in a query string,
 * an Authorization header, a Cookie, another header, a request body and a response body, over HTTP
 * and HTTPS: none may come out anywhere. Then 100,000 distinct paths: the routes of a service stay
 * within obi.routes.max-per-service, the rest is counted as overflow. Last, with obi.routes.keep-query
 * on, the query's secret does come out: the search finds what is there. Figures:
 * target/reliability/exposure.md (docs/reliability.md).
 */
@TestInstance(TestInstance.Lifecycle.PER_CLASS)
@TestMethodOrder(MethodOrderer.OrderAnnotation.class)
class ExposureIT {

    private static final int DISTINCT_PATHS = 100_000;
    /**
     * wrk's connections: when it exits, each may have a request in flight that nginx never logs, so
     * each run asks for this many paths more than it needs.
     */
    private static final int CONNECTIONS = 16;
    /** Enough for nginx's and wrk's routes to reach their bound. */
    private static final int FIRST_PATHS = 2_000;
    /**
     * Sample lines that requests cut off when wrk exits may add after the bound: a status or an
     * error.type not seen before under /{overflow}, each a histogram of its own.
     */
    private static final int SERIES_SLACK = 200;
    private static final int MAX_ROUTES = 500; // obi.routes.max-per-service's default
    /** Each secret names where it was sent, so a find says which place leaked. */
    private static final Map<String, String> SECRETS = new LinkedHashMap<>();

    static {
        for (String place : List.of("query", "authorization", "cookie", "header", "requestbody", "responsebody")) {
            SECRETS.put(place, "obisecret" + place + "7f3a9c");
        }
    }

    private final HttpClient http = HttpClient.newHttpClient();
    private final List<String> rows = new ArrayList<>();
    private Lab lab;
    private CollectorServer collector;
    private PrometheusServer prometheus;

    @BeforeAll
    void everyOutputOn() throws Exception {
        lab = new Lab();
        lab.startBackends();
        lab.startNginx();
        Files.createDirectories(lab.path("static/routes"));
        Files.writeString(lab.path("static/secret.txt"), "the response body: " + SECRETS.get("responsebody") + "\n");
        collector = new CollectorServer(lab);
        collector.start();
        lab.startAgent(Map.of("OTEL_EXPORTER_OTLP_ENDPOINT", "http://127.0.0.1:" + collector.grpcPort,
                "OTEL_METRIC_EXPORT_INTERVAL", "1000"), "-Dobi.metrics.peer-addresses=true");
        prometheus = new PrometheusServer(lab);
        prometheus.start(lab.agentMetricsPort);
        rows.add("| check | figure |");
        rows.add("|---|---|");
    }

    @AfterAll
    void report() throws Exception {
        if (lab == null) {
            return;
        }
        try {
            Path out = Path.of(System.getProperty("obi.reliability.dir", "target/reliability")).resolve("exposure.md");
            Files.createDirectories(out.getParent());
            Files.writeString(out, String.join("\n", rows) + "\n");
        } finally {
            collector.stop();
            lab.close();
        }
    }

    /** With its defaults the agent, root in the host's network namespace, listens on loopback only. */
    @Test
    @Order(0)
    void theAgentListensOnLoopbackOnly() throws Exception {
        List<String> sockets = listeningSocketsOf(lab.agentPid());
        rows.add("| the agent's listening sockets with its defaults (`ss -ltunp`) | " + String.join(", ", sockets) + " |");
        Set<String> endpoints = Set.of("127.0.0.1:" + lab.agentMetricsPort, "127.0.0.1:" + lab.agentHealthPort);
        assertTrue(sockets.size() == endpoints.size() && endpoints.containsAll(sockets),
                "the metrics and health endpoints, on loopback, nothing else: " + sockets);
    }

    @Test
    @Order(1)
    void noSecretReachesAnyOutput() throws Exception {
        assertEquals(OptionalDouble.of(1), prometheus.awaitValue("up", 1, Duration.ofSeconds(30)), "Prometheus scrapes the agent");
        int sent = 0;
        for (String base : List.of("http://127.0.0.1:" + lab.nginxPort, "https://127.0.0.1:" + lab.nginxTlsPort)) {
            for (String path : List.of("/jdk/fast", "/local", "/static/secret.txt")) {
                sendWithSecrets(base + path, "GET");
                sendWithSecrets(base + path, "POST");
                sent += 2;
            }
        }
        assertEquals(OptionalDouble.of(4), prometheus.awaitValue("sum(http_server_request_duration_seconds_count{"
                + "service_name=\"nginx\",http_route=\"/local\"})", 4, Duration.ofSeconds(30)), "the metrics were scraped");
        Thread.sleep(2_000); // an OTLP metric push (1 s), the span batch
        String endpoint = scrape();
        lab.stopAgent(); // the request log and the spans are flushed at the exit
        Thread.sleep(2_000); // the Collector's file exporter flushes every second

        Map<String, String> outputs = outputs();
        outputs.put("agent's scrape endpoint (OpenMetrics, exemplars)", endpoint);
        assertTrue(outputs.get("request log").contains("\"route\":\"/jdk/fast\""), "the requests were reported");
        assertTrue(outputs.get("Collector: spans").contains("/static/secret.txt"), "the spans arrived");
        assertTrue(outputs.get("Collector: OTLP metrics").contains("/local"), "the OTLP metrics arrived");
        assertTrue(outputs.get("Prometheus: series").contains("/static/secret.txt"), "the series are listed");
        List<String> leaks = new ArrayList<>();
        outputs.forEach((output, text) -> SECRETS.forEach((place, secret) -> {
            if (text.contains(secret)) {
                leaks.add("the " + place + " secret in the " + output);
            }
        }));
        rows.add("| requests sent with a secret in each of " + String.join(", ", SECRETS.keySet())
                + " (through nginx to the JDK backend, HTTP and HTTPS) | " + sent + " |");
        outputs.forEach((output, text) -> rows.add("| secrets found in the " + output + " (" + text.length()
                + " characters searched) | " + SECRETS.values().stream().filter(text::contains).count() + " |"));
        assertEquals(List.of(), leaks);
    }

    /**
     * wrk requests paths it never requested before, first 2,000 of them (both services reach their bound
     * of routes), then the rest of 100,000: the series on the agent's endpoint stop growing at the bound, and
     * every request that fell into /{overflow} is counted, server side (nginx) and client side (wrk).
     */
    @Test
    @Order(2)
    void routesOfAHundredThousandDistinctPathsStayBoundedAndTheOverflowIsCounted() throws Exception {
        lab.startAgent("-Dobi.request-log.enabled=false");
        assertEquals(OptionalDouble.of(1), prometheus.awaitValue("up", 1, Duration.ofSeconds(30)), "Prometheus scrapes the agent");
        long rssBefore = rssKiB();
        int seriesBefore = seriesOnTheEndpoint();
        long started = System.nanoTime();
        requestNewPaths(1, FIRST_PATHS);
        Thread.sleep(2_000); // the last exchanges through the agent's pipeline
        int seriesAtTheBound = seriesOnTheEndpoint();
        requestNewPaths(FIRST_PATHS + 1, DISTINCT_PATHS + 2 * CONNECTIONS);
        long seconds = Duration.ofNanos(System.nanoTime() - started).toSeconds();
        List<String> paths = Files.readAllLines(lab.path("logs/access.log")).stream()
                .map(line -> NginxLog.parse(line).path()).filter(path -> path.startsWith("/static/routes/")).toList();
        long distinct = paths.stream().distinct().count();
        String nginx = "service_name=\"nginx\"";
        OptionalDouble requests = prometheus.awaitValue("sum(http_server_request_duration_seconds_count{" + nginx
                + ",http_route=~\"/static/routes/.*|/\\\\{overflow}\"})", paths.size(), Duration.ofSeconds(30));
        String overflowed = "sum(http_server_request_duration_seconds_count{http_route=\"/{overflow}\"})"
                + " + sum(http_client_request_duration_seconds_count{http_route=\"/{overflow}\"})";
        double overflowedRequests = prometheus.query(overflowed).orElseThrow();
        OptionalDouble overflows = prometheus.awaitValue("max(obi_agent_route_overflows_total)", overflowedRequests,
                Duration.ofSeconds(30));
        double routes = prometheus.query("count(count by (http_route) (http_server_request_duration_seconds_count{"
                + nginx + "}))").orElseThrow();
        double clientRoutes = prometheus.query("count(count by (http_route) (http_client_request_duration_seconds_count{"
                + "service_name=\"wrk\"}))").orElseThrow();
        int seriesAfter = seriesOnTheEndpoint();
        long rssAfter = rssKiB();
        rows.add("| requests to paths never requested before, from wrk to nginx (" + seconds + " s; nginx's access log) | "
                + String.format("%,d requests, %,d distinct paths (%,.0f counted by the agent)", paths.size(), distinct,
                requests.orElse(0)) + " |");
        rows.add("| `http.route` values of nginx, of wrk (bound: " + MAX_ROUTES + " per service, and `/{overflow}`) | "
                + String.format("%.0f, %.0f", routes, clientRoutes) + " |");
        rows.add("| requests counted as route overflow (`obi_agent_route_overflows_total`), requests under `/{overflow}`"
                + " in the metrics (both sides) | " + String.format("%,.0f, %,.0f", overflows.orElse(-1), overflowedRequests) + " |");
        rows.add("| sample lines on the agent's scrape endpoint: before, after " + String.format("%,d", FIRST_PATHS)
                + " paths, after " + String.format("%,d", distinct) + " | " + seriesBefore + ", " + seriesAtTheBound + ", " + seriesAfter + " |");
        rows.add("| agent RSS before and after | " + rssBefore / 1024 + " MiB, " + rssAfter / 1024 + " MiB |");
        assertTrue(distinct >= DISTINCT_PATHS, "distinct paths requested: " + distinct);
        assertEquals(OptionalDouble.of(paths.size()), requests, "every request counted, under its route or the overflow");
        assertTrue(routes <= MAX_ROUTES + 1 && clientRoutes <= MAX_ROUTES + 1,
                "routes per service within the bound: nginx " + routes + ", wrk " + clientRoutes);
        assertTrue(overflowedRequests >= 2.0 * (distinct - 2 * MAX_ROUTES), "both sides overflowed: " + overflowedRequests);
        assertEquals(OptionalDouble.of(overflowedRequests), overflows, "every request under /{overflow} is counted as one");
        assertTrue(seriesAfter <= seriesAtTheBound + SERIES_SLACK, "series stop growing at the bound: " + seriesAtTheBound
                + " after " + FIRST_PATHS + " paths, " + seriesAfter + " after " + distinct);
    }

    /** wrk requests the paths numbered first to last, each once (distinct-paths.lua), and exits. */
    private void requestNewPaths(int first, int last) throws Exception {
        int exit = lab.run("wrk", Duration.ofMinutes(5), "wrk", "-t1", "-c" + CONNECTIONS, "-d600s", "-s",
                lab.copyResource("distinct-paths.lua").toString(), "http://127.0.0.1:" + lab.nginxPort, "--",
                Integer.toString(first), Integer.toString(last));
        assertEquals(0, exit, "wrk: " + Files.readString(lab.log("wrk")));
    }

    /** The control: with keep-query on, the query string is in the routes, secret and all. */
    @Test
    @Order(3)
    void withKeepQueryOnTheQueryComesOutAsTheSearchWouldShow() throws Exception {
        lab.stopAgent();
        Files.deleteIfExists(lab.path("requests.jsonl"));
        lab.startAgent("-Dobi.routes.keep-query=true");
        sendWithSecrets("http://127.0.0.1:" + lab.nginxPort + "/local", "GET");
        lab.stopAgent();
        String log = Files.readString(lab.path("requests.jsonl"));
        assertTrue(log.contains(SECRETS.get("query")), "keep-query puts the query in the route");
        rows.add("| the control: with `obi.routes.keep-query=true`, the query's secret in the request log | found |");
    }

    /** One request with a secret in every place a request can carry one, through curl (HTTPS: -k). */
    private void sendWithSecrets(String url, String method) throws Exception {
        List<String> command = new ArrayList<>(List.of("curl", "-sS", "-k", "-o", "/dev/null", "-X", method,
                "-H", "Authorization: Bearer " + SECRETS.get("authorization"),
                "-H", "Cookie: session=" + SECRETS.get("cookie"),
                "-H", "X-Api-Key: " + SECRETS.get("header")));
        if (method.equals("POST")) {
            command.addAll(List.of("--data-binary", "password=" + SECRETS.get("requestbody")));
        }
        command.add(url + "?token=" + URLEncoder.encode(SECRETS.get("query"), StandardCharsets.UTF_8));
        assertEquals(0, lab.run("curl", Duration.ofSeconds(20), command.toArray(String[]::new)), url);
    }

    /** Every output of the agent, as text, by name. */
    private Map<String, String> outputs() throws Exception {
        Map<String, String> outputs = new LinkedHashMap<>();
        outputs.put("request log", Files.readString(lab.path("requests.jsonl")));
        outputs.put("agent's own log", lab.agentLog());
        outputs.put("Collector: spans", read(lab.path("collector-traces.jsonl")));
        outputs.put("Collector: OTLP metrics", read(lab.path("collector-metrics.jsonl")));
        String everything = URLEncoder.encode("{__name__=~\".+\"}", StandardCharsets.UTF_8);
        outputs.put("Prometheus: series", prometheus.api("/api/v1/series?match[]=" + everything));
        long now = System.currentTimeMillis() / 1000;
        outputs.put("Prometheus: exemplars", prometheus.api("/api/v1/query_exemplars?query=" + everything
                + "&start=" + (now - 600) + "&end=" + now));
        return outputs;
    }

    private static String read(Path file) throws Exception {
        return Files.exists(file) ? Files.readString(file) : "";
    }

    /** Sample lines on the agent's endpoint, in the OpenMetrics format (exemplars included). */
    private int seriesOnTheEndpoint() throws Exception {
        return (int) scrape().lines().filter(line -> !line.startsWith("#") && !line.isBlank()).count();
    }

    private String scrape() throws Exception {
        return http.send(HttpRequest.newBuilder(URI.create("http://127.0.0.1:" + lab.agentMetricsPort + "/metrics"))
                .header("Accept", "application/openmetrics-text; version=1.0.0").build(),
                HttpResponse.BodyHandlers.ofString()).body();
    }

    /** "address:port" of each socket the process listens on, TCP and UDP, as ss shows them. */
    private List<String> listeningSocketsOf(long pid) throws Exception {
        Process ss = new ProcessBuilder("ss", "-Hltunp").redirectErrorStream(true).start();
        String out = new String(ss.getInputStream().readAllBytes(), StandardCharsets.UTF_8);
        assertEquals(0, ss.waitFor(), "ss: " + out);
        List<String> sockets = new ArrayList<>();
        for (String line : out.lines().filter(l -> l.contains("pid=" + pid + ",")).toList()) {
            // Netid State Recv-Q Send-Q Local:Port Peer:Port Process; the JVM's sockets are IPv6 ones that
            // take IPv4 too: an IPv4 address shows as [::ffff:127.0.0.1]
            sockets.add(line.trim().split("\\s+")[4].replace("[::ffff:", "").replace("]:", ":"));
        }
        return sockets;
    }

    private long rssKiB() throws Exception {
        for (String line : Files.readAllLines(Path.of("/proc", Long.toString(lab.agentPid()), "status"))) {
            if (line.startsWith("VmRSS:")) {
                return Long.parseLong(line.replaceAll("\\D", ""));
            }
        }
        throw new AssertionError("no VmRSS for the agent");
    }
}
