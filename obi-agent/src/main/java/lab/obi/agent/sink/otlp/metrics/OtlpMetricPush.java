package lab.obi.agent.sink.otlp.metrics;

import io.opentelemetry.context.Context;
import io.opentelemetry.sdk.common.CompletableResultCode;
import io.opentelemetry.sdk.metrics.Aggregation;
import io.opentelemetry.sdk.metrics.InstrumentType;
import io.opentelemetry.sdk.metrics.SdkMeterProvider;
import io.opentelemetry.sdk.metrics.data.AggregationTemporality;
import io.opentelemetry.sdk.metrics.data.MetricData;
import io.opentelemetry.sdk.metrics.export.CollectionRegistration;
import io.opentelemetry.sdk.metrics.export.MetricExporter;
import io.opentelemetry.sdk.metrics.export.MetricReader;
import lab.obi.agent.process.ObservedSocket;
import lab.obi.agent.report.ExchangeReport;
import lab.obi.agent.report.HttpExchange;
import lab.obi.agent.sink.metrics.HttpMetrics;
import lab.obi.agent.sink.metrics.MetricOptions;
import lab.obi.agent.sink.otlp.ProcessResources;
import org.jboss.logging.Logger;

import java.time.Duration;
import java.util.ArrayList;
import java.util.Iterator;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.concurrent.Executors;
import java.util.concurrent.ScheduledExecutorService;
import java.util.concurrent.TimeUnit;
import java.util.function.IntPredicate;

/**
 * Request metrics over OTLP with the observed process as their resource: one meter provider per
 * process (bounded; those of exited or idle processes closed after their last push), all collected
 * by one thread and pushed in one request per interval. The SDK's periodic reader would cost a
 * thread per process and would shut down a shared one.
 */
final class OtlpMetricPush implements AutoCloseable {

    private static final Logger LOG = Logger.getLogger(OtlpMetricPush.class);

    static final int MAX_PROCESSES = 512;
    static final long IDLE_NANOS = 10 * 60 * 1_000_000_000L;

    private final MetricExporter exporter;
    private final ProcessResources resources;
    private final MetricOptions options;
    private final IntPredicate running;
    private final List<CollectingReader> fixedReaders = new ArrayList<>();
    private final LinkedHashMap<ProcessResources.Key, Meters> processes = new LinkedHashMap<>(16, 0.75f, true);
    /** Evicted processes: their last values go out with the next push, then their providers are closed. */
    private final List<Meters> closing = new ArrayList<>();
    private final ScheduledExecutorService scheduler = Executors.newSingleThreadScheduledExecutor(r -> {
        Thread t = new Thread(r, "obi-otlp-metrics");
        t.setDaemon(true);
        return t;
    });

    private record Meters(SdkMeterProvider provider, CollectingReader reader, HttpMetrics metrics, long[] lastUsed) {
    }

    /**
     * @param running whether the process of a pid still runs: a provider of one that exited goes out
     *                once more, then closes. A host starting a short-lived process a second (a curl,
     *                a cron job) otherwise kept {@value #MAX_PROCESSES} providers, each a meter
     *                provider with its instruments and series, until they were idle for 10 minutes.
     */
    OtlpMetricPush(MetricExporter exporter, Duration interval, ProcessResources resources, MetricOptions options,
                   IntPredicate running) {
        this.exporter = exporter;
        this.running = running;
        if (!MetricOptions.cellsServe(exporter)) {
            LOG.info("OTLP metrics: the exporter asks for delta temporality or another histogram aggregation"
                    + " (OTEL_EXPORTER_OTLP_METRICS_*): the request metrics are recorded in the SDK's instruments,"
                    + " which costs the agent more CPU than its own cumulative cells");
        }
        this.resources = resources;
        this.options = options;
        long ms = interval.toMillis();
        scheduler.scheduleAtFixedRate(this::push, ms, ms, TimeUnit.MILLISECONDS);
    }

    /** A reader for a provider of the agent's own (the self-telemetry). */
    synchronized MetricReader newReader() {
        CollectingReader reader = new CollectingReader(exporter);
        fixedReaders.add(reader);
        return reader;
    }

    void record(ExchangeReport report) {
        meters(report.exchange().socket()).metrics().record(report);
    }

    /** The metrics of the observed process, its own resource. */
    HttpMetrics metrics(ObservedSocket observed) {
        return meters(observed).metrics();
    }

    private synchronized Meters meters(ObservedSocket observed) {
        long now = System.nanoTime();
        Meters meters = processes.computeIfAbsent(ProcessResources.key(observed), k -> {
            CollectingReader reader = new CollectingReader(exporter);
            MetricOptions.RequestMetrics metrics = options.requestMetrics(SdkMeterProvider.builder()
                    .setResource(resources.of(observed)), reader, false);
            return new Meters(metrics.provider(), reader, metrics.http(), new long[1]);
        });
        meters.lastUsed()[0] = now;
        Iterator<Meters> eldest = processes.values().iterator();
        while (eldest.hasNext()) {
            Meters m = eldest.next();
            if (processes.size() <= MAX_PROCESSES && now - m.lastUsed()[0] < IDLE_NANOS) {
                break; // access order: the rest were used more recently
            }
            eldest.remove();
            closing.add(m);
        }
        return meters;
    }

    void push() {
        List<MetricData> batch = new ArrayList<>();
        synchronized (this) {
            fixedReaders.forEach(r -> batch.addAll(r.collect()));
            Iterator<Map.Entry<ProcessResources.Key, Meters>> each = processes.entrySet().iterator();
            while (each.hasNext()) {
                Map.Entry<ProcessResources.Key, Meters> process = each.next();
                if (running.test(process.getKey().pid())) {
                    batch.addAll(process.getValue().reader().collect());
                } else {
                    each.remove();
                    closing.add(process.getValue());
                }
            }
            for (Meters m : closing) {
                batch.addAll(m.reader().collect());
                m.provider().close();
            }
            closing.clear();
        }
        if (!batch.isEmpty()) {
            exporter.export(batch).join(10, TimeUnit.SECONDS);
        }
    }

    @Override
    public void close() throws InterruptedException {
        scheduler.shutdown();
        scheduler.awaitTermination(15, TimeUnit.SECONDS);
        push();
        exporter.shutdown().join(10, TimeUnit.SECONDS);
    }

    /** A reader collected on demand by {@link #push()}. */
    private static final class CollectingReader implements MetricReader {
        private final MetricExporter exporter;
        private volatile CollectionRegistration registration = CollectionRegistration.noop();

        CollectingReader(MetricExporter exporter) {
            this.exporter = exporter;
        }

        @Override
        public void register(CollectionRegistration collectionRegistration) {
            registration = collectionRegistration;
        }

        java.util.Collection<MetricData> collect() {
            return registration.collectAllMetrics();
        }

        @Override
        public AggregationTemporality getAggregationTemporality(InstrumentType instrumentType) {
            return exporter.getAggregationTemporality(instrumentType);
        }

        @Override
        public Aggregation getDefaultAggregation(InstrumentType instrumentType) {
            return exporter.getDefaultAggregation(instrumentType);
        }

        @Override
        public CompletableResultCode forceFlush() {
            return CompletableResultCode.ofSuccess();
        }

        @Override
        public CompletableResultCode shutdown() {
            return CompletableResultCode.ofSuccess();
        }
    }
}
