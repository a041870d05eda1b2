package lab.obi.agent.capture;

import lab.obi.agent.contract.ExchangeFlags;
import java.net.InetAddress;
import java.net.UnknownHostException;
import java.nio.charset.StandardCharsets;
import lab.obi.agent.capture.ExchangeRecord.Direction;

/** Kernel records for tests: a complete server exchange unless told otherwise. */
public final class RecordBuilder {

    public long connId = 7;
    public long startNs = 1_000;
    public long requestEndNs = 1_100;
    public long responseStartNs = 2_000;
    public long endNs = 3_000;
    public long queuedNs;
    public long acceptedNs;
    public long finNs;
    public long rstNs;
    public long writeErrorNs;
    public long bytesIn = 78;
    public long bytesOut = 512;
    public long responseBytesAtAbandon;
    public long contentLength = ExchangeRecord.UNKNOWN_LENGTH;
    public int pid = 4242;
    public int requestIndex = 1;
    public int flags = ExchangeFlags.RESPONSE_COMPLETE;
    public int status = 200;
    public int localPort = 8080;
    public int peerPort = 51234;
    public InetAddress localAddress = address("127.0.0.1");
    public InetAddress peerAddress = address("127.0.0.1");
    public String comm = "nginx";
    public long parentConnId;
    public int parentRequestIndex;
    public TcpFacts tcp = TcpFacts.NONE;
    public Direction direction = Direction.SERVER;
    public byte[] responseHead = "HTTP/1.1 200 OK\r\n".getBytes(StandardCharsets.ISO_8859_1);
    public byte[] requestHead = "GET /users/42 HTTP/1.1\r\nHost: shop.example\r\n\r\n".getBytes(StandardCharsets.ISO_8859_1);

    public ExchangeRecord build() {
        return new ExchangeRecord(connId, startNs, requestEndNs, responseStartNs, endNs, queuedNs, acceptedNs, finNs, rstNs, writeErrorNs,
                bytesIn, bytesOut, responseBytesAtAbandon, contentLength,
                new SocketOwner(pid, comm, direction, AddressText.of(localAddress.getAddress()), localPort,
                        AddressText.of(peerAddress.getAddress()), peerPort), pid,
                requestIndex, flags, status, localAddress.getAddress().length == 4 ? 2 : 10, responseHead,
                requestHead, parentConnId, parentRequestIndex, tcp);
    }

    public static InetAddress address(String literal) {
        try {
            return InetAddress.getByName(literal);
        } catch (UnknownHostException e) {
            throw new IllegalArgumentException(literal, e);
        }
    }
}
