package lab.obi.agent.sink.otlp.metrics;

import static org.junit.jupiter.api.Assertions.assertEquals;

import io.opentelemetry.sdk.common.CompletableResultCode;
import io.opentelemetry.sdk.metrics.InstrumentType;
import io.opentelemetry.sdk.metrics.data.AggregationTemporality;
import io.opentelemetry.sdk.metrics.data.MetricData;
import io.opentelemetry.sdk.metrics.export.MetricExporter;
import java.time.Duration;
import java.util.ArrayList;
import java.util.Collection;
import java.util.List;
import java.util.Map;
import java.util.Optional;
import java.util.OptionalLong;
import lab.obi.agent.network.HostTcpCounters;
import lab.obi.agent.sink.metrics.AgentMetrics;
import lab.obi.agent.sink.metrics.MetricOptions;
import lab.obi.agent.sink.metrics.RecordedSequence;
import lab.obi.agent.sink.metrics.SelfStats;
import lab.obi.agent.sink.otlp.ProcessResources;
import org.junit.jupiter.api.Test;

/** The request metrics pushed over OTLP, each process its own resource, against the golden file. */
class OtlpRequestMetricsRegressionTest {

    /** Each push, as it was exported. */
    private final List<Collection<MetricData>> pushes = new ArrayList<>();

    private final MetricExporter keeping = new MetricExporter() {
        @Override
        public CompletableResultCode export(Collection<MetricData> metrics) {
            pushes.add(List.copyOf(metrics));
            return CompletableResultCode.ofSuccess();
        }

        @Override
        public CompletableResultCode flush() {
            return CompletableResultCode.ofSuccess();
        }

        @Override
        public CompletableResultCode shutdown() {
            return CompletableResultCode.ofSuccess();
        }

        @Override
        public AggregationTemporality getAggregationTemporality(InstrumentType instrumentType) {
            return AggregationTemporality.CUMULATIVE;
        }
    };

    @Test
    void eachProcessIsAResourceOfItsOwn() {
        OtlpMetricsSink sink = new OtlpMetricsSink(keeping, Duration.ofHours(1), new ProcessResources("node-1"),
                AgentMetrics.resource("node-1"), new MetricOptions(false, true), () -> new SelfStats(0, 0, 0, 0,
                Map.of(), 0, 0, 0, 0, 0, Optional.empty(), OptionalLong.empty()),
                () -> new HostTcpCounters.Snapshot(-1, -1, -1), pid -> true);
        RecordedSequence sequence = new RecordedSequence();
        sequence.first(sink);
        sequence.second(sink);
        sink.close(); // one push: the interval is an hour
        assertEquals(1, pushes.size());
        RecordedSequence.assertMatches("otlp.txt", sequence.render(pushes.get(0)));
    }
}
