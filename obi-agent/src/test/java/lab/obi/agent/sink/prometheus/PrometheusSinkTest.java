package lab.obi.agent.sink.prometheus;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertNull;
import static org.junit.jupiter.api.Assertions.assertTrue;

import io.opentelemetry.api.common.AttributeKey;
import io.opentelemetry.api.common.Attributes;
import io.opentelemetry.api.trace.SpanContext;
import io.opentelemetry.sdk.metrics.data.DoubleExemplarData;
import io.opentelemetry.sdk.metrics.data.HistogramPointData;
import io.opentelemetry.sdk.metrics.data.LongPointData;
import io.opentelemetry.sdk.metrics.data.MetricData;
import io.opentelemetry.sdk.metrics.data.MetricDataType;
import io.opentelemetry.sdk.metrics.data.PointData;
import io.opentelemetry.sdk.testing.exporter.InMemoryMetricReader;
import java.util.Collection;
import java.util.List;
import java.util.Map;
import java.util.Optional;
import java.util.OptionalLong;
import lab.obi.agent.network.HostTcpCounters;
import lab.obi.agent.network.InterfaceOutage;
import lab.obi.agent.protocol.AbortKind;
import lab.obi.agent.report.ConnectionSummary;
import lab.obi.agent.report.ExchangeReport;
import lab.obi.agent.report.LateRetransmit;
import lab.obi.agent.report.LateRetransmitReport;
import lab.obi.agent.report.TcpEvidence;
import lab.obi.agent.report.TestReports;
import lab.obi.agent.sink.metrics.AgentMetrics;
import lab.obi.agent.sink.metrics.MetricOptions;
import lab.obi.agent.sink.metrics.SelfStats;
import org.junit.jupiter.api.Test;

class PrometheusSinkTest {

    private static final AttributeKey<String> SERVICE = AttributeKey.stringKey("service.name");
    private static final AttributeKey<String> ROUTE = AttributeKey.stringKey("http.route");
    private static final AttributeKey<Long> STATUS = AttributeKey.longKey("http.response.status_code");
    private static final AttributeKey<String> ABORT_KIND = AttributeKey.stringKey("obi.abort.kind");
    private static final AttributeKey<String> DROP_REASON = AttributeKey.stringKey("obi.drop.reason");

    private final InMemoryMetricReader reader = InMemoryMetricReader.create();

    private SelfStats selfStats = new SelfStats(10, 7, 2, 1, Map.of("queue_full", 0L, "ringbuf_full", 3L), 4, 1, 2,
            9, 12, Optional.empty(), OptionalLong.empty());

    private final PrometheusSink sink = new PrometheusSink(reader, AgentMetrics.resource("node-1"),
            new MetricOptions(false, false), () -> selfStats,
            () -> new HostTcpCounters.Snapshot(5, 6, 70));

    /** One collection per test step: exemplars belong to the collection that follows their measurement. */
    private Collection<MetricData> collected;

    private MetricData metric(String name) {
        if (collected == null) {
            collected = reader.collectAllMetrics();
        }
        Collection<MetricData> all = collected;
        return all.stream().filter(m -> m.getName().equals(name)).findFirst()
                .orElseThrow(() -> new AssertionError(name + " not in " + all.stream().map(MetricData::getName).toList()));
    }

    private static <P extends PointData> P point(Collection<P> points, Attributes attributes) {
        return points.stream().filter(p -> p.getAttributes().equals(attributes)).findFirst()
                .orElseThrow(() -> new AssertionError(attributes + " not in "
                        + points.stream().map(PointData::getAttributes).toList()));
    }

    private long counter(String name, Attributes attributes) {
        return point(metric(name).getLongSumData().getPoints(), attributes).getValue();
    }

    @Test
    void aServerRequestIsTimedWithItsSpanAsExemplarAndTheServiceAsALabel() {
        ExchangeReport report = TestReports.traced(TestReports.exchange(TestReports.SERVER, "/orders/{id}", 200));
        sink.exchange(report);

        MetricData duration = metric("http.server.request.duration");
        assertEquals("s", duration.getUnit());
        assertEquals(AgentMetrics.resource("node-1"), duration.getResource(), "one target: the agent");
        assertEquals("obi-agent", duration.getResource().getAttribute(SERVICE));
        HistogramPointData point = point(duration.getHistogramData().getPoints(), Attributes.builder()
                .put(SERVICE, "orders").put("http.request.method", "GET").put(STATUS, 200L)
                .put(ROUTE, "/orders/{id}").put("server.port", 8080L).put("url.scheme", "http").build());
        assertEquals(1, point.getCount());
        assertEquals(0.25, point.getSum(), 1e-9);
        assertEquals(List.of(0.0005, 0.001, 0.0025, 0.005, 0.0075, 0.01, 0.025, 0.05, 0.075, 0.1, 0.25, 0.5, 0.75,
                1.0, 2.5, 5.0, 7.5, 10.0, 30.0), point.getBoundaries());
        List<DoubleExemplarData> exemplars = point.getExemplars();
        assertEquals(1, exemplars.size());
        assertEquals(report.span().getTraceId(), exemplars.get(0).getSpanContext().getTraceId());
        assertEquals(report.span().getSpanId(), exemplars.get(0).getSpanContext().getSpanId());

        Attributes serverSide = Attributes.of(SERVICE, "orders", AttributeKey.stringKey("obi.direction"), "server");
        assertEquals(80, counter("obi.http.received", serverSide));
        assertEquals(512, counter("obi.http.sent", serverSide));
        assertEquals("By", metric("obi.http.received").getUnit());
    }

    @Test
    void requestsOfOneSeriesAreCountedTogetherAndOfAnotherApart() {
        for (int i = 0; i < 3; i++) {
            sink.exchange(TestReports.traced(TestReports.exchange(TestReports.SERVER, "/orders/{id}", 200)));
        }
        sink.exchange(TestReports.traced(TestReports.exchange(TestReports.SERVER, "/orders/{id}", 503)));
        sink.exchange(TestReports.traced(TestReports.exchange(TestReports.SERVER, "/", 200)));
        sink.exchange(TestReports.traced(TestReports.exchange(TestReports.OTHER_SERVER, "/orders/{id}", 200)));

        Collection<HistogramPointData> points = metric("http.server.request.duration").getHistogramData().getPoints();
        Attributes orders = Attributes.builder().put(SERVICE, "orders").put("http.request.method", "GET")
                .put(STATUS, 200L).put(ROUTE, "/orders/{id}").put("server.port", 8080L).put("url.scheme", "http").build();
        assertEquals(3, point(points, orders).getCount());
        assertEquals(1, point(points, orders.toBuilder().put(STATUS, 503L).put("error.type", "503").build()).getCount());
        assertEquals(1, point(points, orders.toBuilder().put(ROUTE, "/").build()).getCount());
        assertEquals(1, point(points, orders.toBuilder().put(SERVICE, "billing").put("server.port", 9000L).build())
                .getCount());
        assertEquals(4, points.size());
    }

    @Test
    void everyServerRouteStartsItsAbandonSeriesAtZeroWith499() {
        sink.exchange(TestReports.traced(TestReports.exchange(TestReports.SERVER, "/orders/{id}", 200)));

        MetricData abandoned = metric("obi.http.abandoned");
        assertEquals("{request}", abandoned.getUnit());
        for (String kind : List.of("fin", "rst")) {
            assertEquals(0, point(abandoned.getLongSumData().getPoints(), Attributes.builder().put(SERVICE, "orders")
                    .put("obi.direction", "server").put(ABORT_KIND, kind).put(ROUTE, "/orders/{id}")
                    .put(STATUS, 499L).build()).getValue(), kind);
        }
        assertEquals(2, abandoned.getLongSumData().getPoints().size(), "only the server kinds, only 499");
        MetricData requests = metric("obi.http.server.requests");
        assertEquals(1, point(requests.getLongSumData().getPoints(), Attributes.builder().put(SERVICE, "orders")
                .put("obi.direction", "server").put(ROUTE, "/orders/{id}").build()).getValue(),
                "the 499 ratio's denominator, created with them");
    }

    @Test
    void anAbandonedRequestIsCountedByKindAndStatusAndTimedToItsAbandon() {
        ExchangeReport report = TestReports.traced(TestReports.exchange(TestReports.SERVER, "GET", "/slow", 499,
                AbortKind.FIN, TcpEvidence.NONE));
        sink.exchange(report);

        Attributes serverSide = Attributes.of(SERVICE, "orders", AttributeKey.stringKey("obi.direction"), "server");
        assertEquals(1, counter("obi.http.abandoned", serverSide.toBuilder().put(ABORT_KIND, "fin")
                .put(ROUTE, "/slow").put(STATUS, 499L).build()));
        HistogramPointData toAbandon = point(metric("obi.http.time_to_abandon").getHistogramData().getPoints(),
                serverSide.toBuilder().put(ABORT_KIND, "fin").build());
        assertEquals(0.2, toAbandon.getSum(), 1e-9);
        assertEquals(report.span().getTraceId(), toAbandon.getExemplars().get(0).getSpanContext().getTraceId());
        HistogramPointData duration = metric("http.server.request.duration").getHistogramData().getPoints()
                .iterator().next();
        assertEquals("fin", duration.getAttributes().get(AttributeKey.stringKey("error.type")));
    }

    @Test
    void aClientCallIsTimedByTheServerItCalledAndItsTcpFactsCountedPerPeer() {
        sink.exchange(TestReports.traced(TestReports.exchange(TestReports.CLIENT, "GET", "/stock", 404, null,
                TestReports.retransmitted(2, 1_500, true))));

        HistogramPointData duration = point(metric("http.client.request.duration").getHistogramData().getPoints(),
                Attributes.builder().put(SERVICE, "orders").put("http.request.method", "GET").put(STATUS, 404L)
                        .put(ROUTE, "/stock").put("server.address", "10.0.0.3").put("server.port", 5432L).put("url.scheme", "http")
                        .put("error.type", "404").build());
        assertEquals(1, duration.getCount());
        Attributes peer = Attributes.of(SERVICE, "orders", AttributeKey.stringKey("obi.direction"), "client",
                AttributeKey.stringKey("server.address"), "10.0.0.3");
        assertEquals(2, counter("obi.tcp.retransmits", peer));
        assertEquals("{segment}", metric("obi.tcp.retransmits").getUnit());
        assertEquals(1, counter("obi.tcp.resets", peer.toBuilder().put("obi.tcp.reset.direction", "received").build()));
        assertEquals(0, counter("obi.tcp.resets", peer.toBuilder().put("obi.tcp.reset.direction", "sent").build()),
                "the other direction starts at 0");
        assertEquals(0.0015, point(metric("obi.tcp.rtt").getHistogramData().getPoints(), peer).getSum(), 1e-9);
        assertFalse(collected.stream().anyMatch(m -> m.getName().equals("obi.http.abandoned")),
                "no server route, no 499 series");
    }

    @Test
    void aClosedConnectionsLifetimeIsTimedByWhoClosedItUnlessItIsOlderThanTheAgent() {
        sink.connectionClosed(new ConnectionSummary(0, 61_000_000_000L, true, TestReports.SERVER, 7, 3, 300, 9_000, 0,
                false, false, "peer", 120));
        sink.connectionClosed(new ConnectionSummary(0, 5_000_000_000L, false, TestReports.SERVER, 8, 1, 0, 0, 0,
                false, false, "local", null));

        MetricData lifetime = metric("obi.tcp.connection.duration");
        assertEquals("s", lifetime.getUnit());
        HistogramPointData point = lifetime.getHistogramData().getPoints().iterator().next();
        assertEquals(1, lifetime.getHistogramData().getPoints().size());
        assertEquals(61.0, point.getSum(), 1e-9);
        assertEquals("peer", point.getAttributes().get(AttributeKey.stringKey("obi.tcp.closed_by")));
    }

    @Test
    void aRetransmitAfterTheResponseIsCountedWithTheOtherRetransmits() {
        LateRetransmit late = new LateRetransmit(1_650_000_000L, TestReports.SERVER, 7, 2, 300);
        sink.lateRetransmit(new LateRetransmitReport(late, SpanContext.getInvalid(), SpanContext.getInvalid()));
        sink.lateRetransmit(new LateRetransmitReport(late, SpanContext.getInvalid(), SpanContext.getInvalid()));
        assertEquals(2, counter("obi.tcp.retransmits",
                Attributes.of(SERVICE, "orders", AttributeKey.stringKey("obi.direction"), "server")));
    }

    @Test
    void interfaceOutagesStartAtZeroAndAreTimedWhenTheyEnd() {
        sink.appeared("veth1");
        AttributeKey<String> iface = AttributeKey.stringKey("network.interface.name");
        AttributeKey<String> state = AttributeKey.stringKey("obi.network.interface.state");
        for (String s : List.of("down", "no_carrier", "up")) {
            assertEquals(0, counter("obi.network.interface.state_changes", Attributes.of(iface, "veth1", state, s)));
        }
        assertEquals(0.0, point(metric("obi.network.interface.downtime").getDoubleSumData().getPoints(),
                Attributes.of(iface, "veth1")).getValue());

        InterfaceOutage outage = new InterfaceOutage("veth1", "no_carrier", 1_000_000_000L, 4_000_000_000L);
        sink.down(outage);
        sink.up(outage);
        collected = null;
        assertEquals(1, counter("obi.network.interface.state_changes", Attributes.of(iface, "veth1", state, "no_carrier")));
        assertEquals(1, counter("obi.network.interface.state_changes", Attributes.of(iface, "veth1", state, "up")));
        HistogramPointData duration = point(metric("obi.network.interface.outage.duration").getHistogramData()
                .getPoints(), Attributes.of(iface, "veth1", AttributeKey.stringKey("obi.network.interface.cause"),
                "no_carrier"));
        assertEquals(3.0, duration.getSum(), 1e-9);
        assertEquals(3.0, point(metric("obi.network.interface.downtime").getDoubleSumData().getPoints(),
                Attributes.of(iface, "veth1")).getValue(), 1e-9);
    }

    @Test
    void aDeletedInterfaceLeavesNoSeriesOfItsCounters() {
        sink.appeared("veth1");
        sink.appeared("veth2");
        sink.down(new InterfaceOutage("veth1", "no_carrier", 1, 0));
        sink.removed("veth1");
        AttributeKey<String> iface = AttributeKey.stringKey("network.interface.name");
        assertEquals(List.of("veth2", "veth2", "veth2"), metric("obi.network.interface.state_changes").getLongSumData()
                .getPoints().stream().map(p -> p.getAttributes().get(iface)).toList());
        assertEquals(List.of("veth2"), metric("obi.network.interface.downtime").getDoubleSumData().getPoints().stream()
                .map(p -> p.getAttributes().get(iface)).toList());
    }

    @Test
    void hostWideTcpCountersAreObservedAtEachCollection() {
        assertEquals(5, metric("obi.tcp.listen.overflows").getLongSumData().getPoints().iterator().next().getValue());
        assertEquals(6, metric("obi.tcp.listen.drops").getLongSumData().getPoints().iterator().next().getValue());
        assertEquals(70, metric("obi.host.tcp.retransmits").getLongSumData().getPoints().iterator().next().getValue());
    }

    @Test
    void theAgentsOwnCountersComeFromItsStatsAtEachCollection() {
        assertEquals(10, metric("obi.agent.records").getLongSumData().getPoints().iterator().next().getValue());
        assertEquals(7, metric("obi.agent.requests").getLongSumData().getPoints().iterator().next().getValue());
        assertEquals(2, metric("obi.agent.ignored").getLongSumData().getPoints().iterator().next().getValue());
        assertEquals(1, metric("obi.agent.not_http").getLongSumData().getPoints().iterator().next().getValue());
        assertEquals(9, metric("obi.agent.route_overflows").getLongSumData().getPoints().iterator().next().getValue());
        assertEquals(12, metric("obi.agent.connections.tracked").getLongGaugeData().getPoints().iterator().next().getValue());
        assertEquals(3, counter("obi.agent.dropped", Attributes.of(DROP_REASON, "ringbuf_full")));
        assertEquals(4, point(metric("obi.agent.queue.depth").getLongGaugeData().getPoints(),
                Attributes.of(AttributeKey.stringKey("obi.queue"), "records")).getValue());
        assertEquals(1, metric("obi.agent.peer_fin_waits.expired").getLongSumData().getPoints().iterator().next()
                .getValue());
        assertTrue(collected.stream().noneMatch(m -> m.getName().equals("obi.agent.spans.exported")),
                "no span export, no span counters");
        assertEquals(MetricDataType.DOUBLE_SUM, metric("process.cpu.time").getType());

        selfStats = new SelfStats(10, 7, 2, 1, Map.of(), 4, 1, 2, 9, 12,
                Optional.of(new SelfStats.SpanExportCounts(100, 3, 2, 5)), OptionalLong.of(4));
        collected = null;
        assertEquals(100, metric("obi.agent.spans.exported").getLongSumData().getPoints().iterator().next().getValue());
        assertEquals(3, counter("obi.agent.dropped", Attributes.of(DROP_REASON, "span_queue_full")));
        assertEquals(2, counter("obi.agent.dropped", Attributes.of(DROP_REASON, "span_export_failed")));
        assertEquals(4, counter("obi.agent.dropped", Attributes.of(DROP_REASON, "metric_export_failed")));
        LongPointData spans = point(metric("obi.agent.queue.depth").getLongGaugeData().getPoints(),
                Attributes.of(AttributeKey.stringKey("obi.queue"), "spans"));
        assertEquals(5, spans.getValue());
    }

    @Test
    void exponentialHistogramsAndClientAddressesWhenAsked() {
        InMemoryMetricReader exponentialReader = InMemoryMetricReader.create();
        PrometheusSink exponential = new PrometheusSink(exponentialReader, AgentMetrics.resource("node-1"),
                new MetricOptions(true, true), () -> selfStats, () -> new HostTcpCounters.Snapshot(-1, -1, -1));
        exponential.exchange(TestReports.traced(TestReports.exchange(TestReports.SERVER, "/", 200)));
        Collection<MetricData> metrics = exponentialReader.collectAllMetrics();
        MetricData duration = metrics.stream()
                .filter(m -> m.getName().equals("http.server.request.duration")).findFirst().orElseThrow();
        assertEquals(MetricDataType.EXPONENTIAL_HISTOGRAM, duration.getType());
        assertEquals("10.0.0.2", duration.getExponentialHistogramData().getPoints().iterator().next().getAttributes()
                .get(AttributeKey.stringKey("client.address")), "peer addresses on");
        assertTrue(metrics.stream().noneMatch(m -> m.getName().equals("obi.tcp.listen.drops")),
                "no /proc/net counters, no series");
        assertNull(duration.getResource().getAttribute(AttributeKey.stringKey("process.pid")));
    }
}
