package lab.obi.agent.sink.metrics.cells;

import io.opentelemetry.sdk.common.Clock;
import io.opentelemetry.sdk.common.InstrumentationScopeInfo;
import io.opentelemetry.sdk.metrics.data.HistogramPointData;
import io.opentelemetry.sdk.metrics.data.LongPointData;
import io.opentelemetry.sdk.metrics.data.MetricData;
import io.opentelemetry.sdk.metrics.data.MetricDataType;
import io.opentelemetry.sdk.metrics.export.MetricProducer;
import io.opentelemetry.sdk.resources.Resource;
import lab.obi.agent.sink.metrics.Instruments;

import java.util.ArrayList;
import java.util.Collection;
import java.util.List;
import java.util.concurrent.CopyOnWriteArrayList;

/**
 * Request metrics aggregated by the agent itself and handed to the SDK only when a reader collects
 * (registered with {@code SdkMeterProviderBuilder.registerMetricProducer}): a measurement is a few
 * field updates in a series its caller already holds, instead of the SDK's per-call series lookup,
 * bucket search, lock and exemplar reservoir. One thread records (the pipeline's), with no atomic
 * instruction; collections may run on others. Explicit-bucket histograms and monotonic counters,
 * cumulative, with the SDK's series bound and per-bucket exemplars; every point starts when the
 * cells were made, as the SDK's start when their meter provider is built.
 */
public final class MetricCells implements Instruments, MetricProducer {

    private static final Clock CLOCK = Clock.getDefault();

    private final InstrumentationScopeInfo scope;
    private final long startEpochNanos = CLOCK.now();
    /** Instruments are made while a scrape may already run. */
    private final List<Collectable> instruments = new CopyOnWriteArrayList<>();

    public MetricCells(String scopeName) {
        scope = InstrumentationScopeInfo.create(scopeName);
    }

    private interface Collectable {
        /** Null when it has no series yet: the SDK reports no metric then either. */
        MetricData collect(Resource resource, long epochNanos);
    }

    @Override
    public Histogram histogram(String name, String unit, String description, List<Double> boundaries) {
        double[] edges = boundaries.stream().mapToDouble(Double::doubleValue).toArray();
        List<Double> boundaryList = List.copyOf(boundaries);
        BoundedSeries<HistogramCell> series = new BoundedSeries<>(name, a -> new HistogramCell(a, edges));
        instruments.add((resource, epochNanos) -> {
            List<HistogramPointData> points = new ArrayList<>();
            for (HistogramCell cell : series.all()) {
                points.add(cell.collect(boundaryList, startEpochNanos, epochNanos));
            }
            return points.isEmpty() ? null : new CollectedData.Metric(resource, scope, name, description, unit,
                    MetricDataType.HISTOGRAM, new CollectedData.Histogram(points));
        });
        return series::get;
    }

    @Override
    public Counter counter(String name, String unit, String description) {
        BoundedSeries<CounterCell> series = new BoundedSeries<>(name, CounterCell::new);
        instruments.add((resource, epochNanos) -> {
            List<LongPointData> points = new ArrayList<>();
            for (CounterCell cell : series.all()) {
                points.add(cell.collect(startEpochNanos, epochNanos));
            }
            return points.isEmpty() ? null : new CollectedData.Metric(resource, scope, name, description, unit,
                    MetricDataType.LONG_SUM, new CollectedData.Sum(points));
        });
        return series::get;
    }

    /** Called by each reader's collection, with its meter provider's resource. */
    @Override
    public Collection<MetricData> produce(Resource resource) {
        long now = CLOCK.now();
        List<MetricData> metrics = new ArrayList<>(instruments.size());
        for (Collectable instrument : instruments) {
            MetricData metric = instrument.collect(resource, now);
            if (metric != null) {
                metrics.add(metric);
            }
        }
        return metrics;
    }
}
