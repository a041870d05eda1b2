package lab.obi.agent.sink.otlp.metrics;

import io.opentelemetry.sdk.common.CompletableResultCode;
import io.opentelemetry.sdk.common.export.MemoryMode;
import io.opentelemetry.sdk.metrics.Aggregation;
import io.opentelemetry.sdk.metrics.InstrumentType;
import io.opentelemetry.sdk.metrics.data.AggregationTemporality;
import io.opentelemetry.sdk.metrics.data.MetricData;
import io.opentelemetry.sdk.metrics.export.MetricExporter;
import org.jboss.logging.Logger;

import java.util.Collection;
import java.util.concurrent.atomic.LongAdder;

/**
 * Counts failed metric exports and logs one line when export starts or stops failing, instead of
 * the OTLP exporter's stack trace per attempt (its own logging is turned off).
 */
final class ReportingMetricExporter implements MetricExporter {

    private static final Logger LOG = Logger.getLogger(ReportingMetricExporter.class);

    private final MetricExporter delegate;
    private final LongAdder failures = new LongAdder();
    private volatile boolean failing;

    ReportingMetricExporter(MetricExporter delegate) {
        this.delegate = delegate;
    }

    long failures() {
        return failures.sum();
    }

    @Override
    public CompletableResultCode export(Collection<MetricData> metrics) {
        CompletableResultCode result = delegate.export(metrics);
        result.whenComplete(() -> {
            if (result.isSuccess()) {
                if (failing) {
                    LOG.info("metric export recovered");
                    failing = false;
                }
            } else {
                failures.increment();
                if (!failing) {
                    LOG.warn("metric export failed (is the OTLP endpoint up?); further failures are counted"
                            + " in obi.agent.dropped{obi.drop.reason=\"metric_export_failed\"}");
                    failing = true;
                }
            }
        });
        return result;
    }

    @Override
    public CompletableResultCode flush() {
        return delegate.flush();
    }

    @Override
    public CompletableResultCode shutdown() {
        return delegate.shutdown();
    }

    @Override
    public AggregationTemporality getAggregationTemporality(InstrumentType instrumentType) {
        return delegate.getAggregationTemporality(instrumentType);
    }

    @Override
    public Aggregation getDefaultAggregation(InstrumentType instrumentType) {
        return delegate.getDefaultAggregation(instrumentType);
    }

    @Override
    public MemoryMode getMemoryMode() {
        return delegate.getMemoryMode();
    }
}
