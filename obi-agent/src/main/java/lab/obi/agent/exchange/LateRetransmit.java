package lab.obi.agent.exchange;

import lab.obi.agent.capture.ExchangeRecord.Direction;

/**
 * A segment sent again after exchange {@code requestIndex} of connection {@code connId} was reported:
 * its response was all written, and the client was still waiting for its tail. Unix epoch nanoseconds.
 */
public record LateRetransmit(
        long atUnixNs,
        Direction direction,
        int pid,
        String comm,
        String exe,
        String service,
        String containerId,
        String localAddress,
        int localPort,
        String peerAddress,
        int peerPort,
        long connId,
        int requestIndex,
        Integer rttUs) implements Observed {
}
