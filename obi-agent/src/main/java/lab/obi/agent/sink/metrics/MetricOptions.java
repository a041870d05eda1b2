package lab.obi.agent.sink.metrics;

import io.opentelemetry.sdk.metrics.Aggregation;
import io.opentelemetry.sdk.metrics.InstrumentSelector;
import io.opentelemetry.sdk.metrics.InstrumentType;
import io.opentelemetry.sdk.metrics.SdkMeterProvider;
import io.opentelemetry.sdk.metrics.SdkMeterProviderBuilder;
import io.opentelemetry.sdk.metrics.View;
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
     * Builds the provider with the request metrics on it: aggregated by the agent's own cells and
     * handed over when a reader collects; with exponential histograms, recorded in the SDK's
     * instruments (the SDK rescales those).
     *
     * @param serviceAttribute label points with service.name: where the resource is the agent, not the process
     */
    public RequestMetrics requestMetrics(SdkMeterProviderBuilder builder, boolean serviceAttribute) {
        return requestMetrics(builder, serviceAttribute, false);
    }

    /**
     * @param readerAggregation the reader asks for what only the SDK's instruments produce (delta points, another
     *                          default histogram aggregation): the request metrics are recorded in them
     */
    public RequestMetrics requestMetrics(SdkMeterProviderBuilder builder, boolean serviceAttribute,
                                         boolean readerAggregation) {
        if (exponentialHistograms || readerAggregation) {
            SdkMeterProvider provider = histograms(builder).build();
            return new RequestMetrics(provider, new HttpMetrics(new SdkInstruments(provider.get(AgentMetrics.SCOPE)),
                    serviceAttribute, peerAddresses));
        }
        MetricCells cells = new MetricCells(AgentMetrics.SCOPE);
        return new RequestMetrics(builder.registerMetricProducer(cells).build(),
                new HttpMetrics(cells, serviceAttribute, peerAddresses));
    }

    /** Registers the histogram aggregation these options ask for on a meter provider. */
    public SdkMeterProviderBuilder histograms(SdkMeterProviderBuilder builder) {
        return exponentialHistograms
                ? builder.registerView(InstrumentSelector.builder().setType(InstrumentType.HISTOGRAM).build(),
                        View.builder().setAggregation(Aggregation.base2ExponentialBucketHistogram()).build())
                : builder;
    }
}
