package lab.obi.agent.exchange;

/**
 * What obi-agent concludes about one exchange from the kernel's facts.
 *
 * @param aborted          a peer gave up on the exchange before the response was complete
 * @param abortKind        how it was given up; null unless aborted
 * @param timeToAbandonNs  from the start of the request to the abandon; null unless aborted
 * @param status           the response status, 499 when a server abandons before sending any response; null if none was seen
 * @param truncated        the response started but did not go through in full
 */
public record Verdict(
        boolean aborted,
        AbortKind abortKind,
        Long timeToAbandonNs,
        Integer status,
        boolean truncated) {
}
