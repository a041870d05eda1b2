package lab.obi.agent.pipeline;

import static java.nio.charset.StandardCharsets.UTF_8;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

import io.opentelemetry.api.common.AttributeKey;
import io.opentelemetry.api.trace.SpanContext;
import io.opentelemetry.sdk.metrics.data.MetricData;
import io.opentelemetry.sdk.testing.exporter.InMemoryMetricReader;
import java.io.ByteArrayOutputStream;
import java.io.IOException;
import java.util.Map;
import java.util.Optional;
import java.util.OptionalLong;
import lab.obi.agent.network.HostTcpCounters;
import lab.obi.agent.report.ExchangeReport;
import lab.obi.agent.report.TestReports;
import lab.obi.agent.sink.metrics.AgentMetrics;
import lab.obi.agent.sink.metrics.MetricOptions;
import lab.obi.agent.sink.metrics.SelfStats;
import lab.obi.agent.sink.prometheus.PrometheusSink;
import lab.obi.agent.sink.requestlog.RequestLogSink;
import org.junit.jupiter.api.Test;

class SinksTest {

    private final InMemoryMetricReader reader = InMemoryMetricReader.create();
    private final ByteArrayOutputStream log = new ByteArrayOutputStream();
    private final Sinks sinks;

    SinksTest() throws IOException {
        PrometheusSink prometheus = new PrometheusSink(reader, AgentMetrics.resource("node-1"),
                new MetricOptions(false, false),
                () -> new SelfStats(0, 0, 0, 0, Map.of(), 0, 0, 0, 0, 0, Optional.empty(), OptionalLong.empty()),
                () -> new HostTcpCounters.Snapshot(0, 0, 0));
        sinks = new Sinks(Optional.of(RequestLogSink.everyLine(log)), Optional.of(prometheus), Optional.empty(),
                Optional.empty(), "test");
    }

    private long serverRequests() {
        return reader.collectAllMetrics().stream().filter(m -> m.getName().equals("http.server.request.duration"))
                .map(MetricData::getHistogramData).flatMap(h -> h.getPoints().stream())
                .filter(p -> "orders".equals(p.getAttributes().get(AttributeKey.stringKey("service.name"))))
                .mapToLong(p -> p.getCount()).sum();
    }

    @Test
    void aSinkThatThrowsLosesThatReportAloneAndTakesTheNextOnes() {
        sinks.exchange(TestReports.traced(TestReports.exchange(TestReports.SERVER, "/before", 200)));
        // A report no sink can take (a bug upstream): both throw half-way through it.
        sinks.exchange(ExchangeReport.traced(TestReports.exchange(null, "/broken", 200), SpanContext.getInvalid(),
                SpanContext.getInvalid()));
        assertEquals(2, sinks.sinkFailures(), "one report lost in each of the two sinks");

        sinks.exchange(TestReports.traced(TestReports.exchange(TestReports.SERVER, "/after", 200)));
        sinks.flush();
        String written = log.toString(UTF_8);
        assertEquals(2, written.lines().count(), written);
        assertTrue(written.lines().allMatch(l -> l.startsWith("{\"record\":\"exchange\"") && l.endsWith("}")),
                "whole lines: the abandoned one is cut off, the generator starts afresh: " + written);
        assertTrue(written.contains("\"route\":\"/before\"") && written.contains("\"route\":\"/after\""), written);
        assertEquals(2, serverRequests(), "the metrics took both good reports");
        assertEquals(2, sinks.sinkFailures());
    }
}
