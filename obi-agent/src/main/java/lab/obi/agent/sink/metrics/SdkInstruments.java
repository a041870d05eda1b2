package lab.obi.agent.sink.metrics;

import io.opentelemetry.api.metrics.DoubleHistogram;
import io.opentelemetry.api.metrics.LongCounter;
import io.opentelemetry.api.metrics.Meter;
import io.opentelemetry.context.Context;

import java.util.List;

/**
 * The SDK's own instruments, aggregated by the SDK as each measurement is recorded: what base-2
 * exponential histograms (Prometheus native histograms) are recorded with, since the SDK already
 * maintains their rescaling and bucket bounds.
 */
final class SdkInstruments implements Instruments {

    /**
     * What measurements without an exemplar are recorded in. Given explicitly: the SDK would look up
     * the thread's current context (always the root here) on each call.
     */
    private static final Context NO_EXEMPLAR = Context.root();

    private final Meter meter;

    SdkInstruments(Meter meter) {
        this.meter = meter;
    }

    @Override
    public Histogram histogram(String name, String unit, String description, List<Double> boundaries) {
        DoubleHistogram histogram = meter.histogramBuilder(name).setUnit(unit).setDescription(description)
                .setExplicitBucketBoundariesAdvice(boundaries).build();
        return attributes -> (value, exemplar) -> histogram.record(value, attributes,
                exemplar == null ? NO_EXEMPLAR : exemplar.context());
    }

    @Override
    public Counter counter(String name, String unit, String description) {
        LongCounter counter = meter.counterBuilder(name).setUnit(unit).setDescription(description).build();
        return attributes -> increment -> counter.add(increment, attributes, NO_EXEMPLAR);
    }
}
