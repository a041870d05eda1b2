package lab.obi.agent;

import lab.obi.agent.capture.ConnectionRecord;
import lab.obi.agent.capture.ExchangeRecord;
import lab.obi.agent.capture.KernelRecord;
import lab.obi.agent.capture.LateRetransmitRecord;
import lab.obi.agent.capture.RecordDecoder;
import lab.obi.agent.capture.SocketOwner;
import lab.obi.agent.capture.TcpFacts;
import lab.obi.agent.assembly.AssemblyStage;
import lab.obi.agent.export.JsonLinesWriter;
import lab.obi.agent.report.ConnectionSummary;
import lab.obi.agent.report.ExchangeReport;
import lab.obi.agent.report.LateRetransmitReport;
import lab.obi.agent.report.ReportConsumer;
import lab.obi.agent.telemetry.Telemetry;
import org.jboss.logging.Logger;

import java.io.IOException;
import java.util.Optional;
import java.util.concurrent.ArrayBlockingQueue;
import java.util.concurrent.BlockingQueue;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.atomic.LongAdder;
import java.util.function.Function;

/**
 * From ring-buffer bytes to request-log lines, metrics and spans (exchanges; connections at their
 * close; retransmits after an exchange was reported). The ring-buffer thread only decodes
 * and enqueues, so slow process lookups or a slow output never stall the kernel side for long; a queue
 * that stays full drops and counts.
 */
final class ExchangePipeline implements ReportConsumer, AutoCloseable {

    private static final Logger LOG = Logger.getLogger(ExchangePipeline.class);
    private static final ExchangeRecord STOP = new ExchangeRecord(0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0,
            new SocketOwner(0, "", ExchangeRecord.Direction.SERVER, null, 0, null, 0), 0, 0, 0, 0, 0, new byte[0],
            new byte[0], 0, 0, TcpFacts.NONE);

    private static final long FULL_QUEUE_WAIT_MS = 20;

    private final BlockingQueue<KernelRecord> queue;
    private final AssemblyStage assembly;
    private final JsonLinesWriter writer; // null: no request log
    private final Telemetry telemetry;
    private final Thread worker;
    private final LongAdder received = new LongAdder();
    private final LongAdder undecodable = new LongAdder();
    private final LongAdder queueFull = new LongAdder();
    private final LongAdder writeFailures = new LongAdder();

    ExchangePipeline(int capacity, Function<ReportConsumer, AssemblyStage> assembly, JsonLinesWriter writer,
                     Telemetry telemetry) {
        this.queue = new ArrayBlockingQueue<>(capacity);
        this.assembly = assembly.apply(this);
        this.writer = writer;
        this.telemetry = telemetry;
        this.worker = new Thread(this::run, "obi-assembler");
    }

    void start() {
        worker.start();
    }

    /** Called on the ring-buffer thread for every record. */
    void accept(byte[] recordBytes) {
        received.increment();
        Optional<KernelRecord> record = RecordDecoder.decode(recordBytes);
        if (record.isEmpty()) {
            undecodable.increment();
        } else if (!queue.offer(record.get()) && !offerWithin(record.get(), FULL_QUEUE_WAIT_MS)) {
            queueFull.increment();
        }
    }

    /**
     * A full queue first holds the ring-buffer thread briefly: the kernel's ring buffer keeps filling
     * meanwhile, so a burst (or the JIT warming up) is absorbed instead of dropped.
     */
    private boolean offerWithin(KernelRecord record, long millis) {
        try {
            return queue.offer(record, millis, TimeUnit.MILLISECONDS);
        } catch (InterruptedException e) {
            Thread.currentThread().interrupt();
            return false;
        }
    }

    private void run() {
        MonotonicClock clock = new MonotonicClock();
        try {
            while (true) {
                KernelRecord record = queue.poll(1, TimeUnit.SECONDS);
                if (record == STOP) {
                    break;
                }
                if (record != null) {
                    assembly.accept(record, clock.epochOffsetNs());
                }
                if (queue.isEmpty()) {
                    flush();
                }
            }
        } catch (InterruptedException e) {
            Thread.currentThread().interrupt();
        }
        assembly.releaseAllWaiting();
        flush();
    }

    @Override
    public void exchange(ExchangeReport report) {
        telemetry.exchange(report);
        log(w -> w.write(report.exchange()));
    }

    @Override
    public void connectionClosed(ConnectionSummary connection) {
        telemetry.connectionClosed(connection);
        log(w -> w.write(connection));
    }

    @Override
    public void lateRetransmit(LateRetransmitReport report) {
        telemetry.lateRetransmit(report);
        log(w -> w.write(report.retransmit()));
    }

    private interface LogLine {
        void writeTo(JsonLinesWriter writer) throws IOException;
    }

    private void log(LogLine line) {
        if (writer == null) {
            return;
        }
        try {
            line.writeTo(writer);
        } catch (IOException e) {
            if (writeFailures.sum() == 0) {
                LOG.errorf("writing the request log failed: %s (further failures are only counted)", e.getMessage());
            }
            writeFailures.increment();
        }
    }

    private void flush() {
        if (writer == null) {
            return;
        }
        try {
            writer.flush();
        } catch (IOException e) {
            writeFailures.increment();
        }
    }

    Stats stats() {
        return new Stats(received.sum(), undecodable.sum(), queueFull.sum(), assembly.notHttpCount(),
                assembly.reportedCount(), assembly.ignoredCount(), writeFailures.sum(), queue.size());
    }

    record Stats(long received, long undecodable, long queueFull, long notHttp, long reported, long ignored,
                 long writeFailures,
                 int queued) {
    }

    /** Processes everything already queued, then stops. */
    @Override
    public void close() throws InterruptedException {
        queue.put(STOP);
        worker.join(30_000);
    }
}
