package lab.obi.agent.sink.metrics.cells;

import io.opentelemetry.api.common.Attributes;
import io.opentelemetry.api.trace.SpanContext;
import io.opentelemetry.sdk.metrics.data.DoubleExemplarData;
import lab.obi.agent.report.ExchangeReport;
import lab.obi.agent.sink.metrics.Instruments;

import java.lang.invoke.MethodHandles;
import java.lang.invoke.VarHandle;
import java.util.ArrayList;
import java.util.List;

/**
 * One series of an explicit-bucket histogram: count, sum, min, max, a count per bucket, and per
 * bucket the latest sampled span as its exemplar (the SDK's histogram reservoir), reported once by
 * the collection that follows it.
 * <p>
 * One writer, the pipeline's thread, and a sequence number instead of a lock: the writer makes it odd
 * before it changes the fields and even after, and a collection copies them until it read the same
 * even number before and after, so it never sees a count without its sum. A lock cost two atomic
 * instructions per measurement, several measurements per request; these are plain stores on x86.
 */
final class HistogramCell implements Instruments.HistogramSeries {

    private static final VarHandle VERSION;

    static {
        try {
            VERSION = MethodHandles.lookup().findVarHandle(HistogramCell.class, "version", long.class);
        } catch (ReflectiveOperationException e) {
            throw new ExceptionInInitializerError(e);
        }
    }

    final Attributes attributes;
    private final double[] boundaries;
    private final long[] counts;
    /** Odd while the writer changes the fields below. */
    @SuppressWarnings("unused") // through VERSION
    private long version;
    private long count;
    private double sum;
    private double min = Double.POSITIVE_INFINITY;
    private double max = Double.NEGATIVE_INFINITY;
    /** Per bucket, the latest exemplar; allocated with the first one. */
    private SpanContext[] exemplarSpans;
    private double[] exemplarValues;
    private long[] exemplarEpochNanos;
    /** The collections' own: per bucket, the span the last collection reported. */
    private SpanContext[] reported;

    HistogramCell(Attributes attributes, double[] boundaries) {
        this.attributes = attributes;
        this.boundaries = boundaries;
        this.counts = new long[boundaries.length + 1];
    }

    /** A negative value is dropped with a warning, as the SDK's histograms drop it. One thread records. */
    @Override
    public void record(double value, ExchangeReport exemplar) {
        if (value < 0) {
            NegativeValues.dropped(attributes, value);
            return;
        }
        int bucket = bucket(value);
        long v = (long) VERSION.getOpaque(this);
        VERSION.setOpaque(this, v + 1);
        VarHandle.storeStoreFence();
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
        VERSION.setRelease(this, v + 2);
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

    /** Collections take turns: each reports an exemplar the one before it did not. */
    synchronized CollectedData.HistogramPoint collect(List<Double> boundaryList, long startEpochNanos,
                                                      long epochNanos) {
        int buckets = counts.length;
        long[] bucketCounts = new long[buckets];
        SpanContext[] spans = new SpanContext[buckets];
        double[] values = new double[buckets];
        long[] times = new long[buckets];
        long n;
        double s;
        double low;
        double high;
        boolean anyExemplar;
        while (true) {
            long v = (long) VERSION.getAcquire(this);
            System.arraycopy(counts, 0, bucketCounts, 0, buckets);
            n = count;
            s = sum;
            low = min;
            high = max;
            // read apart from the writer: each array may still be null while another is not
            SpanContext[] latestSpans = exemplarSpans;
            double[] latestValues = exemplarValues;
            long[] latestTimes = exemplarEpochNanos;
            anyExemplar = latestSpans != null && latestValues != null && latestTimes != null;
            if (anyExemplar) {
                System.arraycopy(latestSpans, 0, spans, 0, buckets);
                System.arraycopy(latestValues, 0, values, 0, buckets);
                System.arraycopy(latestTimes, 0, times, 0, buckets);
            }
            VarHandle.loadLoadFence();
            if ((v & 1) == 0 && (long) VERSION.getOpaque(this) == v) {
                break;
            }
            Thread.onSpinWait();
        }
        List<Long> countList = new ArrayList<>(buckets);
        for (long c : bucketCounts) {
            countList.add(c);
        }
        List<DoubleExemplarData> exemplars = List.of();
        if (anyExemplar) {
            if (reported == null) {
                reported = new SpanContext[buckets];
            }
            exemplars = new ArrayList<>(1);
            for (int i = 0; i < buckets; i++) {
                if (spans[i] != null && spans[i] != reported[i]) {
                    exemplars.add(new CollectedData.Exemplar(values[i], times[i], spans[i]));
                    reported[i] = spans[i];
                }
            }
        }
        return new CollectedData.HistogramPoint(startEpochNanos, epochNanos, attributes, s, n, n > 0, low, high,
                boundaryList, List.copyOf(countList), List.copyOf(exemplars));
    }
}
