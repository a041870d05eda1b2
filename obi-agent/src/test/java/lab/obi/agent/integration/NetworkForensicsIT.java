package lab.obi.agent.integration;

import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.ObjectMapper;
import org.junit.jupiter.api.AfterAll;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.TestInstance;

import java.net.URI;
import java.net.http.HttpClient;
import java.net.http.HttpRequest;
import java.net.http.HttpResponse;
import java.nio.file.Files;
import java.time.Duration;
import java.util.ArrayList;
import java.util.List;
import java.util.regex.Matcher;
import java.util.regex.Pattern;

import static org.junit.jupiter.api.Assertions.*;

/**
 * The seed incident in miniature: nginx on the host proxies to a Python backend in a network
 * namespace behind a veth pair, and the link goes away the way `netplan apply` takes it away.
 * A 300 ms flap of the host side is detected with its duration; while the backend's side is down,
 * a client with a 1 s timeout abandons its request through nginx (499), nginx's upstream request
 * retransmits. SYNs lost on arrival make a new connection's handshake retry. Each record carries that evidence.
 */
@TestInstance(TestInstance.Lifecycle.PER_CLASS)
class NetworkForensicsIT {

    private static final int PORT = 8080;
    private static final String BACKEND = "10.214.0.2";
    private static final long FLAP_MS = 300;
    private static final long OUTAGE_MS = 2_500;
    private static final long SYN_DROP_MS = 1_500;

    private Lab lab;
    private final String ns = "obi-flap-" + ProcessHandle.current().pid();
    private final String hostSide = "obif" + (ProcessHandle.current().pid() % 100000);
    private final int nginxPort = Lab.freePort();
    private final List<JsonNode> records = new ArrayList<>();
    private String metrics;
    private String agentLog;
    private int abandonedCurlExit;
    private int slowConnectCurlExit;

    @BeforeAll
    void flapTheLinkUnderTraffic() throws Exception {
        lab = new Lab();
        VethNamespace net = VethNamespace.create(ns, hostSide, "obifn0", "10.214.0.1/30", BACKEND + "/30");
        lab.startWithEnvironment("py-flap", java.util.Map.of("OTEL_SERVICE_NAME", "cloud-b"), "ip", "netns", "exec",
                ns, "python3", lab.copyResource("py_backend.py").toString(), Integer.toString(PORT), BACKEND);
        Files.createDirectories(lab.path("logs"));
        Files.createDirectories(lab.path("tmp"));
        String conf = new String(NetworkForensicsIT.class.getResourceAsStream("/integration/flap-nginx.conf")
                .readAllBytes()).replace("@DIR@", lab.path("").toString()).replace("@PORT@", Integer.toString(nginxPort))
                .replace("@BACKEND@", BACKEND + ":" + PORT);
        Files.writeString(lab.path("flap-nginx.conf"), conf);
        lab.start("flap-nginx", "nginx", "-p", lab.path("").toString(), "-c", lab.path("flap-nginx.conf").toString(),
                "-g", "daemon off;");
        lab.startAgent();
        HttpClient client = HttpClient.newBuilder().version(HttpClient.Version.HTTP_1_1).build();
        awaitThroughNginx(client);
        for (int i = 0; i < 20; i++) { // nginx's keep-alive connections to the backend, and a baseline
            assertEquals(200, client.send(request("/b/fast?warm=" + i), HttpResponse.BodyHandlers.discarding())
                    .statusCode());
        }

        // 1. The host side configured down for 300 ms and back, like `ip link set down/up` in netplan apply.
        Lab.sh("ip", "link", "set", hostSide, "down");
        Thread.sleep(FLAP_MS);
        Lab.sh("ip", "link", "set", hostSide, "up");
        Thread.sleep(1_500);

        // 2. The backend's side down for 2.5 s: the host side loses its carrier and drops what it sends.
        net.exec("ip", "link", "set", "obifn0", "down");
        long outageStart = System.nanoTime();
        Process abandoning = new ProcessBuilder("curl", "-s", "-o", "/dev/null", "-m", "1",
                "http://127.0.0.1:" + nginxPort + "/b/fast?case=abandoned").start();
        Thread.sleep(Math.max(0, OUTAGE_MS - (System.nanoTime() - outageStart) / 1_000_000));
        net.exec("ip", "link", "set", "obifn0", "up");
        abandonedCurlExit = abandoning.waitFor();
        Thread.sleep(1_000); // the host relearns the backend's MAC; until then a connect fails with no route

        // 3. SYNs lost on arrival for 1.5 s: a new connection needs retries.
        String[] dropSyns = {"INPUT", "-p", "tcp", "--dport", Integer.toString(PORT), "--syn", "-j", "DROP"};
        net.exec(concat("iptables", "-I", dropSyns));
        Process connecting = new ProcessBuilder("curl", "-s", "-o", "/dev/null", "-m", "8",
                "http://" + BACKEND + ":" + PORT + "/fast?case=syn-retries").start();
        Thread.sleep(SYN_DROP_MS);
        net.exec(concat("iptables", "-D", dropSyns));
        slowConnectCurlExit = connecting.waitFor();
        Thread.sleep(1_000);

        metrics = client.send(HttpRequest.newBuilder(URI.create("http://127.0.0.1:" + lab.agentMetricsPort
                + "/metrics")).build(), HttpResponse.BodyHandlers.ofString()).body();
        ObjectMapper json = new ObjectMapper();
        for (String line : Files.readAllLines(lab.stopAgent())) {
            records.add(json.readTree(line));
        }
        agentLog = lab.agentLog();
    }

    @AfterAll
    void removeTheNetwork() throws Exception {
        if (lab != null) {
            lab.close();
        }
        VethNamespace.remove(ns, hostSide);
    }

    @Test
    void aThreeHundredMillisecondFlapIsDetectedWithItsDuration() {
        Matcher count = metric("obi_network_interface_outage_duration_seconds_count", "down");
        Matcher sum = metric("obi_network_interface_outage_duration_seconds_sum", "down");
        assertTrue(count.find() && sum.find(), "outage metrics for " + hostSide + " in:\n" + grepMetrics());
        assertEquals(1.0, Double.parseDouble(count.group(1)), "one configured-down outage");
        double seconds = Double.parseDouble(sum.group(1));
        assertTrue(seconds >= FLAP_MS / 1000.0 * 0.9 && seconds < FLAP_MS / 1000.0 + 0.25,
                "a " + FLAP_MS + " ms flap measured as " + seconds + " s");
        assertTrue(agentLog.contains("interface " + hostSide + " carries traffic again after"), agentLog);
        Matcher carrier = metric("obi_network_interface_outage_duration_seconds_sum", "no_carrier");
        assertTrue(carrier.find(), "the peer going down is a carrier loss:\n" + grepMetrics());
        double carrierSeconds = Double.parseDouble(carrier.group(1));
        assertTrue(carrierSeconds >= OUTAGE_MS / 1000.0 * 0.9 && carrierSeconds < OUTAGE_MS / 1000.0 + 0.5,
                "a " + OUTAGE_MS + " ms outage measured as " + carrierSeconds + " s");
        System.out.printf("== interface outages: %d ms down measured %.3f s; %d ms without carrier measured %.3f s%n",
                FLAP_MS, seconds, OUTAGE_MS, carrierSeconds);
    }

    @Test
    void theRequestAbandonedDuringTheOutageShows499TheOutageAndTheRetransmits() {
        assertEquals(28, abandonedCurlExit, "curl gave up after its 1 s timeout");
        JsonNode abandoned = records.stream().filter(r -> r.path("direction").asText().equals("server")
                        && r.path("comm").asText().equals("nginx") && r.path("route").asText().equals("/b/fast"))
                .filter(r -> r.path("status").asInt() == 499).findFirst()
                .orElseThrow(() -> new AssertionError("no 499 at nginx in:\n" + nginxRecords()));
        assertTrue(abandoned.path("aborted").asBoolean());
        assertTrue(outageNames(abandoned).contains(hostSide), "the 499 carries the outage: " + abandoned);

        long start = abandoned.path("start_unix_ns").asLong();
        long end = start + abandoned.path("duration_ns").asLong();
        JsonNode upstream = records.stream().filter(r -> r.path("direction").asText().equals("client")
                        && r.path("comm").asText().equals("nginx") && r.path("peer_address").asText().equals(BACKEND)
                        && r.path("start_unix_ns").asLong() >= start && r.path("start_unix_ns").asLong() <= end)
                .findFirst().orElseThrow(() -> new AssertionError("nginx's upstream request in:\n" + nginxRecords()));
        assertTrue(upstream.path("retransmits").asInt() >= 1, "the upstream request retransmitted: " + upstream);
        assertTrue(upstream.path("first_retransmit_unix_ns").asLong() >= start, upstream.toString());
        assertTrue(outageNames(upstream).contains(hostSide), upstream.toString());
        assertFalse(upstream.path("new_connection").asBoolean(), "a keep-alive connection: " + upstream);
        System.out.printf("== 499 during the outage after %.0f ms, outages %s; nginx upstream: %d retransmits, first after %.0f ms%n",
                abandoned.path("duration_ns").asLong() / 1e6, outageNames(abandoned), upstream.path("retransmits").asInt(),
                (upstream.path("first_retransmit_unix_ns").asLong() - upstream.path("start_unix_ns").asLong()) / 1e6);
    }

    @Test
    void aNewConnectionDuringTheOutageShowsItsSynRetries() {
        assertEquals(0, slowConnectCurlExit, "curl got through once the link was back");
        JsonNode slow = records.stream().filter(r -> r.path("direction").asText().equals("client")
                        && r.path("comm").asText().equals("curl") && r.path("peer_address").asText().equals(BACKEND))
                .findFirst().orElseThrow(() -> new AssertionError("curl's record"));
        assertTrue(slow.path("new_connection").asBoolean());
        assertTrue(slow.path("syn_retransmits").asInt() >= 1, slow.toString());
        // The handshake completed at the first SYN retry after the drops (1 s apart on Linux >= 6.5, else 1 s, 2 s, ...).
        assertTrue(slow.path("connect_ns").asLong() >= SYN_DROP_MS * 1_000_000L, slow.toString());
        assertTrue(slow.path("connect_ns").asLong() < slow.path("syn_retransmits").asLong() * 4_000_000_000L,
                "no longer than its retries explain: " + slow);
        assertTrue(slow.path("rtt_us").asLong() > 0, slow.toString());

        JsonNode warm = records.stream().filter(r -> r.path("direction").asText().equals("client")
                && r.path("comm").asText().equals("nginx") && r.path("route").asText().equals("/fast")
                && r.path("new_connection").asBoolean()).findFirst().orElseThrow();
        assertEquals(0, warm.path("syn_retransmits").asInt(), warm.toString());
        assertTrue(warm.path("connect_ns").asLong() < 100_000_000L, "an undisturbed handshake: " + warm);
        System.out.printf("== connect with SYNs dropped for %d ms: %.3f s, %d SYN retransmits; undisturbed: %.3f ms, rtt %d us%n",
                SYN_DROP_MS, slow.path("connect_ns").asLong() / 1e9, slow.path("syn_retransmits").asInt(),
                warm.path("connect_ns").asLong() / 1e6, warm.path("rtt_us").asLong());
    }

    private Matcher metric(String name, String cause) {
        return Pattern.compile("(?m)^" + name + "\\{(?=[^}]*network_interface_name=\"" + hostSide + "\")"
                + "(?=[^}]*obi_network_interface_cause=\"" + cause + "\")[^}]*} ([0-9.eE+-]+)").matcher(metrics);
    }

    private String grepMetrics() {
        return metrics.lines().filter(l -> l.contains("interface")).reduce("", (a, b) -> a + b + "\n");
    }

    private List<String> nginxRecords() {
        return records.stream().filter(r -> r.path("comm").asText().equals("nginx")).map(JsonNode::toString).toList();
    }

    private static List<String> outageNames(JsonNode record) {
        List<String> names = new ArrayList<>();
        record.path("interface_outages").forEach(o -> names.add(o.path("interface").asText()));
        return names;
    }

    private HttpRequest request(String path) {
        return HttpRequest.newBuilder(URI.create("http://127.0.0.1:" + nginxPort + path))
                .timeout(Duration.ofSeconds(10)).build();
    }

    private void awaitThroughNginx(HttpClient client) throws Exception {
        long deadline = System.nanoTime() + Duration.ofSeconds(20).toNanos();
        while (true) {
            try {
                if (client.send(request("/b/fast"), HttpResponse.BodyHandlers.discarding()).statusCode() == 200) {
                    return;
                }
            } catch (java.io.IOException notYet) {
                // not listening yet
            }
            if (System.nanoTime() > deadline) {
                throw new IllegalStateException("backend in " + ns + " not reachable through nginx:\n"
                        + Files.readString(lab.log("py-flap")) + Files.readString(lab.log("flap-nginx")));
            }
            Thread.sleep(200);
        }
    }

    private static String[] concat(String command, String option, String[] rest) {
        List<String> all = new ArrayList<>(List.of(command, option));
        all.addAll(List.of(rest));
        return all.toArray(String[]::new);
    }

}
