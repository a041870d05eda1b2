package lab.obi.agent.assembly;

import lab.obi.agent.process.ObservedSocket;
import lab.obi.agent.process.ObservedSocket.Direction;
import lab.obi.agent.report.ExchangeReport;
import lab.obi.agent.report.HttpExchange;
import lab.obi.agent.report.ResponseAcked;
import lab.obi.agent.report.SlowCause;
import lab.obi.agent.report.TcpEvidence;

import java.util.List;

/**
 * The one-word cause of a slow request (docs/phases.md has the rule for users). A request is slow
 * when its time in the host (its duration and the queues or connect before it) reaches the
 * threshold. Its cause is the phase that took longest, where a transfer is the network's when TCP
 * sent segments again (at either end, when both are on this host) or the host's interface went down
 * meanwhile, else the client's (it sent slowly); a server's processing is that of the call it
 * waited on when one call took at least half of it.
 */
final class SlowCauses {

    private final long thresholdNs;
    private final ServerEnds serverEnds;

    /**
     * @param thresholdNs from obi.slow.threshold
     * @param serverEnds  what the server ends of connections on this host did, for their clients
     */
    SlowCauses(long thresholdNs, ServerEnds serverEnds) {
        this.thresholdNs = thresholdNs;
        this.serverEnds = serverEnds;
    }

    /**
     * @param calls the client calls the request made; empty for a client call
     * @return null when the request was not slow
     */
    SlowCause of(HttpExchange e, List<HttpExchange> calls) {
        return slow(e) ? classify(e, calls) : null;
    }

    /** Its time in the host reached the threshold. */
    boolean slow(HttpExchange e) {
        return waited(e) >= thresholdNs;
    }

    /** Its duration and the queues or connect before it. */
    private static long waited(HttpExchange e) {
        return e.durationNs() + e.phases().beforeStartNs();
    }

    /** What the cause would be, slow or not. */
    SlowCause classify(HttpExchange e, List<HttpExchange> calls) {
        return switch (e.phases().longest()) {
            case CONNECT -> linkWentDown(e) ? SlowCause.NETWORK : SlowCause.CONNECT;
            case ACCEPT_QUEUE -> SlowCause.ACCEPT_QUEUE;
            case RECEIVE_QUEUE -> SlowCause.RECEIVE_QUEUE;
            case REQUEST_TRANSFER -> networkSeen(e) ? SlowCause.NETWORK : SlowCause.CLIENT;
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

    private SlowCause processing(HttpExchange e, List<HttpExchange> calls) {
        if (e.socket().direction() == Direction.CLIENT) {
            // A client waits for the server's processing plus a round trip: a lost segment or a dead
            // link makes it the network's.
            return networkSeen(e) ? SlowCause.NETWORK : SlowCause.PROCESSING;
        }
        HttpExchange longest = null;
        for (HttpExchange call : calls) {
            if (longest == null || waited(call) > waited(longest)) {
                longest = call;
            }
        }
        if (longest != null && 2 * waited(longest) >= e.phases().processingNs()) {
            return classify(longest, List.of());
        }
        return SlowCause.PROCESSING;
    }

    /**
     * Segments sent again by this end, or by the server's end when it is on this host too. A host
     * interface that went down meanwhile counts only where neither end can tell: an outage is a
     * host-wide fact, and a request over loopback or to a local server that stayed quiet did not
     * cross that interface.
     */
    private boolean networkSeen(HttpExchange e) {
        TcpEvidence t = e.tcp();
        if (t.retransmits() > 0 || (t.synRetransmits() != null && t.synRetransmits() > 0)) {
            return true;
        }
        ServerEnds.Seen server = e.socket().direction() == Direction.CLIENT ? serverEnds.during(e)
                : ServerEnds.Seen.UNSEEN;
        if (server != ServerEnds.Seen.UNSEEN) {
            return server == ServerEnds.Seen.RETRANSMITTED;
        }
        return linkWentDown(e);
    }

    /**
     * SYNs sent again are a lost SYN or a server's full backlog: a connect is the network's only when
     * the host's link went down meanwhile.
     */
    private static boolean linkWentDown(HttpExchange e) {
        return !e.tcp().interfaceOutages().isEmpty() && !loopback(e.socket());
    }

    private static boolean loopback(ObservedSocket s) {
        String peer = s.peerAddress();
        return peer == null || peer.equals(s.localAddress()) || peer.startsWith("127.") || peer.equals("::1");
    }
}
