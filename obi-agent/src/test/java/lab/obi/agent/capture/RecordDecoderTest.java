package lab.obi.agent.capture;

import lab.obi.agent.contract.ConnectionFlags;
import lab.obi.agent.contract.ConnectionRecordLayout;
import lab.obi.agent.contract.Directions;
import lab.obi.agent.contract.ExchangeFlags;
import lab.obi.agent.contract.ExchangeRecordLayout;
import lab.obi.agent.contract.LateRetransmitRecordLayout;
import lab.obi.agent.contract.RecordHeaderLayout;
import lab.obi.agent.contract.RecordKinds;
import lab.obi.agent.contract.SocketLayout;
import lab.obi.agent.contract.TcpFactsLayout;
import org.junit.jupiter.api.Test;

import java.nio.ByteBuffer;
import java.nio.ByteOrder;
import java.nio.charset.StandardCharsets;

import static org.junit.jupiter.api.Assertions.*;

/**
 * The decoder on records written by the generated layouts. That the layouts are the kernel's is
 * ContractCheckTest's job; that the kernel writes what the decoder reads, KernelStateMachineIT's.
 */
class RecordDecoderTest {

    /** The header, socket and TCP facts every kind carries; {@code length} is the record's. */
    private static ByteBuffer record(int kind, int direction, int length, int socket, int tcp) {
        ByteBuffer b = ByteBuffer.allocate(length).order(ByteOrder.nativeOrder());
        b.put(RecordHeaderLayout.KIND, (byte) kind);
        b.put(RecordHeaderLayout.DIRECTION, (byte) direction);
        b.putShort(RecordHeaderLayout.LENGTH, (short) length);
        b.putInt(RecordHeaderLayout.PID, 4242);
        b.putLong(RecordHeaderLayout.CONN_ID, 7);
        byte[] mapped = {0, 0, 0, 0, 0, 0, 0, 0, 0, 0, (byte) 0xff, (byte) 0xff, 127, 0, 0, 1};
        b.put(socket + SocketLayout.LOCAL_ADDR, mapped);
        b.put(socket + SocketLayout.PEER_ADDR, mapped);
        b.putShort(socket + SocketLayout.FAMILY, (short) 2);
        b.putShort(socket + SocketLayout.LOCAL_PORT, (short) 65000);
        b.putShort(socket + SocketLayout.PEER_PORT, (short) 8080);
        b.put(socket + SocketLayout.COMM, "nginx\0garbage!!".getBytes(StandardCharsets.US_ASCII));
        if (tcp >= 0) {
            b.putInt(tcp + TcpFactsLayout.RETRANSMITS, 4);
            b.putLong(tcp + TcpFactsLayout.FIRST_RETRANSMIT_NS, 2_000);
            b.putLong(tcp + TcpFactsLayout.LAST_RETRANSMIT_NS, 3_000);
            b.putLong(tcp + TcpFactsLayout.ESTABLISHED_NS, 500);
            b.putLong(tcp + TcpFactsLayout.CONNECT_NS, 1_000_000_123L);
            b.putInt(tcp + TcpFactsLayout.SRTT_US, 321);
            b.putInt(tcp + TcpFactsLayout.SYN_RETRANSMITS, 1);
        }
        return b;
    }

    private static byte[] exchange(int direction, byte[] requestHead) {
        return exchange(direction, requestHead, null);
    }

    /** As the kernel sends it: the response head, when there is one, after the whole request head's room. */
    private static byte[] exchange(int direction, byte[] requestHead, byte[] responseHead) {
        int length = responseHead == null ? ExchangeRecordLayout.REQ_HEAD + requestHead.length
                : ExchangeRecordLayout.RESP_HEAD + responseHead.length;
        ByteBuffer b = record(RecordKinds.EXCHANGE, direction, length, ExchangeRecordLayout.SOCKET, ExchangeRecordLayout.TCP);
        b.putLong(ExchangeRecordLayout.START_NS, 1_000);
        b.putLong(ExchangeRecordLayout.END_NS, 5_000);
        b.putLong(ExchangeRecordLayout.FIN_NS, 4_000);
        b.putLong(ExchangeRecordLayout.BYTES_IN, 78);
        b.putLong(ExchangeRecordLayout.BYTES_OUT, 190);
        b.putLong(ExchangeRecordLayout.CONTENT_LENGTH, -1L);
        b.putInt(ExchangeRecordLayout.REQUEST_INDEX, 3);
        b.putInt(ExchangeRecordLayout.FLAGS, ExchangeFlags.PEER_FIN | ExchangeFlags.CONN_CLOSED);
        b.putShort(ExchangeRecordLayout.STATUS, (short) 503);
        b.putShort(ExchangeRecordLayout.REQ_HEAD_LEN, (short) requestHead.length);
        if (responseHead != null) {
            b.putShort(ExchangeRecordLayout.STATUS, (short) 0);
            b.putShort(ExchangeRecordLayout.RESP_HEAD_LEN, (short) responseHead.length);
            b.put(ExchangeRecordLayout.RESP_HEAD, responseHead);
        }
        b.putLong(ExchangeRecordLayout.PARENT_CONN_ID, 5);
        b.putInt(ExchangeRecordLayout.PARENT_REQUEST_INDEX, 2);
        b.put(ExchangeRecordLayout.REQ_HEAD, requestHead);
        return b.array();
    }

    @Test
    void decodesEveryField() throws Exception {
        byte[] head = "GET / HTTP/1.1\r\n".getBytes(StandardCharsets.US_ASCII);
        ExchangeRecord r = (ExchangeRecord) RecordDecoder.decode(ByteBuffer.wrap(exchange(Directions.SERVER, head))).orElseThrow();
        assertEquals(7, r.connId());
        assertEquals(1_000, r.startNs());
        assertEquals(5_000, r.endNs());
        assertEquals(4_000, r.finNs());
        assertEquals(78, r.bytesIn());
        assertEquals(190, r.bytesOut());
        assertEquals(ExchangeRecord.UNKNOWN_LENGTH, r.contentLength());
        assertEquals(3, r.requestIndex());
        assertTrue(r.has(ExchangeFlags.PEER_FIN));
        assertFalse(r.has(ExchangeFlags.RESPONSE_COMPLETE));
        assertEquals(503, r.status());
        assertEquals(new SocketOwner(4242, "nginx", ExchangeRecord.Direction.SERVER, "127.0.0.1", 65000, "127.0.0.1",
                8080), r.owner(), "ports are unsigned");
        assertArrayEquals(head, r.requestHead());
        assertEquals(5, r.parentConnId());
        assertEquals(2, r.parentRequestIndex());
        assertEquals(new TcpFacts(4, 2_000, 3_000, 500, 1_000_000_123L, 321, 1), r.tcp());
        assertEquals(0, r.responseHead().length, "the kernel read the status: its head is not needed");
    }

    @Test
    void theResponseHeadComesWhenTheKernelCouldNotReadTheStatus() {
        byte[] request = "GET / HTTP/1.1\r\n".getBytes(StandardCharsets.US_ASCII);
        byte[] bytes = exchange(Directions.SERVER, request, "HTTP/1.1 503".getBytes(StandardCharsets.US_ASCII));
        ExchangeRecord r = (ExchangeRecord) RecordDecoder.decode(ByteBuffer.wrap(bytes)).orElseThrow();
        assertEquals("HTTP/1.1 503", new String(r.responseHead(), StandardCharsets.US_ASCII));
        assertArrayEquals(request, r.requestHead());
    }

    @Test
    void aResponseHeadLongerThanTheRecordIsCutToTheBytesPresent() {
        byte[] bytes = exchange(Directions.SERVER, new byte[0], "HTTP/1.1 503".getBytes(StandardCharsets.US_ASCII));
        ByteBuffer.wrap(bytes).order(ByteOrder.nativeOrder()).putShort(ExchangeRecordLayout.RESP_HEAD_LEN, (short) 200);
        ExchangeRecord r = (ExchangeRecord) RecordDecoder.decode(ByteBuffer.wrap(bytes)).orElseThrow();
        assertEquals("HTTP/1.1 503", new String(r.responseHead(), StandardCharsets.US_ASCII));
    }

    @Test
    void aClaimedRequestHeadLengthStopsWhereTheResponseHeadBegins() {
        byte[] bytes = exchange(Directions.SERVER, "GET".getBytes(StandardCharsets.US_ASCII),
                "HTTP/1.1 503".getBytes(StandardCharsets.US_ASCII));
        ByteBuffer.wrap(bytes).order(ByteOrder.nativeOrder()).putShort(ExchangeRecordLayout.REQ_HEAD_LEN, (short) 1100);
        ExchangeRecord r = (ExchangeRecord) RecordDecoder.decode(ByteBuffer.wrap(bytes)).orElseThrow();
        assertEquals(ExchangeRecordLayout.REQ_HEAD_LENGTH, r.requestHead().length);
        assertEquals("HTTP/1.1 503", new String(r.responseHead(), StandardCharsets.US_ASCII));
    }

    @Test
    void aRecordWithoutTheResponseHeadHasNone() {
        byte[] bytes = exchange(Directions.SERVER, new byte[0]);
        ByteBuffer b = ByteBuffer.wrap(bytes).order(ByteOrder.nativeOrder());
        b.putShort(ExchangeRecordLayout.STATUS, (short) 0);
        b.putShort(ExchangeRecordLayout.RESP_HEAD_LEN, (short) 12);
        ExchangeRecord r = (ExchangeRecord) RecordDecoder.decode(ByteBuffer.wrap(bytes)).orElseThrow();
        assertEquals(0, r.responseHead().length);
    }

    @Test
    void namesAndAddressesOfManyRecordsAreEachTheirOwn() {
        for (int i = 0; i < 1000; i++) {
            byte[] bytes = exchange(Directions.SERVER, new byte[0]);
            ByteBuffer b = ByteBuffer.wrap(bytes).order(ByteOrder.nativeOrder());
            b.put(ExchangeRecordLayout.SOCKET + SocketLayout.PEER_ADDR + 14, (byte) (i >> 8));
            b.put(ExchangeRecordLayout.SOCKET + SocketLayout.PEER_ADDR + 15, (byte) i);
            b.put(ExchangeRecordLayout.SOCKET + SocketLayout.COMM, ("w" + i + "\0").getBytes(StandardCharsets.US_ASCII));
            SocketOwner owner = ((ExchangeRecord) RecordDecoder.decode(ByteBuffer.wrap(bytes)).orElseThrow()).owner();
            assertEquals("127.0." + (i >> 8) + "." + (i & 0xff), owner.peerAddress());
            assertEquals("w" + i, owner.comm());
        }
    }

    @Test
    void rejectsShortOrForeignRecords() {
        assertTrue(RecordDecoder.decode(ByteBuffer.wrap(new byte[10])).isEmpty(), "shorter than the header");
        assertTrue(RecordDecoder.decode(ByteBuffer.wrap(exchange(9, new byte[0]))).isEmpty(), "unknown direction");
        byte[] unknownKind = exchange(Directions.SERVER, new byte[0]);
        unknownKind[RecordHeaderLayout.KIND] = 9;
        assertTrue(RecordDecoder.decode(ByteBuffer.wrap(unknownKind)).isEmpty(), "unknown kind");
        byte[] cut = new byte[ConnectionRecordLayout.SIZE - 1];
        System.arraycopy(connection(), 0, cut, 0, cut.length);
        ByteBuffer.wrap(cut).order(ByteOrder.nativeOrder()).putShort(RecordHeaderLayout.LENGTH, (short) cut.length);
        assertTrue(RecordDecoder.decode(ByteBuffer.wrap(cut)).isEmpty(), "shorter than its kind");
        byte[] claimsMore = exchange(Directions.SERVER, new byte[0]);
        ByteBuffer.wrap(claimsMore).order(ByteOrder.nativeOrder()).putShort(RecordHeaderLayout.LENGTH,
                (short) (claimsMore.length + 1));
        assertTrue(RecordDecoder.decode(ByteBuffer.wrap(claimsMore)).isEmpty(), "longer than the bytes it came in");
    }

    private static byte[] connection() {
        ByteBuffer b = record(RecordKinds.CONNECTION, Directions.SERVER, ConnectionRecordLayout.SIZE,
                ConnectionRecordLayout.SOCKET, ConnectionRecordLayout.TCP);
        b.putLong(ConnectionRecordLayout.START_NS, 1_000);
        b.putLong(ConnectionRecordLayout.END_NS, 5_000);
        b.putLong(ConnectionRecordLayout.BYTES_IN, 78);
        b.putLong(ConnectionRecordLayout.BYTES_OUT, 190);
        b.putInt(ConnectionRecordLayout.REQUESTS, 3);
        b.putInt(ConnectionRecordLayout.FLAGS, ConnectionFlags.PEER_CLOSED_FIRST | ConnectionFlags.RST_SENT);
        return b.array();
    }

    @Test
    void decodesAConnectionRecord() throws Exception {
        KernelRecord decoded = RecordDecoder.decode(ByteBuffer.wrap(connection())).orElseThrow();
        ConnectionRecord c = assertInstanceOf(ConnectionRecord.class, decoded);
        assertEquals(7, c.connId());
        assertEquals(1_000, c.startNs());
        assertEquals(5_000, c.endNs());
        assertEquals(78, c.bytesIn());
        assertEquals(190, c.bytesOut());
        assertEquals(3, c.requests());
        assertEquals(4, c.retransmits());
        assertTrue(c.has(ConnectionFlags.PEER_CLOSED_FIRST));
        assertTrue(c.has(ConnectionFlags.RST_SENT));
        assertFalse(c.has(ConnectionFlags.RST_RECEIVED));
        assertEquals(new SocketOwner(4242, "nginx", ExchangeRecord.Direction.SERVER, "127.0.0.1", 65000, "127.0.0.1",
                8080), c.owner());
        assertEquals(500, c.tcp().establishedNs());
        assertEquals(321, c.tcp().srttUs());
    }

    @Test
    void decodesALateRetransmit() {
        ByteBuffer b = record(RecordKinds.LATE_RETRANSMIT, Directions.CLIENT, LateRetransmitRecordLayout.SIZE,
                LateRetransmitRecordLayout.SOCKET, -1);
        b.putLong(LateRetransmitRecordLayout.AT_NS, 2_000);
        b.putInt(LateRetransmitRecordLayout.REQUEST_INDEX, 3);
        b.putInt(LateRetransmitRecordLayout.SRTT_US, 321);
        LateRetransmitRecord r = assertInstanceOf(LateRetransmitRecord.class, RecordDecoder.decode(ByteBuffer.wrap(b.array())).orElseThrow());
        assertEquals(7, r.connId());
        assertEquals(3, r.requestIndex(), "the exchange whose record went out before");
        assertEquals(2_000, r.atNs());
        assertEquals(321, r.srttUs());
        assertEquals(ExchangeRecord.Direction.CLIENT, r.owner().direction());
        assertEquals(8080, r.owner().peerPort());
    }

    @Test
    void clampsAClaimedHeadLengthToTheBytesPresent() {
        byte[] bytes = exchange(Directions.CLIENT, "GET".getBytes(StandardCharsets.US_ASCII));
        ByteBuffer.wrap(bytes).order(ByteOrder.nativeOrder()).putShort(ExchangeRecordLayout.REQ_HEAD_LEN, (short) 1000);
        ExchangeRecord r = (ExchangeRecord) RecordDecoder.decode(ByteBuffer.wrap(bytes)).orElseThrow();
        assertEquals(3, r.requestHead().length);
        assertEquals(ExchangeRecord.Direction.CLIENT, r.owner().direction());
    }
}
