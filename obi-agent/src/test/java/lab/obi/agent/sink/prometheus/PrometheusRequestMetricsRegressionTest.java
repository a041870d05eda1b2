package lab.obi.agent.sink.prometheus;

import static org.junit.jupiter.api.Assertions.assertEquals;

import io.opentelemetry.api.common.AttributeKey;
import io.opentelemetry.api.common.Attributes;
import io.opentelemetry.sdk.metrics.data.HistogramPointData;
import io.opentelemetry.sdk.metrics.data.LongPointData;
import io.opentelemetry.sdk.metrics.data.MetricData;
import io.opentelemetry.sdk.testing.exporter.InMemoryMetricReader;
import java.util.Collection;
import java.util.Map;
import java.util.Optional;
import java.util.OptionalLong;
import lab.obi.agent.network.HostTcpCounters;
import lab.obi.agent.process.ObservedSocket;
import lab.obi.agent.process.ObservedSocket.Direction;
import lab.obi.agent.report.TcpEvidence;
import lab.obi.agent.report.TestReports;
import lab.obi.agent.sink.metrics.AgentMetrics;
import lab.obi.agent.sink.metrics.MetricOptions;
import lab.obi.agent.sink.metrics.RecordedSequence;
import lab.obi.agent.sink.metrics.SelfStats;
import org.junit.jupiter.api.Test;

/**
 * The request metrics of a fixed sequence of reports, collected twice, against what the SDK's own
 * instruments collected for it (golden files): names, units, attributes, bucket counts, sums,
 * exemplars and start timestamps must not change with how they are recorded.
 */
class PrometheusRequestMetricsRegressionTest {

    private static final SelfStats SELF = new SelfStats(0, 0, 0, 0, Map.of(), 0, 0, 0, 0, 0, Optional.empty(),
            OptionalLong.empty());

    private static String collectTwice(MetricOptions options) {
        InMemoryMetricReader reader = InMemoryMetricReader.create();
        PrometheusSink sink = new PrometheusSink(reader, AgentMetrics.resource("node-1"), options, () -> SELF,
                () -> new HostTcpCounters.Snapshot(-1, -1, -1));
        RecordedSequence sequence = new RecordedSequence();
        sequence.first(sink);
        String first = sequence.render(reader.collectAllMetrics());
        sequence.second(sink);
        String second = sequence.render(reader.collectAllMetrics());
        sink.close();
        return "# first collection\n" + first + "# second collection\n" + second;
    }

    @Test
    void explicitBucketHistograms() {
        RecordedSequence.assertMatches("prometheus.txt", collectTwice(new MetricOptions(false, false)));
    }

    @Test
    void exponentialHistogramsAndClientAddresses() {
        RecordedSequence.assertMatches("prometheus-exponential.txt", collectTwice(new MetricOptions(true, true)));
    }

    /** The SDK's bound: 1999 series of an instrument, then one overflow series that keeps counting. */
    @Test
    void seriesBeyondTheCardinalityLimitAreCountedInAnOverflowSeries() {
        InMemoryMetricReader reader = InMemoryMetricReader.create();
        PrometheusSink sink = new PrometheusSink(reader, AgentMetrics.resource("node-1"),
                new MetricOptions(false, false), () -> SELF, () -> new HostTcpCounters.Snapshot(-1, -1, -1));
        int peers = 2100;
        for (int i = 0; i < peers; i++) {
            ObservedSocket client = new ObservedSocket(Direction.CLIENT, 42, "java", "/usr/bin/java", "orders",
                    null, "10.0.0.1", 40000, "10.1." + i / 256 + "." + i % 256, 80);
            sink.exchange(TestReports.traced(TestReports.exchange(client, "GET", "/", 200, null,
                    TestReports.retransmitted(1, 100, true))));
        }
        Collection<MetricData> metrics = reader.collectAllMetrics();
        Attributes overflow = Attributes.of(AttributeKey.booleanKey("otel.metric.overflow"), true);

        Collection<HistogramPointData> durations = metric(metrics, "http.client.request.duration").getHistogramData()
                .getPoints();
        assertEquals(2000, durations.size());
        assertEquals(peers, durations.stream().mapToLong(HistogramPointData::getCount).sum(), "none lost");
        assertEquals(peers - 1999, durations.stream().filter(p -> p.getAttributes().equals(overflow)).findFirst()
                .orElseThrow().getCount());

        Collection<LongPointData> resets = metric(metrics, "obi.tcp.resets").getLongSumData().getPoints();
        assertEquals(2000, resets.size());
        assertEquals(peers, resets.stream().mapToLong(LongPointData::getValue).sum(), "none lost");
        Collection<LongPointData> retransmits = metric(metrics, "obi.tcp.retransmits").getLongSumData().getPoints();
        assertEquals(peers, retransmits.stream().mapToLong(LongPointData::getValue).sum(), "none lost");
        assertEquals(peers * 512L, metric(metrics, "obi.http.sent").getLongSumData().getPoints().iterator().next()
                .getValue(), "one series, the service's");
        sink.close();
    }

    private static MetricData metric(Collection<MetricData> metrics, String name) {
        return metrics.stream().filter(m -> m.getName().equals(name)).findFirst().orElseThrow();
    }
}
