package lab.obi.agent.protocol;

/**
 * The caller's span as a request propagated it (a W3C traceparent or a Jaeger uber-trace-id header),
 * parsed once, when the request is: ids in lowercase hex of their full width (32 and 16 digits),
 * never all zeros, so they are valid OpenTelemetry ids as they stand.
 *
 * @param sampled the caller's sampled flag
 */
public record TraceContext(String traceId, String spanId, boolean sampled) {
}
