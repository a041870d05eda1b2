package lab.obi.agent.sink.metrics.cells;

import io.opentelemetry.api.common.Attributes;
import io.opentelemetry.api.trace.SpanContext;
import io.opentelemetry.sdk.metrics.data.DoubleExemplarData;
import lab.obi.agent.report.ExchangeReport;
import lab.obi.agent.sink.metrics.Instruments;

import java.util.ArrayList;
import java.util.List;

/**
 * One series of an explicit-bucket histogram: count, sum, min, max, a count per bucket, and per
 * bucket the latest sampled span as its exemplar (the SDK's histogram reservoir), reported once by
 * the collection that follows it. Recording and collecting hold the cell's lock, so a collection
 * never sees a count without its sum; only the pipeline's thread records, so the lock is uncontended
 * but for the moment of a collection.
 */
final class HistogramCell implements Instruments.HistogramSeries {

    final Attributes attributes;
    private final double[] boundaries;
    private final long[] counts;
    private long count;
    private double sum;
    private double min = Double.POSITIVE_INFINITY;
    private double max = Double.NEGATIVE_INFINITY;
    /** Per bucket, the latest exemplar since the last collection; allocated with the first one. */
    private SpanContext[] exemplarSpans;
    private double[] exemplarValues;
    private long[] exemplarEpochNanos;

    HistogramCell(Attributes attributes, double[] boundaries) {
        this.attributes = attributes;
        this.boundaries = boundaries;
        this.counts = new long[boundaries.length + 1];
    }

    /** A negative value is dropped with a warning, as the SDK's histograms drop it. */
    @Override
    public synchronized void record(double value, ExchangeReport exemplar) {
        if (value < 0) {
            NegativeValues.dropped(attributes, value);
            return;
        }
        int bucket = bucket(value);
        counts[bucket]++;
        count++;
        sum += value;
        min = Math.min(min, value);
        max = Math.max(max, value);
        if (exemplar != null && exemplar.span().isSampled()) {
            if (exemplarSpans == null) {
                exemplarSpans = new SpanContext[counts.length];
                exemplarValues = new double[counts.length];
                exemplarEpochNanos = new long[counts.length];
            }
            exemplarSpans[bucket] = exemplar.span();
            exemplarValues[bucket] = value;
            // when the exchange ended, which is when its value was measured; reading the clock here
            // cost more than the rest of the recording
            exemplarEpochNanos[bucket] = exemplar.exchange().endUnixNs();
        }
    }

    /**
     * A bucket holds the values above the previous boundary up to its own, inclusive. Searched from
     * the lowest: most values fall in the first few buckets (a binary search's unpredictable
     * branches cost more there, 4% of the agent's samples at saturation).
     */
    private int bucket(double value) {
        int i = 0;
        while (i < boundaries.length && value > boundaries[i]) {
            i++;
        }
        return i;
    }

    synchronized CollectedData.HistogramPoint collect(List<Double> boundaryList, long startEpochNanos,
                                                      long epochNanos) {
        List<DoubleExemplarData> exemplars = List.of();
        if (exemplarSpans != null) {
            exemplars = new ArrayList<>(1);
            for (int i = 0; i < exemplarSpans.length; i++) {
                if (exemplarSpans[i] != null) {
                    exemplars.add(new CollectedData.Exemplar(exemplarValues[i], exemplarEpochNanos[i],
                            exemplarSpans[i]));
                    exemplarSpans[i] = null;
                }
            }
        }
        List<Long> bucketCounts = new ArrayList<>(counts.length);
        for (long c : counts) {
            bucketCounts.add(c);
        }
        return new CollectedData.HistogramPoint(startEpochNanos, epochNanos, attributes, sum, count, count > 0, min,
                max, boundaryList, List.copyOf(bucketCounts), List.copyOf(exemplars));
    }
}
