package lab.obi.agent.capture;

/**
 * A data segment sent again on a connection after the record of its exchange {@code requestIndex}
 * went out (OBI_RECORD_LATE_RETRANSMIT): the response was all written, its tail had not arrived.
 * {@code atNs} is CLOCK_MONOTONIC; {@code srttUs} the smoothed RTT then (0: unknown).
 */
public record LateRetransmitRecord(
        long connId,
        int requestIndex,
        long atNs,
        int srttUs,
        SocketOwner owner) implements KernelRecord {
}
