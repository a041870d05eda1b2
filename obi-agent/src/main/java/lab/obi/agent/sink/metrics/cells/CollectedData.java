package lab.obi.agent.sink.metrics.cells;

import io.opentelemetry.api.common.Attributes;
import io.opentelemetry.api.trace.SpanContext;
import io.opentelemetry.sdk.common.InstrumentationScopeInfo;
import io.opentelemetry.sdk.metrics.data.AggregationTemporality;
import io.opentelemetry.sdk.metrics.data.Data;
import io.opentelemetry.sdk.metrics.data.DoubleExemplarData;
import io.opentelemetry.sdk.metrics.data.HistogramData;
import io.opentelemetry.sdk.metrics.data.HistogramPointData;
import io.opentelemetry.sdk.metrics.data.LongExemplarData;
import io.opentelemetry.sdk.metrics.data.LongPointData;
import io.opentelemetry.sdk.metrics.data.MetricData;
import io.opentelemetry.sdk.metrics.data.MetricDataType;
import io.opentelemetry.sdk.metrics.data.SumData;
import io.opentelemetry.sdk.resources.Resource;

import java.util.Collection;
import java.util.List;

/** What a collection of the cells hands to the SDK's readers, as the SDK's public data interfaces. */
final class CollectedData {

    private CollectedData() {
    }

    record Metric(Resource resource, InstrumentationScopeInfo scope, String name, String description, String unit,
                  MetricDataType type, Data<?> data) implements MetricData {
        @Override
        public Resource getResource() {
            return resource;
        }

        @Override
        public InstrumentationScopeInfo getInstrumentationScopeInfo() {
            return scope;
        }

        @Override
        public String getName() {
            return name;
        }

        @Override
        public String getDescription() {
            return description;
        }

        @Override
        public String getUnit() {
            return unit;
        }

        @Override
        public MetricDataType getType() {
            return type;
        }

        @Override
        public Data<?> getData() {
            return data;
        }
    }

    /** A monotonic, cumulative sum. */
    record Sum(Collection<LongPointData> points) implements SumData<LongPointData> {
        @Override
        public Collection<LongPointData> getPoints() {
            return points;
        }

        @Override
        public boolean isMonotonic() {
            return true;
        }

        @Override
        public AggregationTemporality getAggregationTemporality() {
            return AggregationTemporality.CUMULATIVE;
        }
    }

    record Histogram(Collection<HistogramPointData> points) implements HistogramData {
        @Override
        public Collection<HistogramPointData> getPoints() {
            return points;
        }

        @Override
        public AggregationTemporality getAggregationTemporality() {
            return AggregationTemporality.CUMULATIVE;
        }
    }

    record LongPoint(long startEpochNanos, long epochNanos, Attributes attributes, long value) implements LongPointData {
        @Override
        public long getStartEpochNanos() {
            return startEpochNanos;
        }

        @Override
        public long getEpochNanos() {
            return epochNanos;
        }

        @Override
        public Attributes getAttributes() {
            return attributes;
        }

        @Override
        public long getValue() {
            return value;
        }

        @Override
        public List<LongExemplarData> getExemplars() {
            return List.of();
        }
    }

    record HistogramPoint(long startEpochNanos, long epochNanos, Attributes attributes, double sum, long count,
                          boolean hasMinMax, double min, double max, List<Double> boundaries, List<Long> counts,
                          List<DoubleExemplarData> exemplars) implements HistogramPointData {
        @Override
        public long getStartEpochNanos() {
            return startEpochNanos;
        }

        @Override
        public long getEpochNanos() {
            return epochNanos;
        }

        @Override
        public Attributes getAttributes() {
            return attributes;
        }

        @Override
        public double getSum() {
            return sum;
        }

        @Override
        public long getCount() {
            return count;
        }

        @Override
        public boolean hasMin() {
            return hasMinMax;
        }

        @Override
        public double getMin() {
            return min;
        }

        @Override
        public boolean hasMax() {
            return hasMinMax;
        }

        @Override
        public double getMax() {
            return max;
        }

        @Override
        public List<Double> getBoundaries() {
            return boundaries;
        }

        @Override
        public List<Long> getCounts() {
            return counts;
        }

        @Override
        public List<DoubleExemplarData> getExemplars() {
            return exemplars;
        }
    }

    /** A measurement's span; its attributes were all the series' own, so none are filtered out. */
    record Exemplar(double value, long epochNanos, SpanContext spanContext) implements DoubleExemplarData {
        @Override
        public double getValue() {
            return value;
        }

        @Override
        public long getEpochNanos() {
            return epochNanos;
        }

        @Override
        public SpanContext getSpanContext() {
            return spanContext;
        }

        @Override
        public Attributes getFilteredAttributes() {
            return Attributes.empty();
        }
    }
}
