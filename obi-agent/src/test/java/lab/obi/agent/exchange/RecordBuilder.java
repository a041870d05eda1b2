package lab.obi.agent.exchange;

import lab.obi.agent.contract.ExchangeFlags;
import lab.obi.agent.capture.TcpFacts;

import java.net.InetAddress;
import java.net.UnknownHostException;
import java.nio.charset.StandardCharsets;
import lab.obi.agent.capture.ExchangeRecord;
import lab.obi.agent.capture.ExchangeRecord.Direction;
import lab.obi.agent.capture.SocketOwner;

/** Kernel records for tests: a complete server exchange unless told otherwise. */
final class RecordBuilder {

    long connId = 7;
    long startNs = 1_000;
    long requestEndNs = 1_100;
    long responseStartNs = 2_000;
    long endNs = 3_000;
    long finNs;
    long rstNs;
    long writeErrorNs;
    long bytesIn = 78;
    long bytesOut = 512;
    long responseBytesAtAbandon;
    long contentLength = ExchangeRecord.UNKNOWN_LENGTH;
    int pid = 4242;
    int requestIndex = 1;
    int flags = ExchangeFlags.RESPONSE_COMPLETE;
    int status = 200;
    int localPort = 8080;
    int peerPort = 51234;
    InetAddress localAddress = address("127.0.0.1");
    InetAddress peerAddress = address("127.0.0.1");
    String comm = "nginx";
    long parentConnId;
    int parentRequestIndex;
    TcpFacts tcp = TcpFacts.NONE;
    Direction direction = Direction.SERVER;
    byte[] responseHead = "HTTP/1.1 200 OK\r\n".getBytes(StandardCharsets.ISO_8859_1);
    byte[] requestHead = "GET /users/42 HTTP/1.1\r\nHost: shop.example\r\n\r\n".getBytes(StandardCharsets.ISO_8859_1);

    ExchangeRecord build() {
        return new ExchangeRecord(connId, startNs, requestEndNs, responseStartNs, endNs, finNs, rstNs, writeErrorNs,
                bytesIn, bytesOut, responseBytesAtAbandon, contentLength,
                new SocketOwner(pid, comm, direction, localAddress, localPort, peerAddress, peerPort), pid,
                requestIndex, flags, status, localAddress.getAddress().length == 4 ? 2 : 10, responseHead,
                requestHead, parentConnId, parentRequestIndex, tcp);
    }

    static InetAddress address(String literal) {
        try {
            return InetAddress.getByName(literal);
        } catch (UnknownHostException e) {
            throw new IllegalArgumentException(literal, e);
        }
    }
}
