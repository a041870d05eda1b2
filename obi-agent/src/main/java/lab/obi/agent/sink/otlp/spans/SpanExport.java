package lab.obi.agent.sink.otlp.spans;

import io.opentelemetry.sdk.common.CompletableResultCode;
import io.opentelemetry.sdk.trace.data.SpanData;
import io.opentelemetry.sdk.trace.export.SpanExporter;
import org.jboss.logging.Logger;

import java.util.ArrayList;
import java.util.List;
import java.util.concurrent.ArrayBlockingQueue;
import java.util.concurrent.BlockingQueue;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.atomic.LongAdder;

/**
 * Sends spans in batches on its own thread. The queue is bounded: a Collector that is down or slow
 * costs dropped spans (counted), never the agent's memory or the capture's pace.
 */
final class SpanExport implements AutoCloseable {

    private static final Logger LOG = Logger.getLogger(SpanExport.class);
    private static final int MAX_BATCH = 512;
    private static final long EXPORT_TIMEOUT_S = 10;

    private final SpanExporter exporter;
    private final BlockingQueue<SpanData> queue;
    private final Thread thread = new Thread(this::run, "obi-span-export");
    private final LongAdder exported = new LongAdder();
    private final LongAdder dropped = new LongAdder();
    private final LongAdder failed = new LongAdder();
    private volatile boolean running = true;
    private boolean failing;

    SpanExport(SpanExporter exporter, int queueCapacity) {
        this.exporter = exporter;
        this.queue = new ArrayBlockingQueue<>(queueCapacity);
        thread.setDaemon(true);
        thread.start();
    }

    void offer(SpanData span) {
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
        List<SpanData> batch = new ArrayList<>(MAX_BATCH);
        while (running || !queue.isEmpty()) {
            try {
                SpanData first = queue.poll(1, TimeUnit.SECONDS);
                if (first == null) {
                    continue;
                }
                batch.add(first);
                queue.drainTo(batch, MAX_BATCH - 1);
                export(batch);
                batch.clear();
            } catch (InterruptedException e) {
                Thread.currentThread().interrupt();
                return;
            }
        }
    }

    private void export(List<SpanData> batch) {
        CompletableResultCode result = exporter.export(batch).join(EXPORT_TIMEOUT_S, TimeUnit.SECONDS);
        if (result.isSuccess()) {
            exported.add(batch.size());
            if (failing) {
                LOG.info("span export recovered");
                failing = false;
            }
        } else {
            failed.add(batch.size());
            if (!failing) {
                LOG.warnf("span export failed; %d spans lost (further failures are counted in obi.agent.dropped)",
                        batch.size());
                failing = true;
            }
        }
    }

    @Override
    public void close() throws InterruptedException {
        running = false;
        thread.join(EXPORT_TIMEOUT_S * 1000 + 2000);
        exporter.shutdown().join(EXPORT_TIMEOUT_S, TimeUnit.SECONDS);
    }
}
