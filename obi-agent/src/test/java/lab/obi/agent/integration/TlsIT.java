package lab.obi.agent.integration;

import com.fasterxml.jackson.databind.JsonNode;
import org.junit.jupiter.api.AfterAll;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.TestInstance;

import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Duration;
import java.util.ArrayList;
import java.util.List;
import java.util.Map;
import java.util.function.Predicate;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertTrue;

/**
 * HTTPS on both ends, through OpenSSL's uprobes: a Python HTTPS server (its _ssl module, started after
 * the agent) as the server, curl (libcurl on OpenSSL) as the client, keep-alive, curl giving up on a
 * slow answer, and a Python client in a network namespace that loads its own copy of libssl, a file
 * the agent finds only in that process's memory map. nginx's TLS side is VerdictOrdersIT's.
 */
@TestInstance(TestInstance.Lifecycle.PER_CLASS)
class TlsIT {

    private static final int KEEP_ALIVE_REQUESTS = 20;
    private static final int CURL_ABANDONS = 5;
    private static final int PRIVATE_LIBSSL_REQUESTS = 5;
    private static final String HOST_SIDE_IP = "10.217.0.1";

    private final String ns = "obi-tls-" + ProcessHandle.current().pid();
    private final String hostSide = "obit" + (ProcessHandle.current().pid() % 100000);
    private Lab lab;
    private int serverPort;
    private List<JsonNode> exchanges;
    private String agentLog;
    private Path privateLibssl;
    private int curlTimeouts;

    @BeforeAll
    void httpsOnBothEnds() throws Exception {
        lab = new Lab();
        lab.startAgent();
        Path tls = lab.selfSignedCertificate();
        serverPort = Lab.freePort();
        VethNamespace.create(ns, hostSide, "eth0", HOST_SIDE_IP + "/30", "10.217.0.2/30");
        lab.startWithEnvironment("py-https", Map.of("OTEL_SERVICE_NAME", "py-https", "TLS_CERT",
                tls.resolve("cert.pem").toString(), "TLS_KEY", tls.resolve("key.pem").toString()), "python3",
                lab.copyResource("py_backend.py").toString(), Integer.toString(serverPort), "0.0.0.0");
        String base = "https://127.0.0.1:" + serverPort;
        awaitHttps(base + "/fast?warm-up");

        List<String> keepAlive = new ArrayList<>(List.of("curl", "-sk", "--fail"));
        for (int i = 0; i < KEEP_ALIVE_REQUESTS; i++) {
            keepAlive.addAll(List.of("-o", "/dev/null", base + "/users/" + i));
        }
        assertEquals(0, lab.run("curl-keep-alive", Duration.ofSeconds(30), keepAlive.toArray(String[]::new)));
        for (int i = 0; i < CURL_ABANDONS; i++) {
            if (lab.run("curl-abandon", Duration.ofSeconds(10), "curl", "-sk", "-o", "/dev/null", "--max-time", "0.2",
                    base + "/slow?ms=600") == 28) {
                curlTimeouts++;
            }
        }
        privateLibssl = clientWithItsOwnLibssl();
        Thread.sleep(1_500); // the slow answers curl left go out
        exchanges = RequestLog.read(lab.stopAgent()).exchanges();
        agentLog = lab.agentLog();
    }

    /**
     * libssl and libcrypto copied into the test's directory, loaded by a Python client in a network
     * namespace through LD_LIBRARY_PATH: a file of its own, which no standard library directory holds.
     */
    private Path clientWithItsOwnLibssl() throws Exception {
        Path dir = Files.createDirectories(lab.path("private-ssl"));
        for (String lib : List.of("libssl.so.3", "libcrypto.so.3")) {
            Files.copy(systemLibrary(lib), dir.resolve(lib));
        }
        Path client = lab.path("private_client.py");
        Files.writeString(client, """
                import http.client, ssl, sys, time
                context = ssl._create_unverified_context()  # loads libssl now
                time.sleep(2.5)  # the agent looks at a new process's libraries again 1 s after it started
                for i in range(int(sys.argv[3])):
                    c = http.client.HTTPSConnection(sys.argv[1], int(sys.argv[2]), context=context)
                    c.request("GET", "/private/%d" % i)
                    assert c.getresponse().read() == b"py ok\\n"
                    c.close()
                """);
        int exit = lab.run("private-client", Duration.ofSeconds(30), "ip", "netns", "exec", ns, "env",
                "LD_LIBRARY_PATH=" + dir, "python3", client.toString(), HOST_SIDE_IP, Integer.toString(serverPort),
                Integer.toString(PRIVATE_LIBSSL_REQUESTS));
        assertEquals(0, exit, Files.readString(lab.log("private-client")));
        return dir.resolve("libssl.so.3");
    }

    private static Path systemLibrary(String name) {
        for (String dir : List.of("/lib/x86_64-linux-gnu", "/usr/lib/x86_64-linux-gnu", "/lib/aarch64-linux-gnu",
                "/usr/lib/aarch64-linux-gnu", "/usr/lib64", "/usr/lib")) {
            if (Files.exists(Path.of(dir, name))) {
                return Path.of(dir, name);
            }
        }
        throw new IllegalStateException(name + " not found: is OpenSSL 3 installed?");
    }

    private void awaitHttps(String url) throws Exception {
        long deadline = System.nanoTime() + Duration.ofSeconds(30).toNanos();
        while (lab.run("curl-await", Duration.ofSeconds(10), "curl", "-sk", "--fail", "-o", "/dev/null", url) != 0) {
            if (System.nanoTime() > deadline) {
                throw new IllegalStateException("the Python HTTPS server did not answer:\n"
                        + Files.readString(lab.log("py-https")));
            }
            Thread.sleep(200);
        }
    }

    @AfterAll
    void stopEverything() throws Exception {
        if (lab != null) {
            lab.close();
        }
        VethNamespace.remove(ns, hostSide);
    }

    private List<JsonNode> records(Predicate<JsonNode> filter) {
        return exchanges.stream().filter(filter).toList();
    }

    private Predicate<JsonNode> server() {
        return r -> r.path("direction").asText().equals("server") && r.path("local_port").asInt() == serverPort;
    }

    private Predicate<JsonNode> curlClient() {
        return r -> r.path("direction").asText().equals("client") && r.path("comm").asText().equals("curl")
                && r.path("peer_port").asInt() == serverPort;
    }

    private static Predicate<JsonNode> route(String prefix) {
        return r -> r.path("route").asText().startsWith(prefix);
    }

    @Test
    void aKeepAliveConnectionOverTlsIsEveryRequestOnBothEnds() {
        List<JsonNode> served = records(server().and(route("/users/")));
        List<JsonNode> sent = records(curlClient().and(route("/users/")));
        assertEquals(KEEP_ALIVE_REQUESTS, served.size(), "the Python server's side: " + served);
        assertEquals(KEEP_ALIVE_REQUESTS, sent.size(), "curl's side");
        assertEquals(1, served.stream().map(r -> r.path("conn_id").asLong()).distinct().count(), "one connection");
        assertEquals(KEEP_ALIVE_REQUESTS, served.stream().mapToInt(r -> r.path("request_index").asInt()).max().orElse(0));
        for (JsonNode r : served) {
            assertTrue(r.path("tls").asBoolean(), "read through OpenSSL: " + r);
            assertEquals(200, r.path("status").asInt(), r.toString());
            assertFalse(r.path("aborted").asBoolean(), r.toString());
            assertTrue(r.path("comm").asText().startsWith("python"), r.toString());
            assertEquals("/users/{id}", r.path("route").asText(), "the plaintext's request line");
        }
    }

    @Test
    void curlGivingUpOverTlsIsAClientCloseAndTheServersLateAnswerKeepsItsStatus() {
        assertEquals(CURL_ABANDONS, curlTimeouts, "every curl gave up");
        List<JsonNode> gaveUp = records(curlClient().and(route("/slow")));
        assertEquals(CURL_ABANDONS, gaveUp.size());
        for (JsonNode r : gaveUp) {
            assertTrue(r.path("tls").asBoolean(), "curl's side, read through OpenSSL: " + r);
            assertEquals("client_close", r.path("abort_kind").asText(), r.toString());
            long tta = r.path("time_to_abandon_ns").asLong();
            assertTrue(tta >= 150_000_000L && tta <= 400_000_000L, "curl --max-time 0.2 gave up after " + tta + " ns");
        }
        List<JsonNode> answeredLate = records(server().and(route("/slow")));
        assertEquals(CURL_ABANDONS, answeredLate.size(), answeredLate.toString());
        for (JsonNode r : answeredLate) {
            assertEquals(200, r.path("status").asInt(), "Python wrote its 200 after curl left: " + r);
            assertTrue(r.path("aborted").asBoolean(), r.toString());
            assertEquals("fin", r.path("abort_kind").asText(), r.toString());
        }
    }

    @Test
    void aProcessWithItsOwnLibsslIsSeenFromItsMemoryMap() {
        assertTrue(agentLog.contains("HTTPS seen through OpenSSL in " + privateLibssl),
                "the agent found the namespace's client's own libssl:\n" + agentLog);
        List<JsonNode> client = records(r -> r.path("direction").asText().equals("client")
                && r.path("peer_port").asInt() == serverPort && r.path("route").asText().startsWith("/private/"));
        assertEquals(PRIVATE_LIBSSL_REQUESTS, client.size(), "the client's side, through its own libssl");
        client.forEach(r -> assertEquals(HOST_SIDE_IP, r.path("peer_address").asText(), "across the veth"));
        assertEquals(PRIVATE_LIBSSL_REQUESTS, records(server().and(route("/private/"))).size(), "the server's side");
    }

    @Test
    void theEncryptedBytesNeverMakeAnExchange() {
        List<JsonNode> onTheTlsPort = records(r -> r.path("local_port").asInt() == serverPort
                || r.path("peer_port").asInt() == serverPort);
        assertFalse(onTheTlsPort.isEmpty());
        for (JsonNode r : onTheTlsPort) {
            assertTrue(r.path("route").asText().startsWith("/"), "a plaintext request line: " + r);
            assertTrue(r.has("status") || r.path("aborted").asBoolean(), r.toString());
        }
        assertFalse(agentLog.contains("tls_no_socket=") && !agentLog.contains("tls_no_socket=0"),
                "every plaintext found its socket:\n" + agentLog);
    }
}
