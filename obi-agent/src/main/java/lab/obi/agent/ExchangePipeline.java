package lab.obi.agent;

import lab.obi.agent.capture.ConnectionRecord;
import lab.obi.agent.capture.ExchangeRecord;
import lab.obi.agent.capture.KernelRecord;
import lab.obi.agent.capture.LateRetransmitRecord;
import lab.obi.agent.capture.RecordDecoder;
import lab.obi.agent.capture.SocketOwner;
import lab.obi.agent.capture.TcpFacts;
import lab.obi.agent.exchange.ConnectionSummary;
import lab.obi.agent.exchange.ExchangeAssembler;
import lab.obi.agent.exchange.LateRetransmit;
import lab.obi.agent.export.JsonLinesWriter;
import lab.obi.agent.process.WatchFilter;
import lab.obi.agent.telemetry.Telemetry;
import org.jboss.logging.Logger;

import java.io.IOException;
import java.util.Optional;
import java.util.concurrent.ArrayBlockingQueue;
import java.util.concurrent.BlockingQueue;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.atomic.LongAdder;

/**
 * From ring-buffer bytes to request-log lines, metrics and spans (exchanges; connections at their
 * close; retransmits after an exchange was reported). The ring-buffer thread only decodes
 * and enqueues, so slow process lookups or a slow output never stall the kernel side for long; a queue
 * that stays full drops and counts.
 */
final class ExchangePipeline implements AutoCloseable {

    private static final Logger LOG = Logger.getLogger(ExchangePipeline.class);
    private static final ExchangeRecord STOP = new ExchangeRecord(0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0,
            new SocketOwner(0, "", ExchangeRecord.Direction.SERVER, null, 0, null, 0), 0, 0, 0, 0, 0, new byte[0],
            new byte[0], 0, 0, TcpFacts.NONE);

    private static final long FULL_QUEUE_WAIT_MS = 20;

    private final BlockingQueue<KernelRecord> queue;
    private final ExchangeAssembler assembler;
    private final JsonLinesWriter writer; // null: no request log
    private final Telemetry telemetry;
    private final WatchFilter filter;
    private final Thread worker;
    private final LongAdder received = new LongAdder();
    private final LongAdder undecodable = new LongAdder();
    private final LongAdder queueFull = new LongAdder();
    private final LongAdder reported = new LongAdder();
    private final LongAdder ignored = new LongAdder();
    private final LongAdder writeFailures = new LongAdder();

    ExchangePipeline(int capacity, ExchangeAssembler assembler, WatchFilter filter, JsonLinesWriter writer,
                     Telemetry telemetry) {
        this.filter = filter;
        this.queue = new ArrayBlockingQueue<>(capacity);
        this.assembler = assembler;
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
                    process(record, clock.epochOffsetNs());
                }
                if (queue.isEmpty()) {
                    flush();
                }
            }
        } catch (InterruptedException e) {
            Thread.currentThread().interrupt();
        }
        flush();
    }

    private void process(KernelRecord record, long epochOffsetNs) {
        if (record instanceof ExchangeRecord exchangeRecord) {
            assembler.assemble(exchangeRecord, epochOffsetNs).ifPresent(exchange -> {
                if (!filter.watched(exchange.socket())) {
                    ignored.increment();
                    return;
                }
                reported.increment();
                telemetry.record(exchange);
                log(w -> w.write(exchange));
            });
        } else if (record instanceof ConnectionRecord connectionRecord) {
            ConnectionSummary connection = assembler.connection(connectionRecord, epochOffsetNs);
            if (filter.watched(connection.socket())) {
                telemetry.connectionClosed(connection);
                log(w -> w.write(connection));
            }
        } else if (record instanceof LateRetransmitRecord retransmitRecord) {
            LateRetransmit retransmit = assembler.lateRetransmit(retransmitRecord, epochOffsetNs);
            if (filter.watched(retransmit.socket())) {
                telemetry.retransmittedAfterResponse(retransmit);
                log(w -> w.write(retransmit));
            }
        }
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
        return new Stats(received.sum(), undecodable.sum(), queueFull.sum(), assembler.rejectedCount(),
                reported.sum(), ignored.sum(), writeFailures.sum(), queue.size());
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
