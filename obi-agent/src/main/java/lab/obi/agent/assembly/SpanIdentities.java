package lab.obi.agent.assembly;

import io.opentelemetry.api.trace.SpanContext;
import io.opentelemetry.api.trace.TraceFlags;
import io.opentelemetry.api.trace.TraceState;
import lab.obi.agent.process.ObservedSocket.Direction;
import lab.obi.agent.protocol.TraceContext;
import lab.obi.agent.report.ExchangeReport;
import lab.obi.agent.report.GeneratedSpanContext;
import lab.obi.agent.report.HttpExchange;
import lab.obi.agent.report.LateRetransmit;
import lab.obi.agent.report.LateRetransmitReport;
import lab.obi.agent.report.ResponseAcked;
import lab.obi.agent.report.ResponseAckedReport;
import lab.obi.agent.report.SlowCause;

/**
 * Gives reports their place in a trace. A server exchange continues its caller's trace (traceparent
 * or uber-trace-id). A client exchange that carries a trace header is the span the header names: the
 * one the server on the other side names as its parent. A client call made while its thread served a
 * request is that request's child. Every span is sampled: the Collector's tail sampling decides.
 */
public final class SpanIdentities {

    /**
     * @param threadParent for a client exchange, the span of the server request its thread was serving;
     *                     null when there is none, invalid when that request is not reported
     */
    public ExchangeReport exchange(HttpExchange e, SpanContext threadParent) {
        TraceContext caller = e.caller();
        if (e.socket().direction() == Direction.SERVER) {
            return caller == null
                    ? ExchangeReport.traced(e, GeneratedSpanContext.newTrace(), SpanContext.getInvalid())
                    : ExchangeReport.traced(e, newSpan(caller.traceId()), remoteParent(caller));
        }
        SpanContext server = threadParent != null && threadParent.isValid() ? threadParent : null;
        if (caller != null) {
            SpanContext named = SpanContext.create(caller.traceId(), caller.spanId(), TraceFlags.getSampled(),
                    TraceState.getDefault());
            // A parent from another trace would be a guess.
            boolean sameTrace = server != null && server.getTraceId().equals(named.getTraceId());
            return ExchangeReport.traced(e, named, sameTrace ? server : SpanContext.getInvalid());
        }
        return server != null
                ? ExchangeReport.traced(e, newSpan(server.getTraceId()), server)
                : ExchangeReport.traced(e, GeneratedSpanContext.newTrace(), SpanContext.getInvalid());
    }

    /**
     * A retransmit after the server wrote its whole response cannot join that span (it has ended): it
     * gets a child span of its own, so the trace shows the client's wait past the server's end.
     *
     * @param serverSpan the span of the exchange whose response was sent again; null or invalid when unknown
     */
    public LateRetransmitReport lateRetransmit(LateRetransmit r, SpanContext serverSpan) {
        if (serverSpan == null || !serverSpan.isValid()) {
            return new LateRetransmitReport(r, SpanContext.getInvalid(), SpanContext.getInvalid());
        }
        return new LateRetransmitReport(r, newSpan(serverSpan.getTraceId()), serverSpan);
    }

    /**
     * A late ACK gets a span of its own after the server exchange's, from the response's last write to
     * the ACK, so the trace shows how long the client still waited.
     *
     * @param exchange the server exchange it ends; null when unknown
     */
    public ResponseAckedReport responseAcked(ResponseAcked acked, ExchangeReport exchange, SlowCause cause) {
        SpanContext server = exchange == null ? SpanContext.getInvalid() : exchange.span();
        if (!server.isValid()) {
            return new ResponseAckedReport(acked, null, SpanContext.getInvalid(), SpanContext.getInvalid(), cause);
        }
        return new ResponseAckedReport(acked, exchange.exchange(), newSpan(server.getTraceId()), server, cause);
    }

    private static SpanContext remoteParent(TraceContext caller) {
        return SpanContext.createFromRemoteParent(caller.traceId(), caller.spanId(),
                caller.sampled() ? TraceFlags.getSampled() : TraceFlags.getDefault(), TraceState.getDefault());
    }

    private static SpanContext newSpan(String traceId) {
        return GeneratedSpanContext.inTrace(traceId);
    }
}
