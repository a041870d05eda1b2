package lab.obi.agent.sink.requestlog;

import lab.obi.agent.report.TcpEvidence;

import static java.nio.charset.StandardCharsets.UTF_8;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.ObjectMapper;
import java.io.ByteArrayOutputStream;
import java.io.IOException;
import java.io.OutputStream;
import java.util.ArrayList;
import java.util.Iterator;
import java.util.List;
import lab.obi.agent.process.ObservedSocket.Direction;
import lab.obi.agent.protocol.AbortKind;
import lab.obi.agent.report.ConnectionSummary;
import lab.obi.agent.report.HttpExchange;
import lab.obi.agent.report.TestReports;
import lab.obi.agent.report.SlowCause;
import lab.obi.agent.report.ResponseAcked;
import lab.obi.agent.report.Phases;
import lab.obi.agent.report.LateRetransmit;
import lab.obi.agent.process.ObservedSocket;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.ValueSource;

class JsonLinesWriterTest {

    private static final ObjectMapper MAPPER = new ObjectMapper();
    private static final String TRACEPARENT = "00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01";

    private static HttpExchange full(String text) {
        return new HttpExchange(1_700_000_000_123_456_789L, 2_500_000, new ObservedSocket(Direction.SERVER, 4242, text,
                "/usr/sbin/nginx", "shop", "ab".repeat(32), "127.0.0.1", 8080, "::1", 51234), 7, 3, "GET",
                "/users/{id}", text, text, 400, true, AbortKind.WRITE_ERROR, 1_000L, true, false, 78, 0, TRACEPARENT,
                "abc:def:0:1", null, 9L, 2, new TcpEvidence(3, 1_700_000_000_123_456_800L, 1_700_000_000_124_000_000L, false,
                true, 1_700_000_000_125_000_000L, 250, 40_000_000L, null, null, List.of(new TcpEvidence.Outage("eth0",
                "down", 1_700_000_000_100_000_000L, 300_000_000L))), true, "1.1", Phases.NONE);
    }

    private static HttpExchange minimal() {
        return new HttpExchange(1, 2, new ObservedSocket(Direction.CLIENT, 3, null, null, "svc", null, null, 0, null,
                0), 4, 5, "HEAD", "/", null, null, null, false, null, null, false, true, 0, 0, null, null, null, null, null,
                TcpEvidence.NONE, false, null, Phases.NONE);
    }

    private static String written(HttpExchange... exchanges) throws IOException {
        ByteArrayOutputStream out = new ByteArrayOutputStream();
        try (JsonLinesWriter writer = new JsonLinesWriter(out)) {
            for (HttpExchange e : exchanges) {
                writer.write(e, null);
            }
        }
        return out.toString(UTF_8);
    }

    private static List<String> fieldNames(JsonNode node) {
        List<String> names = new ArrayList<>();
        node.fieldNames().forEachRemaining(names::add);
        return names;
    }

    @Test
    void writesEveryFieldInOrder() throws IOException {
        JsonNode json = MAPPER.readTree(written(full("nginx")));
        assertEquals(List.of("record", "start_unix_ns", "duration_ns", "direction", "pid", "comm", "exe", "service", "container_id",
                "local_address", "local_port", "peer_address", "peer_port", "conn_id", "request_index", "method", "route",
                "host", "user_agent", "status", "tls", "aborted", "abort_kind", "time_to_abandon_ns", "truncated", "request_complete", "bytes_in",
                "bytes_out", "traceparent", "uber_trace_id", "retransmits", "first_retransmit_unix_ns",
                "last_retransmit_unix_ns", "reset_received", "reset_received_unix_ns", "rtt_us", "new_connection",
                "connection_age_ns", "interface_outages", "phases_ns", "parent_conn_id", "parent_request_index"),
                fieldNames(json));
        assertEquals(3, json.get("retransmits").asInt());
        assertEquals(250, json.get("rtt_us").asInt());
        assertFalse(json.get("new_connection").asBoolean(), "third request on its connection");
        assertEquals(40_000_000L, json.get("connection_age_ns").asLong());
        JsonNode outage = json.get("interface_outages").get(0);
        assertEquals("eth0", outage.get("interface").asText());
        assertEquals("down", outage.get("cause").asText());
        assertEquals(300_000_000L, outage.get("duration_ns").asLong());
        assertEquals(9, json.get("parent_conn_id").asLong());
        assertEquals(2, json.get("parent_request_index").asInt());
        assertEquals(1_700_000_000_123_456_789L, json.get("start_unix_ns").asLong());
        assertEquals("server", json.get("direction").asText());
        assertEquals(400, json.get("status").asInt());
        assertFalse(json.get("request_complete").asBoolean());
        assertTrue(json.get("tls").asBoolean(), "read through OpenSSL");
        assertTrue(json.get("aborted").asBoolean());
        assertEquals("write_error", json.get("abort_kind").asText());
        assertEquals(1_000L, json.get("time_to_abandon_ns").asLong());
        assertEquals("::1", json.get("peer_address").asText());
        assertEquals(TRACEPARENT, json.get("traceparent").asText());
    }

    @Test
    void onlyAConnectionSeenOpenIsNew() throws IOException {
        TcpEvidence seenOpen = new TcpEvidence(0, null, null, false, false, null, null, 1_000L, null, null, List.of());
        TcpEvidence olderThanTheAgent = new TcpEvidence(0, null, null, false, false, null, null, null, null, null,
                List.of());
        assertTrue(MAPPER.readTree(written(first(seenOpen))).get("new_connection").asBoolean());
        assertFalse(MAPPER.readTree(written(first(olderThanTheAgent))).get("new_connection").asBoolean(),
                "a keep-alive connection picked up by an agent that started after it opened");
    }

    private static HttpExchange first(TcpEvidence tcp) {
        return new HttpExchange(1, 2, new ObservedSocket(Direction.SERVER, 3, null, null, "svc", null, null, 0, null, 0),
                4, 1, "GET", "/", null, null, 200, false, null, null, false, true, 0, 0, null, null, null, null, null,
                tcp, false, "1.1", Phases.NONE);
    }

    @Test
    void omitsNulls() throws IOException {
        String line = written(minimal());
        assertEquals("{\"record\":\"exchange\",\"start_unix_ns\":1,\"duration_ns\":2,\"direction\":\"client\",\"pid\":3,\"service\":\"svc\","
                + "\"local_port\":0,\"peer_port\":0,\"conn_id\":4,\"request_index\":5,\"method\":\"HEAD\",\"route\":\"/\","
                + "\"aborted\":false,\"truncated\":false,\"bytes_in\":0,\"bytes_out\":0,\"retransmits\":0,\"new_connection\":false,"
                + "\"phases_ns\":{\"request_transfer\":0,\"processing\":0,\"response_transfer\":0}}\n", line);
    }

    @Test
    void writesAConnectionAtItsClose() throws IOException {
        ConnectionSummary c = new ConnectionSummary(10, 20, true, new ObservedSocket(Direction.SERVER, 3, "nginx",
                "/usr/sbin/nginx", "web", null, "127.0.0.1", 80, "10.0.0.9", 40000), 7, 12, 1_000, 50_000, 2, false,
                true, "peer", 90);
        ByteArrayOutputStream out = new ByteArrayOutputStream();
        try (JsonLinesWriter writer = new JsonLinesWriter(out)) {
            writer.write(c);
        }
        JsonNode json = MAPPER.readTree(out.toString(UTF_8));
        assertEquals(List.of("record", "start_unix_ns", "duration_ns", "lifetime_from_established", "direction", "pid",
                "comm", "exe", "service", "local_address", "local_port", "peer_address", "peer_port", "conn_id",
                "requests", "bytes_in", "bytes_out", "retransmits", "reset_received", "closed_by", "rtt_us"),
                fieldNames(json));
        assertEquals("connection", json.get("record").asText());
        assertEquals(12, json.get("requests").asInt());
        assertEquals(50_000, json.get("bytes_out").asLong());
        assertEquals("peer", json.get("closed_by").asText());
    }

    @Test
    void writesALateAckWithItsWaitAndCause() throws IOException {
        ResponseAcked a = new ResponseAcked(1_000, 700_001_000, new ObservedSocket(Direction.SERVER, 3, "python3", null,
                "cloud-b", null, "10.0.0.2", 8080, "10.0.0.1", 5555), 7, 4, 2, 300);
        ByteArrayOutputStream out = new ByteArrayOutputStream();
        try (JsonLinesWriter writer = new JsonLinesWriter(out)) {
            writer.write(a, SlowCause.NETWORK);
        }
        assertEquals("{\"record\":\"response_acked\",\"end_unix_ns\":1000,\"acked_unix_ns\":700001000,"
                + "\"ack_wait_ns\":700000000,\"direction\":\"server\",\"pid\":3,\"comm\":\"python3\","
                + "\"service\":\"cloud-b\",\"local_address\":\"10.0.0.2\",\"local_port\":8080,"
                + "\"peer_address\":\"10.0.0.1\",\"peer_port\":5555,\"conn_id\":7,\"request_index\":4,"
                + "\"retransmits\":2,\"rtt_us\":300,\"slow_cause\":\"network\"}\n", out.toString(UTF_8));
    }

    @Test
    void aSlowExchangeHasItsPhasesAndCause() throws IOException {
        HttpExchange e = TestReports.exchange(TestReports.SERVER, "/x", 200);
        HttpExchange slow = new HttpExchange(e.startUnixNs(), 600_000_000, e.socket(), e.connId(), e.requestIndex(),
                e.method(), e.route(), e.host(), e.userAgent(), e.status(), false, null, null, false, true, 1, 1, null,
                null, null, null, null, TcpEvidence.NONE, false, "1.1", new Phases(null, 0L, 2_000L, 0, 600_000_000, 0));
        ByteArrayOutputStream out = new ByteArrayOutputStream();
        try (JsonLinesWriter writer = new JsonLinesWriter(out)) {
            writer.write(slow, SlowCause.PROCESSING);
        }
        JsonNode json = MAPPER.readTree(out.toString(UTF_8));
        assertEquals("{\"accept_queue\":0,\"receive_queue\":2000,\"request_transfer\":0,\"processing\":600000000,"
                + "\"response_transfer\":0}", json.get("phases_ns").toString());
        assertEquals("processing", json.get("slow_cause").asText());
    }

    @Test
    void writesALateRetransmitWithTheExchangeItBelongsTo() throws IOException {
        LateRetransmit r = new LateRetransmit(99, new ObservedSocket(Direction.SERVER, 3, "python3", null, "cloud-b",
                null, "10.0.0.2", 8080, "10.0.0.1", 5555), 7, 4, null);
        ByteArrayOutputStream out = new ByteArrayOutputStream();
        try (JsonLinesWriter writer = new JsonLinesWriter(out)) {
            writer.write(r);
        }
        assertEquals("{\"record\":\"late_retransmit\",\"at_unix_ns\":99,\"direction\":\"server\",\"pid\":3,"
                + "\"comm\":\"python3\",\"service\":\"cloud-b\",\"local_address\":\"10.0.0.2\",\"local_port\":8080,"
                + "\"peer_address\":\"10.0.0.1\",\"peer_port\":5555,\"conn_id\":7,\"request_index\":4}\n",
                out.toString(UTF_8));
    }

    @ParameterizedTest
    @ValueSource(strings = {
        "quote \" and backslash \\ and slash /",
        "newline \n carriage return \r tab \t",
        "nul \u0000 bell \u0007 escape \u001b delete \u007f",
        "{\"injected\":true}\n{\"forged\":1}",
        "non-ASCII: caf\u00e9 \u65e5\u672c \ud83d\ude80 \u2028 \u2029",
        "replacement \ufffd and a lone surrogate \ud800 end",
        "",
    })
    void hostileStringsStayOnOneLineAndRoundTrip(String text) throws IOException {
        String output = written(full(text), full(text));
        String[] lines = output.split("\n", -1);
        assertEquals(3, lines.length, "two lines and nothing after the last newline");
        assertEquals("", lines[2]);
        for (int i = 0; i < 2; i++) {
            assertFalse(lines[i].chars().anyMatch(c -> c < 0x20), "no raw control characters");
            JsonNode json = MAPPER.readTree(lines[i]);
            assertEquals(42, json.size());
            assertEquals(text, json.get("user_agent").asText());
            assertEquals(text, json.get("host").asText());
            assertEquals(text, json.get("comm").asText());
        }
    }

    @Test
    void oneObjectPerLine() throws IOException {
        String output = written(minimal(), full("a"), minimal());
        Iterator<JsonNode> lines = output.lines().map(line -> {
            try {
                return MAPPER.readTree(line);
            } catch (IOException e) {
                throw new AssertionError(line, e);
            }
        }).iterator();
        assertEquals("client", lines.next().get("direction").asText());
        assertEquals("server", lines.next().get("direction").asText());
        assertEquals("client", lines.next().get("direction").asText());
        assertFalse(lines.hasNext());
    }

    @Test
    void flushPushesBufferedLinesAndCloseClosesTheStream() throws IOException {
        ClosableBuffer out = new ClosableBuffer();
        JsonLinesWriter writer = new JsonLinesWriter(out);
        writer.write(minimal(), null);
        writer.flush();
        assertTrue(out.toString(UTF_8).endsWith("}\n"));
        writer.close();
        assertTrue(out.closed);
    }

    private static final class ClosableBuffer extends ByteArrayOutputStream {
        boolean closed;

        @Override
        public void close() {
            closed = true;
        }
    }

    @Test
    void streamFailuresSurface() {
        OutputStream broken = new OutputStream() {
            @Override
            public void write(int b) throws IOException {
                throw new IOException("disk full");
            }
        };
        assertThrows(IOException.class, () -> {
            JsonLinesWriter writer = new JsonLinesWriter(broken);
            writer.write(minimal(), null);
            writer.flush();
        });
    }
}
