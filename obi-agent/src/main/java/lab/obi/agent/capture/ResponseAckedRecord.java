package lab.obi.agent.capture;

/**
 * The client acknowledged the last byte of a server's response late (OBI_RECORD_RESPONSE_ACKED):
 * after a delayed ACK's longest wait, or after a segment of it was sent again. CLOCK_MONOTONIC
 * nanoseconds: {@code endNs} the response's last write, {@code ackedNs} the ACK's arrival;
 * {@code retransmits} between them; {@code srttUs} the smoothed RTT then (0: unknown).
 */
public record ResponseAckedRecord(
        long connId,
        int requestIndex,
        long endNs,
        long ackedNs,
        int retransmits,
        int srttUs,
        SocketOwner owner) implements KernelRecord {
}
