package lab.obi.agent.capture;

/**
 * What TCP did on an exchange's connection, as the kernel counted it. CLOCK_MONOTONIC nanoseconds;
 * 0 means unknown or did not happen.
 *
 * @param retransmits     segments this host retransmitted while the exchange was open
 * @param establishedNs   when the connection reached ESTABLISHED (0: before the agent started)
 * @param connectNs       client side: first SYN to ESTABLISHED, SYN retries included
 * @param srttUs          smoothed round-trip time when the exchange ended
 * @param synRetransmits  client side: SYNs sent again during the handshake
 */
public record TcpFacts(int retransmits, long firstRetransmitNs, long lastRetransmitNs, long establishedNs,
                       long connectNs, int srttUs, int synRetransmits) {

    public static final TcpFacts NONE = new TcpFacts(0, 0, 0, 0, 0, 0, 0);
}
