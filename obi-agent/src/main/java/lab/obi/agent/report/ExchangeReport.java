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
 * @param context an OpenTelemetry context whose current span is {@code span}: what measurements of
 *                this exchange take their exemplar from, built once for every sink
 * @param slowCause why it was slow, when it was slower than {@code obi.slow.threshold}; else null
 */
public record ExchangeReport(HttpExchange exchange, SpanContext span, SpanContext parent, Context context,
                             SlowCause slowCause) {

    public static ExchangeReport traced(HttpExchange exchange, SpanContext span, SpanContext parent) {
        return new ExchangeReport(exchange, span, parent, Context.root().with(Span.wrap(span)), null);
    }

    public ExchangeReport withSlowCause(SlowCause cause) {
        return cause == slowCause ? this : new ExchangeReport(exchange, span, parent, context, cause);
    }
}
