package lab.obi.agent.sink.requestlog;

import io.opentelemetry.api.common.Attributes;
import io.opentelemetry.api.trace.SpanKind;
import io.opentelemetry.context.Context;
import io.opentelemetry.sdk.trace.samplers.Sampler;
import io.opentelemetry.sdk.trace.samplers.SamplingDecision;
import java.util.List;
import lab.obi.agent.config.AgentConfig;
import lab.obi.agent.report.ConnectionSummary;
import lab.obi.agent.report.ExchangeReport;
import lab.obi.agent.report.HttpExchange;
import lab.obi.agent.report.TcpEvidence;
import lab.obi.agent.sink.SemanticConventions;

/**
 * Which reports get a line (obi.request-log.lines). The tail: every exchange that went wrong or was
 * slow (abandoned, cut short, an error status, TCP retransmits or resets, an interface outage, slow
 * as obi.slow.threshold says, with the cause the log line tells) and a sample of the rest by trace id, so that the exchanges of a
 * trace are in or out together; connections that were reset or retransmitted on; every late
 * retransmit. Writing every line of a busy host costs the agent more than everything else it does
 * per request, and the metrics count every exchange whatever the log keeps.
 */
final class LineSelection {

    private final boolean all;
    private final Sampler sample;

    private LineSelection(boolean all, Sampler sample) {
        this.all = all;
        this.sample = sample;
    }

    static LineSelection of(AgentConfig.RequestLog config) {
        return new LineSelection(config.lines() == AgentConfig.RequestLog.Lines.ALL,
                Sampler.traceIdRatioBased(config.sampleRatio()));
    }

    static LineSelection all() {
        return new LineSelection(true, Sampler.alwaysOn());
    }

    /** For the start-up line. */
    static String describe(AgentConfig.RequestLog config) {
        return config.lines() == AgentConfig.RequestLog.Lines.ALL ? "every exchange"
                : "the tail (wrong, or slow: obi.slow.threshold) and "
                + config.sampleRatio() * 100 + "% of the rest";
    }

    boolean keeps(ExchangeReport report) {
        HttpExchange e = report.exchange();
        return all || e.aborted() || e.truncated() || !e.requestComplete() || report.slowCause() != null
                || SemanticConventions.errorType(e) != null || troubled(e.tcp()) || sampled(report);
    }

    boolean keeps(ConnectionSummary c) {
        return all || c.resetSent() || c.resetReceived() || c.retransmits() > 0;
    }

    private static boolean troubled(TcpEvidence t) {
        return t.retransmits() > 0 || t.resetSent() || t.resetReceived() || !t.interfaceOutages().isEmpty();
    }

    private boolean sampled(ExchangeReport report) {
        return sample.shouldSample(Context.root(), report.span().getTraceId(), "", SpanKind.INTERNAL,
                Attributes.empty(), List.of()).getDecision() == SamplingDecision.RECORD_AND_SAMPLE;
    }
}
