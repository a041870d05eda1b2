package lab.obi.agent.sink.otlp.spans;

import java.nio.ByteBuffer;
import java.nio.charset.StandardCharsets;
import java.util.Arrays;

/**
 * Protocol buffers' wire format into one growing array, for {@link SpanRequestEncoder}. A nested
 * message's length comes before it: {@link #begin} reserves the bytes its length most likely takes,
 * {@link #end} writes it and moves the message when the guess was wrong, so a message is written
 * once instead of sized first and written after.
 */
final class ProtoWriter {

    static final int VARINT = 0;
    static final int FIXED64 = 1;
    static final int LENGTH_DELIMITED = 2;
    static final int FIXED32 = 5;

    private byte[] buf;
    private int pos;

    ProtoWriter(int capacity) {
        buf = new byte[capacity];
    }

    void reset() {
        pos = 0;
    }

    int size() {
        return pos;
    }

    byte[] toByteArray() {
        return Arrays.copyOf(buf, pos);
    }

    /** A field written elsewhere, as it is. */
    void raw(byte[] field) {
        ensure(field.length);
        System.arraycopy(field, 0, buf, pos, field.length);
        pos += field.length;
    }

    /** Bytes written, from..from+length, without a copy: valid until the next {@link #reset}. */
    ByteBuffer slice(int from, int length) {
        return ByteBuffer.wrap(buf).slice(from, length);
    }

    void tag(int field, int wireType) {
        varint32((field << 3) | wireType);
    }

    void varint32(int value) {
        ensure(5);
        pos = putVarint32(pos, value);
    }

    void varint64(long value) {
        ensure(10);
        while ((value & ~0x7FL) != 0) {
            buf[pos++] = (byte) ((value & 0x7F) | 0x80);
            value >>>= 7;
        }
        buf[pos++] = (byte) value;
    }

    void fixed64(long value) {
        ensure(8);
        for (int i = 0; i < 8; i++) {
            buf[pos++] = (byte) (value >>> (8 * i));
        }
    }

    void fixed32(int value) {
        ensure(4);
        for (int i = 0; i < 4; i++) {
            buf[pos++] = (byte) (value >>> (8 * i));
        }
    }

    /** A string field, UTF-8; written even when empty (callers leave out what the format omits). */
    void string(int field, String value) {
        tag(field, LENGTH_DELIMITED);
        int length = value.length();
        ensure(5 + length);
        int start = pos;
        varint32(length);
        int at = pos;
        for (int i = 0; i < length; i++) {
            char c = value.charAt(i);
            if (c >= 0x80) {
                pos = start; // not ASCII: its UTF-8 length differs from its length in chars
                bytes(value.getBytes(StandardCharsets.UTF_8));
                return;
            }
            buf[at++] = (byte) c;
        }
        pos = at;
    }

    /** A length-delimited field's content after its tag: its length, then its bytes. */
    void bytes(byte[] value) {
        varint32(value.length);
        raw(value);
    }

    /** An id written in hex (trace and span ids), as its bytes. */
    void hexBytes(int field, String hex) {
        tag(field, LENGTH_DELIMITED);
        int length = hex.length() / 2;
        varint32(length);
        ensure(length);
        for (int i = 0; i < length; i++) {
            buf[pos++] = (byte) ((hexValue(hex.charAt(2 * i)) << 4) | hexValue(hex.charAt(2 * i + 1)));
        }
    }

    /**
     * Starts a nested message: its tag, then room for a length of lengthBytes (1 for a small message,
     * 3 for one of up to 2 MiB). Returns where the length goes, for {@link #end}.
     */
    int begin(int field, int lengthBytes) {
        tag(field, LENGTH_DELIMITED);
        ensure(lengthBytes);
        int at = pos;
        pos += lengthBytes;
        return at;
    }

    /** Writes the message's length; returns where its content starts now. */
    int end(int lengthAt, int lengthBytes) {
        int start = lengthAt + lengthBytes;
        int length = pos - start;
        int needed = varintSize(length);
        if (needed != lengthBytes) {
            ensure(needed - lengthBytes);
            System.arraycopy(buf, start, buf, lengthAt + needed, length);
            pos += needed - lengthBytes;
        }
        return putVarint32(lengthAt, length);
    }

    /** value as a varint at at, in room made for it; returns where it ends. */
    private int putVarint32(int at, int value) {
        while ((value & ~0x7F) != 0) {
            buf[at++] = (byte) ((value & 0x7F) | 0x80);
            value >>>= 7;
        }
        buf[at++] = (byte) value;
        return at;
    }

    /** Ids are lowercase hex (the API's TraceId and SpanId); Character.digit was 4% of the export's samples. */
    private static int hexValue(char c) {
        return c <= '9' ? c - '0' : c - 'a' + 10;
    }

    private static int varintSize(int value) {
        return (31 - Integer.numberOfLeadingZeros(value | 1)) / 7 + 1;
    }

    private void ensure(int more) {
        if (pos + more > buf.length) {
            buf = Arrays.copyOf(buf, Math.max(buf.length * 2, pos + more));
        }
    }
}
