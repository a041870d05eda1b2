package lab.obi.agent.capture;

import java.net.InetAddress;

/** The process that last used a connection, as the kernel saw it, and its end of the connection. */
public record SocketOwner(
        int pid,
        String comm,
        ExchangeRecord.Direction direction,
        InetAddress localAddress,
        int localPort,
        InetAddress peerAddress,
        int peerPort) {
}
