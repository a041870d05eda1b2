package lab.obi.agent.sink.requestlog;

import lab.obi.agent.config.AgentConfig;
import lab.obi.agent.report.ConnectionSummary;
import lab.obi.agent.report.ExchangeReport;
import lab.obi.agent.report.GeneratedSpanContext;
import lab.obi.agent.sink.Tail;

/**
 * Which reports get a line (obi.request-log.lines). The tail: every exchange that went wrong or was
 * slow ({@link Tail}, with the cause the log line tells) and a sample of the rest by trace id, so
 * that the exchanges of a trace are in or out together; connections that were reset or retransmitted on; every late
 * retransmit. Writing every line of a busy host costs the agent more than everything else it does
 * per request, and the metrics count every exchange whatever the log keeps.
 */
final class LineSelection {

    private final boolean all;
    /** A trace is sampled when its id's random part, made positive, is below this (the SDK's TraceIdRatioBased). */
    private final long sampleBelow;

    private LineSelection(boolean all, double sampleRatio) {
        this.all = all;
        this.sampleBelow = sampleRatio == 0 ? Long.MIN_VALUE
                : sampleRatio == 1 ? Long.MAX_VALUE : (long) (sampleRatio * Long.MAX_VALUE);
    }

    static LineSelection of(AgentConfig.RequestLog config) {
        return new LineSelection(config.lines() == AgentConfig.RequestLog.Lines.ALL, config.sampleRatio());
    }

    static LineSelection all() {
        return new LineSelection(true, 1);
    }

    /** For the start-up line. */
    static String describe(AgentConfig.RequestLog config) {
        return config.lines() == AgentConfig.RequestLog.Lines.ALL ? "every exchange"
                : "the tail (wrong, or slow: obi.slow.threshold) and "
                + config.sampleRatio() * 100 + "% of the rest";
    }

    boolean keeps(ExchangeReport report) {
        return all || Tail.wentWrongOrSlow(report) || sampled(report);
    }

    boolean keeps(ConnectionSummary c) {
        return all || c.resetSent() || c.resetReceived() || c.retransmits() > 0;
    }

    /** As the SDK's trace-id ratio sampler decides, from the id's numbers: writing it out in hex cost more. */
    private boolean sampled(ExchangeReport report) {
        return Math.abs(GeneratedSpanContext.traceIdRandomPart(report.span())) < sampleBelow;
    }
}
