package lab.obi.agent.sink.otlp.metrics;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertNull;
import static org.junit.jupiter.api.Assertions.assertTrue;

import io.opentelemetry.api.common.AttributeKey;
import io.opentelemetry.api.common.Attributes;
import io.opentelemetry.sdk.common.CompletableResultCode;
import io.opentelemetry.sdk.autoconfigure.spi.internal.DefaultConfigProperties;
import io.opentelemetry.sdk.metrics.InstrumentType;
import io.opentelemetry.sdk.metrics.data.AggregationTemporality;
import io.opentelemetry.sdk.metrics.data.HistogramPointData;
import io.opentelemetry.sdk.metrics.data.MetricData;
import io.opentelemetry.sdk.metrics.export.MetricExporter;
import io.opentelemetry.sdk.resources.Resource;
import io.opentelemetry.sdk.testing.exporter.InMemoryMetricExporter;
import java.time.Duration;
import java.util.Collection;
import java.util.HashMap;
import java.util.HashSet;
import java.util.List;
import java.util.Map;
import java.util.Optional;
import java.util.OptionalLong;
import java.util.Set;
import java.util.stream.Collectors;
import lab.obi.agent.network.HostTcpCounters;
import lab.obi.agent.network.InterfaceOutage;
import lab.obi.agent.report.ConnectionSummary;
import lab.obi.agent.report.ExchangeReport;
import lab.obi.agent.report.TestReports;
import lab.obi.agent.sink.metrics.AgentMetrics;
import lab.obi.agent.sink.metrics.MetricOptions;
import lab.obi.agent.sink.metrics.SelfStats;
import lab.obi.agent.sink.otlp.OtlpEnvironment;
import lab.obi.agent.sink.otlp.ProcessResources;
import org.junit.jupiter.api.Test;

class OtlpMetricsSinkTest {

    private static final AttributeKey<String> SERVICE = AttributeKey.stringKey("service.name");
    private static final SelfStats SELF = new SelfStats(10, 7, 2, 1, Map.of("queue_full", 0L), 0, 0, 0, 0, 3, Optional.empty(),
            OptionalLong.of(0));

    private final InMemoryMetricExporter exported = InMemoryMetricExporter.create();

    private final MetricExporter keeping = keepingIn(exported);

    /** Keeps what was exported when the sink shuts its exporter down (the in-memory one would forget it). */
    private static MetricExporter keepingIn(InMemoryMetricExporter exported) {
        return new MetricExporter() {
        @Override
        public CompletableResultCode export(Collection<MetricData> metrics) {
            return exported.export(metrics);
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
            return exported.getAggregationTemporality(instrumentType);
        }
        };
    }

    private OtlpMetricsSink sink(MetricExporter exporter) {
        return new OtlpMetricsSink(exporter, Duration.ofHours(1), new ProcessResources("node-1"),
                AgentMetrics.resource("node-1"), new MetricOptions(false, false), () -> SELF,
                () -> new HostTcpCounters.Snapshot(5, 6, 70), pid -> true);
    }

    private Set<String> servicesOf(String metric) {
        return named(metric).stream().map(m -> m.getResource().getAttribute(SERVICE))
                .collect(Collectors.toSet());
    }

    @Test
    void aProcessThatExitedIsPushedOnceMoreThenForgotten() throws Exception {
        Set<Integer> running = new HashSet<>(Set.of(42, 77));
        OtlpMetricPush push = new OtlpMetricPush(keeping, Duration.ofHours(1), new ProcessResources("node-1"),
                new MetricOptions(false, false), running::contains);
        push.record(TestReports.traced(TestReports.exchange(TestReports.SERVER, "/orders/{id}", 200)));
        push.record(TestReports.traced(TestReports.exchange(TestReports.OTHER_SERVER, "/invoices", 200)));
        running.remove(42);

        push.push();
        assertEquals(Set.of("orders", "billing"), servicesOf("http.server.request.duration"),
                "its last values go out");
        exported.reset();
        push.push();
        assertEquals(Set.of("billing"), servicesOf("http.server.request.duration"),
                "then its provider is closed, not kept until it has been idle for 10 minutes");
        push.close();
    }

    private List<MetricData> named(String name) {
        return exported.getFinishedMetricItems().stream().filter(m -> m.getName().equals(name)).toList();
    }

    @Test
    void eachObservedProcessIsAResourceOfItsOwn() {
        OtlpMetricsSink sink = sink(keeping);
        ExchangeReport orders = TestReports.traced(TestReports.exchange(TestReports.SERVER, "/orders/{id}", 200));
        sink.exchange(orders);
        sink.exchange(TestReports.traced(TestReports.exchange(TestReports.OTHER_SERVER, "/invoices", 200)));
        sink.close(); // pushes what was recorded

        List<MetricData> durations = named("http.server.request.duration");
        assertEquals(2, durations.size(), "one per process");
        MetricData ordersDuration = durations.stream()
                .filter(m -> "orders".equals(m.getResource().getAttribute(SERVICE))).findFirst().orElseThrow();
        Resource resource = ordersDuration.getResource();
        assertEquals("node-1/42", resource.getAttribute(AttributeKey.stringKey("service.instance.id")));
        assertEquals(42L, resource.getAttribute(AttributeKey.longKey("process.pid")));
        assertEquals("java", resource.getAttribute(AttributeKey.stringKey("process.executable.name")));
        assertEquals("/usr/bin/java", resource.getAttribute(AttributeKey.stringKey("process.executable.path")));
        assertEquals("c0ffee", resource.getAttribute(AttributeKey.stringKey("container.id")));
        assertEquals("node-1", resource.getAttribute(AttributeKey.stringKey("host.name")));
        assertEquals("obi-agent", resource.getAttribute(AttributeKey.stringKey("telemetry.distro.name")));
        assertEquals("lab.obi.agent", ordersDuration.getInstrumentationScopeInfo().getName());

        HistogramPointData point = ordersDuration.getHistogramData().getPoints().iterator().next();
        assertEquals(Attributes.builder().put("http.request.method", "GET")
                .put(AttributeKey.longKey("http.response.status_code"), 200L).put("http.route", "/orders/{id}")
                .put(AttributeKey.longKey("server.port"), 8080L).put("url.scheme", "http").build(),
                point.getAttributes(), "the service is the resource, not a label");
        assertEquals(orders.span().getTraceId(), point.getExemplars().get(0).getSpanContext().getTraceId());
        assertEquals(0, named("obi.http.abandoned").get(0).getLongSumData().getPoints().stream()
                .mapToLong(p -> p.getValue()).sum(), "499 series start at 0 over OTLP too");
    }

    @Test
    void connectionsTheAgentsOwnAndTheHostsMetricsArePushed() {
        OtlpMetricsSink sink = sink(keeping);
        sink.connectionClosed(new ConnectionSummary(0, 2_000_000_000L, true, TestReports.SERVER, 7, 3, 300, 9_000, 0,
                false, false, "local", 120));
        sink.appeared("eth0");
        sink.down(new InterfaceOutage("eth0", "down", 0, 0));
        sink.close();

        MetricData lifetime = named("obi.tcp.connection.duration").get(0);
        assertEquals("orders", lifetime.getResource().getAttribute(SERVICE));
        assertEquals("local", lifetime.getHistogramData().getPoints().iterator().next().getAttributes()
                .get(AttributeKey.stringKey("obi.tcp.closed_by")));

        MetricData records = named("obi.agent.records").get(0);
        assertEquals("obi-agent", records.getResource().getAttribute(SERVICE));
        assertEquals(10, records.getLongSumData().getPoints().iterator().next().getValue());
        assertEquals(0, named("obi.agent.dropped").get(0).getLongSumData().getPoints().stream()
                .filter(p -> "metric_export_failed".equals(p.getAttributes()
                        .get(AttributeKey.stringKey("obi.drop.reason")))).findFirst().orElseThrow().getValue());
        MetricData changes = named("obi.network.interface.state_changes").get(0);
        assertEquals("obi-agent", changes.getResource().getAttribute(SERVICE));
        assertEquals(1, changes.getLongSumData().getPoints().stream().filter(p -> "down".equals(p.getAttributes()
                .get(AttributeKey.stringKey("obi.network.interface.state")))).findFirst().orElseThrow().getValue());
        assertEquals(70, named("obi.host.tcp.retransmits").get(0).getLongSumData().getPoints().iterator().next()
                .getValue());
        assertNull(lifetime.getResource().getAttribute(AttributeKey.stringKey("obi.direction")));
    }

    @Test
    void anExporterAskingForDeltaGetsDeltaRequestMetrics() {
        InMemoryMetricExporter deltas = InMemoryMetricExporter.create(AggregationTemporality.DELTA);
        OtlpMetricsSink sink = sink(keepingIn(deltas));
        sink.exchange(TestReports.traced(TestReports.exchange(TestReports.SERVER, "/orders/{id}", 200)));
        sink.close();

        MetricData duration = deltas.getFinishedMetricItems().stream()
                .filter(m -> m.getName().equals("http.server.request.duration")).findFirst().orElseThrow();
        assertEquals(AggregationTemporality.DELTA, duration.getHistogramData().getAggregationTemporality());
        MetricData sent = deltas.getFinishedMetricItems().stream()
                .filter(m -> m.getName().equals("obi.http.sent")).findFirst().orElseThrow();
        assertEquals(AggregationTemporality.DELTA, sent.getLongSumData().getAggregationTemporality());
    }

    /** The exporters the agent makes from the OTEL_EXPORTER_OTLP_* environment. */
    private static MetricExporter fromEnvironment(Map<String, String> variables) {
        Map<String, String> all = new HashMap<>(variables);
        all.put("otel.exporter.otlp.endpoint", "http://collector:4317");
        return new OtlpEnvironment(DefaultConfigProperties.createFromMap(all)).metricExporter();
    }

    @Test
    void onlyWhatTheAgentsCellsCannotMakeGoesToTheSdk() {
        MetricExporter defaults = fromEnvironment(Map.of());
        MetricExporter exponential = fromEnvironment(Map.of("otel.exporter.otlp.metrics.default.histogram.aggregation",
                "base2_exponential_bucket_histogram"));
        MetricExporter delta = fromEnvironment(Map.of("otel.exporter.otlp.metrics.temporality.preference", "delta"));
        try {
            assertTrue(MetricOptions.cellsServe(defaults), "cumulative, explicit buckets");
            assertFalse(MetricOptions.cellsServe(exponential));
            assertFalse(MetricOptions.cellsServe(delta));
        } finally {
            List.of(defaults, exponential, delta).forEach(MetricExporter::shutdown);
        }
    }

    @Test
    void failedPushesAreCounted() {
        MetricExporter refusing = new MetricExporter() {
            @Override
            public CompletableResultCode export(Collection<MetricData> metrics) {
                return CompletableResultCode.ofFailure();
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
        OtlpMetricsSink sink = sink(refusing);
        sink.exchange(TestReports.traced(TestReports.exchange(TestReports.SERVER, "/", 200)));
        assertEquals(0, sink.exportFailures());
        sink.close();
        assertEquals(1, sink.exportFailures());
        assertTrue(exported.getFinishedMetricItems().isEmpty());
    }
}
