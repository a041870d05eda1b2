package lab.obi.agent.capture;

/**
 * A tracked connection closed (OBI_RECORD_CONNECTION in bpf/include/obi_record.h). CLOCK_MONOTONIC
 * nanoseconds. Its owner is the process and side of its last exchange.
 *
 * @param startNs     ESTABLISHED, or the first request when the connection is older than the agent
 *                    ({@code tcp.establishedNs()} is 0 then)
 * @param bytesIn     bytes the process read on it while tracked
 * @param requests    exchanges it carried
 * @param retransmits segments this host retransmitted on it, during exchanges or not
 * @param flags       {@code F_*} of this record: who closed first, resets
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

    public static final int F_LOCAL_CLOSED_FIRST = 1;
    public static final int F_PEER_CLOSED_FIRST = 1 << 1;
    public static final int F_RST_RECEIVED = 1 << 2;
    public static final int F_RST_SENT = 1 << 3;

    public boolean has(int flag) {
        return (flags & flag) != 0;
    }
}
