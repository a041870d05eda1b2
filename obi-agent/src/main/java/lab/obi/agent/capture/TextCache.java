package lab.obi.agent.capture;

import java.nio.ByteBuffer;
import java.util.concurrent.atomic.AtomicReferenceArray;

/**
 * Text decoded from 16 bytes of a record (a process name, an address), kept by those bytes: a few
 * names and addresses make up every record, and decoding each again costs more than the rest of
 * the record. A fixed number of slots, the latest text in each.
 */
final class TextCache {

    /** How a miss is decoded: the 16 bytes at {@code at}. */
    interface Decoder {
        String decode(ByteBuffer record, int at);
    }

    private record Entry(long low, long high, String text) {
    }

    private static final int SLOTS = 256;

    private final AtomicReferenceArray<Entry> slots = new AtomicReferenceArray<>(SLOTS);
    private final Decoder decoder;

    TextCache(Decoder decoder) {
        this.decoder = decoder;
    }

    /**
     * @param low  the first 8 of the 16 bytes at {@code at}, as a long
     * @param high the last 8
     */
    String text(ByteBuffer record, int at, long low, long high) {
        int slot = (int) ((low ^ high) * 0x9E3779B97F4A7C15L >>> 56) & (SLOTS - 1);
        Entry cached = slots.getPlain(slot);
        if (cached != null && cached.low() == low && cached.high() == high) {
            return cached.text();
        }
        String text = decoder.decode(record, at);
        slots.setPlain(slot, new Entry(low, high, text));
        return text;
    }
}
