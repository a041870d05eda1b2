package lab.obi.agent.report;

import io.opentelemetry.api.trace.Span;
import io.opentelemetry.api.trace.SpanContext;
import io.opentelemetry.context.Context;

/**
 * A finished exchange and its place in a trace, as the assembly hands it to the sinks.
 *
 * @param span    the exchange's own span
 * @param parent  the span it continues: the caller's, or the server request its thread was serving;
 *                invalid for a trace's root
 * @param slowCause why it was slow, when it was slower than {@code obi.slow.threshold}; else null
 */
public record ExchangeReport(HttpExchange exchange, SpanContext span, SpanContext parent, SlowCause slowCause) {

    public static ExchangeReport traced(HttpExchange exchange, SpanContext span, SpanContext parent) {
        return new ExchangeReport(exchange, span, parent, null);
    }

    public ExchangeReport withSlowCause(SlowCause cause) {
        return cause == slowCause ? this : new ExchangeReport(exchange, span, parent, cause);
    }

    /**
     * An OpenTelemetry context whose current span is {@code span}, for the SDK's exemplars. Built when
     * asked: the agent's own metric cells take the span itself, and most exchanges are never asked.
     */
    public Context context() {
        return Context.root().with(Span.wrap(span));
    }
}
