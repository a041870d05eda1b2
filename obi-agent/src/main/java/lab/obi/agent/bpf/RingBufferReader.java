package lab.obi.agent.bpf;

import com.sun.jna.Pointer;
import org.jboss.logging.Logger;

import java.util.function.Consumer;

/**
 * Drains the kernel's ring buffer on one thread and hands each record's bytes to a sink.
 * The kernel submits records without waking the reader (fewer wakeups under load), so the reader
 * polls with a short timeout and always consumes what is pending.
 */
public final class RingBufferReader implements AutoCloseable {

    private static final Logger LOG = Logger.getLogger(RingBufferReader.class);
    private static final int POLL_TIMEOUT_MS = 100;
    private static final int EINTR = 4;

    private final LibBpf libbpf;
    private final LibBpf.SampleFn callback;
    private final Pointer ringBuffer;
    private final Thread thread;
    private volatile boolean running = true;
    private volatile boolean consumedOnce;

    public RingBufferReader(BpfCapture capture, Consumer<byte[]> sink) throws BpfException {
        this.libbpf = capture.libbpf();
        this.callback = (ctx, data, size) -> {
            sink.accept(data.getByteArray(0, (int) size));
            return 0;
        };
        this.ringBuffer = libbpf.ring_buffer__new(capture.ringBufferFd(), callback, null, null);
        if (ringBuffer == null) {
            throw new BpfException("could not open the ring buffer: "
                    + BpfCapture.errno(com.sun.jna.Native.getLastError()));
        }
        this.thread = new Thread(this::run, "obi-ringbuf");
        thread.setDaemon(true);
    }

    public void start() {
        thread.start();
    }

    /** True once the reader has drained the ring buffer at least once: capture is live. */
    public boolean consuming() {
        return consumedOnce;
    }

    private void run() {
        while (running) {
            int polled = libbpf.ring_buffer__poll(ringBuffer, POLL_TIMEOUT_MS);
            if (polled < 0 && polled != -EINTR) {
                LOG.errorf("reading the ring buffer failed: %s; capture stopped", BpfCapture.errno(-polled));
                return;
            }
            libbpf.ring_buffer__consume(ringBuffer);
            consumedOnce = true;
        }
    }

    /** Stops polling, then drains what the kernel submitted until now. */
    @Override
    public void close() throws InterruptedException {
        running = false;
        thread.join(5_000);
        if (!thread.isAlive()) {
            libbpf.ring_buffer__consume(ringBuffer);
            libbpf.ring_buffer__free(ringBuffer);
        }
    }
}
