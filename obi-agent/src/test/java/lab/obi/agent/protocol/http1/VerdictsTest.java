package lab.obi.agent.protocol.http1;

import lab.obi.agent.contract.ExchangeFlags;
import static lab.obi.agent.contract.ExchangeFlags.FIN_BEFORE_REQUEST;
import static lab.obi.agent.contract.ExchangeFlags.LOCAL_CLOSE;
import static lab.obi.agent.contract.ExchangeFlags.PEER_FIN;
import static lab.obi.agent.contract.ExchangeFlags.REQUEST_ENDS_BLANK_LINE;
import static lab.obi.agent.contract.ExchangeFlags.RESPONSE_COMPLETE;
import static lab.obi.agent.contract.ExchangeFlags.UNTIL_CLOSE;
import static org.junit.jupiter.api.Assertions.assertEquals;

import java.nio.charset.StandardCharsets;
import java.util.function.Consumer;
import java.util.stream.Stream;
import lab.obi.agent.capture.ExchangeRecord;
import lab.obi.agent.capture.ExchangeRecord.Direction;
import lab.obi.agent.capture.RecordBuilder;
import lab.obi.agent.protocol.AbortKind;
import lab.obi.agent.protocol.Verdict;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.Arguments;
import org.junit.jupiter.params.provider.MethodSource;

class VerdictsTest {

    private static final byte[] NOTHING = new byte[0];

    private static Verdict answered(Integer status) {
        return new Verdict(false, null, null, status, false, true);
    }

    private static Verdict abandoned(AbortKind kind, long timeToAbandonNs, Integer status, boolean truncated) {
        return new Verdict(true, kind, timeToAbandonNs, status, truncated, true);
    }

    /** The client left in the middle of its own request. */
    private static Verdict leftMidRequest(AbortKind kind, long timeToAbandonNs) {
        return new Verdict(true, kind, timeToAbandonNs, 400, false, false);
    }

    private static void request(RecordBuilder r, String head, long bytesRead) {
        r.requestHead = head.getBytes(StandardCharsets.ISO_8859_1);
        r.bytesIn = bytesRead;
    }

    /** A request nobody answered: no response bytes, no status. */
    private static void unanswered(RecordBuilder r) {
        r.flags = 0;
        r.responseStartNs = 0;
        r.status = 0;
        r.responseHead = NOTHING;
    }

    private static Arguments server(String name, Consumer<RecordBuilder> setup, Verdict expected) {
        return Arguments.of("server: " + name, setup, expected);
    }

    private static Arguments client(String name, Consumer<RecordBuilder> setup, Verdict expected) {
        return Arguments.of("client: " + name, setup.andThen(r -> r.direction = Direction.CLIENT), expected);
    }

    static Stream<Arguments> cases() {
        return Stream.of(
                server("complete", r -> { }, answered(200)),
                server("complete after the client half-closed and waited", r -> {
                    r.flags = RESPONSE_COMPLETE | PEER_FIN;
                    r.finNs = 1_500;
                }, answered(200)),
                server("answered after the client left: its FIN, the answer, its reset", r -> {
                    r.flags = RESPONSE_COMPLETE | PEER_FIN;
                    r.finNs = 1_500;
                    r.rstNs = 3_100;
                }, abandoned(AbortKind.FIN, 500, 200, false)),
                server("answered after the client left: the write that answered failed", r -> {
                    r.flags = RESPONSE_COMPLETE | PEER_FIN | FIN_BEFORE_REQUEST;
                    r.finNs = 1_000;
                    r.writeErrorNs = 3_100;
                }, abandoned(AbortKind.FIN, 0, 200, false)),
                server("complete despite a later reset", r -> r.rstNs = 3_500, answered(200)),
                server("until-close response ended by the server's close", r -> {
                    r.flags = UNTIL_CLOSE | LOCAL_CLOSE;
                    r.status = 0;
                    r.responseHead = "HTTP/1.0 200 OK\r\n\r\n".getBytes(StandardCharsets.ISO_8859_1);
                }, answered(200)),
                server("closed without ever responding", r -> {
                    unanswered(r);
                    r.flags = UNTIL_CLOSE | LOCAL_CLOSE;
                }, new Verdict(false, null, null, 444, false, true)),
                server("client FIN before the response", r -> {
                    unanswered(r);
                    r.finNs = 1_600;
                }, abandoned(AbortKind.FIN, 600, 499, false)),
                server("client RST before the response", r -> {
                    unanswered(r);
                    r.rstNs = 4_000;
                }, abandoned(AbortKind.RST, 3_000, 499, false)),
                server("write error during the response", r -> {
                    r.flags = 0;
                    r.writeErrorNs = 2_500;
                    r.rstNs = 2_600;
                    r.responseBytesAtAbandon = 1_000;
                }, abandoned(AbortKind.WRITE_ERROR, 1_500, 200, true)),
                server("earliest event wins", r -> {
                    unanswered(r);
                    r.finNs = 2_100;
                    r.rstNs = 2_050;
                }, abandoned(AbortKind.RST, 1_050, 499, false)),
                server("FIN wins a tie with RST", r -> {
                    unanswered(r);
                    r.finNs = 2_000;
                    r.rstNs = 2_000;
                }, abandoned(AbortKind.FIN, 1_000, 499, false)),
                server("RST wins a tie with a write error", r -> {
                    unanswered(r);
                    r.rstNs = 2_000;
                    r.writeErrorNs = 2_000;
                }, abandoned(AbortKind.RST, 1_000, 499, false)),
                server("a status line written after the client's FIN is what the server sent", r -> {
                    r.flags = 0;
                    r.finNs = 1_900;
                }, abandoned(AbortKind.FIN, 900, 200, true)),
                server("FIN before the request was read", r -> {
                    unanswered(r);
                    r.flags = PEER_FIN | FIN_BEFORE_REQUEST | LOCAL_CLOSE;
                    r.finNs = 1_000;
                }, abandoned(AbortKind.FIN, 0, 499, false)),
                server("head cut short", r -> {
                    unanswered(r);
                    request(r, "GET /users/42 HTTP/1.1\r\nHost: a\r\n", 33);
                    r.finNs = 1_100;
                }, leftMidRequest(AbortKind.FIN, 100)),
                server("upload cut short", r -> {
                    unanswered(r);
                    request(r, "POST /up HTTP/1.1\r\nContent-Length: 100000\r\n\r\n", 30_044);
                    r.rstNs = 2_000;
                }, leftMidRequest(AbortKind.RST, 1_000)),
                server("upload complete, then the client left", r -> {
                    unanswered(r);
                    request(r, "POST /up HTTP/1.1\r\nContent-Length: 100000\r\n\r\n", 100_045);
                    r.finNs = 2_000;
                }, abandoned(AbortKind.FIN, 1_000, 499, false)),
                server("only a 100 Continue before the client left its upload", r -> {
                    request(r, "POST /up HTTP/1.1\r\nExpect: 100-continue\r\nContent-Length: 9\r\n\r\n", 66);
                    r.flags = 0;
                    r.status = 100;
                    r.finNs = 2_500;
                }, leftMidRequest(AbortKind.FIN, 1_500)),
                server("chunked upload whose last chunk came", r -> {
                    unanswered(r);
                    request(r, "POST /up HTTP/1.1\r\nTransfer-Encoding: chunked\r\n\r\n", 80);
                    r.flags = REQUEST_ENDS_BLANK_LINE;
                    r.finNs = 2_000;
                }, abandoned(AbortKind.FIN, 1_000, 499, false)),
                server("chunked upload cut short", r -> {
                    unanswered(r);
                    request(r, "POST /up HTTP/1.1\r\nTransfer-Encoding: chunked\r\n\r\n", 80);
                    r.finNs = 2_000;
                }, leftMidRequest(AbortKind.FIN, 1_000)),
                server("head longer than the capture that ended", r -> {
                    unanswered(r);
                    request(r, "GET /a HTTP/1.1\r\nCookie: " + "a".repeat(500), 70_000);
                    r.flags = REQUEST_ENDS_BLANK_LINE;
                    r.finNs = 2_000;
                }, abandoned(AbortKind.FIN, 1_000, 499, false)),
                server("head longer than the capture that never ended", r -> {
                    unanswered(r);
                    request(r, "GET /a HTTP/1.1\r\nCookie: " + "a".repeat(500), 70_000);
                    r.finNs = 2_000;
                }, leftMidRequest(AbortKind.FIN, 1_000)),
                server("server closed on an incomplete request", r -> {
                    unanswered(r);
                    request(r, "GET /users/42 HTTP/1.1\r\nHost: a\r\n", 33);
                    r.flags = LOCAL_CLOSE;
                }, new Verdict(false, null, null, 408, false, false)),
                server("abandoned mid-response without a readable status", r -> {
                    r.flags = 0;
                    r.status = 0;
                    r.responseHead = new byte[] {(byte) 0xde, (byte) 0xad};
                    r.finNs = 2_500;
                    r.responseBytesAtAbandon = 10;
                }, abandoned(AbortKind.FIN, 1_500, null, true)),
                server("event stamped before the start", r -> {
                    unanswered(r);
                    r.finNs = 900;
                }, abandoned(AbortKind.FIN, 0, 499, false)),
                server("server cut its own response short", r -> r.flags = LOCAL_CLOSE,
                        new Verdict(false, null, null, 200, true, true)),
                server("status parsed from the head when the kernel saw none", r -> {
                    r.status = 0;
                    r.responseHead = "HTTP/1.1 503 Service Unavailable\r\n".getBytes(StandardCharsets.ISO_8859_1);
                }, answered(503)),
                server("the kernel's status wins", r -> r.status = 404, answered(404)),
                server("no status anywhere", r -> {
                    r.status = 0;
                    r.responseHead = null;
                }, answered(null)),

                client("complete", r -> { }, answered(200)),
                client("until-close response ended by the server's FIN", r -> {
                    r.flags = UNTIL_CLOSE | PEER_FIN;
                    r.finNs = 3_000;
                }, answered(200)),
                client("server FIN before any response", r -> {
                    unanswered(r);
                    r.flags = UNTIL_CLOSE | PEER_FIN;
                    r.finNs = 2_500;
                }, abandoned(AbortKind.FIN, 1_500, null, false)),
                client("timed out before the response", r -> {
                    unanswered(r);
                    r.flags = LOCAL_CLOSE;
                    r.endNs = 6_000;
                }, abandoned(AbortKind.CLIENT_CLOSE, 5_000, null, false)),
                client("gave up mid-response", r -> {
                    r.flags = LOCAL_CLOSE;
                    r.endNs = 2_500;
                }, abandoned(AbortKind.CLIENT_CLOSE, 1_500, 200, true)),
                client("own close wins over a reset", r -> {
                    unanswered(r);
                    r.flags = LOCAL_CLOSE;
                    r.rstNs = 1_500;
                    r.endNs = 2_000;
                }, abandoned(AbortKind.CLIENT_CLOSE, 1_000, null, false)),
                client("server reset", r -> {
                    unanswered(r);
                    r.rstNs = 1_700;
                }, abandoned(AbortKind.RST, 700, null, false)),
                client("reset wins over FIN", r -> {
                    unanswered(r);
                    r.finNs = 1_200;
                    r.rstNs = 1_700;
                }, abandoned(AbortKind.RST, 700, null, false)),
                client("server closed mid-response", r -> {
                    r.flags = PEER_FIN;
                    r.finNs = 2_200;
                }, abandoned(AbortKind.FIN, 1_200, 200, true)),
                client("no close event", r -> unanswered(r), new Verdict(false, null, null, null, false, true)),
                client("a failed write alone is not an abandon", r -> {
                    unanswered(r);
                    r.writeErrorNs = 1_200;
                }, new Verdict(false, null, null, null, false, true)),
                client("complete despite the server's FIN", r -> {
                    r.flags = RESPONSE_COMPLETE | PEER_FIN;
                    r.finNs = 3_000;
                }, answered(200)));
    }

    @ParameterizedTest(name = "{0}")
    @MethodSource("cases")
    void judge(String name, Consumer<RecordBuilder> setup, Verdict expected) {
        RecordBuilder record = new RecordBuilder();
        setup.accept(record);
        ExchangeRecord r = record.build();
        assertEquals(expected, Verdicts.judge(r, HttpParser.parseRequest(r.requestHead()).orElse(null)));
    }
}
