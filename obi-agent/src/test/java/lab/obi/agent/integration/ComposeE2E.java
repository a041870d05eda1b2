package lab.obi.agent.integration;

import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.ObjectMapper;
import org.junit.jupiter.api.AfterAll;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.MethodOrderer;
import org.junit.jupiter.api.Order;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.TestInstance;
import org.junit.jupiter.api.TestMethodOrder;

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
import java.util.ArrayList;
import java.util.List;
import java.util.Map;
import java.util.Set;
import java.util.concurrent.TimeUnit;
import java.util.regex.Matcher;
import java.util.regex.Pattern;

import static org.junit.jupiter.api.Assertions.*;

/**
 * The README's promise, end to end: the unchanged compose.yaml comes up under a real Docker engine,
 * the demo's traffic flows, `make incident` restarts cloud B's interfaces, and the incident arrives
 * in Prometheus and Jaeger through their public APIs. Run by e2e/run.sh (`make e2e`), which starts
 * the engine and builds the images; -Dobi.e2e.docker-host names the engine.
 */
@TestInstance(TestInstance.Lifecycle.PER_CLASS)
@TestMethodOrder(MethodOrderer.OrderAnnotation.class)
class ComposeE2E {

    private static final String PROMETHEUS = "http://127.0.0.1:9090";
    private static final String JAEGER = "http://127.0.0.1:16686";
    private static final int SCRAPE_SECONDS = 5;
    private static final Duration BASELINE = Duration.ofSeconds(40);
    private static final Duration AFTER_INCIDENT = Duration.ofSeconds(45);
    private static final Duration SLOW_BACKEND = Duration.ofSeconds(45);
    private static final String LB_B = "service_name=\"nginx\",http_route=~\"/b/.*\"";
    private static final String LB_A = "service_name=\"nginx\",http_route=~\"/a/.*\"";

    private final Path repo = Path.of(System.getProperty("obi.repo", "..")).toAbsolutePath().normalize();
    private final String dockerHost = System.getProperty("obi.e2e.docker-host", "");
    private final Path logs = Path.of("target/e2e-logs").toAbsolutePath();
    private final HttpClient http = HttpClient.newHttpClient();
    private final ObjectMapper json = new ObjectMapper();
    private final DashboardQueries prometheus = new DashboardQueries(repo, PROMETHEUS, SCRAPE_SECONDS);
    private long upSeconds;
    private long incidentSeconds;
    private long outageOverSeconds;
    private long endSeconds;
    private long slowBackendEndSeconds;

    @BeforeAll
    void composeUpAndReplayTheIncident() throws Exception {
        assertFalse(dockerHost.isEmpty(), "run through e2e/run.sh (make e2e): it starts the Docker engine");
        Files.createDirectories(logs);
        List<String> services = new ArrayList<>(compose(Duration.ofSeconds(30), "config", "--services").lines().toList());
        services.remove("grafana");
        progress("docker compose up --wait " + String.join(" ", services) + " (grafana: no image can be built here)");
        List<String> up = new ArrayList<>(List.of("up", "-d", "--wait", "--wait-timeout", "300"));
        up.addAll(services);
        try {
            compose(Duration.ofMinutes(6), up.toArray(String[]::new));
        } catch (IllegalStateException e) {
            keepLogs();
            fail("the stack did not come up healthy: " + e.getMessage() + "\n" + unhealthy());
        }
        upSeconds = now();
        progress("waiting for the agent's metrics of the demo in Prometheus");
        awaitSeries("http_server_request_duration_seconds_count{service_name=\"cloud-b\"}", Duration.ofMinutes(2));
        awaitSeries("http_server_request_duration_seconds_count{service_name=\"nginx\"}", Duration.ofSeconds(30));
        progress("baseline traffic for " + BASELINE.toSeconds() + " s");
        Thread.sleep(BASELINE.toMillis());
        incidentSeconds = now();
        progress("make incident");
        String incident = run(Duration.ofMinutes(1), "make", "-s", "-C", repo.toString(), "incident");
        Files.writeString(logs.resolve("incident.txt"), incident);
        assertTrue(incident.contains("routes re-applied"), incident);
        outageOverSeconds = now();
        progress("the incident's aftermath for " + AFTER_INCIDENT.toSeconds() + " s");
        Thread.sleep(AFTER_INCIDENT.toMillis());
        endSeconds = now();
        progress("make slow-backend SLOW_MS=300, then " + SLOW_BACKEND.toSeconds() + " s");
        run(Duration.ofMinutes(3), "make", "-s", "-C", repo.toString(), "slow-backend", "SLOW_MS=300");
        Thread.sleep(SLOW_BACKEND.toMillis());
        slowBackendEndSeconds = now();
        keepLogs();
    }

    @AfterAll
    void composeDownLeavesNothing() throws Exception {
        if (dockerHost.isEmpty()) {
            return;
        }
        keepLogs();
        progress("docker compose down -v");
        compose(Duration.ofMinutes(3), "down", "-v", "--remove-orphans");
        String label = "label=com.docker.compose.project=obi-lab";
        assertEquals("", docker("ps", "-aq", "--filter", label).trim(), "containers left behind");
        assertEquals("", docker("volume", "ls", "-q", "--filter", label).trim(), "volumes left behind");
        assertEquals("", docker("network", "ls", "-q", "--filter", label).trim(), "networks left behind");
    }

    @Test
    @Order(1)
    void prometheusHasTheAgentsRequestAndAbortMetricsForTheDemo() throws Exception {
        for (String service : List.of("nginx", "cloud-a", "cloud-b", "loadgen")) {
            assertTrue(prometheus.value("sum(http_server_request_duration_seconds_count{service_name=\"" + service
                    + "\"}) or sum(http_client_request_duration_seconds_count{service_name=\"" + service + "\"})",
                    endSeconds) > 0, "requests of " + service + " in Prometheus");
        }
        assertTrue(prometheus.rangeQuery("obi_http_abandoned_total{service_name=\"nginx\",obi_direction=\"server\"}",
                upSeconds, endSeconds).size() > 0, "the load balancer's abandon counters");
        assertEquals(1.0, prometheus.value("min(up{job=~\"obi-agent|otel-collector|otel-collector-self|jaeger\"})",
                endSeconds), "every scrape target up (the agent through the host gateway)");
    }

    @Test
    @Order(2)
    void the499RatioAndP99OfCloudBRiseDuringTheIncidentAndNotForCloudA() throws Exception {
        // `make incident` returns when the interfaces are up again; on a busy host `docker compose
        // exec` may take many seconds to start it, so the windows run from the command's start to
        // 20 s after the outage (requests stuck in it finish or are given up by then).
        long during = outageOverSeconds + 20;
        String window = "[" + (during - incidentSeconds) + "s]";
        double abandonedB = rise("obi_http_abandoned_total{" + LB_B + ",obi_direction=\"server\"}", during);
        double abandonedA = rise("obi_http_abandoned_total{" + LB_A + ",obi_direction=\"server\"}", during);
        double p99B = p99(LB_B, during, window);
        double p99A = p99(LB_A, during, window);
        double p99BBefore = p99(LB_B, incidentSeconds - 1, "[30s]");
        progress(String.format("incident: `make incident` took %d s; over %s: abandoned at the LB cloud B %.0f,"
                + " cloud A %.0f; p99 cloud B %.3f s (before %.3f s), cloud A %.3f s", outageOverSeconds - incidentSeconds,
                window, abandonedB, abandonedA, p99B, p99BBefore, p99A));
        assertTrue(abandonedB >= 3, "clients gave up on cloud B during the incident: " + abandonedB);
        assertTrue(abandonedB > 3 * abandonedA + 1, "cloud B " + abandonedB + " abandoned, cloud A " + abandonedA);
        assertTrue(p99B > 1.0 && p99B > 2 * p99BBefore, () -> "cloud B's p99 rose: " + p99BBefore + " -> " + p99B
                + "; cloud B's requests by duration bucket and status over the incident: " + incidentBuckets());
        assertTrue(p99A < p99B / 2, "cloud A's p99 stayed low: " + p99A + " (cloud B " + p99B + ")");
        double overHttps = rise("http_server_request_duration_seconds_count{" + LB_B
                + ",url_scheme=\"https\",http_response_status_code=\"499\"}", endSeconds);
        progress(String.format("incident: 499s of cloud B seen on the load balancer's TLS side: %.0f", overHttps));
        assertTrue(overHttps >= 1, "the mobile clients, over HTTPS, gave up on cloud B: " + overHttps);
    }

    @Test
    @Order(3)
    void theInterfaceRestartsAreRecorded() throws Exception {
        double outages = prometheus.value("sum(increase(obi_network_interface_state_changes_total"
                + "{obi_network_interface_state!=\"up\"}[" + (endSeconds - incidentSeconds + 10) + "s]))", endSeconds);
        double seconds = prometheus.value("sum(increase(obi_network_interface_downtime_seconds_total["
                + (endSeconds - incidentSeconds + 10) + "s]))", endSeconds);
        progress(String.format("interface outages: %.0f, %.2f s in all", outages, seconds));
        assertTrue(outages >= 2, "cloud B's two backends' veths went down: " + outages);
        assertTrue(seconds >= 2 * 2.5 && seconds < 2 * 6, "two outages of about 3 s: " + seconds);
    }

    @Test
    @Order(4)
    void jaegerHasTheAbandonedRequestsWithTheirEvidence() throws Exception {
        String tags = URLEncoder.encode("{\"http.response.status_code\":\"499\"}", StandardCharsets.UTF_8);
        JsonNode traces = json.readTree(get(JAEGER + "/api/traces?service=nginx&limit=100&lookback=1h&tags=" + tags))
                .path("data");
        assertTrue(traces.size() > 0, "no trace of an abandoned request in Jaeger: does the Collector's traces pipeline"
                + " reach Jaeger (otlp_grpc/jaeger), and does the tail sampler keep 499s?");
        int withEvidence = 0;
        for (JsonNode trace : traces) {
            boolean abandon = false;
            boolean network = false;
            for (JsonNode span : trace.path("spans")) {
                for (JsonNode log : span.path("logs")) {
                    for (JsonNode field : log.path("fields")) {
                        String value = field.path("value").asText();
                        abandon |= value.equals("obi.abandoned");
                        network |= value.equals("obi.network.interface.down") || value.equals("obi.tcp.retransmit");
                    }
                }
            }
            if (abandon && network) {
                withEvidence++;
            }
        }
        progress("Jaeger: " + traces.size() + " traces with a 499, " + withEvidence + " with the abandon and the network evidence");
        assertTrue(withEvidence > 0, "abandoned requests carry the abandon event and the interface outage or retransmits");
    }

    /**
     * The table "Slowest requests of the last 15 minutes and why", after the incident and a backend
     * made slow on purpose: network for cloud B's requests at the load balancer, processing for those
     * that waited on cloud A's slow backend and for that backend itself; Jaeger holds the slow spans
     * that the tail sampler kept, with their cause.
     */
    @Test
    @Order(5)
    void theSlowRequestsTableSaysNetworkForCloudBAndProcessingForTheSlowBackend() throws Exception {
        List<DashboardQueries.SlowRow> rows = prometheus.slowRequests(slowBackendEndSeconds);
        Map<String, Double> lbB = DashboardQueries.byCause(rows,
                r -> r.service().equals("nginx") && r.route().startsWith("/b/"));
        Map<String, Double> lbA = DashboardQueries.byCause(rows,
                r -> r.service().equals("nginx") && r.route().startsWith("/a/"));
        Map<String, Double> cloudA = DashboardQueries.byCause(rows, r -> r.service().equals("cloud-a"));
        progress("slow requests by cause: load balancer /b/ " + lbB + ", /a/ " + lbA + "; cloud-a " + cloudA);
        assertEquals("network", first(lbB), "cloud B's slow requests are the network's: " + lbB);
        assertEquals("processing", first(lbA), "the slow backend's requests at the load balancer: " + lbA);
        assertEquals("processing", first(cloudA), "the slow backend itself: " + cloudA);
        for (String cause : List.of("network", "processing")) {
            String tags = URLEncoder.encode("{\"obi.slow.cause\":\"" + cause + "\"}", StandardCharsets.UTF_8);
            int traces = json.readTree(get(JAEGER + "/api/traces?service=nginx&limit=20&lookback=1h&tags=" + tags))
                    .path("data").size();
            progress("Jaeger: " + traces + " traces of nginx with obi.slow.cause=" + cause);
            assertTrue(traces > 0, "the tail sampler keeps slow requests with their cause: " + cause);
        }
    }

    /** The cause with the most slow requests. */
    private static String first(Map<String, Double> byCause) {
        return byCause.entrySet().stream().max(Map.Entry.comparingByValue()).map(Map.Entry::getKey).orElse("none");
    }

    @Test
    @Order(6)
    void everyDashboardQueryReturnsDataAndEveryDatasourceIsProvisioned() throws Exception {
        assertEquals(List.of(), prometheus.unprovisionedDatasources(), "Grafana would show 'datasource not found'");
        DashboardQueries.Result result = prometheus.run(upSeconds, endSeconds);
        assertEquals(List.of(), result.empty(), "dashboard queries that returned nothing (of " + result.queries() + ")");
    }

    @Test
    @Order(7)
    void noUnexplainedDrops() throws Exception {
        assertEquals(0.0, prometheus.value("sum(obi_agent_dropped_total)", endSeconds),
                "the agent dropped data: " + prometheus.rangeQuery("obi_agent_dropped_total > 0", endSeconds - 5, endSeconds));
        assertEquals(0.0, prometheus.value("sum(otelcol_receiver_refused_spans{job=\"otel-collector-self\"})"
                + " + sum(otelcol_receiver_refused_metric_points{job=\"otel-collector-self\"})", endSeconds),
                "the Collector refused data (memory limiter)");
    }

    /**
     * The agent runs in the host's network namespace as root and its metrics name peers: nothing of the
     * stack may listen beyond loopback and the gateway of its own network, where Prometheus scrapes the
     * agent. The stack's sockets in the host's namespace are the agent's (its container's cgroup) and
     * Docker's proxies of published ports (their -container-ip is in the stack's network).
     */
    @Test
    @Order(8)
    void nothingOfTheStackListensBeyondLoopbackAndTheGateway() throws Exception {
        String gateway = docker("network", "inspect", "obi-lab_default", "-f", "{{(index .IPAM.Config 0).Gateway}}").trim();
        String subnetPrefix = gateway.substring(0, gateway.lastIndexOf('.') + 1);
        String agent = containerOf("obi-agent");
        List<String[]> stack = new ArrayList<>();
        for (String line : run(Duration.ofSeconds(30), "ss", "-Hltunp").lines().toList()) {
            Matcher socket = LISTENING.matcher(line);
            if (!socket.find()) {
                continue;
            }
            // a JVM's sockets are IPv6 ones that take IPv4 too: 127.0.0.1 shows as [::ffff:127.0.0.1]
            String address = socket.group(2).replaceAll("^\\[|\\]$|%.*$", "").replaceFirst("^::ffff:", "");
            for (Matcher process = PROCESS.matcher(line); process.find(); ) {
                long pid = Long.parseLong(process.group(2));
                String owner = ownerInStack(pid, agent, subnetPrefix);
                if (owner != null) {
                    stack.add(new String[] {socket.group(1), address, socket.group(3), owner});
                    break;
                }
            }
        }
        StringBuilder table = new StringBuilder("| process | protocol | address | port |\n|---|---|---|---|\n");
        stack.forEach(s -> table.append("| ").append(s[3]).append(" | ").append(s[0]).append(" | ").append(s[1])
                .append(" | ").append(s[2]).append(" |\n"));
        Files.writeString(logs.resolve("listening.md"), table);
        progress("the stack's listening sockets in the host's namespace:\n" + table);
        assertTrue(stack.stream().anyMatch(s -> s[3].equals("obi-agent") && s[1].equals(gateway) && s[2].equals("9464")),
                "the agent's metrics on the gateway " + gateway + ":9464:\n" + table);
        assertTrue(stack.stream().anyMatch(s -> s[3].equals("obi-agent") && s[1].equals("127.0.0.1") && s[2].equals("9465")),
                "the agent's health endpoints on 127.0.0.1:9465:\n" + table);
        List<String> exposed = stack.stream().filter(s -> !Set.of("127.0.0.1", "::1", gateway).contains(s[1]))
                .map(s -> s[3] + " " + s[1] + ":" + s[2]).toList();
        assertEquals(List.of(), exposed, "listening beyond loopback and the stack network's gateway");
    }

    private static final Pattern LISTENING = Pattern.compile("^(tcp|udp)\\s+\\S+\\s+\\d+\\s+\\d+\\s+(\\S+):(\\d+|\\*)\\s");
    private static final Pattern PROCESS = Pattern.compile("\\(\"([^\"]+)\",pid=(\\d+)");

    /** "obi-agent", "docker-proxy" (a published port of the stack), or null: not the stack's. */
    private static String ownerInStack(long pid, String agentContainer, String subnetPrefix) {
        try {
            if (Files.readString(Path.of("/proc", Long.toString(pid), "cgroup")).contains(agentContainer)) {
                return "obi-agent";
            }
            String[] argv = new String(Files.readAllBytes(Path.of("/proc", Long.toString(pid), "cmdline")),
                    StandardCharsets.UTF_8).split("\0");
            for (int i = 0; i + 1 < argv.length; i++) {
                if (argv[i].equals("-container-ip") && argv[i + 1].startsWith(subnetPrefix)) {
                    return "docker-proxy";
                }
            }
        } catch (IOException gone) {
            // a process that exited meanwhile listens no more
        }
        return null;
    }

    /**
     * How much the counters rose from just before the incident: the count then less the count
     * before. Their series are often born with the incident's first abandons, all in one scrape, and
     * increase() cannot count a series' first value (and extrapolates over a short window).
     */
    private double rise(String counters, long at) throws Exception {
        return prometheus.value("sum(" + counters + ")", at) - prometheus.value("sum(" + counters + ")", incidentSeconds - 1);
    }

    private double p99(String selector, long at, String window) throws Exception {
        return prometheus.value("histogram_quantile(0.99, sum by (le) (rate(http_server_request_duration_seconds_bucket{"
                + selector + "}" + window + ")))", at);
    }

    /** What a failed p99 check needs to be understood: the histogram itself, sampled every 5 s. */
    private String incidentBuckets() {
        try {
            return prometheus.rangeQuery("sum by (le, http_response_status_code) (http_server_request_duration_seconds_bucket{"
                    + LB_B + ",le=~\"0.5|1(\\\\.0)?|2.5|\\\\+Inf\"})", incidentSeconds - 10, outageOverSeconds + 30).toString();
        } catch (Exception e) {
            return "unavailable: " + e;
        }
    }

    private void awaitSeries(String selector, Duration timeout) throws Exception {
        long deadline = System.nanoTime() + timeout.toNanos();
        while (System.nanoTime() < deadline) {
            if (prometheus.value("sum(" + selector + ")", now()) > 0) {
                return;
            }
            Thread.sleep(2_000);
        }
        keepLogs();
        fail("no " + selector + " in Prometheus after " + timeout.toSeconds() + " s; the agent's log:\n"
                + tail(docker("logs", "--tail", "40", containerOf("obi-agent"))));
    }

    /** Which services are not healthy, with the end of their logs: the cause, named. */
    private String unhealthy() throws Exception {
        StringBuilder b = new StringBuilder();
        for (String line : compose(Duration.ofSeconds(30), "ps", "-a", "--format", "{{.Service}} {{.State}} {{.Health}}")
                .lines().toList()) {
            if (!line.matches("\\S+ running (healthy|)\\s*")) {
                String service = line.split(" ")[0];
                b.append(line).append("\n").append(tail(compose(Duration.ofSeconds(30), "logs", "--tail", "15", service)))
                        .append("\n");
            }
        }
        return b.toString();
    }

    private String containerOf(String service) throws Exception {
        return compose(Duration.ofSeconds(30), "ps", "-q", service).trim();
    }

    private void keepLogs() {
        try {
            Files.writeString(logs.resolve("compose.log"), compose(Duration.ofMinutes(1), "logs", "--no-color", "--timestamps"));
            Files.writeString(logs.resolve("ps.txt"), compose(Duration.ofSeconds(30), "ps", "-a"));
        } catch (Exception e) {
            System.err.println("could not keep the container logs: " + e.getMessage());
        }
    }

    private String compose(Duration timeout, String... arguments) throws Exception {
        List<String> command = new ArrayList<>(List.of("docker", "compose", "--project-directory", repo.toString()));
        command.addAll(List.of(arguments));
        return run(timeout, command.toArray(String[]::new));
    }

    private String docker(String... arguments) throws Exception {
        List<String> command = new ArrayList<>(List.of("docker"));
        command.addAll(List.of(arguments));
        return run(Duration.ofMinutes(1), command.toArray(String[]::new));
    }

    private String run(Duration timeout, String... command) throws Exception {
        ProcessBuilder builder = new ProcessBuilder(command).directory(repo.toFile()).redirectErrorStream(true);
        builder.environment().put("DOCKER_HOST", dockerHost);
        Process p = builder.start();
        byte[][] out = new byte[1][];
        Thread reader = new Thread(() -> {
            try {
                out[0] = p.getInputStream().readAllBytes();
            } catch (IOException e) {
                out[0] = new byte[0];
            }
        });
        reader.start();
        if (!p.waitFor(timeout.toMillis(), TimeUnit.MILLISECONDS)) {
            p.destroyForcibly();
            throw new IllegalStateException(String.join(" ", command) + " did not finish within " + timeout);
        }
        reader.join();
        String text = new String(out[0], StandardCharsets.UTF_8);
        if (p.exitValue() != 0) {
            throw new IllegalStateException(String.join(" ", command) + " exited " + p.exitValue() + ":\n" + tail(text));
        }
        return text;
    }

    private String get(String url) throws Exception {
        HttpResponse<String> r = http.send(HttpRequest.newBuilder(URI.create(url)).timeout(Duration.ofSeconds(20)).build(),
                HttpResponse.BodyHandlers.ofString());
        return r.body();
    }

    private static String tail(String text) {
        List<String> lines = text.lines().toList();
        return String.join("\n", lines.subList(Math.max(0, lines.size() - 40), lines.size()));
    }

    private static long now() {
        return System.currentTimeMillis() / 1000;
    }

    private static void progress(String message) {
        System.err.println("e2e: " + message);
    }
}
