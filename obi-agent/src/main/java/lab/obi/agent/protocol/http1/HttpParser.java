package lab.obi.agent.protocol.http1;

import java.nio.charset.StandardCharsets;
import lab.obi.agent.protocol.TraceContext;
import lab.obi.agent.protocol.http1.HttpRequestHead.TraceHeader;
import java.util.Locale;
import java.util.Optional;
import java.util.OptionalInt;

/**
 * Parses the first bytes of HTTP/1.x heads as the kernel captured them.
 * The bytes may be cut anywhere, binary (TLS, HTTP/2, other protocols) or hostile, so the parser is
 * strict about the request line, lenient about headers it does not need, and never throws.
 */
public final class HttpParser {

    /** The kernel sends at most 1 KiB; anything beyond this is never looked at, so hostile input stays cheap. */
    static final int MAX_HEAD_BYTES = 8192;

    /** Matched as bytes and returned as these constants: no string per request for what has nine values. */
    private static final String[] METHODS = {"GET", "POST", "HEAD", "PUT", "DELETE", "PATCH", "OPTIONS", "CONNECT",
        "TRACE"};
    private static final String[] VERSIONS = {"HTTP/1.1", "HTTP/1.0"};
    private static final int LONGEST_METHOD = "OPTIONS".length();
    private static final int VERSION_LENGTH = "HTTP/1.1".length();
    private static final int MAX_CONTENT_LENGTH_DIGITS = 18;

    /** The headers obi-agent reports; every other header is skipped. */
    private enum Field {
        HOST, USER_AGENT, TRACEPARENT, UBER_TRACE_ID, CONTENT_LENGTH, TRANSFER_ENCODING;

        final byte[] lowerCaseName = name().toLowerCase(Locale.ROOT).replace('_', '-').getBytes(StandardCharsets.US_ASCII);
    }

    /** values() copies the array on every call. */
    private static final Field[] FIELDS = Field.values();

    private HttpParser() {
    }

    /**
     * Parses a request head. Empty unless the bytes start with a complete, well-formed request line
     * (a head cut right after the version is accepted). Header lines cut off by the capture are ignored.
     */
    public static Optional<HttpRequestHead> parseRequest(byte[] head) {
        return parseRequest(head, false);
    }

    /**
     * Parses a request head whose bytes the capture may have cut.
     *
     * @param cut more request bytes went by than {@code head} holds: a request line that runs to the end
     *            of the bytes (a 64 KiB URL, or a target written apart from the rest) is a request all the
     *            same, reported with the target as far as it was captured and no version
     */
    public static Optional<HttpRequestHead> parseRequest(byte[] head, boolean cut) {
        if (head == null) {
            return Optional.empty();
        }
        int limit = Math.min(head.length, MAX_HEAD_BYTES);
        boolean endsCut = cut || head.length > limit;
        int methodEnd = indexOf(head, (byte) ' ', 0, Math.min(limit, LONGEST_METHOD + 1));
        if (methodEnd < 0) {
            return Optional.empty();
        }
        String method = oneOf(METHODS, head, 0, methodEnd);
        if (method == null) {
            return Optional.empty();
        }
        int targetStart = methodEnd + 1;
        int targetEnd = targetStart;
        while (targetEnd < limit && isVisibleAscii(head[targetEnd])) {
            targetEnd++;
        }
        if (targetEnd == targetStart || (targetEnd < limit && head[targetEnd] != ' ')) {
            return Optional.empty();
        }
        String target = latin1(head, targetStart, targetEnd);
        if (!targetFitsMethod(method, target)) {
            return Optional.empty();
        }
        int versionStart = targetEnd + 1;
        int versionEnd = versionStart + VERSION_LENGTH;
        if (versionEnd > limit) {
            boolean versionSoFar = versionStart >= limit
                    || "HTTP/1.".startsWith(latin1(head, versionStart, Math.min(limit, versionStart + 7)));
            return endsCut && versionSoFar ? Optional.of(cutRequestLine(method, target)) : Optional.empty();
        }
        String version = oneOf(VERSIONS, head, versionStart, versionEnd);
        if (version == null) {
            return Optional.empty();
        }
        if ((versionEnd < limit && head[versionEnd] != '\r') || (versionEnd + 1 < limit && head[versionEnd + 1] != '\n')) {
            return Optional.empty();
        }
        String[] fields = new String[FIELDS.length];
        int headLength = readHeaders(head, versionEnd + 2, limit, fields);
        String transferEncoding = fields[Field.TRANSFER_ENCODING.ordinal()];
        return Optional.of(new HttpRequestHead(
                method,
                target,
                version,
                visibleAsciiOrNull(fields[Field.HOST.ordinal()]),
                fields[Field.USER_AGENT.ordinal()],
                traceparent(validTraceparent(fields[Field.TRACEPARENT.ordinal()])),
                uberTraceId(validUberTraceId(fields[Field.UBER_TRACE_ID.ordinal()])),
                contentLength(fields[Field.CONTENT_LENGTH.ordinal()]),
                transferEncoding != null && transferEncoding.toLowerCase(Locale.ROOT).endsWith("chunked"),
                headLength < 0 ? null : headLength));
    }

    /** A request line the capture cut before its version ended: no version, no header. */
    private static HttpRequestHead cutRequestLine(String method, String target) {
        return new HttpRequestHead(method, target, null, null, null, null, null, null, false, null);
    }

    /** The status code of a response head "HTTP/1.x NNN ...", if it is in 100..599. */
    public static OptionalInt parseStatusCode(byte[] responseHead) {
        byte[] h = responseHead;
        if (h == null || h.length < 12) {
            return OptionalInt.empty();
        }
        if (!latin1(h, 0, 7).equals("HTTP/1.") || (h[7] != '0' && h[7] != '1') || h[8] != ' '
                || !isDigit(h[9]) || !isDigit(h[10]) || !isDigit(h[11])) {
            return OptionalInt.empty();
        }
        // The reason phrase is optional, but a fourth digit means this is not a three-digit status code.
        if (h.length > 12 && h[12] != ' ' && h[12] != '\r') {
            return OptionalInt.empty();
        }
        int code = (h[9] - '0') * 100 + (h[10] - '0') * 10 + (h[11] - '0');
        return code >= 100 && code <= 599 ? OptionalInt.of(code) : OptionalInt.empty();
    }

    private static boolean targetFitsMethod(String method, String target) {
        if (method.equals("CONNECT")) {
            return isAuthorityForm(target);
        }
        if (target.equals("*")) {
            return method.equals("OPTIONS");
        }
        return target.startsWith("/") || isAbsoluteForm(target);
    }

    private static boolean isAbsoluteForm(String target) {
        return hasAuthorityAfter(target, "http://") || hasAuthorityAfter(target, "https://");
    }

    private static boolean hasAuthorityAfter(String target, String schemePrefix) {
        int n = schemePrefix.length();
        return target.length() > n
                && target.regionMatches(true, 0, schemePrefix, 0, n)
                && "/?#".indexOf(target.charAt(n)) < 0;
    }

    /** host:port, where host is a name, an IPv4 address or a bracketed IPv6 address. */
    private static boolean isAuthorityForm(String target) {
        int colon = target.lastIndexOf(':');
        if (colon <= 0 || !isPort(target.substring(colon + 1))) {
            return false;
        }
        String host = target.substring(0, colon);
        if (host.startsWith("[")) {
            return host.length() > 2 && host.endsWith("]") && allMatch(host.substring(1, host.length() - 1), ":.0123456789abcdefABCDEF");
        }
        return allMatch(host, "-._~!$&'()*+,;=%0123456789abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ");
    }

    private static boolean isPort(String s) {
        return !s.isEmpty() && s.length() <= 5 && allMatch(s, "0123456789");
    }

    private static boolean allMatch(String s, String allowed) {
        for (int i = 0; i < s.length(); i++) {
            if (allowed.indexOf(s.charAt(i)) < 0) {
                return false;
            }
        }
        return true;
    }

    /**
     * Reads the reported headers into {@code values}, indexed by {@link Field#ordinal()}; a header
     * given twice with different values is left out.
     *
     * @return bytes up to and including the empty line; -1 if the bytes end before it
     */
    private static int readHeaders(byte[] head, int from, int limit, String[] values) {
        int conflicting = 0; // a bit per field
        int lineStart = from;
        int headLength = -1;
        while (lineStart < limit) {
            int lineEnd = indexOfCrlf(head, lineStart, limit);
            if (lineEnd == lineStart) {
                headLength = lineStart + 2;
                break;
            }
            if (lineEnd < 0) {
                break; // a line the capture cut off
            }
            int colon = indexOf(head, (byte) ':', lineStart, lineEnd);
            Field field = colon < 0 ? null : fieldNamed(head, lineStart, colon);
            String value = field == null ? null : headerValue(head, colon + 1, lineEnd);
            if (value != null) {
                int i = field.ordinal();
                // Two different values make the header ambiguous (request smuggling relies on exactly that).
                if (values[i] != null && !values[i].equals(value)) {
                    conflicting |= 1 << i;
                }
                values[i] = value;
            }
            lineStart = lineEnd + 2;
        }
        for (int i = 0; i < values.length; i++) {
            if ((conflicting & 1 << i) != 0) {
                values[i] = null;
            }
        }
        return headLength;
    }

    private static Field fieldNamed(byte[] head, int nameStart, int nameEnd) {
        for (Field field : FIELDS) {
            byte[] name = field.lowerCaseName;
            if (nameEnd - nameStart == name.length && equalsIgnoreAsciiCase(head, nameStart, name)) {
                return field;
            }
        }
        return null;
    }

    /** The value without surrounding whitespace; null if empty or if it holds control characters. */
    private static String headerValue(byte[] head, int valueStart, int lineEnd) {
        int from = valueStart;
        int to = lineEnd;
        while (from < to && isOptionalWhitespace(head[from])) {
            from++;
        }
        while (to > from && isOptionalWhitespace(head[to - 1])) {
            to--;
        }
        if (from == to) {
            return null;
        }
        for (int i = from; i < to; i++) {
            int b = head[i] & 0xff;
            if ((b < 0x20 && b != '\t') || b == 0x7f) {
                return null;
            }
        }
        return new String(head, from, to - from, StandardCharsets.UTF_8);
    }

    /** W3C Trace Context: version-traceid-spanid-flags, lowercase hex, no all-zero ids, version ff invalid. */
    static String validTraceparent(String value) {
        if (value == null || value.length() < 55) {
            return null;
        }
        boolean wellFormed = isLowerHex(value, 0, 2) && !value.startsWith("ff")
                && value.charAt(2) == '-' && isLowerHex(value, 3, 35) && !isAllZeros(value, 3, 35)
                && value.charAt(35) == '-' && isLowerHex(value, 36, 52) && !isAllZeros(value, 36, 52)
                && value.charAt(52) == '-' && isLowerHex(value, 53, 55);
        // Version 00 is exactly 55 characters; later versions may append fields after a '-'.
        boolean validTail = value.length() == 55 || (!value.startsWith("00") && value.charAt(55) == '-');
        return wellFormed && validTail ? value : null;
    }

    /** Jaeger: trace-id:span-id:parent-span-id:flags in hex; the separators may arrive URL-encoded. */
    static String validUberTraceId(String value) {
        if (value == null) {
            return null;
        }
        String decoded = value.replace("%3A", ":").replace("%3a", ":");
        String[] parts = decoded.split(":", -1);
        if (parts.length != 4) {
            return null;
        }
        boolean valid = isHex(parts[0], 32) && !isAllZeros(parts[0], 0, parts[0].length())
                && isHex(parts[1], 16) && !isAllZeros(parts[1], 0, parts[1].length())
                && isHex(parts[2], 16)
                && isHex(parts[3], 2);
        return valid ? decoded : null;
    }

    /** A valid traceparent: version-traceid-spanid-flags, the sampled flag being the low bit of the flags. */
    private static TraceHeader traceparent(String valid) {
        if (valid == null) {
            return null;
        }
        boolean sampled = (hexValue(valid.charAt(54)) & 1) != 0;
        return new TraceHeader(valid, new TraceContext(valid.substring(3, 35), valid.substring(36, 52), sampled));
    }

    /**
     * A valid uber-trace-id: trace-id:span-id:parent-span-id:flags, ids of up to 32 and 16 hex digits in
     * either case; the caller's span is span-id, sampled is the low bit of the flags.
     */
    private static TraceHeader uberTraceId(String valid) {
        if (valid == null) {
            return null;
        }
        int spanStart = valid.indexOf(':') + 1;
        int parentStart = valid.indexOf(':', spanStart) + 1;
        boolean sampled = (hexValue(valid.charAt(valid.length() - 1)) & 1) != 0;
        return new TraceHeader(valid, new TraceContext(lowerHexOfWidth(valid, 0, spanStart - 1, 32),
                lowerHexOfWidth(valid, spanStart, parentStart - 1, 16), sampled));
    }

    /** Jaeger drops leading zeros and may use upper case; OpenTelemetry ids have their full width in lower case. */
    private static String lowerHexOfWidth(String s, int from, int to, int width) {
        String digits = s.substring(from, to).toLowerCase(Locale.ROOT);
        return digits.length() == width ? digits : "0".repeat(width - digits.length()) + digits;
    }

    private static int hexValue(char c) {
        return Character.digit(c, 16);
    }

    private static Long contentLength(String value) {
        if (value == null || value.length() > MAX_CONTENT_LENGTH_DIGITS || !allMatch(value, "0123456789")) {
            return null;
        }
        return Long.parseLong(value);
    }

    private static String visibleAsciiOrNull(String value) {
        if (value == null) {
            return null;
        }
        for (int i = 0; i < value.length(); i++) {
            char c = value.charAt(i);
            if (c <= 0x20 || c >= 0x7f) {
                return null;
            }
        }
        return value;
    }

    private static boolean isHex(String s, int maxLength) {
        return !s.isEmpty() && s.length() <= maxLength && allMatch(s, "0123456789abcdefABCDEF");
    }

    private static boolean isLowerHex(String s, int from, int to) {
        for (int i = from; i < to; i++) {
            char c = s.charAt(i);
            if (!((c >= '0' && c <= '9') || (c >= 'a' && c <= 'f'))) {
                return false;
            }
        }
        return true;
    }

    private static boolean isAllZeros(String s, int from, int to) {
        for (int i = from; i < to; i++) {
            if (s.charAt(i) != '0') {
                return false;
            }
        }
        return true;
    }

    private static boolean equalsIgnoreAsciiCase(byte[] head, int at, byte[] lowerCase) {
        for (int i = 0; i < lowerCase.length; i++) {
            byte b = head[at + i];
            byte lower = b >= 'A' && b <= 'Z' ? (byte) (b | 0x20) : b;
            if (lower != lowerCase[i]) {
                return false;
            }
        }
        return true;
    }

    private static int indexOf(byte[] bytes, byte wanted, int from, int to) {
        for (int i = from; i < to; i++) {
            if (bytes[i] == wanted) {
                return i;
            }
        }
        return -1;
    }

    private static int indexOfCrlf(byte[] bytes, int from, int to) {
        for (int i = from; i + 1 < to; i++) {
            if (bytes[i] == '\r' && bytes[i + 1] == '\n') {
                return i;
            }
        }
        return -1;
    }

    /** The constant whose ASCII characters are the bytes from..to, or null. */
    private static String oneOf(String[] constants, byte[] bytes, int from, int to) {
        for (String constant : constants) {
            if (constant.length() == to - from && equalsAscii(bytes, from, constant)) {
                return constant;
            }
        }
        return null;
    }

    private static boolean equalsAscii(byte[] bytes, int at, String ascii) {
        for (int i = 0; i < ascii.length(); i++) {
            if (bytes[at + i] != ascii.charAt(i)) {
                return false;
            }
        }
        return true;
    }

    /** One char per byte: non-ASCII bytes can never compare equal to an ASCII literal. */
    private static String latin1(byte[] bytes, int from, int to) {
        return new String(bytes, from, to - from, StandardCharsets.ISO_8859_1);
    }

    private static boolean isVisibleAscii(byte b) {
        return b > 0x20 && b < 0x7f;
    }

    private static boolean isOptionalWhitespace(byte b) {
        return b == ' ' || b == '\t';
    }

    private static boolean isDigit(byte b) {
        return b >= '0' && b <= '9';
    }
}
