package lab.obi.agent.protocol.http1;

import static java.nio.charset.StandardCharsets.ISO_8859_1;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertNotEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

import com.code_intelligence.jazzer.api.FuzzedDataProvider;
import com.code_intelligence.jazzer.junit.FuzzTest;
import java.util.Optional;
import java.util.OptionalInt;
import java.util.Set;
import lab.obi.agent.protocol.TraceContext;

/**
 * Request and response heads are whatever strangers send: the parser must never throw, and what it
 * returns must be bounded by what it was given. Corpus and regressions: HttpParserFuzzTestInputs/.
 */
class HttpParserFuzzTest {

    private static final Set<String> METHODS =
            Set.of("GET", "HEAD", "POST", "PUT", "DELETE", "PATCH", "OPTIONS", "CONNECT", "TRACE");

    @FuzzTest
    void requestHead(byte[] bytes) {
        for (boolean cut : new boolean[] {false, true}) {
            Optional<HttpRequestHead> parsed = HttpParser.parseRequest(bytes, cut);
            if (parsed.isEmpty()) {
                continue;
            }
            HttpRequestHead head = parsed.get();
            assertTrue(METHODS.contains(head.method()), head.method());
            assertFalse(head.target().isEmpty());
            assertTrue(head.target().length() < Math.min(bytes.length, HttpParser.MAX_HEAD_BYTES));
            assertTrue(head.target().chars().allMatch(c -> c > 0x20 && c < 0x7f), head.target());
            assertTrue(head.version() != null || cut || bytes.length > HttpParser.MAX_HEAD_BYTES,
                    "only a cut line may lack its version");
            assertTrue(head.headLength() == null || head.headLength() <= bytes.length);
            if (head.caller() != null) {
                validIds(head.caller());
            }
            byte[] next = Pipelining.afterFirstRequest(bytes, head);
            assertTrue(next == null || (next.length > 0 && next.length < bytes.length));
        }
    }

    @FuzzTest
    void statusLine(byte[] bytes) {
        OptionalInt status = HttpParser.parseStatusCode(bytes);
        assertTrue(status.isEmpty() || (status.getAsInt() >= 100 && status.getAsInt() <= 599));
    }

    /** The trace headers, where they are parsed: after a valid request line. */
    @FuzzTest
    void traceHeaders(FuzzedDataProvider data) {
        String traceparent = data.consumeString(80);
        String uberTraceId = data.consumeRemainingAsString();
        String head = "GET / HTTP/1.1\r\ntraceparent: " + traceparent + "\r\nuber-trace-id: " + uberTraceId + "\r\n\r\n";
        HttpRequestHead parsed = HttpParser.parseRequest(head.getBytes(ISO_8859_1)).orElseThrow();
        if (parsed.traceparent() != null) {
            validIds(parsed.traceparentHeader().context());
        }
        if (parsed.uberTraceId() != null) {
            validIds(parsed.uberTraceIdHeader().context());
        }
    }

    /** What the spans take as their parent: valid OpenTelemetry ids as they stand. */
    private static void validIds(TraceContext caller) {
        assertEquals(32, caller.traceId().length());
        assertEquals(16, caller.spanId().length());
        assertTrue((caller.traceId() + caller.spanId()).chars().allMatch(c -> (c >= '0' && c <= '9') || (c >= 'a' && c <= 'f')));
        assertNotEquals("0".repeat(32), caller.traceId());
        assertNotEquals("0".repeat(16), caller.spanId());
    }
}
