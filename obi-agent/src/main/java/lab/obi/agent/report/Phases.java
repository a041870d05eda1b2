package lab.obi.agent.report;

/**
 * One request's time, split by {@link Phase}, in nanoseconds. The phases before the request's first
 * read or write are null when they did not apply or were not seen (a kept-alive connection has no
 * connect or accept; a TLS connection's first request has no receive queue: its first bytes were
 * the handshake). {@code requestTransferNs + processingNs + responseTransferNs} is the exchange's
 * duration exactly; the phases before it precede its start. The ACK wait comes later, on its own
 * (see {@link ResponseAcked}).
 */
public record Phases(
        Long connectNs,
        Long acceptQueueNs,
        Long receiveQueueNs,
        long requestTransferNs,
        long processingNs,
        long responseTransferNs) {

    public static final Phases NONE = new Phases(null, null, null, 0, 0, 0);

    /** Receives each phase that applies, in order. */
    @FunctionalInterface
    public interface Visitor {
        void phase(Phase phase, long ns);
    }

    public void forEach(Visitor v) {
        if (connectNs != null) {
            v.phase(Phase.CONNECT, connectNs);
        }
        if (acceptQueueNs != null) {
            v.phase(Phase.ACCEPT_QUEUE, acceptQueueNs);
        }
        if (receiveQueueNs != null) {
            v.phase(Phase.RECEIVE_QUEUE, receiveQueueNs);
        }
        v.phase(Phase.REQUEST_TRANSFER, requestTransferNs);
        v.phase(Phase.PROCESSING, processingNs);
        v.phase(Phase.RESPONSE_TRANSFER, responseTransferNs);
    }

    /** How long a phase took; null when it did not apply (the ACK wait is never part of an exchange). */
    public Long ns(Phase phase) {
        return switch (phase) {
            case CONNECT -> connectNs;
            case ACCEPT_QUEUE -> acceptQueueNs;
            case RECEIVE_QUEUE -> receiveQueueNs;
            case REQUEST_TRANSFER -> requestTransferNs;
            case PROCESSING -> processingNs;
            case RESPONSE_TRANSFER -> responseTransferNs;
            case ACK_WAIT -> null;
        };
    }

    /** The wait before the request's first read (server) or write (client): queues, or connect. */
    public long beforeStartNs() {
        return orZero(connectNs) + orZero(acceptQueueNs) + orZero(receiveQueueNs);
    }

    /** The phase that took longest; ties go to the earlier one. */
    public Phase longest() {
        Phase best = null;
        long bestNs = -1;
        Phase[] order = Phase.values();
        long[] ns = {orMinus(connectNs), orMinus(acceptQueueNs), orMinus(receiveQueueNs), requestTransferNs,
                processingNs, responseTransferNs};
        for (int i = 0; i < ns.length; i++) {
            if (ns[i] > bestNs) {
                best = order[i];
                bestNs = ns[i];
            }
        }
        return best;
    }

    private static long orMinus(Long ns) {
        return ns == null ? -1 : ns;
    }

    private static long orZero(Long ns) {
        return ns == null ? 0 : ns;
    }
}
