package lab.obi.agent.exchange;

import lab.obi.agent.capture.ExchangeRecord.Direction;

/** An observed process and its end of a connection: what every report (exchange, connection, late retransmit) names. */
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
        int peerPort) {
}
