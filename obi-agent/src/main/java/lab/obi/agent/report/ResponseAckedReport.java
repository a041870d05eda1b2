package lab.obi.agent.report;

import io.opentelemetry.api.trace.SpanContext;

/**
 * A late ACK of a response, joined with the exchange it ends.
 *
 * @param exchange  the server exchange whose response it acknowledged; null when it is not known (the
 *                  exchange was not reported, or a later one replaced it)
 * @param span      a span of its own from the response's last write to the ACK; invalid, like
 *                  {@code parent}, when the exchange's span is not known
 * @param parent    the server exchange's span
 * @param slowCause why the request was slow, when the wait for the ACK made it so (the exchange itself
 *                  was not); null otherwise
 */
public record ResponseAckedReport(ResponseAcked acked, HttpExchange exchange, SpanContext span,
                                  SpanContext parent, SlowCause slowCause) {
}
