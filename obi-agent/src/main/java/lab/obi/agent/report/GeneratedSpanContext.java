package lab.obi.agent.report;

import io.opentelemetry.api.trace.SpanContext;
import io.opentelemetry.api.trace.SpanId;
import io.opentelemetry.api.trace.TraceFlags;
import io.opentelemetry.api.trace.TraceId;
import io.opentelemetry.api.trace.TraceState;

import java.util.concurrent.ThreadLocalRandom;

/**
 * A sampled local span with random ids, written out in hex only when something reads them: most
 * requests' ids are never read (no span export, a request log of the tail, one exemplar per bucket
 * kept per collection), and writing them out cost more than drawing them. Read from several threads
 * (assembly, scrape, export): a race computes the same immutable string twice, as String.hashCode does.
 */
public final class GeneratedSpanContext implements SpanContext {

    private final long traceIdHigh;
    private final long traceIdLow;
    private final long spanId;
    private String traceIdHex;
    private String spanIdHex;

    private GeneratedSpanContext(long traceIdHigh, long traceIdLow, String traceIdHex) {
        this.traceIdHigh = traceIdHigh;
        this.traceIdLow = traceIdLow;
        this.traceIdHex = traceIdHex;
        this.spanId = nonZero(ThreadLocalRandom.current());
    }

    /** The first span of a new trace. */
    public static SpanContext newTrace() {
        ThreadLocalRandom random = ThreadLocalRandom.current();
        return new GeneratedSpanContext(random.nextLong(), nonZero(random), null);
    }

    /** A new span in a known trace; invalid, as {@link SpanContext#create} makes it, when the trace id is. */
    public static SpanContext inTrace(String traceId) {
        if (!TraceId.isValid(traceId)) {
            return SpanContext.getInvalid();
        }
        return new GeneratedSpanContext(0, 0, traceId);
    }

    /**
     * The trace id's last 8 bytes as a long, which trace-id ratio samplers draw their decision from:
     * without writing out and parsing back the hex of an id that was drawn as numbers.
     */
    public static long traceIdRandomPart(SpanContext span) {
        if (span instanceof GeneratedSpanContext generated && generated.traceIdLow != 0) {
            return generated.traceIdLow;
        }
        return Long.parseUnsignedLong(span.getTraceId().substring(16), 16);
    }

    private static long nonZero(ThreadLocalRandom random) {
        long id;
        do {
            id = random.nextLong();
        } while (id == 0);
        return id;
    }

    @Override
    public String getTraceId() {
        String hex = traceIdHex;
        if (hex == null) {
            hex = TraceId.fromLongs(traceIdHigh, traceIdLow);
            traceIdHex = hex;
        }
        return hex;
    }

    @Override
    public String getSpanId() {
        String hex = spanIdHex;
        if (hex == null) {
            hex = SpanId.fromLong(spanId);
            spanIdHex = hex;
        }
        return hex;
    }

    @Override
    public TraceFlags getTraceFlags() {
        return TraceFlags.getSampled();
    }

    @Override
    public TraceState getTraceState() {
        return TraceState.getDefault();
    }

    /** Both ids are non-zero by construction. */
    @Override
    public boolean isValid() {
        return true;
    }

    @Override
    public boolean isRemote() {
        return false;
    }

    @Override
    public String toString() {
        return "SpanContext{traceId=" + getTraceId() + ", spanId=" + getSpanId() + ", sampled}";
    }
}
