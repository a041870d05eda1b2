package lab.obi.agent.protocol;

/**
 * What obi-agent concludes about one exchange from the kernel's facts.
 *
 * @param aborted          a peer gave up on the exchange before the response was complete
 * @param abortKind        how it was given up; null unless aborted
 * @param timeToAbandonNs  from the start of the request to the abandon; null unless aborted
 * @param status           the status the server wrote; if it wrote none, nginx's code for why (499, 400, 444, 408,
 *                         server side); null if none was seen (client side)
 * @param truncated        the response started but did not go through in full
 * @param requestComplete  every byte of the request was moved before the exchange ended
 */
public record Verdict(
        boolean aborted,
        AbortKind abortKind,
        Long timeToAbandonNs,
        Integer status,
        boolean truncated,
        boolean requestComplete) {

    /** nginx: the client closed the connection before the server answered. */
    public static final int CLIENT_CLOSED_REQUEST = 499;
}
