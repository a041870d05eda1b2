package lab.obi.agent.assembly;

import lab.obi.agent.process.ObservedSocket.Direction;
import lab.obi.agent.report.ExchangeReport;
import lab.obi.agent.report.HttpExchange;
import lab.obi.agent.report.Phases;
import lab.obi.agent.report.ResponseAcked;
import lab.obi.agent.report.SlowCause;
import lab.obi.agent.report.TcpEvidence;

import java.util.List;

/**
 * The one-word cause of a slow request (docs/phases.md has the rule for users). A request is slow
 * when its time in the host (its duration and the queues or connect before it) reaches the
 * threshold. Its cause is the phase that took longest, where a transfer is the network's when TCP
 * sent segments again or an interface went down meanwhile, else the client's (it sent slowly); a
 * server's processing is that of the call it waited on when one call took at least half of it.
 */
final class SlowCauses {

    private final long thresholdNs;

    /** @param thresholdNs from obi.slow.threshold */
    SlowCauses(long thresholdNs) {
        this.thresholdNs = thresholdNs;
    }

    /**
     * @param calls the client calls the request made; empty for a client call
     * @return null when the request was not slow
     */
    SlowCause of(HttpExchange e, List<HttpExchange> calls) {
        Phases p = e.phases();
        return e.durationNs() + p.beforeStartNs() < thresholdNs ? null : classify(e, calls);
    }

    /** What the cause would be, slow or not. */
    static SlowCause classify(HttpExchange e, List<HttpExchange> calls) {
        return switch (e.phases().longest()) {
            case CONNECT -> SlowCause.CONNECT;
            case ACCEPT_QUEUE -> SlowCause.ACCEPT_QUEUE;
            case RECEIVE_QUEUE -> SlowCause.RECEIVE_QUEUE;
            case REQUEST_TRANSFER -> networkSeen(e.tcp()) ? SlowCause.NETWORK : SlowCause.CLIENT;
            case PROCESSING -> processing(e, calls);
            case RESPONSE_TRANSFER, ACK_WAIT -> SlowCause.NETWORK;
        };
    }

    /**
     * A response acknowledged so late that the client's wait made the request slow, though the server's
     * part of it was not: the network held the response's tail back (or the client stopped reading).
     *
     * @param exchange the report of the exchange it ends; null when unknown
     */
    SlowCause ofAckWait(ExchangeReport exchange, ResponseAcked acked) {
        if (exchange == null || exchange.slowCause() != null) {
            return null;
        }
        HttpExchange e = exchange.exchange();
        long waited = e.durationNs() + e.phases().beforeStartNs() + acked.ackWaitNs();
        return waited >= thresholdNs ? SlowCause.NETWORK : null;
    }

    private static SlowCause processing(HttpExchange e, List<HttpExchange> calls) {
        if (e.socket().direction() == Direction.CLIENT) {
            // A client waits for the server's processing plus a round trip: a lost segment or a dead
            // link makes it the network's.
            return networkSeen(e.tcp()) ? SlowCause.NETWORK : SlowCause.PROCESSING;
        }
        HttpExchange longest = null;
        for (HttpExchange call : calls) {
            if (longest == null || call.durationNs() > longest.durationNs()) {
                longest = call;
            }
        }
        if (longest != null && 2 * longest.durationNs() >= e.phases().processingNs()) {
            return classify(longest, List.of());
        }
        return SlowCause.PROCESSING;
    }

    private static boolean networkSeen(TcpEvidence t) {
        return t.retransmits() > 0 || (t.synRetransmits() != null && t.synRetransmits() > 0)
                || !t.interfaceOutages().isEmpty();
    }
}
