package lab.obi.agent.capture;

/**
 * One request/response exchange as the kernel saw it (struct obi_exchange in bpf/include/obi_record.h).
 * Timestamps are CLOCK_MONOTONIC nanoseconds; 0 means "did not happen".
 * Facts only: the verdict (aborted, 499, truncated) is derived in {@code lab.obi.agent.exchange}.
 * {@code parentConnId}/{@code parentRequestIndex}: for a client exchange, the server exchange in flight
 * on the same thread when it started (0 when there is none or the thread serves requests concurrently).
 */
public record ExchangeRecord(
        long connId,
        long startNs,
        long requestEndNs,
        long responseStartNs,
        long endNs,
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

    public static final int F_RESPONSE_COMPLETE = 1;
    public static final int F_PEER_FIN = 1 << 1;
    public static final int F_RST_RECEIVED = 1 << 2;
    public static final int F_RST_SENT = 1 << 3;
    public static final int F_WRITE_ERROR = 1 << 4;
    public static final int F_LOCAL_CLOSE = 1 << 5;
    public static final int F_UNTIL_CLOSE = 1 << 6;
    public static final int F_CONN_CLOSED = 1 << 7;
    public static final int F_NEXT_REQUEST = 1 << 8;
    public static final int F_HEAD_NO_BODY = 1 << 9;
    public static final int F_CHUNKED = 1 << 10;
    public static final int F_LOCAL_SHUTDOWN = 1 << 11;
    /** The exchange was started by a response; its request bytes came in an earlier read (pipelining). */
    public static final int F_PIPELINED = 1 << 12;
    /** The request bytes moved so far end with an empty line: a head, or a chunked body, that ended. */
    public static final int F_REQUEST_ENDS_BLANK_LINE = 1 << 13;
    /** The peer had sent its FIN before this request was read: finNs is the request's start. */
    public static final int F_FIN_BEFORE_REQUEST = 1 << 14;
    /** Reported after waiting obi.capture.peer-fin-wait for the server's reaction to the peer's FIN. */
    public static final int F_WAIT_EXPIRED = 1 << 15;

    public boolean has(int flag) {
        return (flags & flag) != 0;
    }
}
