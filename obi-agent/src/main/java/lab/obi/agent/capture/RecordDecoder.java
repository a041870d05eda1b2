package lab.obi.agent.capture;

import java.net.InetAddress;
import java.net.UnknownHostException;
import java.nio.ByteBuffer;
import java.nio.ByteOrder;
import java.nio.charset.StandardCharsets;
import java.util.Arrays;
import java.util.Optional;
import java.util.concurrent.atomic.AtomicReferenceArray;

import static lab.obi.agent.capture.RecordLayout.*;

/** Turns the bytes of one ring-buffer record into an {@link ExchangeRecord}, {@link ConnectionRecord} or {@link LateRetransmitRecord}. */
public final class RecordDecoder {

    private RecordDecoder() {
    }

    /** Empty when the bytes cannot be a record of this layout (a kernel/agent version mismatch). */
    public static Optional<KernelRecord> decode(byte[] bytes) {
        if (bytes.length < REQ_HEAD) {
            return Optional.empty();
        }
        ByteBuffer b = ByteBuffer.wrap(bytes).order(ByteOrder.nativeOrder());
        int direction = b.get(DIRECTION) & 0xff;
        if (direction != DIRECTION_SERVER && direction != DIRECTION_CLIENT) {
            return Optional.empty();
        }
        ExchangeRecord.Direction side = direction == DIRECTION_SERVER ? ExchangeRecord.Direction.SERVER
                : ExchangeRecord.Direction.CLIENT;
        return switch (b.get(KIND) & 0xff) {
            case KIND_EXCHANGE -> Optional.of(exchange(bytes, b, side));
            case KIND_CONNECTION -> Optional.of(connection(bytes, b, side));
            case KIND_LATE_RETRANSMIT -> Optional.of(lateRetransmit(bytes, b, side));
            default -> Optional.empty();
        };
    }

    private static ExchangeRecord exchange(byte[] bytes, ByteBuffer b, ExchangeRecord.Direction side) {
        int requestHeadLength = Math.min(b.getShort(REQ_HEAD_LEN) & 0xffff, bytes.length - REQ_HEAD);
        int responseHeadLength = Math.min(b.getShort(RESP_HEAD_LEN) & 0xffff, RESP_HEAD_MAX);
        return new ExchangeRecord(
                b.getLong(CONN_ID),
                b.getLong(START_NS),
                b.getLong(REQUEST_END_NS),
                b.getLong(RESPONSE_START_NS),
                b.getLong(END_NS),
                b.getLong(FIN_NS),
                b.getLong(RST_NS),
                b.getLong(WRITE_ERROR_NS),
                b.getLong(BYTES_IN),
                b.getLong(BYTES_OUT),
                b.getLong(RESPONSE_BYTES_AT_ABANDON),
                b.getLong(CONTENT_LENGTH), // ~0 in the kernel is UNKNOWN_LENGTH here
                owner(bytes, b, side),
                b.getInt(TID),
                b.getInt(REQUEST_INDEX),
                b.getInt(FLAGS),
                b.getShort(STATUS) & 0xffff,
                b.getShort(FAMILY) & 0xffff,
                Arrays.copyOfRange(bytes, RESP_HEAD, RESP_HEAD + responseHeadLength),
                Arrays.copyOfRange(bytes, REQ_HEAD, REQ_HEAD + requestHeadLength),
                b.getLong(PARENT_CONN_ID),
                b.getInt(PARENT_REQUEST_INDEX),
                tcpFacts(b));
    }

    private static ConnectionRecord connection(byte[] bytes, ByteBuffer b, ExchangeRecord.Direction side) {
        return new ConnectionRecord(
                b.getLong(CONN_ID),
                b.getLong(START_NS),
                b.getLong(END_NS),
                b.getLong(BYTES_IN),
                b.getLong(BYTES_OUT),
                b.getInt(REQUEST_INDEX),
                b.getInt(RETRANSMITS),
                b.getInt(FLAGS),
                owner(bytes, b, side),
                tcpFacts(b));
    }

    private static LateRetransmitRecord lateRetransmit(byte[] bytes, ByteBuffer b, ExchangeRecord.Direction side) {
        return new LateRetransmitRecord(
                b.getLong(CONN_ID),
                b.getInt(REQUEST_INDEX),
                b.getLong(FIRST_RETRANSMIT_NS),
                b.getInt(SRTT_US),
                owner(bytes, b, side));
    }

    private static SocketOwner owner(byte[] bytes, ByteBuffer b, ExchangeRecord.Direction side) {
        return new SocketOwner(b.getInt(PID), comm(bytes, b), side, address(bytes, LOCAL_ADDR),
                b.getShort(LOCAL_PORT) & 0xffff, address(bytes, PEER_ADDR), b.getShort(PEER_PORT) & 0xffff);
    }

    private static TcpFacts tcpFacts(ByteBuffer b) {
        return new TcpFacts(b.getInt(RETRANSMITS), b.getLong(FIRST_RETRANSMIT_NS), b.getLong(LAST_RETRANSMIT_NS),
                b.getLong(ESTABLISHED_NS), b.getLong(CONNECT_NS), b.getInt(SRTT_US), b.getInt(SYN_RETRANSMITS));
    }

    private static InetAddress address(byte[] bytes, int offset) {
        try {
            // A v4-mapped IPv6 address comes back as an Inet4Address.
            return InetAddress.getByAddress(Arrays.copyOfRange(bytes, offset, offset + 16));
        } catch (UnknownHostException impossibleFor16Bytes) {
            throw new IllegalStateException(impossibleFor16Bytes);
        }
    }

    /** A process name, by its 16 bytes as the kernel sent them. */
    private record Comm(long low, long high, String text) {
    }

    private static final int COMM_CACHE_SLOTS = 256;
    /** A few names make up every record; decoding each again costs more than the rest of the record. */
    private static final AtomicReferenceArray<Comm> COMMS = new AtomicReferenceArray<>(COMM_CACHE_SLOTS);

    private static String comm(byte[] bytes, ByteBuffer b) {
        long low = b.getLong(COMM);
        long high = b.getLong(COMM + 8);
        int slot = (int) ((low ^ high) * 0x9E3779B97F4A7C15L >>> 56) & (COMM_CACHE_SLOTS - 1);
        Comm cached = COMMS.getPlain(slot);
        if (cached != null && cached.low() == low && cached.high() == high) {
            return cached.text();
        }
        int end = COMM;
        while (end < COMM + COMM_LEN && bytes[end] != 0) {
            end++;
        }
        String text = new String(bytes, COMM, end - COMM, StandardCharsets.UTF_8);
        COMMS.setPlain(slot, new Comm(low, high, text));
        return text;
    }
}
