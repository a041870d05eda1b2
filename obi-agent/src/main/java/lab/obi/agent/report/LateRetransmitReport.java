package lab.obi.agent.report;

import io.opentelemetry.api.trace.SpanContext;

/**
 * A retransmit after a response and its place in the trace of that response's server exchange.
 *
 * @param span   a span of its own at the moment of the retransmit; invalid, like {@code parent}, when
 *               the server exchange's span is not known (a client's connection, or a connection whose
 *               exchange was not reported)
 * @param parent the server exchange's span
 */
public record LateRetransmitReport(LateRetransmit retransmit, SpanContext span, SpanContext parent) {
}
