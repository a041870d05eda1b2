package lab.obi.agent.sink.otlp.spans;

import io.opentelemetry.sdk.common.CompletableResultCode;
import io.opentelemetry.sdk.trace.export.SpanExporter;
import org.jboss.logging.Logger;

import java.util.ArrayList;
import java.util.List;
import java.util.concurrent.ArrayBlockingQueue;
import java.util.concurrent.BlockingQueue;
import java.util.concurrent.Semaphore;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.atomic.AtomicBoolean;
import java.util.concurrent.atomic.LongAdder;
import java.util.function.Function;

/**
 * Sends spans in batches on its own thread. The queue is bounded: a Collector that is down or slow
 * costs dropped spans (counted), never the agent's memory or the capture's pace. A batch waits to
 * fill, up to {@link #FILL_WAIT_MS}: exported as soon as they came, spans went in requests of a few
 * dozen at saturation, and each request costs this thread, the gRPC client's threads and the
 * Collector about as much as its spans. Several batches are in flight at once: one at a time, a
 * batch's round trip (tens of milliseconds on a host whose CPUs are busy) capped the export near 30k
 * spans/s on a 2-core host, and the spans beyond waited in the queue until it was full.
 */
final class SpanExport implements AutoCloseable {

    private static final Logger LOG = Logger.getLogger(SpanExport.class);
    private static final int MAX_BATCH = 512;
    private static final long EXPORT_TIMEOUT_S = 10;
    /** A span waits at most this long for its batch to fill: what a trace's arrival in Jaeger is late by. */
    private static final long FILL_WAIT_MS = 1000;
    /** How often a filling batch is looked at: a full batch waits at most this long. */
    private static final long FILL_CHECK_MS = 10;
    /** Batches sent and not yet answered: the gRPC client multiplexes them on one connection. */
    private static final int MAX_IN_FLIGHT = 4;

    private final SpanExporter exporter;
    private final Function<List<ExchangeSpan>, CompletableResultCode> send;
    private final BlockingQueue<ExchangeSpan> queue;
    /** Spans queued that make a batch worth sending: half the queue at most, so that waiting never drops. */
    private final int fullBatch;
    private final Thread thread = new Thread(this::run, "obi-span-export");
    private final LongAdder exported = new LongAdder();
    private final LongAdder dropped = new LongAdder();
    private final LongAdder failed = new LongAdder();
    private final Semaphore inFlight = new Semaphore(MAX_IN_FLIGHT);
    private final AtomicBoolean failing = new AtomicBoolean();
    private volatile boolean running = true;

    SpanExport(SpanExporter exporter, int queueCapacity) {
        this.exporter = exporter;
        this.send = EncodedSpanSender.of(exporter);
        this.queue = new ArrayBlockingQueue<>(queueCapacity);
        this.fullBatch = Math.max(1, Math.min(MAX_BATCH, queueCapacity / 2));
        thread.setDaemon(true);
        thread.start();
    }

    void offer(ExchangeSpan span) {
        if (!queue.offer(span)) {
            dropped.increment();
        }
    }

    long exported() {
        return exported.sum();
    }

    long dropped() {
        return dropped.sum();
    }

    long failed() {
        return failed.sum();
    }

    int queued() {
        return queue.size();
    }

    private void run() {
        while (running || !queue.isEmpty()) {
            try {
                inFlight.acquire();
                ExchangeSpan first = queue.poll(1, TimeUnit.SECONDS);
                if (first == null) {
                    inFlight.release();
                    continue;
                }
                waitToFill();
                List<ExchangeSpan> batch = new ArrayList<>(MAX_BATCH);
                batch.add(first);
                queue.drainTo(batch, MAX_BATCH - 1);
                export(batch);
            } catch (InterruptedException e) {
                Thread.currentThread().interrupt();
                return;
            }
        }
    }

    /** Until a batch is queued, the wait is over or the export is closing. */
    private void waitToFill() throws InterruptedException {
        long deadline = System.nanoTime() + TimeUnit.MILLISECONDS.toNanos(FILL_WAIT_MS);
        while (running && queue.size() + 1 < fullBatch && System.nanoTime() < deadline) {
            Thread.sleep(FILL_CHECK_MS);
        }
    }

    /** Sends the batch; its answer, or the exporter's own timeout, settles it and frees its slot. */
    private void export(List<ExchangeSpan> batch) {
        CompletableResultCode result = sendOrFail(batch);
        result.whenComplete(() -> {
            settle(batch.size(), result.isSuccess());
            inFlight.release();
        });
    }

    /** A batch that cannot be encoded or handed over is lost and counted: the thread goes on. */
    private CompletableResultCode sendOrFail(List<ExchangeSpan> batch) {
        try {
            return send.apply(batch);
        } catch (RuntimeException e) {
            LOG.debugf(e, "sending a batch of %d spans failed", batch.size());
            return CompletableResultCode.ofExceptionalFailure(e);
        }
    }

    private void settle(int spans, boolean success) {
        if (success) {
            exported.add(spans);
            if (failing.compareAndSet(true, false)) {
                LOG.info("span export recovered");
            }
        } else {
            failed.add(spans);
            if (failing.compareAndSet(false, true)) {
                LOG.warnf("span export failed; %d spans lost (further failures are counted in obi.agent.dropped)",
                        spans);
            }
        }
    }

    @Override
    public void close() throws InterruptedException {
        running = false;
        thread.join(EXPORT_TIMEOUT_S * 1000 + 2000);
        // the batches still in flight are answered or time out in the exporter
        if (inFlight.tryAcquire(MAX_IN_FLIGHT, EXPORT_TIMEOUT_S + 2, TimeUnit.SECONDS)) {
            inFlight.release(MAX_IN_FLIGHT);
        }
        exporter.shutdown().join(EXPORT_TIMEOUT_S, TimeUnit.SECONDS);
    }
}
