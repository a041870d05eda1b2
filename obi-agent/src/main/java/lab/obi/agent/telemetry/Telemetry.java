package lab.obi.agent.telemetry;

import io.opentelemetry.api.common.AttributeKey;
import io.opentelemetry.api.common.Attributes;
import io.opentelemetry.api.metrics.Meter;
import io.opentelemetry.api.metrics.ObservableLongMeasurement;
import io.opentelemetry.exporter.prometheus.PrometheusHttpServer;
import io.opentelemetry.sdk.metrics.Aggregation;
import io.opentelemetry.sdk.metrics.InstrumentSelector;
import io.opentelemetry.sdk.metrics.InstrumentType;
import io.opentelemetry.sdk.metrics.SdkMeterProvider;
import io.opentelemetry.sdk.metrics.SdkMeterProviderBuilder;
import io.opentelemetry.sdk.metrics.View;
import io.opentelemetry.sdk.resources.Resource;

import io.opentelemetry.exporter.otlp.internal.OtlpMetricExporterProvider;
import io.opentelemetry.exporter.otlp.internal.OtlpSpanExporterProvider;
import io.opentelemetry.sdk.autoconfigure.spi.ConfigProperties;
import io.opentelemetry.sdk.autoconfigure.spi.internal.DefaultConfigProperties;
import lab.obi.agent.report.ConnectionSummary;
import lab.obi.agent.report.ExchangeReport;
import lab.obi.agent.report.LateRetransmit;
import lab.obi.agent.report.LateRetransmitReport;
import lab.obi.agent.report.ReportConsumer;
import lab.obi.agent.network.HostTcpCounters;
import lab.obi.agent.network.InterfaceOutage;

import java.io.UncheckedIOException;
import java.lang.management.ManagementFactory;
import java.time.Duration;
import java.util.ArrayList;
import java.util.List;
import java.util.Map;
import java.net.InetAddress;
import java.net.UnknownHostException;
import java.util.function.Supplier;
import java.util.function.UnaryOperator;

/**
 * The agent's OpenTelemetry signals: request metrics for every observed process and the agent's own
 * health, served on a Prometheus scrape endpoint (OpenMetrics with trace-id exemplars; native
 * histograms when exponential histograms are on) and pushed over OTLP with the spans when an OTLP
 * endpoint is configured (the standard OTEL_EXPORTER_OTLP_* variables).
 */
public final class Telemetry implements ReportConsumer, AutoCloseable {

    private static final AttributeKey<String> DROP_REASON = AttributeKey.stringKey("obi.drop.reason");
    private static final AttributeKey<String> QUEUE = AttributeKey.stringKey("obi.queue");
    private static final String SCOPE = "lab.obi.agent";

    private final SdkMeterProvider scrapeProvider; // null: no Prometheus endpoint
    private final HttpMetrics scrapeMetrics; // null: no Prometheus endpoint
    private final OtlpMetricPush otlpMetrics; // null: metrics not pushed
    private final SdkMeterProvider otlpSelfProvider; // null: metrics not pushed
    private final ReportingMetricExporter metricExport; // null: metrics not pushed
    private final ExchangeSpans spans;
    private final SpanExport spanExport; // null: traces not exported
    private final List<NetworkMetrics> networkMetrics = new ArrayList<>();

    /**
     * @param prometheusPort 0: no scrape endpoint
     * @param otlpMetrics push metrics over OTLP when an endpoint is configured
     * @param otlpTraces push spans over OTLP when an endpoint is configured
     */
    public record Settings(String prometheusHost, int prometheusPort, boolean exponentialHistograms,
                           boolean peerAddresses, boolean otlpMetrics, boolean otlpTraces, int spanQueueCapacity) {
    }

    /**
     * The scrape endpoint has one target, the agent: the observed service is a label there. Over
     * OTLP each observed process is its own resource (service.name, service.instance.id, process.*).
     */
    public Telemetry(Settings settings, Supplier<SelfStats> selfStats, Supplier<HostTcpCounters.Snapshot> hostTcp) {
        String host = hostName();
        Resource agent = Resource.getDefault().merge(Resource.create(Attributes.of(
                AttributeKey.stringKey("service.name"), "obi-agent", AttributeKey.stringKey("host.name"), host)));
        UnaryOperator<SdkMeterProviderBuilder> views = settings.exponentialHistograms()
                ? b -> b.registerView(InstrumentSelector.builder().setType(InstrumentType.HISTOGRAM).build(),
                        View.builder().setAggregation(Aggregation.base2ExponentialBucketHistogram()).build())
                : UnaryOperator.identity();
        ProcessResources resources = new ProcessResources(host);
        spans = new ExchangeSpans(resources);

        if (settings.prometheusPort() != 0) {
            scrapeProvider = views.apply(SdkMeterProvider.builder().setResource(agent)
                    .registerMetricReader(prometheus(settings))).build();
            Meter meter = scrapeProvider.get(SCOPE);
            scrapeMetrics = new HttpMetrics(meter, true, settings.peerAddresses());
            registerSelfMetrics(meter, selfStats);
            networkMetrics.add(new NetworkMetrics(meter, hostTcp));
        } else {
            scrapeProvider = null;
            scrapeMetrics = null;
        }

        ConfigProperties otel = DefaultConfigProperties.create(Map.of());
        boolean otlpConfigured = otlpEndpointConfigured(otel);
        if (settings.otlpMetrics() && otlpConfigured) {
            metricExport = new ReportingMetricExporter(new OtlpMetricExporterProvider().createExporter(otel));
            otlpMetrics = new OtlpMetricPush(metricExport,
                    otel.getDuration("otel.metric.export.interval", Duration.ofSeconds(60)), resources, views,
                    settings.peerAddresses());
            otlpSelfProvider = SdkMeterProvider.builder().setResource(agent)
                    .registerMetricReader(otlpMetrics.newReader()).build();
            registerSelfMetrics(otlpSelfProvider.get(SCOPE), selfStats);
            networkMetrics.add(new NetworkMetrics(otlpSelfProvider.get(SCOPE), hostTcp));
        } else {
            metricExport = null;
            otlpMetrics = null;
            otlpSelfProvider = null;
        }
        spanExport = settings.otlpTraces() && otlpConfigured
                ? new SpanExport(new OtlpSpanExporterProvider().createExporter(otel), settings.spanQueueCapacity())
                : null;
    }

    /** Where signals go, for the start-up log line. */
    public static String describeOtlp(Settings settings) {
        ConfigProperties otel = DefaultConfigProperties.create(Map.of());
        if (!otlpEndpointConfigured(otel)) {
            return "off (set OTEL_EXPORTER_OTLP_ENDPOINT)";
        }
        String endpoint = otel.getString("otel.exporter.otlp.endpoint", "per signal");
        String protocol = otel.getString("otel.exporter.otlp.protocol", "grpc");
        return endpoint + " (" + protocol + "; metrics " + (settings.otlpMetrics() ? "on" : "off") + ", traces "
                + (settings.otlpTraces() ? "on" : "off") + ")";
    }

    private static boolean otlpEndpointConfigured(ConfigProperties otel) {
        return otel.getString("otel.exporter.otlp.endpoint") != null
                || otel.getString("otel.exporter.otlp.traces.endpoint") != null
                || otel.getString("otel.exporter.otlp.metrics.endpoint") != null;
    }

    private static PrometheusHttpServer prometheus(Settings settings) {
        try {
            return PrometheusHttpServer.builder().setHost(settings.prometheusHost())
                    .setPort(settings.prometheusPort()).build();
        } catch (UncheckedIOException e) {
            throw new IllegalArgumentException("cannot serve Prometheus metrics on " + settings.prometheusHost() + ":"
                    + settings.prometheusPort() + " (" + e.getCause().getMessage()
                    + "): set obi.metrics.prometheus.port, or 0 to turn the endpoint off");
        }
    }

    /**
     * Records the exchange's metrics and exports its span. The span is the context of the
     * measurements, so the duration histograms carry its trace id as an exemplar.
     */
    @Override
    public void exchange(ExchangeReport report) {
        if (spanExport != null) {
            spanExport.offer(spans.toSpan(report));
        }
        if (scrapeMetrics != null) {
            scrapeMetrics.record(report.exchange(), report.context());
        }
        if (otlpMetrics != null) {
            otlpMetrics.record(report.exchange(), report.context());
        }
    }

    /** A connection's lifetime, by who closed it. */
    @Override
    public void connectionClosed(ConnectionSummary connection) {
        if (scrapeMetrics != null) {
            scrapeMetrics.connectionClosed(connection);
        }
        if (otlpMetrics != null) {
            otlpMetrics.metrics(connection.socket()).connectionClosed(connection);
        }
    }

    /**
     * Counted with the other retransmits; in the trace of the server exchange whose response it
     * carried when that span is known.
     */
    @Override
    public void lateRetransmit(LateRetransmitReport report) {
        LateRetransmit retransmit = report.retransmit();
        if (scrapeMetrics != null) {
            scrapeMetrics.retransmittedAfterResponse(retransmit);
        }
        if (otlpMetrics != null) {
            otlpMetrics.metrics(retransmit.socket()).retransmittedAfterResponse(retransmit);
        }
        if (spanExport != null && report.parent().isValid()) {
            spanExport.offer(spans.lateRetransmitSpan(report));
        }
    }

    private void registerSelfMetrics(Meter meter, Supplier<SelfStats> selfStats) {
        ObservableLongMeasurement records = meter.counterBuilder("obi.agent.records").setUnit("{record}")
                .setDescription("Records received from the kernel: exchanges, closed connections, retransmits after a response").buildObserver();
        ObservableLongMeasurement logged = meter.counterBuilder("obi.agent.requests").setUnit("{request}")
                .setDescription("HTTP requests reported").buildObserver();
        ObservableLongMeasurement ignored = meter.counterBuilder("obi.agent.ignored").setUnit("{request}")
                .setDescription("Requests not reported: excluded executables, services or ports (obi.watch.*)")
                .buildObserver();
        ObservableLongMeasurement notHttp = meter.counterBuilder("obi.agent.not_http").setUnit("{record}")
                .setDescription("Records whose bytes were not an HTTP/1.x request (parse failures)").buildObserver();
        ObservableLongMeasurement dropped = meter.counterBuilder("obi.agent.dropped").setUnit("{record}")
                .setDescription("What could not be captured or kept, by reason").buildObserver();
        ObservableLongMeasurement queue = meter.gaugeBuilder("obi.agent.queue.depth").ofLongs().setUnit("{item}")
                .setDescription("Records waiting for assembly, spans waiting for export").buildObserver();
        ObservableLongMeasurement exportedSpans = meter.counterBuilder("obi.agent.spans.exported").setUnit("{span}")
                .setDescription("Spans accepted by the OTLP endpoint").buildObserver();
        ObservableLongMeasurement finWaitsExpired = meter.counterBuilder("obi.agent.peer_fin_waits.expired")
                .setUnit("{request}").setDescription("Requests reported after waiting obi.capture.peer-fin-wait for"
                        + " the server to answer, close or reset once the client had sent FIN").buildObserver();
        meter.batchCallback(() -> {
            SelfStats s = selfStats.get();
            records.record(s.recordsReceived());
            logged.record(s.requestsReported());
            notHttp.record(s.notHttp());
            ignored.record(s.ignored());
            s.drops().forEach((reason, count) -> dropped.record(count, Attributes.of(DROP_REASON, reason)));
            queue.record(s.queueDepth(), Attributes.of(QUEUE, "records"));
            finWaitsExpired.record(s.peerFinWaitsExpired());
            if (spanExport != null) {
                dropped.record(spanExport.dropped(), Attributes.of(DROP_REASON, "span_queue_full"));
                dropped.record(spanExport.failed(), Attributes.of(DROP_REASON, "span_export_failed"));
                exportedSpans.record(spanExport.exported());
                queue.record(spanExport.queued(), Attributes.of(QUEUE, "spans"));
            }
            if (metricExport != null) {
                dropped.record(metricExport.failures(), Attributes.of(DROP_REASON, "metric_export_failed"));
            }
        }, records, logged, ignored, notHttp, dropped, queue, exportedSpans, finWaitsExpired);
        registerProcessMetrics(meter);
    }

    /** The agent's own cost, in the process.* semantic conventions: what the benchmarks and the health dashboard show. */
    private static void registerProcessMetrics(Meter meter) {
        java.lang.management.OperatingSystemMXBean os = ManagementFactory.getOperatingSystemMXBean();
        if (os instanceof com.sun.management.OperatingSystemMXBean jdk) {
            meter.counterBuilder("process.cpu.time").ofDoubles().setUnit("s")
                    .setDescription("CPU time used by obi-agent (user and system)")
                    .buildWithCallback(m -> m.record(jdk.getProcessCpuTime() / 1e9));
        }
        meter.upDownCounterBuilder("process.memory.usage").setUnit("By")
                .setDescription("Resident memory of obi-agent")
                .buildWithCallback(m -> {
                    long rss = ResidentMemory.bytes();
                    if (rss >= 0) {
                        m.record(rss);
                    }
                });
    }

    private static String hostName() {
        try {
            return InetAddress.getLocalHost().getHostName();
        } catch (UnknownHostException e) {
            return "localhost";
        }
    }

    /** An interface is known; its metrics start at 0. */
    public void interfaceAppeared(String interfaceName) {
        networkMetrics.forEach(m -> m.appeared(interfaceName));
    }

    /** An interface stopped carrying traffic. */
    public void interfaceDown(InterfaceOutage outage) {
        networkMetrics.forEach(m -> m.down(outage));
    }

    /** An interface carries traffic again after an outage. */
    public void interfaceUp(InterfaceOutage outage) {
        networkMetrics.forEach(m -> m.up(outage));
    }

    @Override
    public void close() throws InterruptedException {
        if (spanExport != null) {
            spanExport.close();
        }
        if (otlpMetrics != null) {
            otlpMetrics.close();
            otlpSelfProvider.close();
        }
        if (scrapeProvider != null) {
            scrapeProvider.close();
        }
    }
}
