package lab.obi.agent.capture;

/**
 * One request/response exchange as the kernel saw it (struct obi_exchange_record in bpf/include/obi_record.h).
 * Timestamps are CLOCK_MONOTONIC nanoseconds; 0 means "did not happen".
 * Facts only: the verdict (aborted, 499, truncated) is derived in {@code lab.obi.agent.protocol.http1.Verdicts}.
 * {@code parentConnId}/{@code parentRequestIndex}: for a client exchange, the server exchange in flight
 * on the same thread when it started (0 when there is none or the thread serves requests concurrently).
 * {@code queuedNs}/{@code acceptedNs}: server side, when the request's first bytes arrived in the socket
 * and when accept() returned its connection (a connection's first request).
 * {@code responseHead}: the first bytes of the response when the kernel could not read its status
 * ({@code status} 0); empty otherwise.
 */
public record ExchangeRecord(
        long connId,
        long startNs,
        long requestEndNs,
        long responseStartNs,
        long endNs,
        long queuedNs,
        long acceptedNs,
        long finNs,
        long rstNs,
        long writeErrorNs,
        long bytesIn,
        long bytesOut,
        long responseBytesAtAbandon,
        long contentLength,
        SocketOwner owner,
        int tid,
        int requestIndex,
        int flags,
        int status,
        int family,
        byte[] responseHead,
        byte[] requestHead,
        long parentConnId,
        int parentRequestIndex,
        TcpFacts tcp) implements KernelRecord {

    public enum Direction { SERVER, CLIENT }

    public static final long UNKNOWN_LENGTH = -1L;

    /** @param flag one of {@link lab.obi.agent.contract.ExchangeFlags} */
    public boolean has(int flag) {
        return (flags & flag) != 0;
    }
}
