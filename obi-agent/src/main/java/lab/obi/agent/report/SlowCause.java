package lab.obi.agent.report;

/**
 * Why a slow request was slow, in one word (the rule: docs/phases.md): the phase that took most
 * of its time, told apart by what TCP and the host's interfaces did meanwhile, and, for a request
 * that waited on a call of its own, that call's cause.
 */
public enum SlowCause {
    CONNECT("connect"),
    ACCEPT_QUEUE("accept_queue"),
    RECEIVE_QUEUE("receive_queue"),
    PROCESSING("processing"),
    NETWORK("network"),
    CLIENT("client");

    private final String wireName;

    SlowCause(String wireName) {
        this.wireName = wireName;
    }

    /** The value of {@code obi.slow.cause} and of the request log's {@code slow_cause}. */
    public String wireName() {
        return wireName;
    }
}
