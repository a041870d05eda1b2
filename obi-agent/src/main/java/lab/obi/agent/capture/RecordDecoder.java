package lab.obi.agent.capture;

import java.nio.ByteBuffer;
import java.nio.ByteOrder;
import java.nio.charset.StandardCharsets;
import java.util.Optional;
import lab.obi.agent.contract.ConnectFailedRecordLayout;
import lab.obi.agent.contract.ConnectionRecordLayout;
import lab.obi.agent.contract.Directions;
import lab.obi.agent.contract.ExchangeRecordLayout;
import lab.obi.agent.contract.LateRetransmitRecordLayout;
import lab.obi.agent.contract.RecordHeaderLayout;
import lab.obi.agent.contract.RecordKinds;
import lab.obi.agent.contract.ResponseAckedRecordLayout;
import lab.obi.agent.contract.SocketLayout;
import lab.obi.agent.contract.TcpFactsLayout;

/**
 * Turns the bytes of one ring-buffer record into an {@link ExchangeRecord}, {@link ConnectionRecord},
 * {@link LateRetransmitRecord}, {@link ResponseAckedRecord} or {@link ConnectFailedRecord}, by the layouts generated from the BPF object (lab.obi.agent.contract).
 */
public final class RecordDecoder {

    private RecordDecoder() {
    }

    /**
     * Empty when the bytes cannot be a record of this layout (a kernel/agent version mismatch).
     *
     * @param record the record from index 0 to its limit, read where the kernel wrote it (the ring
     *               buffer): everything kept is copied out, and its byte order is set to the native one
     */
    public static Optional<KernelRecord> decode(ByteBuffer record) {
        if (record.limit() < RecordHeaderLayout.SIZE) {
            return Optional.empty();
        }
        ByteBuffer b = record.order(ByteOrder.nativeOrder());
        int length = b.getShort(RecordHeaderLayout.LENGTH) & 0xffff;
        int direction = b.get(RecordHeaderLayout.DIRECTION) & 0xff;
        if (length > b.limit() || (direction != Directions.SERVER && direction != Directions.CLIENT)) {
            return Optional.empty();
        }
        ExchangeRecord.Direction side = direction == Directions.SERVER ? ExchangeRecord.Direction.SERVER
                : ExchangeRecord.Direction.CLIENT;
        int kind = b.get(RecordHeaderLayout.KIND) & 0xff;
        if (kind == RecordKinds.EXCHANGE && length >= ExchangeRecordLayout.REQ_HEAD) {
            return Optional.of(exchange(b, side, length));
        }
        if (kind == RecordKinds.CONNECTION && length >= ConnectionRecordLayout.SIZE) {
            return Optional.of(connection(b, side));
        }
        if (kind == RecordKinds.LATE_RETRANSMIT && length >= LateRetransmitRecordLayout.SIZE) {
            return Optional.of(lateRetransmit(b, side));
        }
        if (kind == RecordKinds.RESPONSE_ACKED && length >= ResponseAckedRecordLayout.SIZE) {
            return Optional.of(responseAcked(b, side));
        }
        if (kind == RecordKinds.CONNECT_FAILED && length >= ConnectFailedRecordLayout.SIZE) {
            return Optional.of(new ConnectFailedRecord(
                    b.getLong(ConnectFailedRecordLayout.SYN_SENT_NS),
                    b.getLong(ConnectFailedRecordLayout.END_NS),
                    b.getInt(ConnectFailedRecordLayout.SYN_RETRANSMITS),
                    b.getLong(ConnectFailedRecordLayout.PARENT_CONN_ID),
                    b.getInt(ConnectFailedRecordLayout.PARENT_REQUEST_INDEX),
                    owner(b, side, ConnectFailedRecordLayout.SOCKET)));
        }
        return Optional.empty();
    }

    private static ExchangeRecord exchange(ByteBuffer b, ExchangeRecord.Direction side, int length) {
        int requestHeadLength = headLength(b, ExchangeRecordLayout.REQ_HEAD_LEN, ExchangeRecordLayout.REQ_HEAD,
                ExchangeRecordLayout.REQ_HEAD_LENGTH, length);
        int status = b.getShort(ExchangeRecordLayout.STATUS) & 0xffff;
        // The kernel reads the status of every response it can: the head, after the request's, comes only
        // when it could not.
        int responseHeadLength = status != 0 ? 0 : headLength(b, ExchangeRecordLayout.RESP_HEAD_LEN,
                ExchangeRecordLayout.RESP_HEAD, ExchangeRecordLayout.RESP_HEAD_LENGTH, length);
        int socket = ExchangeRecordLayout.SOCKET;
        return new ExchangeRecord(
                connId(b),
                b.getLong(ExchangeRecordLayout.START_NS),
                b.getLong(ExchangeRecordLayout.REQUEST_END_NS),
                b.getLong(ExchangeRecordLayout.RESPONSE_START_NS),
                b.getLong(ExchangeRecordLayout.END_NS),
                b.getLong(ExchangeRecordLayout.QUEUED_NS),
                b.getLong(ExchangeRecordLayout.ACCEPTED_NS),
                b.getLong(ExchangeRecordLayout.FIN_NS),
                b.getLong(ExchangeRecordLayout.RST_NS),
                b.getLong(ExchangeRecordLayout.WRITE_ERROR_NS),
                b.getLong(ExchangeRecordLayout.BYTES_IN),
                b.getLong(ExchangeRecordLayout.BYTES_OUT),
                b.getLong(ExchangeRecordLayout.RESPONSE_BYTES_AT_ABANDON),
                b.getLong(ExchangeRecordLayout.CONTENT_LENGTH), // ~0 in the kernel is UNKNOWN_LENGTH here
                owner(b, side, socket),
                b.getInt(ExchangeRecordLayout.TID),
                b.getInt(ExchangeRecordLayout.REQUEST_INDEX),
                b.getInt(ExchangeRecordLayout.FLAGS),
                status,
                b.getShort(socket + SocketLayout.FAMILY) & 0xffff,
                bytes(b, ExchangeRecordLayout.RESP_HEAD, responseHeadLength),
                bytes(b, ExchangeRecordLayout.REQ_HEAD, requestHeadLength),
                b.getLong(ExchangeRecordLayout.PARENT_CONN_ID),
                b.getInt(ExchangeRecordLayout.PARENT_REQUEST_INDEX),
                tcpFacts(b, ExchangeRecordLayout.TCP));
    }

    private static ConnectionRecord connection(ByteBuffer b, ExchangeRecord.Direction side) {
        TcpFacts tcp = tcpFacts(b, ConnectionRecordLayout.TCP);
        return new ConnectionRecord(
                connId(b),
                b.getLong(ConnectionRecordLayout.START_NS),
                b.getLong(ConnectionRecordLayout.END_NS),
                b.getLong(ConnectionRecordLayout.BYTES_IN),
                b.getLong(ConnectionRecordLayout.BYTES_OUT),
                b.getInt(ConnectionRecordLayout.REQUESTS),
                tcp.retransmits(),
                b.getInt(ConnectionRecordLayout.FLAGS),
                owner(b, side, ConnectionRecordLayout.SOCKET),
                tcp);
    }

    private static LateRetransmitRecord lateRetransmit(ByteBuffer b, ExchangeRecord.Direction side) {
        return new LateRetransmitRecord(
                connId(b),
                b.getInt(LateRetransmitRecordLayout.REQUEST_INDEX),
                b.getLong(LateRetransmitRecordLayout.AT_NS),
                b.getInt(LateRetransmitRecordLayout.SRTT_US),
                owner(b, side, LateRetransmitRecordLayout.SOCKET));
    }

    private static ResponseAckedRecord responseAcked(ByteBuffer b, ExchangeRecord.Direction side) {
        return new ResponseAckedRecord(
                connId(b),
                b.getInt(ResponseAckedRecordLayout.REQUEST_INDEX),
                b.getLong(ResponseAckedRecordLayout.END_NS),
                b.getLong(ResponseAckedRecordLayout.ACKED_NS),
                b.getInt(ResponseAckedRecordLayout.RETRANSMITS),
                b.getInt(ResponseAckedRecordLayout.SRTT_US),
                owner(b, side, ResponseAckedRecordLayout.SOCKET));
    }

    private static final byte[] NO_BYTES = {};

    /**
     * The bytes of a head the record carries: its claimed length, kept within the head's own room (the
     * request head's is followed by the response head's) and within the record.
     */
    private static int headLength(ByteBuffer b, int lengthField, int at, int room, int recordLength) {
        return Math.max(0, Math.min(Math.min(b.getShort(lengthField) & 0xffff, room), recordLength - at));
    }

    private static byte[] bytes(ByteBuffer b, int at, int length) {
        if (length == 0) {
            return NO_BYTES;
        }
        byte[] copy = new byte[length];
        b.get(at, copy);
        return copy;
    }

    private static long connId(ByteBuffer b) {
        return b.getLong(RecordHeaderLayout.CONN_ID);
    }

    /** @param socket offset of the record's struct obi_socket */
    private static SocketOwner owner(ByteBuffer b, ExchangeRecord.Direction side, int socket) {
        return new SocketOwner(b.getInt(RecordHeaderLayout.PID), text(COMMS, b, socket + SocketLayout.COMM),
                side, text(ADDRESSES, b, socket + SocketLayout.LOCAL_ADDR),
                b.getShort(socket + SocketLayout.LOCAL_PORT) & 0xffff,
                text(ADDRESSES, b, socket + SocketLayout.PEER_ADDR),
                b.getShort(socket + SocketLayout.PEER_PORT) & 0xffff);
    }

    /** @param at offset of the record's struct obi_tcp_facts */
    private static TcpFacts tcpFacts(ByteBuffer b, int at) {
        return new TcpFacts(b.getInt(at + TcpFactsLayout.RETRANSMITS), b.getLong(at + TcpFactsLayout.FIRST_RETRANSMIT_NS),
                b.getLong(at + TcpFactsLayout.LAST_RETRANSMIT_NS), b.getLong(at + TcpFactsLayout.ESTABLISHED_NS),
                b.getLong(at + TcpFactsLayout.CONNECT_NS), b.getInt(at + TcpFactsLayout.SRTT_US),
                b.getInt(at + TcpFactsLayout.SYN_RETRANSMITS));
    }

    private static final TextCache COMMS = new TextCache(RecordDecoder::comm);
    private static final TextCache ADDRESSES = new TextCache(RecordDecoder::address);

    private static String text(TextCache cache, ByteBuffer b, int at) {
        return cache.text(b, at, b.getLong(at), b.getLong(at + 8));
    }

    /** A process name: up to 16 bytes, NUL-terminated when shorter. */
    private static String comm(ByteBuffer b, int at) {
        int length = 0;
        while (length < SocketLayout.COMM_LENGTH && b.get(at + length) != 0) {
            length++;
        }
        return new String(bytes(b, at, length), StandardCharsets.UTF_8);
    }

    /** An IPv6 or v4-mapped address as people write it. */
    private static String address(ByteBuffer b, int at) {
        return AddressText.of(bytes(b, at, SocketLayout.LOCAL_ADDR_LENGTH));
    }
}
