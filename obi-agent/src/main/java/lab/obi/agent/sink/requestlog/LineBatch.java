package lab.obi.agent.sink.requestlog;

import java.io.IOException;
import java.io.OutputStream;
import java.util.Arrays;

/**
 * The request log's lines between two writes: Jackson serialises into it, and only whole lines go
 * out, at {@link #writeOut()} or when a busy pipeline has not flushed for {@link #WRITE_AT} bytes.
 * A write that fails loses the lines it carried, reported to the {@link Outcome} rather than thrown
 * (an exception in the middle of Jackson's object would leave its generator unusable), and the next
 * write starts afresh: the memory held is bounded and export resumes when the destination does.
 * Not thread-safe, like the writer it serves.
 */
final class LineBatch extends OutputStream {

    /** Where lines go; a destination takes back the part of a failed write that reached it, if it can. */
    interface Destination extends AutoCloseable {
        void write(byte[] bytes, int length) throws IOException;

        @Override
        void close() throws IOException;
    }

    /** What became of each write. */
    interface Outcome {
        void written();

        void lost(long lines, IOException cause);
    }

    static final int WRITE_AT = 1 << 20;
    private static final int INITIAL_BYTES = 1 << 16;

    private final Destination destination;
    private final Outcome outcome;
    private byte[] bytes = new byte[INITIAL_BYTES];
    private int length;

    LineBatch(Destination destination, Outcome outcome) {
        this.destination = destination;
        this.outcome = outcome;
    }

    @Override
    public void write(int b) {
        ensureRoom(1);
        bytes[length++] = (byte) b;
    }

    @Override
    public void write(byte[] b, int offset, int count) {
        ensureRoom(count);
        System.arraycopy(b, offset, bytes, length, count);
        length += count;
        if (length >= WRITE_AT) {
            writeOut();
        }
    }

    /** Writes every complete line; the start of a line still being serialised stays. */
    void writeOut() {
        int end = length;
        while (end > 0 && bytes[end - 1] != '\n') {
            end--;
        }
        if (end == 0) {
            return;
        }
        try {
            destination.write(bytes, end);
            outcome.written();
        } catch (IOException e) {
            outcome.lost(lines(end), e);
        }
        System.arraycopy(bytes, end, bytes, 0, length - end);
        length -= end;
        if (bytes.length > INITIAL_BYTES && length < INITIAL_BYTES) {
            bytes = Arrays.copyOf(bytes, INITIAL_BYTES); // a burst's room is given back
        }
    }

    /** Cuts off the start of a line that will not be finished. */
    void discardPartialLine() {
        while (length > 0 && bytes[length - 1] != '\n') {
            length--;
        }
    }

    private long lines(int end) {
        long lines = 0;
        for (int i = 0; i < end; i++) {
            if (bytes[i] == '\n') {
                lines++;
            }
        }
        return lines;
    }

    private void ensureRoom(int count) {
        if (length + count > bytes.length) {
            bytes = Arrays.copyOf(bytes, Math.max(bytes.length * 2, length + count));
        }
    }

    /** Writes what is complete and closes the destination. */
    @Override
    public void close() throws IOException {
        writeOut();
        destination.close();
    }
}
