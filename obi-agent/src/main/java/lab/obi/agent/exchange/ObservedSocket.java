package lab.obi.agent.exchange;

import lab.obi.agent.capture.ExchangeRecord.Direction;

/** An observed process and its end of a connection, as reported with connections and late retransmits. */
public record ObservedSocket(
        Direction direction,
        int pid,
        String comm,
        String exe,
        String service,
        String containerId,
        String localAddress,
        int localPort,
        String peerAddress,
        int peerPort) implements Observed {
}
