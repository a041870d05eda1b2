package lab.obi.agent.report;

/**
 * Where a request's time went, as the kernel saw it, in the order the request meets them. Server
 * side: the accept and receive queues, the request's own transfer, processing, the response's
 * transfer, then the wait for its last byte's ACK. Client side: connect, the request's transfer,
 * the wait for the first response byte (the server's processing plus a round trip), the
 * response's transfer.
 */
public enum Phase {
    CONNECT("connect"),
    ACCEPT_QUEUE("accept_queue"),
    RECEIVE_QUEUE("receive_queue"),
    REQUEST_TRANSFER("request_transfer"),
    PROCESSING("processing"),
    RESPONSE_TRANSFER("response_transfer"),
    ACK_WAIT("ack_wait");

    private final String wireName;

    Phase(String wireName) {
        this.wireName = wireName;
    }

    /** The name in the request log, on spans and in the {@code obi.phase} metric attribute. */
    public String wireName() {
        return wireName;
    }
}
