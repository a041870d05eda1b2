package lab.obi.agent.report;

import lab.obi.agent.process.ObservedSocket;

/**
 * The client acknowledged the last byte of the response of exchange {@code requestIndex} of
 * connection {@code connId} long after the server wrote it: the client's wait went on past the
 * exchange's end. Unix epoch nanoseconds.
 *
 * @param retransmits segments of the response sent again meanwhile
 */
public record ResponseAcked(
        long endUnixNs,
        long ackedUnixNs,
        ObservedSocket socket,
        long connId,
        int requestIndex,
        int retransmits,
        Integer rttUs) {

    public long ackWaitNs() {
        return ackedUnixNs - endUnixNs;
    }
}
