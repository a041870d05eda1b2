package lab.obi.agent.pipeline;

import lab.obi.agent.assembly.AssemblyStage;
import lab.obi.agent.contract.KernelCounter;
import lab.obi.agent.capture.KernelRecord;
import lab.obi.agent.capture.RecordDecoder;
import lab.obi.agent.config.AgentConfig;
import lab.obi.agent.network.InterfaceOutages;
import lab.obi.agent.process.ProcessResolver;
import lab.obi.agent.process.WatchFilter;
import lab.obi.agent.protocol.RouteNormaliser;
import lab.obi.agent.sink.metrics.SelfStats;
import org.jboss.logging.Logger;

import java.io.IOException;
import java.nio.ByteBuffer;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.Optional;
import java.util.OptionalLong;
import java.util.Set;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.atomic.LongAdder;
import java.util.function.IntSupplier;
import java.util.function.LongSupplier;
import java.util.function.Supplier;

/**
 * From ring-buffer bytes to the sinks. The ring-buffer thread only decodes and enqueues, so slow
 * process lookups or a slow sink never stall the kernel side for long; a queue that stays full drops
 * and counts. It enqueues what it decoded a batch at a time: after each drain of the ring, and every
 * {@value #HANDOFF} records within a long one. One worker thread runs the assembly stage, which hands
 * each finished report to every sink, and flushes the sinks within 100 ms of a report.
 */
public final class Pipeline implements AutoCloseable {

    private static final Logger LOG = Logger.getLogger("obi-agent");
    private static final long FULL_QUEUE_WAIT_NS = TimeUnit.MILLISECONDS.toNanos(20);
    /** How often an idle worker lets waiting client calls expire and looks whether it should stop. */
    private static final long IDLE_WAKE_NS = TimeUnit.MILLISECONDS.toNanos(200);
    /**
     * How long what the sinks buffer may wait for a flush. Flushed each time the queue ran empty, the
     * request log went out a few lines per write, and each write's file-system work (the inode's
     * times, the journal) cost more than its bytes.
     */
    private static final long FLUSH_AFTER_NS = TimeUnit.MILLISECONDS.toNanos(100);
    /**
     * Records the worker takes from the queue at once: one lock for all of them, where taking them
     * one by one contended with the ring-buffer thread's puts on every record.
     */
    private static final int BATCH = 256;
    /** Decoded records the ring-buffer thread gathers before it enqueues them. */
    private static final int HANDOFF = 256;

    private final LongAdder received = new LongAdder();
    private final LongAdder undecodable = new LongAdder();
    private final LongAdder queueFull = new LongAdder();
    private final LongAdder assemblyFailures = new LongAdder();
    private final RecordQueue<KernelRecord> queue;
    /** Decoded and not enqueued yet; the ring-buffer thread's own. */
    private final List<KernelRecord> decoded = new ArrayList<>(HANDOFF);
    private final Supplier<Map<KernelCounter, Long>> kernelCounters;
    private final IntSupplier tlsLibraries;
    private final LongSupplier trackedConnections;
    private final Sinks sinks;
    private final InterfaceOutages outages;
    private final RouteNormaliser routes;
    private final AssemblyStage assembly;
    private final Thread worker = new Thread(this::run, "obi-assembler");
    private volatile boolean closing;

    /**
     * @param kernelCounters the kernel's counters; empty while they cannot be read
     * @param tlsLibraries   OpenSSL libraries whose HTTPS is seen
     * @param trackedConnections entries of the kernel's connection table; -1 while it cannot be read
     * @param unwatchedClients   where processes none of whose client calls is reported are named
     */
    public Pipeline(AgentConfig config, Supplier<Map<KernelCounter, Long>> kernelCounters, IntSupplier tlsLibraries,
                    LongSupplier trackedConnections, AssemblyStage.UnwatchedClients unwatchedClients)
            throws IOException {
        this.queue = new RecordQueue<>(config.capture().queueCapacity());
        this.kernelCounters = kernelCounters;
        this.tlsLibraries = tlsLibraries;
        this.trackedConnections = trackedConnections;
        this.sinks = Sinks.open(config, this::selfStats);
        this.outages = new InterfaceOutages(sinks);
        WatchFilter filter = new WatchFilter(config.watch().excludeExecutables(),
                config.watch().services().orElse(Set.of()), config.watch().ports().orElse(Set.of()));
        this.routes = new RouteNormaliser(config.routes().maxPerService());
        this.assembly = new AssemblyStage(new ProcessResolver(Path.of("/proc")), routes, config.routes().keepQuery(),
                outages, filter, unwatchedClients, config.slow().threshold().toNanos(), sinks);
    }

    public void start() {
        worker.start();
    }

    /** The host's interface outages, as the link monitor reports them: evidence on requests, metrics in the sinks. */
    public InterfaceOutages interfaceOutages() {
        return outages;
    }

    /** Where reports go, for the start-up line. */
    public String description() {
        return sinks.description();
    }

    /** Called on the ring-buffer thread for every record, which it must decode before it returns. */
    public void accept(ByteBuffer recordBytes) {
        received.increment();
        Optional<KernelRecord> record = RecordDecoder.decode(recordBytes);
        if (record.isEmpty()) {
            undecodable.increment();
            return;
        }
        decoded.add(record.get());
        if (decoded.size() >= HANDOFF) {
            drained();
        }
    }

    /** Called on the ring-buffer thread after each drain: what it decoded goes to the worker. */
    public void drained() {
        if (!decoded.isEmpty()) {
            enqueue(decoded);
            decoded.clear();
        }
    }

    /**
     * Decoded records for the worker; those that find no room are counted. A full queue first holds
     * the ring-buffer thread briefly: the kernel's ring buffer keeps filling meanwhile, so a burst (or
     * the JIT warming up) is absorbed instead of dropped.
     */
    void enqueue(List<KernelRecord> records) {
        queueFull.add(queue.offerAll(records, FULL_QUEUE_WAIT_NS));
    }

    private void run() {
        MonotonicClock clock = new MonotonicClock();
        List<KernelRecord> batch = new ArrayList<>(BATCH);
        boolean unflushed = false;
        long flushAt = 0;
        try {
            while (true) {
                queue.drainTo(batch, BATCH, unflushed ? Math.max(0, flushAt - System.nanoTime()) : IDLE_WAKE_NS);
                boolean sent;
                if (!batch.isEmpty()) {
                    long epochOffsetNs = clock.epochOffsetNs();
                    for (int i = 0; i < batch.size(); i++) {
                        assemble(batch.get(i), epochOffsetNs);
                    }
                    batch.clear();
                    sent = true;
                } else {
                    if (closing) {
                        break; // everything queued before close() is processed
                    }
                    // What the wait let out (a slow request held for its calls) is written too,
                    // not when the next record comes: on a quiet host that may be never.
                    sent = assembly.expireWaiting();
                }
                if (sent && !unflushed) {
                    unflushed = true;
                    flushAt = System.nanoTime() + FLUSH_AFTER_NS;
                }
                if (unflushed && System.nanoTime() - flushAt >= 0) {
                    sinks.flush();
                    unflushed = false;
                }
            }
        } catch (InterruptedException e) {
            Thread.currentThread().interrupt();
        }
        assembly.releaseAllWaiting();
        sinks.flush();
    }

    /**
     * A record that makes the assembly throw is a bug of the agent's: it costs that record (counted,
     * the first one logged with its stack), never the worker thread and with it all capture.
     */
    private void assemble(KernelRecord record, long epochOffsetNs) {
        try {
            assembly.accept(record, epochOffsetNs);
        } catch (RuntimeException e) {
            if (assemblyFailures.sum() == 0) {
                LOG.errorf(e, "a kernel record could not be assembled (a bug: please report it); such records"
                        + " are dropped and counted (obi.agent.dropped, obi.drop.reason=assembly_failure)");
            }
            assemblyFailures.increment();
        }
    }

    /** The agent's own counters now, for its metrics and its log line. */
    SelfStats selfStats() {
        if (assembly == null) { // a scrape while the sinks are being built, before the pipeline is complete
            return new SelfStats(0, 0, 0, 0, Map.of(), 0, 0, 0, 0, -1, Optional.empty(), OptionalLong.empty());
        }
        Map<String, Long> drops = new LinkedHashMap<>();
        drops.put("queue_full", queueFull.sum());
        drops.put("undecodable", undecodable.sum());
        drops.put("write_failure", sinks.writeFailures());
        drops.put("sink_failure", sinks.sinkFailures());
        drops.put("assembly_failure", assemblyFailures.sum());
        long peerFinWaitsExpired = 0;
        for (Map.Entry<KernelCounter, Long> c : kernelCounters.get().entrySet()) {
            if (c.getKey() == KernelCounter.PEER_FIN_WAIT_EXPIRED) {
                peerFinWaitsExpired = c.getValue();
            } else if (c.getKey() != KernelCounter.RECORDS) {
                drops.put(c.getKey().name().toLowerCase(), c.getValue());
            }
        }
        return new SelfStats(received.sum(), assembly.reportedCount(), assembly.ignoredCount(),
                assembly.notHttpCount(), drops, queue.size(), peerFinWaitsExpired, tlsLibraries.getAsInt(),
                routes.overflowCount(), trackedConnections.getAsLong(),
                sinks.spanExport(), sinks.metricExportFailures());
    }

    /** Processes everything already queued, lets every waiting client call out, then closes the sinks. */
    @Override
    public void close() throws InterruptedException {
        closing = true;
        if (worker.isAlive()) {
            worker.join(30_000);
        }
        sinks.close();
    }
}
