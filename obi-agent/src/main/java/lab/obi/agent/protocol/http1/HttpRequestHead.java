package lab.obi.agent.protocol.http1;

/**
 * The parts of an HTTP/1.x request head that obi-agent reports.
 * Header fields are null when absent, malformed, or sent twice with different values.
 *
 * @param method        one of the methods {@link HttpParser} accepts
 * @param target        the request target exactly as sent (visible ASCII)
 * @param version       "HTTP/1.0" or "HTTP/1.1"
 * @param host          the Host header (visible ASCII)
 * @param userAgent     the User-Agent header
 * @param traceparent   a valid W3C traceparent header
 * @param uberTraceId   a valid Jaeger uber-trace-id header, with ':' separators
 * @param contentLength the request Content-Length
 * @param chunked       Transfer-Encoding ends with chunked: the body ends with a zero-size chunk
 * @param headLength    bytes of the head up to and including its empty line; null when the captured
 *                      bytes end before it
 */
public record HttpRequestHead(
        String method,
        String target,
        String version,
        String host,
        String userAgent,
        String traceparent,
        String uberTraceId,
        Long contentLength,
        boolean chunked,
        Integer headLength) {

    /** Request bytes that make the whole request, when the head and its framing are known. */
    public boolean completeWithin(long requestBytes) {
        return headLength != null && !chunked
                && requestBytes >= headLength + (contentLength == null ? 0 : contentLength);
    }
}
