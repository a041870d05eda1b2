package lab.obi.agent.protocol.http1;

import static java.nio.charset.StandardCharsets.ISO_8859_1;
import static java.nio.charset.StandardCharsets.UTF_8;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertNull;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.util.Arrays;
import java.util.Optional;
import java.util.OptionalInt;
import java.util.Random;
import java.util.stream.Stream;
import lab.obi.agent.protocol.TraceContext;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.Arguments;
import org.junit.jupiter.params.provider.CsvSource;
import org.junit.jupiter.params.provider.MethodSource;
import org.junit.jupiter.params.provider.NullAndEmptySource;
import org.junit.jupiter.params.provider.ValueSource;

class HttpParserTest {

    private static final String TRACEPARENT = "00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01";

    /** CSV tables spell CR, LF and NUL as \\r, \\n and \\0: the CSV parser would trim or split on the real ones. */
    private static String unescape(String s) {
        return s.replace("\\r", "\r").replace("\\n", "\n").replace("\\0", "\0");
    }

    private static Optional<HttpRequestHead> parse(String head) {
        return HttpParser.parseRequest(head.getBytes(ISO_8859_1));
    }

    static Stream<Arguments> requestLines() {
        return Stream.of(
                Arguments.of("GET / HTTP/1.1\r\n\r\n", "GET", "/", "HTTP/1.1"),
                Arguments.of("HEAD /index.html HTTP/1.0\r\n\r\n", "HEAD", "/index.html", "HTTP/1.0"),
                Arguments.of("POST /api/orders?x=1 HTTP/1.1\r\n", "POST", "/api/orders?x=1", "HTTP/1.1"),
                Arguments.of("PUT /a HTTP/1.1\r\n", "PUT", "/a", "HTTP/1.1"),
                Arguments.of("DELETE /a/1 HTTP/1.1\r\n", "DELETE", "/a/1", "HTTP/1.1"),
                Arguments.of("PATCH /a HTTP/1.1\r\n", "PATCH", "/a", "HTTP/1.1"),
                Arguments.of("TRACE / HTTP/1.1\r\n", "TRACE", "/", "HTTP/1.1"),
                Arguments.of("OPTIONS * HTTP/1.1\r\n", "OPTIONS", "*", "HTTP/1.1"),
                Arguments.of("OPTIONS /x HTTP/1.1\r\n", "OPTIONS", "/x", "HTTP/1.1"),
                Arguments.of("GET http://example.com/a?b HTTP/1.1\r\n", "GET", "http://example.com/a?b", "HTTP/1.1"),
                Arguments.of("GET HTTPS://example.com HTTP/1.1\r\n", "GET", "HTTPS://example.com", "HTTP/1.1"),
                Arguments.of("CONNECT example.com:443 HTTP/1.1\r\n", "CONNECT", "example.com:443", "HTTP/1.1"),
                Arguments.of("CONNECT 10.0.0.1:8080 HTTP/1.1\r\n", "CONNECT", "10.0.0.1:8080", "HTTP/1.1"),
                Arguments.of("CONNECT [2001:db8::1]:443 HTTP/1.1\r\n", "CONNECT", "[2001:db8::1]:443", "HTTP/1.1"),
                // the capture may end anywhere after the version
                Arguments.of("GET /cut HTTP/1.1", "GET", "/cut", "HTTP/1.1"),
                Arguments.of("GET /cut HTTP/1.1\r", "GET", "/cut", "HTTP/1.1"));
    }

    @ParameterizedTest
    @MethodSource("requestLines")
    void parsesRequestLine(String head, String method, String target, String version) {
        HttpRequestHead parsed = parse(head).orElseThrow();
        assertEquals(method, parsed.method());
        assertEquals(target, parsed.target());
        assertEquals(version, parsed.version());
        assertEquals(version.substring("HTTP/".length()), parsed.protocolVersion());
    }

    @ParameterizedTest
    @ValueSource(strings = {
        "get / HTTP/1.1\r\n",                  // methods are case-sensitive
        "FETCH / HTTP/1.1\r\n",
        "PRI * HTTP/2.0\r\n\r\nSM\r\n\r\n",    // HTTP/2 preface
        "GET  / HTTP/1.1\r\n",                 // two spaces
        "GET\t/ HTTP/1.1\r\n",
        " GET / HTTP/1.1\r\n",
        "GET  HTTP/1.1\r\n",
        "GET / HTTP/1.1 \r\n",
        "GET / HTTP/2.0\r\n",
        "GET / HTTP/1.2\r\n",
        "GET / http/1.1\r\n",
        "GET / HTTP/1.1\n",                    // bare LF
        "GET / HTTP/1.1\rX",
        "GET / HTTP/1.1x\r\n",
        "GET /a\u0000b HTTP/1.1\r\n",
        "GET /caf\u00e9 HTTP/1.1\r\n",         // non-ASCII target
        "GET * HTTP/1.1\r\n",                  // '*' only for OPTIONS
        "OPTIONS ** HTTP/1.1\r\n",
        "GET example.com:80 HTTP/1.1\r\n",     // authority-form only for CONNECT
        "CONNECT / HTTP/1.1\r\n",
        "CONNECT http://example.com:443 HTTP/1.1\r\n",
        "CONNECT example.com HTTP/1.1\r\n",
        "CONNECT example.com:http HTTP/1.1\r\n",
        "CONNECT :443 HTTP/1.1\r\n",
        "CONNECT exa/mple.com:443 HTTP/1.1\r\n",
        "CONNECT []:443 HTTP/1.1\r\n",
        "GET http:// HTTP/1.1\r\n",
        "GET http:///path HTTP/1.1\r\n",
        "GET ftp://example.com/ HTTP/1.1\r\n",
        "GET relative/path HTTP/1.1\r\n",
        "HTTP/1.1 200 OK\r\n",                 // a response, not a request
        "GET",
        "GET ",
        "GET /",
        "GET / ",
        "GET / HTTP/1.",                       // cut inside the version
        "OPTIONSX / HTTP/1.1\r\n",
        "GETTING / HTTP/1.1\r\n",
    })
    void rejectsMalformedRequestLines(String head) {
        assertEquals(Optional.empty(), parse(head));
    }

    @ParameterizedTest
    @NullAndEmptySource
    void rejectsNullAndEmpty(byte[] head) {
        assertEquals(Optional.empty(), HttpParser.parseRequest(head));
    }

    @Test
    void rejectsTlsClientHello() {
        byte[] clientHello = {0x16, 0x03, 0x01, 0x02, 0x00, 0x01, 0x00, 0x01, (byte) 0xfc, 0x03, 0x03, 0x20, 0x20};
        assertEquals(Optional.empty(), HttpParser.parseRequest(clientHello));
    }

    @Test
    void readsReportedHeadersCaseInsensitively() {
        HttpRequestHead head = parse("GET /x HTTP/1.1\r\n"
                + "hOsT:   api.example.com:8080  \r\n"
                + "USER-AGENT:\tcurl/8.5.0\t\r\n"
                + "Accept: */*\r\n"
                + "TraceParent: " + TRACEPARENT + "\r\n"
                + "Uber-Trace-Id: 4bf92f3577b34da6:00f067aa0ba902b7:0:1\r\n"
                + "content-length: 42\r\n"
                + "\r\n").orElseThrow();
        assertEquals("api.example.com:8080", head.host());
        assertEquals("curl/8.5.0", head.userAgent());
        assertEquals(TRACEPARENT, head.traceparent());
        assertEquals("4bf92f3577b34da6:00f067aa0ba902b7:0:1", head.uberTraceId());
        assertEquals(42L, head.contentLength());
    }

    @Test
    void absentHeadersAreNull() {
        assertEquals(new HttpRequestHead("GET", "/", "HTTP/1.1", null, null, null, null, null, false, 31),
                parse("GET / HTTP/1.1\r\nAccept: */*\r\n\r\n").orElseThrow());
    }

    @Test
    void theHeadsLengthIsKnownOnlyWhenItsEmptyLineWasCaptured() {
        assertEquals(18, parse("GET / HTTP/1.1\r\n\r\nbody").orElseThrow().headLength());
        assertNull(parse("GET / HTTP/1.1\r\nHost: cut-sho").orElseThrow().headLength());
        assertNull(parse("GET / HTTP/1.1\r\nHost: a\r\n").orElseThrow().headLength());
    }

    @Test
    void requestFramingTellsWhenTheRequestIsComplete() {
        HttpRequestHead upload = parse("POST /u HTTP/1.1\r\nContent-Length: 100\r\n\r\n").orElseThrow();
        assertEquals(41, upload.headLength());
        assertTrue(upload.completeWithin(141));
        assertFalse(upload.completeWithin(140));
        HttpRequestHead chunked = parse("POST /u HTTP/1.1\r\nTransfer-Encoding: gzip, Chunked\r\n\r\n").orElseThrow();
        assertTrue(chunked.chunked());
        assertFalse(chunked.completeWithin(1_000), "chunks are judged by how the bytes end");
    }

    @Test
    void headersAfterTheEmptyLineAreBody() {
        assertNull(parse("POST / HTTP/1.1\r\n\r\nHost: body.example\r\n").orElseThrow().host());
    }

    @ParameterizedTest
    @CsvSource(delimiter = '|', quoteCharacter = '`', value = {
        "Host: a.example\\r\\nHost: a.example\\r\\n | a.example",   // repeated, same value: fine
        "Host: a.example\\r\\nHost: b.example\\r\\n | ",            // ambiguous
        "Host:\\r\\n | ",
        "Host: a b\\r\\n | ",
        "Host : a.example\\r\\n | ",                              // whitespace before the colon
        "Host: a.example\\nUser-Agent: x\\r\\n | ",                // bare LF inside a line
        "Host: a\\0.example\\r\\n | ",
        "Host: h\u00e9.example\\r\\n | ",
        "` Host: a.example\\r\\n` | ",                           // a folded continuation line
        "Hostname: a.example\\r\\n | ",
        "Host: a.example | ",                                   // cut off by the capture
        "Host: a.example\\r | ",
    })
    void hostHeader(String headers, String expected) {
        assertEquals(expected, parse("GET / HTTP/1.1\r\n" + unescape(headers)).orElseThrow().host());
    }

    @Test
    void userAgentKeepsNonAsciiAsUtf8() {
        byte[] head = "GET / HTTP/1.1\r\nUser-Agent: Mozilla/5.0 (Ünïcødé) \"quoted\"\r\n\r\n".getBytes(UTF_8);
        assertEquals("Mozilla/5.0 (Ünïcødé) \"quoted\"", HttpParser.parseRequest(head).orElseThrow().userAgent());
    }

    @Test
    void malformedUtf8BecomesReplacementCharacters() {
        byte[] head = "GET / HTTP/1.1\r\nUser-Agent: a\u00ff\u00feb\r\n\r\n".getBytes(ISO_8859_1);
        assertEquals("a\ufffd\ufffdb", HttpParser.parseRequest(head).orElseThrow().userAgent());
    }

    @ParameterizedTest
    @CsvSource(nullValues = "null", value = {
        "00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01, 00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01",
        "00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-00, 00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-00",
        "01-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01-future, 01-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01-future",
        "00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01-extra, null",
        "01-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01x, null",
        "ff-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01, null",
        "00-4BF92F3577B34DA6A3CE929D0E0E4736-00f067aa0ba902b7-01, null",
        "00-00000000000000000000000000000000-00f067aa0ba902b7-01, null",
        "00-4bf92f3577b34da6a3ce929d0e0e4736-0000000000000000-01, null",
        "00-4bf92f3577b34da6a3ce929d0e0e473-00f067aa0ba902b7-01, null",
        "00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-0g, null",
        "00_4bf92f3577b34da6a3ce929d0e0e4736_00f067aa0ba902b7_01, null",
        "0x-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01, null",
        "garbage, null",
    })
    void traceparent(String value, String expected) {
        assertEquals(expected, HttpParser.validTraceparent(value));
        assertEquals(expected, parse("GET / HTTP/1.1\r\ntraceparent: " + value + "\r\n").orElseThrow().traceparent());
    }

    @ParameterizedTest
    @CsvSource(nullValues = "null", value = {
        "4bf92f3577b34da6:00f067aa0ba902b7:0:1, 4bf92f3577b34da6:00f067aa0ba902b7:0:1",
        "4bf92f3577b34da6a3ce929d0e0e4736:00f067aa0ba902b7:a:01, 4bf92f3577b34da6a3ce929d0e0e4736:00f067aa0ba902b7:a:01",
        "ABC:DEF:0:1, ABC:DEF:0:1",
        "4bf92f3577b34da6%3A00f067aa0ba902b7%3A0%3A1, 4bf92f3577b34da6:00f067aa0ba902b7:0:1",
        "4bf92f3577b34da6%3a00f067aa0ba902b7%3a0%3a1, 4bf92f3577b34da6:00f067aa0ba902b7:0:1",
        "0:00f067aa0ba902b7:0:1, null",
        "4bf92f3577b34da6:0000:0:1, null",
        "4bf92f3577b34da6a3ce929d0e0e47361:00f067aa0ba902b7:0:1, null",
        "4bf92f3577b34da6:00f067aa0ba902b71:0:1, null",
        "4bf92f3577b34da6:00f067aa0ba902b7:0:100, null",
        "4bf92f3577b34da6:00f067aa0ba902b7:0, null",
        "4bf92f3577b34da6:00f067aa0ba902b7:0:1:2, null",
        "4bf92f3577b34da6::0:1, null",
        "4bf92f3577b34da6:00f067aa0ba902b7:0:, null",
        "xyz:00f067aa0ba902b7:0:1, null",
        "4bf92f3577b34da6%3G00f067aa0ba902b7%3A0%3A1, null",
    })
    void uberTraceId(String value, String expected) {
        assertEquals(expected, HttpParser.validUberTraceId(value));
        assertEquals(expected, parse("GET / HTTP/1.1\r\nuber-trace-id: " + value + "\r\n").orElseThrow().uberTraceId());
    }

    private static String withTraceHeaders(String traceparent, String uberTraceId) {
        return "GET / HTTP/1.1\r\n" + (traceparent == null ? "" : "traceparent: " + traceparent + "\r\n")
                + (uberTraceId == null ? "" : "uber-trace-id: " + uberTraceId + "\r\n") + "\r\n";
    }

    @ParameterizedTest
    @CsvSource(nullValues = "null", value = {
            // traceparent, uber-trace-id, expected trace id, expected parent span id, sampled
            "00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01, null, 4bf92f3577b34da6a3ce929d0e0e4736, 00f067aa0ba902b7, true",
            "00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-00, null, 4bf92f3577b34da6a3ce929d0e0e4736, 00f067aa0ba902b7, false",
            "null, abc:def:0:1, 00000000000000000000000000000abc, 0000000000000def, true",
            "null, ABC:DEF:0:1, 00000000000000000000000000000abc, 0000000000000def, true",
            "null, 4bf92f3577b34da6a3ce929d0e0e4736:00f067aa0ba902b7:0:0, 4bf92f3577b34da6a3ce929d0e0e4736, 00f067aa0ba902b7, false",
            "null, 4bf92f3577b34da6a3ce929d0e0e4736%3A00f067aa0ba902b7%3A0%3A03, 4bf92f3577b34da6a3ce929d0e0e4736, 00f067aa0ba902b7, true",
            "00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01, abc:def:0:1, 4bf92f3577b34da6a3ce929d0e0e4736, 00f067aa0ba902b7, true",
    })
    void callerFromTraceHeaders(String traceparent, String uber, String traceId, String spanId, boolean sampled) {
        TraceContext caller = parse(withTraceHeaders(traceparent, uber)).orElseThrow().caller();
        assertEquals(traceId, caller.traceId());
        assertEquals(spanId, caller.spanId());
        assertEquals(sampled, caller.sampled());
    }

    @ParameterizedTest
    @CsvSource(nullValues = "null", value = {
            "null, null",
            "00-00000000000000000000000000000000-00f067aa0ba902b7-01, null",
            "garbage, null",
            "null, 0:def:0:1",
            "null, abc:def:0",
    })
    void noCallerWithoutAValidHeader(String traceparent, String uber) {
        assertNull(parse(withTraceHeaders(traceparent, uber)).orElseThrow().caller());
    }

    @ParameterizedTest
    @CsvSource(delimiter = '|', nullValues = "null", value = {
        "0 | 0",
        "1234 | 1234",
        "007 | 7",
        "999999999999999999 | 999999999999999999",
        "9999999999999999999 | null",      // does not fit
        "-1 | null",
        "+1 | null",
        "1.5 | null",
        "12abc | null",
        "5, 5 | null",
        "0x10 | null",
    })
    void contentLength(String value, Long expected) {
        assertEquals(expected, parse("POST / HTTP/1.1\r\nContent-Length: " + value + "\r\n\r\n").orElseThrow().contentLength());
    }

    @Test
    void conflictingContentLengthsAreAmbiguous() {
        assertNull(parse("POST / HTTP/1.1\r\nContent-Length: 5\r\nContent-Length: 6\r\n\r\n").orElseThrow().contentLength());
    }

    @Test
    void everyCutOfARequestEitherRejectsOrKeepsOnlyCompleteLines() {
        String full = "GET /orders/42 HTTP/1.1\r\nHost: shop.example\r\nUser-Agent: k6/0.50\r\n\r\n";
        int versionEnd = full.indexOf("\r\n");
        int hostLineEnd = full.indexOf("\r\n", versionEnd + 2) + 2;
        int userAgentLineEnd = full.indexOf("\r\n", hostLineEnd) + 2;
        byte[] bytes = full.getBytes(ISO_8859_1);
        for (int cut = 0; cut <= bytes.length; cut++) {
            Optional<HttpRequestHead> head = HttpParser.parseRequest(Arrays.copyOf(bytes, cut));
            assertEquals(cut >= versionEnd, head.isPresent(), "cut at " + cut);
            if (head.isPresent()) {
                assertEquals("/orders/42", head.get().target());
                assertEquals(cut >= hostLineEnd ? "shop.example" : null, head.get().host(), "cut at " + cut);
                assertEquals(cut >= userAgentLineEnd ? "k6/0.50" : null, head.get().userAgent(), "cut at " + cut);
            }
        }
    }

    @Test
    void aRequestLineTheCaptureCutIsARequestWithTheTargetSoFar() {
        String line = "GET /search/" + "x".repeat(600) + " HTTP/1.1\r\nHost: a\r\n\r\n";
        byte[] bytes = line.getBytes(ISO_8859_1);
        int versionStart = line.indexOf(" HTTP/") + 1;
        for (int cut = "GET /".length(); cut < versionStart + "HTTP/1.1".length(); cut++) {
            byte[] captured = Arrays.copyOf(bytes, cut);
            assertFalse(HttpParser.parseRequest(captured).isPresent(), "all that was sent, cut at " + cut);
            HttpRequestHead head = HttpParser.parseRequest(captured, true).orElseThrow(() -> new AssertionError("cut"));
            assertEquals("GET", head.method());
            assertEquals(line.substring(4, Math.min(cut, versionStart - 1)), head.target(), "cut at " + cut);
            assertNull(head.version());
            assertNull(head.headLength());
        }
        assertEquals("HTTP/1.1", HttpParser.parseRequest(Arrays.copyOf(bytes, versionStart + 8), true)
                .orElseThrow().version(), "a line cut after its version is a whole line");
    }

    @ParameterizedTest
    @ValueSource(strings = {"GET /a HTTP/2", "GET /a XTTP", "GET /a  ", "GET /a\tb", "GET http", "CONNECT host:", "GET "})
    void aCutLineMustStillBeginLikeARequestLine(String captured) {
        assertFalse(HttpParser.parseRequest(unescape(captured).getBytes(ISO_8859_1), true).isPresent(), captured);
    }

    @Test
    void neverThrowsOnRandomOrMutatedInput() {
        Random random = new Random(20240601);
        byte[] valid = ("POST http://a.example/x HTTP/1.1\r\nHost: a\r\ntraceparent: " + TRACEPARENT
                + "\r\nuber-trace-id: 1:2:0:1\r\nContent-Length: 3\r\n\r\nabc").getBytes(ISO_8859_1);
        for (int i = 0; i < 20_000; i++) {
            byte[] input;
            if (i % 2 == 0) {
                input = new byte[random.nextInt(1100)];
                random.nextBytes(input);
            } else {
                input = Arrays.copyOf(valid, random.nextInt(valid.length + 1));
                for (int flips = random.nextInt(4); flips > 0 && input.length > 0; flips--) {
                    input[random.nextInt(input.length)] = (byte) random.nextInt(256);
                }
            }
            HttpParser.parseRequest(input);
            HttpParser.parseRequest(input, true);
            HttpParser.parseStatusCode(input);
        }
    }

    @Test
    void readsOnlyABoundedPrefixOfHugeInput() {
        byte[] huge = new byte[16 * 1024 * 1024];
        Arrays.fill(huge, (byte) 'a');
        byte[] start = "GET /".getBytes(ISO_8859_1);
        System.arraycopy(start, 0, huge, 0, start.length);
        assertEquals(HttpParser.MAX_HEAD_BYTES - "GET ".length(), HttpParser.parseRequest(huge).orElseThrow().target().length(),
                "a line beyond the bound is a line cut there");

        StringBuilder longHeader = new StringBuilder("GET / HTTP/1.1\r\nUser-Agent: ");
        longHeader.append("x".repeat(HttpParser.MAX_HEAD_BYTES)).append("\r\n\r\n");
        HttpRequestHead head = parse(longHeader.toString()).orElseThrow();
        assertNull(head.userAgent(), "a header line beyond the bound is treated as cut off");
    }

    @ParameterizedTest
    @CsvSource(delimiter = '|', nullValues = "null", value = {
        "HTTP/1.1 200 OK\\r\\n | 200",
        "HTTP/1.0 404 Not Found\\r\\n | 404",
        "HTTP/1.1 100 Continue\\r\\n | 100",
        "HTTP/1.1 599 \\r\\n | 599",
        "HTTP/1.1 204\\r\\n | 204",
        "HTTP/1.1 301 | 301",
        "HTTP/1.1 099 Low\\r\\n | null",
        "HTTP/1.1 600 High\\r\\n | null",
        "HTTP/1.1 2000 OK\\r\\n | null",
        "HTTP/1.1 20 OK\\r\\n | null",
        "HTTP/1.1 2x0 OK\\r\\n | null",
        "HTTP/2.0 200 OK\\r\\n | null",
        "HTTP/1.2 200 OK\\r\\n | null",
        "http/1.1 200 OK\\r\\n | null",
        "HTTP/1.1  200 OK\\r\\n | null",
        "HTTP/1.1 200-OK\\r\\n | null",
        "GET / HTTP/1.1\\r\\n | null",
        "HTTP/1.1 20 | null",
    })
    void statusCode(String head, Integer expected) {
        OptionalInt code = HttpParser.parseStatusCode(unescape(head).getBytes(ISO_8859_1));
        assertEquals(expected, code.isPresent() ? code.getAsInt() : null);
    }

    @ParameterizedTest
    @NullAndEmptySource
    void statusCodeOfNothing(byte[] head) {
        assertTrue(HttpParser.parseStatusCode(head).isEmpty());
    }
}
