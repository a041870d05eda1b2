package lab.obi.agent.report;

import java.util.List;

/**
 * What the network did while a request was open, for the request log and the span: TCP on its
 * connection and the host's interfaces. Unix epoch nanoseconds; null where unknown.
 *
 * @param retransmits        segments this host retransmitted on the connection during the exchange
 * @param rttUs              smoothed RTT of the connection when the exchange ended
 * @param connectionAgeNs    from ESTABLISHED to the start of the exchange
 * @param connectNs          client side, new connections: first SYN to ESTABLISHED
 * @param synRetransmits     client side, new connections: SYNs sent again
 * @param interfaceOutages   host interfaces that were down at some moment of the exchange
 */
public record TcpEvidence(
        int retransmits,
        Long firstRetransmitUnixNs,
        Long lastRetransmitUnixNs,
        boolean resetSent,
        boolean resetReceived,
        Long resetReceivedUnixNs,
        Integer rttUs,
        Long connectionAgeNs,
        Long connectNs,
        Integer synRetransmits,
        List<Outage> interfaceOutages) {

    public static final TcpEvidence NONE = new TcpEvidence(0, null, null, false, false, null, null, null, null, null,
            List.of());

    /** @param durationNs null while the interface is still down */
    public record Outage(String interfaceName, String cause, long downUnixNs, Long durationNs) {
    }
}
