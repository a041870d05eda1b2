package lab.obi.agent.sink;

import lab.obi.agent.report.ExchangeReport;
import lab.obi.agent.report.HttpExchange;
import lab.obi.agent.report.TcpEvidence;

/**
 * The exchanges that went wrong or were slow: abandoned, cut short, an error status, TCP retransmits
 * or resets, an interface outage, slow as obi.slow.threshold says. The request log writes them all
 * (and a sample of the rest); spans carry every attribute on them (and the request's own on the rest).
 */
public final class Tail {

    private Tail() {
    }

    public static boolean wentWrongOrSlow(ExchangeReport report) {
        HttpExchange e = report.exchange();
        return e.aborted() || e.truncated() || !e.requestComplete() || report.slowCause() != null
                || SemanticConventions.errorType(e) != null || troubled(e.tcp());
    }

    private static boolean troubled(TcpEvidence t) {
        return t.retransmits() > 0 || t.resetSent() || t.resetReceived() || !t.interfaceOutages().isEmpty();
    }
}
