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
import java.nio.file.Files;
import java.time.Duration;
import java.util.ArrayList;
import java.util.HashMap;
import java.util.List;
import java.util.Map;
import java.util.regex.Matcher;
import java.util.regex.Pattern;

import static org.junit.jupiter.api.Assertions.*;

/**
 * A Python server in its own network namespace behind a veth pair; iptables' statistic match drops
 * a share of the client's segments as they arrive, so the client retransmits its requests. The requests that
 * suffered carry their retransmits, and took at least one retransmission timeout.
 */
@TestInstance(TestInstance.Lifecycle.PER_CLASS)
class RetransmitIT {

    private static final int REQUESTS = 60;
    private static final int PORT = 8080;
    private static final String SERVER = "10.213.0.2";
    private static final long MIN_RTO_NS = 200_000_000L;
    private static final Pattern TOTAL_RETRANS = Pattern.compile("\\bretrans:\\d+/(\\d+)");

    private Lab lab;
    private final String ns = "obi-rt-" + ProcessHandle.current().pid();
    private final String hostSide = "obih" + (ProcessHandle.current().pid() % 100000);
    private final List<JsonNode> records = new ArrayList<>();
    /** The kernel's own count per client connection still open (tcp_info's total_retrans), by local port. */
    private final Map<Integer, Integer> kernelRetransmits = new HashMap<>();
    private long clientPid;

    @BeforeAll
    void requestsThroughALossyLink() throws Exception {
        lab = new Lab();
        VethNamespace net = VethNamespace.create(ns, hostSide, "obins0", "10.213.0.1/30", SERVER + "/30");
        lab.start("py-netns", "ip", "netns", "exec", ns, "python3", lab.copyResource("py_backend.py").toString(),
                Integer.toString(PORT), SERVER);
        lab.startAgent();
        HttpClient client = HttpClient.newBuilder().version(HttpClient.Version.HTTP_1_1).build();
        awaitServer(client);
        // The requests' data segments (not SYNs) are lost on arrival in the namespace, as on a real link:
        // a drop in the sender's own OUTPUT chain is a local error to TCP, not a loss it retransmits.
        net.exec("iptables", "-I", "INPUT", "-p", "tcp", "--dport", Integer.toString(PORT),
                "-m", "length", "--length", "100:65535", "-m", "statistic", "--mode", "random", "--probability", "0.3",
                "-j", "DROP");
        // A request whose segment is lost 6 times in a row waits 12.6 s of backed-off RTOs, and 25.4 s after
        // a 7th: at 30% loss, one run in 25 had such a request with a 20 s timeout. With 60 s it takes 8 losses.
        for (int i = 0; i < REQUESTS; i++) {
            HttpResponse<String> r = client.send(HttpRequest.newBuilder(URI.create("http://" + SERVER + ":" + PORT
                    + "/fast?i=" + i)).timeout(Duration.ofSeconds(60)).build(), HttpResponse.BodyHandlers.ofString());
            assertEquals(200, r.statusCode());
        }
        clientPid = ProcessHandle.current().pid();
        kernelRetransmits.putAll(retransmitsByLocalPort(Lab.sh("ss", "-tin", "dst", SERVER, "dport", "=", ":" + PORT)));
        records.addAll(RequestLog.read(lab.stopAgent()).exchanges());
    }

    /** ss -ti: a connection's line, then its tcp_info with "retrans:now/total" once it retransmitted. */
    static Map<Integer, Integer> retransmitsByLocalPort(String ss) {
        Map<Integer, Integer> byPort = new HashMap<>();
        Integer port = null;
        for (String line : ss.split("\n")) {
            String[] columns = line.trim().split("\\s+");
            if (line.startsWith("ESTAB") && columns.length >= 5) {
                port = Integer.valueOf(columns[3].substring(columns[3].lastIndexOf(':') + 1));
                byPort.put(port, 0);
            } else if (port != null) {
                Matcher m = TOTAL_RETRANS.matcher(line);
                if (m.find()) {
                    byPort.put(port, Integer.valueOf(m.group(1)));
                }
            }
        }
        return byPort;
    }

    private void awaitServer(HttpClient client) throws Exception {
        long deadline = System.nanoTime() + Duration.ofSeconds(20).toNanos();
        while (true) {
            try {
                client.send(HttpRequest.newBuilder(URI.create("http://" + SERVER + ":" + PORT + "/fast")).build(),
                        HttpResponse.BodyHandlers.discarding());
                return;
            } catch (java.io.IOException notYet) {
                if (System.nanoTime() > deadline) {
                    throw new IllegalStateException("server in " + ns + " not reachable:\n"
                            + Files.readString(lab.log("py-netns")));
                }
                Thread.sleep(200);
            }
        }
    }

    @AfterAll
    void removeTheNetwork() throws Exception {
        if (lab != null) {
            lab.close();
        }
        VethNamespace.remove(ns, hostSide);
    }

    private List<JsonNode> clientRecords() {
        return records.stream().filter(r -> r.path("direction").asText().equals("client")
                && r.path("pid").asLong() == clientPid && r.path("peer_address").asText().equals(SERVER)
                && r.path("route").asText().equals("/fast") && r.path("start_unix_ns").asLong() > 0).toList();
    }

    @Test
    void requestsThatSufferedCarryTheirRetransmitsAndTheTimeout() {
        List<JsonNode> mine = clientRecords();
        assertTrue(mine.size() >= REQUESTS, "client records: " + mine.size());
        List<JsonNode> retransmitted = mine.stream().filter(r -> r.path("retransmits").asInt() > 0).toList();
        assertTrue(retransmitted.size() >= REQUESTS / 10,
                "about 30% of the requests lost a segment: " + retransmitted.size() + " of " + mine.size());
        for (JsonNode r : retransmitted) {
            assertTrue(r.path("duration_ns").asLong() >= MIN_RTO_NS, "a retransmitted request waited an RTO: " + r);
        }
        // A request can also be slow because the server was: a busy host stalls the Python server as
        // long as an RTO now and then. The server's own record of the same request tells which.
        List<String> slowWithout = mine.stream().filter(r -> r.path("retransmits").asInt() == 0
                        && r.path("duration_ns").asLong() >= MIN_RTO_NS && !serverTookHalfOf(r))
                .map(r -> r + "\n  the server's record of it: " + serverRecord(r)).toList();
        assertEquals(List.of(), slowWithout,
                "every request slower than an RTO, where the server was quick, shows retransmits");
    }

    /** The server's record of a client's request: the same connection (the client's port) and index. */
    private JsonNode serverRecord(JsonNode client) {
        return records.stream().filter(r -> r.path("direction").asText().equals("server")
                        && r.path("local_address").asText().equals(SERVER)
                        && r.path("peer_port").asInt() == client.path("local_port").asInt()
                        && r.path("request_index").asInt() == client.path("request_index").asInt())
                .findFirst().orElse(null);
    }

    private boolean serverTookHalfOf(JsonNode client) {
        JsonNode server = serverRecord(client);
        return server != null && server.path("duration_ns").asLong() * 2 >= client.path("duration_ns").asLong();
    }

    /**
     * Ground truth: the kernel's count of the segments each connection sent again. The client only
     * retransmits requests (the drops are of its data), each while its exchange is open, so the
     * connection's records add up to it exactly. The tracepoint alone fell short on a loaded host:
     * about one retransmit in 300 reached no BPF program on it, though the kernel counted it.
     */
    @Test
    void theRecordsAddUpToTheKernelsCountOfEachConnection() {
        assertFalse(kernelRetransmits.isEmpty(), "the client's connections, as ss shows them");
        assertTrue(kernelRetransmits.values().stream().mapToInt(Integer::intValue).sum() > 0,
                "at 30% loss the kernel retransmitted: " + kernelRetransmits);
        for (Map.Entry<Integer, Integer> connection : kernelRetransmits.entrySet()) {
            int recorded = clientRecords().stream().filter(r -> r.path("local_port").asInt() == connection.getKey())
                    .mapToInt(r -> r.path("retransmits").asInt()).sum();
            assertEquals(connection.getValue(), recorded, "retransmits of the connection from port " + connection.getKey()
                    + ": the kernel's total_retrans against the sum of its records");
        }
    }

    @Test
    void theServerInTheNamespaceIsSeenToo() {
        assertTrue(records.stream().anyMatch(r -> r.path("direction").asText().equals("server")
                && r.path("local_address").asText().equals(SERVER) && r.path("local_port").asInt() == PORT
                && r.path("comm").asText().startsWith("python")), "server records inside the namespace");
    }
}
