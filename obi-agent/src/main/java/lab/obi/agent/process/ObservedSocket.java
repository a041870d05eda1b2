package lab.obi.agent.process;

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

    /** The process's side of the connection: it accepted it (server) or opened it (client). */
    public enum Direction { SERVER, CLIENT }
}
