package lab.obi.agent.report;

import lab.obi.agent.process.ObservedSocket;

/**
 * A segment sent again after exchange {@code requestIndex} of connection {@code connId} was reported:
 * its response was all written, and the client was still waiting for its tail. Unix epoch nanoseconds.
 */
public record LateRetransmit(
        long atUnixNs,
        ObservedSocket socket,
        long connId,
        int requestIndex,
        Integer rttUs) {
}
