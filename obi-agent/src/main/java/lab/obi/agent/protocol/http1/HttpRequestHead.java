package lab.obi.agent.protocol.http1;

import lab.obi.agent.protocol.TraceContext;

/**
 * The parts of an HTTP/1.x request head that obi-agent reports.
 * Header fields are null when absent, malformed, or sent twice with different values.
 *
 * @param method            one of the methods {@link HttpParser} accepts
 * @param target            the request target exactly as sent (visible ASCII), or its beginning
 * @param version           "HTTP/1.0" or "HTTP/1.1"; null when the capture cut the request line (the target
 *                          is then as far as it was captured)
 * @param host              the Host header (visible ASCII)
 * @param userAgent         the User-Agent header
 * @param traceparentHeader a valid W3C traceparent header
 * @param uberTraceIdHeader a valid Jaeger uber-trace-id header, with ':' separators
 * @param contentLength     the request Content-Length
 * @param chunked           Transfer-Encoding ends with chunked: the body ends with a zero-size chunk
 * @param headLength        bytes of the head up to and including its empty line; null when the captured
 *                          bytes end before it
 */
public record HttpRequestHead(
        String method,
        String target,
        String version,
        String host,
        String userAgent,
        TraceHeader traceparentHeader,
        TraceHeader uberTraceIdHeader,
        Long contentLength,
        boolean chunked,
        Integer headLength) {

    /** A trace header as it was sent (what the request log shows) and the caller's span it names. */
    public record TraceHeader(String value, TraceContext context) {
    }

    /** The traceparent header as sent. */
    public String traceparent() {
        return traceparentHeader == null ? null : traceparentHeader.value();
    }

    /** The uber-trace-id header, its separators decoded. */
    public String uberTraceId() {
        return uberTraceIdHeader == null ? null : uberTraceIdHeader.value();
    }

    /** The caller's span: traceparent, the standard, wins over uber-trace-id. Null without either. */
    public TraceContext caller() {
        if (traceparentHeader != null) {
            return traceparentHeader.context();
        }
        return uberTraceIdHeader == null ? null : uberTraceIdHeader.context();
    }

    /** The version as network.protocol.version names it ("1.1"); null when the capture cut it off. */
    public String protocolVersion() {
        if (version == null) {
            return null;
        }
        return switch (version) { // the parser's constants: no string made per request
            case "HTTP/1.1" -> "1.1";
            case "HTTP/1.0" -> "1.0";
            default -> version.substring("HTTP/".length());
        };
    }

    /** Request bytes that make the whole request, when the head and its framing are known. */
    public boolean completeWithin(long requestBytes) {
        return headLength != null && !chunked
                && requestBytes >= headLength + (contentLength == null ? 0 : contentLength);
    }
}
