package lab.obi.agent.protocol;

/** Why an exchange was abandoned; {@link #wireName()} is the value in the request log and in metrics. */
public enum AbortKind {
    /** Server side: the client closed its side (FIN) before the response was written. */
    FIN("fin"),
    /** The peer reset the connection. */
    RST("rst"),
    /** Server side: writing the response failed with EPIPE or ECONNRESET. */
    WRITE_ERROR("write_error"),
    /** Client side: this process closed the connection before the response arrived (a client timeout). */
    CLIENT_CLOSE("client_close"),
    /** Client side: the connection never got through (SYNs unanswered) before it was given up. */
    CONNECT("connect");

    private final String wireName;

    AbortKind(String wireName) {
        this.wireName = wireName;
    }

    public String wireName() {
        return wireName;
    }
}
