package lab.obi.agent.capture;

/**
 * The process that last used a connection, as the kernel saw it, and its end of the connection.
 * Addresses as people write them ({@link AddressText}).
 */
public record SocketOwner(
        int pid,
        String comm,
        ExchangeRecord.Direction direction,
        String localAddress,
        int localPort,
        String peerAddress,
        int peerPort) {
}
