package lab.obi.agent.telemetry;

import io.opentelemetry.api.common.AttributeKey;
import io.opentelemetry.api.common.Attributes;
import io.opentelemetry.api.common.AttributesBuilder;
import io.opentelemetry.api.trace.SpanContext;
import io.opentelemetry.api.trace.SpanKind;
import io.opentelemetry.api.trace.StatusCode;
import io.opentelemetry.api.trace.TraceFlags;
import io.opentelemetry.api.trace.TraceState;
import io.opentelemetry.sdk.common.InstrumentationScopeInfo;
import io.opentelemetry.sdk.trace.IdGenerator;
import io.opentelemetry.sdk.trace.data.EventData;
import io.opentelemetry.sdk.trace.data.StatusData;
import lab.obi.agent.capture.ExchangeRecord.Direction;
import lab.obi.agent.exchange.HttpExchange;

import java.util.List;
import java.util.Optional;

/**
 * One span per exchange, with the observed process as its resource. A server span continues the
 * caller's trace (traceparent or uber-trace-id). A client span that carries a trace header takes
 * the header's ids: that is the span the server on the other side names as its parent.
 */
final class ExchangeSpans {

    private static final InstrumentationScopeInfo SCOPE = InstrumentationScopeInfo.create("lab.obi.agent");
    static final String ABANDONED_EVENT = "obi.abandoned";

    private final IdGenerator ids = IdGenerator.random();
    private final ProcessResources resources;

    ExchangeSpans(ProcessResources resources) {
        this.resources = resources;
    }

    /** A span's identity and parent: cheap, needed for exemplars even when spans are not exported. */
    record Identity(SpanContext context, SpanContext parent) {
    }

    /** @param threadParent for a client exchange, the span of the server request its thread was serving, or null */
    Identity identify(HttpExchange e, SpanContext threadParent) {
        Optional<SpanContext> header = TraceContext.parent(e.traceparent(), e.uberTraceId());
        if (e.direction() == Direction.SERVER) {
            return new Identity(newSpan(header.map(SpanContext::getTraceId).orElseGet(ids::generateTraceId)),
                    header.orElse(SpanContext.getInvalid()));
        }
        if (header.isPresent()) {
            SpanContext context = SpanContext.create(header.get().getTraceId(), header.get().getSpanId(),
                    TraceFlags.getSampled(), TraceState.getDefault());
            boolean sameTrace = threadParent != null && threadParent.getTraceId().equals(context.getTraceId());
            return new Identity(context, sameTrace ? threadParent : SpanContext.getInvalid());
        }
        if (threadParent != null) {
            return new Identity(newSpan(threadParent.getTraceId()), threadParent);
        }
        return new Identity(newSpan(ids.generateTraceId()), SpanContext.getInvalid());
    }

    ExchangeSpan toSpan(HttpExchange e, Identity identity) {
        boolean server = e.direction() == Direction.SERVER;
        String errorType = HttpMetrics.errorType(e, server);
        StatusData status = errorType == null ? StatusData.unset()
                : StatusData.create(StatusCode.ERROR, e.aborted() ? "abandoned: " + errorType : errorType);
        List<EventData> events = e.aborted() && e.abortKind() != null && e.timeToAbandonNs() != null
                ? List.of(EventData.create(e.startUnixNs() + e.timeToAbandonNs(), ABANDONED_EVENT, Attributes.of(
                        HttpMetrics.ABORT_KIND, e.abortKind().wireName(),
                        AttributeKey.doubleKey("obi.time_to_abandon"), e.timeToAbandonNs() / 1e9)))
                : List.of();
        return new ExchangeSpan(name(e), server ? SpanKind.SERVER : SpanKind.CLIENT, identity.context(),
                identity.parent(), status,
                e.startUnixNs(), attributes(e, server, errorType), events, e.startUnixNs() + e.durationNs(),
                resources.of(e), SCOPE);
    }

    private SpanContext newSpan(String traceId) {
        return SpanContext.create(traceId, ids.generateSpanId(), TraceFlags.getSampled(), TraceState.getDefault());
    }

    private static String name(HttpExchange e) {
        if (e.method() == null) {
            return "HTTP";
        }
        return e.route() == null ? e.method() : e.method() + " " + e.route();
    }

    private static Attributes attributes(HttpExchange e, boolean server, String errorType) {
        AttributesBuilder a = Attributes.builder();
        putIfPresent(a, HttpMetrics.METHOD, e.method());
        putIfPresent(a, HttpMetrics.ROUTE, e.route());
        if (e.status() != null) {
            a.put(HttpMetrics.STATUS, e.status().longValue());
        }
        putIfPresent(a, HttpMetrics.ERROR_TYPE, errorType);
        putIfPresent(a, AttributeKey.stringKey("user_agent.original"), e.userAgent());
        if (server) {
            putIfPresent(a, HttpMetrics.SERVER_ADDRESS, e.host());
            a.put(HttpMetrics.SERVER_PORT, e.localPort());
            a.put(HttpMetrics.CLIENT_ADDRESS, e.peerAddress());
            a.put(AttributeKey.longKey("client.port"), e.peerPort());
        } else {
            a.put(HttpMetrics.SERVER_ADDRESS, e.peerAddress());
            a.put(HttpMetrics.SERVER_PORT, e.peerPort());
        }
        a.put(AttributeKey.stringKey("network.peer.address"), e.peerAddress());
        a.put(AttributeKey.longKey("network.peer.port"), e.peerPort());
        a.put(AttributeKey.longKey("obi.connection.id"), e.connId());
        a.put(AttributeKey.longKey("obi.connection.request_index"), e.requestIndex());
        a.put(AttributeKey.longKey("obi.bytes_in"), e.bytesIn());
        a.put(AttributeKey.longKey("obi.bytes_out"), e.bytesOut());
        if (e.retransmits() > 0) {
            a.put(AttributeKey.longKey("obi.tcp.retransmits"), e.retransmits());
        }
        if (e.truncated()) {
            a.put(AttributeKey.booleanKey("obi.response.truncated"), true);
        }
        return a.build();
    }

    private static <T> void putIfPresent(AttributesBuilder a, AttributeKey<T> key, T value) {
        if (value != null) {
            a.put(key, value);
        }
    }
}
