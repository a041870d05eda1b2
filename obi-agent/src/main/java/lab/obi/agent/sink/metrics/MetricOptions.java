package lab.obi.agent.sink.metrics;

import io.opentelemetry.sdk.metrics.Aggregation;
import io.opentelemetry.sdk.metrics.InstrumentSelector;
import io.opentelemetry.sdk.metrics.InstrumentType;
import io.opentelemetry.sdk.metrics.SdkMeterProviderBuilder;
import io.opentelemetry.sdk.metrics.View;
import lab.obi.agent.config.AgentConfig;

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

    /** Registers the histogram aggregation these options ask for on a meter provider. */
    public SdkMeterProviderBuilder histograms(SdkMeterProviderBuilder builder) {
        return exponentialHistograms
                ? builder.registerView(InstrumentSelector.builder().setType(InstrumentType.HISTOGRAM).build(),
                        View.builder().setAggregation(Aggregation.base2ExponentialBucketHistogram()).build())
                : builder;
    }
}
