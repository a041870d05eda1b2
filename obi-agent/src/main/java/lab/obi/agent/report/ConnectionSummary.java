package lab.obi.agent.report;

import lab.obi.agent.process.ObservedSocket;

/**
 * A connection that carried HTTP, at its close: how long it lived, what moved, how it ended.
 * Unix epoch nanoseconds; nullable fields are unknown.
 *
 * @param lifetimeFromEstablished false: the connection is older than the agent, its lifetime counts from its first request seen
 * @param bytesIn                 bytes the process read on it while observed
 * @param retransmits             segments this host retransmitted on it
 * @param closedBy                "local" or "peer": who sent the first FIN; "reset" when it ended without one
 */
public record ConnectionSummary(
        long startUnixNs,
        long durationNs,
        boolean lifetimeFromEstablished,
        ObservedSocket socket,
        long connId,
        int requests,
        long bytesIn,
        long bytesOut,
        int retransmits,
        boolean resetSent,
        boolean resetReceived,
        String closedBy,
        Integer rttUs) {
}
