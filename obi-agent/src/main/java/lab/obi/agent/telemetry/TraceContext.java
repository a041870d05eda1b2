package lab.obi.agent.telemetry;

import io.opentelemetry.api.trace.SpanContext;
import io.opentelemetry.api.trace.TraceFlags;
import io.opentelemetry.api.trace.TraceState;

import java.util.Optional;

/** The caller's span from a request's W3C traceparent or Jaeger uber-trace-id (both already validated). */
final class TraceContext {

    private TraceContext() {
    }

    static Optional<SpanContext> parent(String traceparent, String uberTraceId) {
        if (traceparent != null) {
            String[] parts = traceparent.split("-");
            if (parts.length >= 4) {
                return remote(parts[1], parts[2], parts[3]);
            }
        }
        if (uberTraceId != null) {
            String[] parts = uberTraceId.split(":");
            if (parts.length == 4) {
                int flags = parseHex(parts[3]);
                return remote(leftPad(parts[0], 32), leftPad(parts[1], 16), (flags & 1) != 0 ? "01" : "00");
            }
        }
        return Optional.empty();
    }

    private static Optional<SpanContext> remote(String traceId, String spanId, String flags) {
        SpanContext context = SpanContext.createFromRemoteParent(traceId.toLowerCase(), spanId.toLowerCase(),
                TraceFlags.fromHex(flags, 0), TraceState.getDefault());
        return context.isValid() ? Optional.of(context) : Optional.empty();
    }

    private static int parseHex(String hex) {
        try {
            return Integer.parseInt(hex, 16);
        } catch (NumberFormatException e) {
            return 0;
        }
    }

    private static String leftPad(String hex, int length) {
        return hex.length() >= length ? hex : "0".repeat(length - hex.length()) + hex;
    }
}
