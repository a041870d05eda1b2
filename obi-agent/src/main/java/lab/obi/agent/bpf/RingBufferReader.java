package lab.obi.agent.bpf;

import com.sun.jna.Memory;
import com.sun.jna.Native;
import com.sun.jna.Pointer;
import org.jboss.logging.Logger;

import java.lang.invoke.MethodHandles;
import java.lang.invoke.VarHandle;
import java.nio.ByteBuffer;
import java.nio.ByteOrder;
import java.util.function.Consumer;

/**
 * Drains the kernel's BPF ring buffer on one thread and hands each record's bytes to a sink, in
 * place: the sink reads them before it returns, and only then is the record's space given back.
 * After each drain the sink is told, so it can pass on what it gathered in one go.
 * The ring is mapped into the JVM and read with plain memory accesses, as libbpf does in C: a
 * callback from native code per record would cost more than the record. The kernel submits records
 * without waking the reader unless data piles up, so the reader also wakes every 100 ms.
 */
public final class RingBufferReader implements AutoCloseable {

    private static final Logger LOG = Logger.getLogger(RingBufferReader.class);
    private static final int WAKE_UP_MS = 100;
    private static final int EINTR = 4;
    private static final int PROT_READ = 1;
    private static final int PROT_WRITE = 2;
    private static final int MAP_SHARED = 1;
    private static final int EPOLL_CTL_ADD = 1;
    private static final int EPOLLIN = 1;
    /** struct epoll_event is 12 bytes on x86-64 (packed), 16 elsewhere; only its first field is used. */
    private static final int EPOLL_EVENT_SIZE = 16;
    /** Record header: u32 length with two flag bits, u32 page offset (include/uapi/linux/bpf.h). */
    private static final int HEADER_SIZE = 8;
    private static final int BUSY_BIT = 1 << 31;
    private static final int DISCARD_BIT = 1 << 30;
    private static final VarHandle LONGS = MethodHandles.byteBufferViewVarHandle(long[].class, ByteOrder.nativeOrder());
    private static final VarHandle INTS = MethodHandles.byteBufferViewVarHandle(int[].class, ByteOrder.nativeOrder());

    private final LibBpf.LibC libc = LibBpf.LibC.INSTANCE;
    private final Consumer<ByteBuffer> sink;
    private final Runnable drained;
    private final long ringSize;
    private final long mask;
    private final int pageSize;
    private final Pointer consumerPage;
    private final Pointer producerAndData;
    private final ByteBuffer consumer;
    private final ByteBuffer producer;
    private final ByteBuffer data;
    private final int epollFd;
    private final Memory events = new Memory(EPOLL_EVENT_SIZE);
    private final Thread thread;
    private volatile boolean running = true;
    private volatile long lastDrainNanos;

    /** @param drained run after each drain, on the reader's thread */
    public RingBufferReader(BpfCapture capture, int ringSizeBytes, Consumer<ByteBuffer> sink, Runnable drained)
            throws BpfException {
        this.sink = sink;
        this.drained = drained;
        this.ringSize = ringSizeBytes;
        this.mask = ringSizeBytes - 1L;
        this.pageSize = libc.getpagesize();
        int mapFd = capture.ringBufferFd();
        consumerPage = map(pageSize, PROT_READ | PROT_WRITE, mapFd, 0);
        // The data pages once, not twice in a row as libbpf maps them for records that wrap around: the
        // kernel maps every page of the mapping up front, so a second view would count the whole ring
        // again in the agent's resident memory. A record that wraps is copied in two pieces.
        producerAndData = map(pageSize + ringSize, PROT_READ, mapFd, pageSize);
        consumer = consumerPage.getByteBuffer(0, pageSize).order(ByteOrder.nativeOrder());
        producer = producerAndData.getByteBuffer(0, pageSize).order(ByteOrder.nativeOrder());
        data = producerAndData.getByteBuffer(pageSize, ringSize).order(ByteOrder.nativeOrder());
        epollFd = libc.epoll_create1(0);
        Memory event = new Memory(EPOLL_EVENT_SIZE);
        event.clear();
        event.setInt(0, EPOLLIN);
        if (epollFd < 0 || libc.epoll_ctl(epollFd, EPOLL_CTL_ADD, mapFd, event) < 0) {
            throw new BpfException("could not wait on the ring buffer: " + BpfCapture.errno(Native.getLastError()));
        }
        this.thread = new Thread(this::run, "obi-ringbuf");
        thread.setDaemon(true);
    }

    private Pointer map(long length, int protection, int fd, long offset) throws BpfException {
        Pointer p = libc.mmap(null, length, protection, MAP_SHARED, fd, offset);
        if (p == null || Pointer.nativeValue(p) == -1L) {
            throw new BpfException("could not map the ring buffer: " + BpfCapture.errno(Native.getLastError()));
        }
        return p;
    }

    public void start() {
        thread.start();
    }

    private void run() {
        while (running) {
            int ready = libc.epoll_wait(epollFd, events, 1, WAKE_UP_MS);
            if (ready < 0 && Native.getLastError() != EINTR) {
                LOG.errorf("waiting on the ring buffer failed: %s; capture stopped",
                        BpfCapture.errno(Native.getLastError()));
                return;
            }
            drain();
            lastDrainNanos = System.nanoTime();
        }
    }

    /** When the ring buffer was last drained (System.nanoTime), 0 before the first time. */
    public long lastDrainNanos() {
        return lastDrainNanos;
    }

    /** Reads every committed record, then publishes the new consumer position to the kernel. */
    private void drain() {
        long consumerPos = (long) LONGS.getAcquire(consumer, 0);
        long producerPos = (long) LONGS.getAcquire(producer, 0);
        while (consumerPos < producerPos) {
            int offset = (int) (consumerPos & mask);
            int header = (int) INTS.getAcquire(data, offset);
            if ((header & BUSY_BIT) != 0) {
                break; // reserved but not yet committed: the rest comes on the next drain
            }
            int length = header & ~(BUSY_BIT | DISCARD_BIT);
            if ((header & DISCARD_BIT) == 0) {
                sink.accept(record((offset + HEADER_SIZE) & (int) mask, length));
            }
            consumerPos += (HEADER_SIZE + length + 7) & ~7L;
            LONGS.setRelease(consumer, 0, consumerPos);
            if (consumerPos >= producerPos) {
                producerPos = (long) LONGS.getAcquire(producer, 0);
            }
        }
        drained.run();
    }

    /**
     * The record's bytes where the kernel wrote them; headers are 8-byte aligned, so only a record's
     * data can wrap around the end, and such a record is copied out whole.
     */
    private ByteBuffer record(int start, int length) {
        if (start + (long) length <= ringSize) {
            return data.slice(start, length);
        }
        byte[] record = new byte[length];
        int beforeEnd = (int) (ringSize - start);
        data.get(start, record, 0, beforeEnd);
        data.get(0, record, beforeEnd, length - beforeEnd);
        return ByteBuffer.wrap(record);
    }

    /** Stops waiting, then drains what the kernel submitted until now. */
    @Override
    public void close() throws InterruptedException {
        running = false;
        thread.join(5_000);
        if (!thread.isAlive()) {
            drain();
            libc.close(epollFd);
            libc.munmap(consumerPage, pageSize);
            libc.munmap(producerAndData, pageSize + ringSize);
        }
    }
}
