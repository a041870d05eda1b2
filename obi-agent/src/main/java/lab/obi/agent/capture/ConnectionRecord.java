package lab.obi.agent.capture;

/**
 * A tracked connection closed (struct obi_connection_record in bpf/include/obi_record.h). CLOCK_MONOTONIC
 * nanoseconds. Its owner is the process and side of its last exchange.
 *
 * @param startNs     ESTABLISHED, or the first request when the connection is older than the agent
 *                    ({@code tcp.establishedNs()} is 0 then)
 * @param bytesIn     bytes the process read on it while tracked
 * @param requests    exchanges it carried
 * @param retransmits segments this host retransmitted on it, during exchanges or not
 * @param flags       who closed first, resets: {@link lab.obi.agent.contract.ConnectionFlags}
 */
public record ConnectionRecord(
        long connId,
        long startNs,
        long endNs,
        long bytesIn,
        long bytesOut,
        int requests,
        int retransmits,
        int flags,
        SocketOwner owner,
        TcpFacts tcp) implements KernelRecord {

    /** @param flag one of {@link lab.obi.agent.contract.ConnectionFlags} */
    public boolean has(int flag) {
        return (flags & flag) != 0;
    }
}
