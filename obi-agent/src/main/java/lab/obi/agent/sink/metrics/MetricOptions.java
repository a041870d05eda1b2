package lab.obi.agent.sink.metrics;

import io.opentelemetry.sdk.metrics.Aggregation;
import io.opentelemetry.sdk.metrics.InstrumentSelector;
import io.opentelemetry.sdk.metrics.InstrumentType;
import io.opentelemetry.sdk.metrics.SdkMeterProvider;
import io.opentelemetry.sdk.metrics.SdkMeterProviderBuilder;
import io.opentelemetry.sdk.metrics.View;
import io.opentelemetry.sdk.metrics.data.AggregationTemporality;
import io.opentelemetry.sdk.metrics.export.AggregationTemporalitySelector;
import io.opentelemetry.sdk.metrics.export.DefaultAggregationSelector;
import io.opentelemetry.sdk.metrics.export.MetricReader;
import lab.obi.agent.config.AgentConfig;
import lab.obi.agent.sink.metrics.cells.MetricCells;

/**
 * What the Prometheus and the OTLP metric sinks share (obi.metrics.*).
 *
 * @param exponentialHistograms base-2 exponential histograms (Prometheus native histograms) instead of fixed buckets
 * @param peerAddresses         label server request metrics with the client's address
 */
public record MetricOptions(boolean exponentialHistograms, boolean peerAddresses) {

    public static MetricOptions of(AgentConfig.Metrics config) {
        return new MetricOptions(config.exponentialHistograms(), config.peerAddresses());
    }

    /** A meter provider and the request metrics recorded for its readers. */
    public record RequestMetrics(SdkMeterProvider provider, HttpMetrics http) {
    }

    /**
     * Builds the provider, its reader registered, with the request metrics on it: aggregated by the
     * agent's own cells and handed over when the reader collects, if the cells make what it asks for;
     * otherwise (exponential histograms, or a reader asking for delta points or another histogram
     * aggregation) recorded in the SDK's instruments, which make all of those.
     *
     * @param serviceAttribute label points with service.name: where the resource is the agent, not the process
     */
    public RequestMetrics requestMetrics(SdkMeterProviderBuilder builder, MetricReader reader,
                                         boolean serviceAttribute) {
        builder.registerMetricReader(reader);
        if (exponentialHistograms || !cellsServe(reader)) {
            SdkMeterProvider provider = histograms(builder).build();
            return new RequestMetrics(provider, new HttpMetrics(new SdkInstruments(provider.get(AgentMetrics.SCOPE)),
                    serviceAttribute, peerAddresses));
        }
        MetricCells cells = new MetricCells(AgentMetrics.SCOPE);
        return new RequestMetrics(builder.registerMetricProducer(cells).build(),
                new HttpMetrics(cells, serviceAttribute, peerAddresses));
    }

    /**
     * Whether the agent's own cells make what a reader or an exporter asks for: cumulative points and
     * the default (explicit-bucket) histograms. A {@code MetricProducer} is not told what its reader asked.
     */
    public static <T extends AggregationTemporalitySelector & DefaultAggregationSelector> boolean cellsServe(T asks) {
        return asks.getAggregationTemporality(InstrumentType.COUNTER) == AggregationTemporality.CUMULATIVE
                && asks.getAggregationTemporality(InstrumentType.HISTOGRAM) == AggregationTemporality.CUMULATIVE
                && asks.getDefaultAggregation(InstrumentType.HISTOGRAM) == Aggregation.defaultAggregation();
    }

    /** Registers the histogram aggregation these options ask for on a meter provider. */
    public SdkMeterProviderBuilder histograms(SdkMeterProviderBuilder builder) {
        return exponentialHistograms
                ? builder.registerView(InstrumentSelector.builder().setType(InstrumentType.HISTOGRAM).build(),
                        View.builder().setAggregation(Aggregation.base2ExponentialBucketHistogram()).build())
                : builder;
    }
}
