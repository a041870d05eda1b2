package lab.obi.agent.capture;

/**
 * A connection opened by a thread while it served a request that never reached ESTABLISHED
 * (OBI_RECORD_CONNECT_FAILED): the request waited on it, and no exchange ever started on it.
 * CLOCK_MONOTONIC nanoseconds; the parent is the server exchange the thread was serving.
 */
public record ConnectFailedRecord(
        long synSentNs,
        long endNs,
        int synRetransmits,
        long parentConnId,
        int parentRequestIndex,
        SocketOwner owner) implements KernelRecord {
}
