package lab.obi.agent.capture;

import org.junit.jupiter.api.Test;

import java.net.InetAddress;
import java.nio.ByteBuffer;
import java.nio.ByteOrder;
import java.nio.charset.StandardCharsets;

import static org.junit.jupiter.api.Assertions.*;

class RecordDecoderTest {

    private static byte[] record(int direction, byte[] requestHead) {
        ByteBuffer b = ByteBuffer.allocate(RecordLayout.REQ_HEAD + requestHead.length).order(ByteOrder.nativeOrder());
        b.putLong(RecordLayout.CONN_ID, 7);
        b.putLong(RecordLayout.START_NS, 1_000);
        b.putLong(RecordLayout.END_NS, 5_000);
        b.putLong(RecordLayout.FIN_NS, 4_000);
        b.putLong(RecordLayout.BYTES_IN, 78);
        b.putLong(RecordLayout.BYTES_OUT, 190);
        b.putLong(RecordLayout.CONTENT_LENGTH, -1L);
        b.putInt(RecordLayout.PID, 4242);
        b.putInt(RecordLayout.REQUEST_INDEX, 3);
        b.putInt(RecordLayout.FLAGS, ExchangeRecord.F_PEER_FIN | ExchangeRecord.F_CONN_CLOSED);
        b.putShort(RecordLayout.STATUS, (short) 503);
        b.putShort(RecordLayout.FAMILY, (short) 2);
        b.putShort(RecordLayout.LOCAL_PORT, (short) 65000);
        b.putShort(RecordLayout.PEER_PORT, (short) 8080);
        byte[] mapped = {0, 0, 0, 0, 0, 0, 0, 0, 0, 0, (byte) 0xff, (byte) 0xff, 127, 0, 0, 1};
        b.put(RecordLayout.LOCAL_ADDR, mapped);
        b.put(RecordLayout.PEER_ADDR, mapped);
        b.put(RecordLayout.COMM, "nginx\0garbage!!".getBytes(StandardCharsets.US_ASCII));
        b.putShort(RecordLayout.REQ_HEAD_LEN, (short) requestHead.length);
        b.putShort(RecordLayout.RESP_HEAD_LEN, (short) 12);
        b.put(RecordLayout.DIRECTION, (byte) direction);
        b.put(RecordLayout.RESP_HEAD, "HTTP/1.1 503".getBytes(StandardCharsets.US_ASCII));
        b.putLong(RecordLayout.PARENT_CONN_ID, 5);
        b.putInt(RecordLayout.PARENT_REQUEST_INDEX, 2);
        b.putInt(RecordLayout.RETRANSMITS, 4);
        b.putLong(RecordLayout.FIRST_RETRANSMIT_NS, 2_000);
        b.putLong(RecordLayout.LAST_RETRANSMIT_NS, 3_000);
        b.putLong(RecordLayout.ESTABLISHED_NS, 500);
        b.putLong(RecordLayout.CONNECT_NS, 1_000_000_123L);
        b.putInt(RecordLayout.SRTT_US, 321);
        b.putInt(RecordLayout.SYN_RETRANSMITS, 1);
        b.put(RecordLayout.REQ_HEAD, requestHead);
        return b.array();
    }

    @Test
    void decodesEveryField() throws Exception {
        byte[] head = "GET / HTTP/1.1\r\n".getBytes(StandardCharsets.US_ASCII);
        ExchangeRecord r = (ExchangeRecord) RecordDecoder.decode(record(1, head)).orElseThrow();
        assertEquals(7, r.connId());
        assertEquals(1_000, r.startNs());
        assertEquals(5_000, r.endNs());
        assertEquals(4_000, r.finNs());
        assertEquals(78, r.bytesIn());
        assertEquals(190, r.bytesOut());
        assertEquals(ExchangeRecord.UNKNOWN_LENGTH, r.contentLength());
        assertEquals(3, r.requestIndex());
        assertTrue(r.has(ExchangeRecord.F_PEER_FIN));
        assertFalse(r.has(ExchangeRecord.F_RESPONSE_COMPLETE));
        assertEquals(503, r.status());
        assertEquals(new SocketOwner(4242, "nginx", ExchangeRecord.Direction.SERVER, InetAddress.getByName("127.0.0.1"),
                65000, InetAddress.getByName("127.0.0.1"), 8080), r.owner(), "ports are unsigned");
        assertArrayEquals(head, r.requestHead());
        assertEquals(5, r.parentConnId());
        assertEquals(2, r.parentRequestIndex());
        assertEquals(new TcpFacts(4, 2_000, 3_000, 500, 1_000_000_123L, 321, 1), r.tcp());
        assertEquals("HTTP/1.1 503", new String(r.responseHead(), StandardCharsets.US_ASCII));
    }

    @Test
    void rejectsShortOrForeignRecords() {
        assertTrue(RecordDecoder.decode(new byte[10]).isEmpty(), "shorter than the fixed part");
        assertTrue(RecordDecoder.decode(record(9, new byte[0])).isEmpty(), "unknown direction");
        assertTrue(RecordDecoder.decode(withKind(3, record(1, new byte[0]))).isEmpty(), "unknown kind");
    }

    private static byte[] withKind(int kind, byte[] bytes) {
        bytes[RecordLayout.KIND] = (byte) kind;
        return bytes;
    }

    @Test
    void decodesAConnectionRecord() throws Exception {
        KernelRecord decoded = RecordDecoder.decode(withKind(1, record(1, new byte[0]))).orElseThrow();
        ConnectionRecord c = assertInstanceOf(ConnectionRecord.class, decoded);
        assertEquals(7, c.connId());
        assertEquals(1_000, c.startNs());
        assertEquals(5_000, c.endNs());
        assertEquals(78, c.bytesIn());
        assertEquals(190, c.bytesOut());
        assertEquals(3, c.requests());
        assertEquals(4, c.retransmits());
        assertEquals(ExchangeRecord.F_PEER_FIN | ExchangeRecord.F_CONN_CLOSED, c.flags());
        assertTrue(c.has(ConnectionRecord.F_PEER_CLOSED_FIRST), "same bit, connection meaning");
        assertEquals(new SocketOwner(4242, "nginx", ExchangeRecord.Direction.SERVER, InetAddress.getByName("127.0.0.1"),
                65000, InetAddress.getByName("127.0.0.1"), 8080), c.owner());
        assertEquals(500, c.tcp().establishedNs());
        assertEquals(321, c.tcp().srttUs());
    }

    @Test
    void decodesALateRetransmit() {
        KernelRecord decoded = RecordDecoder.decode(withKind(2, record(2, new byte[0]))).orElseThrow();
        LateRetransmitRecord r = assertInstanceOf(LateRetransmitRecord.class, decoded);
        assertEquals(7, r.connId());
        assertEquals(3, r.requestIndex(), "the exchange whose record went out before");
        assertEquals(2_000, r.atNs());
        assertEquals(321, r.srttUs());
        assertEquals(ExchangeRecord.Direction.CLIENT, r.owner().direction());
        assertEquals(8080, r.owner().peerPort());
    }

    @Test
    void clampsAClaimedHeadLengthToTheBytesPresent() {
        byte[] bytes = record(2, "GET".getBytes(StandardCharsets.US_ASCII));
        ByteBuffer.wrap(bytes).order(ByteOrder.nativeOrder()).putShort(RecordLayout.REQ_HEAD_LEN, (short) 1000);
        ExchangeRecord r = (ExchangeRecord) RecordDecoder.decode(bytes).orElseThrow();
        assertEquals(3, r.requestHead().length);
        assertEquals(ExchangeRecord.Direction.CLIENT, r.owner().direction());
    }
}
