package lab.obi.agent.sink.otlp.metrics;

import io.opentelemetry.api.metrics.Meter;
import io.opentelemetry.sdk.metrics.SdkMeterProvider;
import io.opentelemetry.sdk.metrics.export.MetricExporter;
import io.opentelemetry.sdk.resources.Resource;
import lab.obi.agent.config.AgentConfig;
import lab.obi.agent.network.HostTcpCounters;
import lab.obi.agent.network.InterfaceOutage;
import lab.obi.agent.report.ConnectionSummary;
import lab.obi.agent.report.ExchangeReport;
import lab.obi.agent.report.LateRetransmit;
import lab.obi.agent.report.LateRetransmitReport;
import lab.obi.agent.report.ResponseAckedReport;
import lab.obi.agent.sink.Sink;
import lab.obi.agent.sink.metrics.AgentMetrics;
import lab.obi.agent.sink.metrics.MetricOptions;
import lab.obi.agent.sink.metrics.NetworkMetrics;
import lab.obi.agent.sink.metrics.SelfStats;
import lab.obi.agent.sink.otlp.OtlpEnvironment;
import lab.obi.agent.sink.otlp.ProcessResources;

import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Duration;
import java.util.Optional;
import java.util.function.IntPredicate;
import java.util.function.Supplier;

/**
 * Every metric pushed over OTLP: request and TCP metrics with each observed process as their own
 * resource (service.name, service.instance.id, process.*), the agent's own and the host's network
 * metrics with the agent as theirs.
 */
public final class OtlpMetricsSink implements Sink {

    private final ReportingMetricExporter exporter;
    private final OtlpMetricPush push;
    private final SdkMeterProvider agentProvider;
    private final NetworkMetrics network;

    OtlpMetricsSink(MetricExporter exporter, Duration interval, ProcessResources processes, Resource agent,
                    MetricOptions options, Supplier<SelfStats> selfStats, Supplier<HostTcpCounters.Snapshot> hostTcp,
                    IntPredicate running) {
        this.exporter = new ReportingMetricExporter(exporter);
        push = new OtlpMetricPush(this.exporter, interval, processes, options, running);
        agentProvider = SdkMeterProvider.builder().setResource(agent).registerMetricReader(push.newReader()).build();
        Meter meter = agentProvider.get(AgentMetrics.SCOPE);
        AgentMetrics.register(meter, selfStats);
        network = new NetworkMetrics(meter, hostTcp);
    }

    /** Empty when metrics are not pushed: turned off, or no OTLP endpoint in the environment. */
    public static Optional<OtlpMetricsSink> push(AgentConfig.Metrics config, OtlpEnvironment otlp,
                                                 ProcessResources processes, Resource agent,
                                                 Supplier<SelfStats> selfStats,
                                                 Supplier<HostTcpCounters.Snapshot> hostTcp) {
        if (!config.otlp().enabled() || !otlp.endpointConfigured()) {
            return Optional.empty();
        }
        return Optional.of(new OtlpMetricsSink(otlp.metricExporter(), otlp.metricExportInterval(), processes, agent,
                MetricOptions.of(config), selfStats, hostTcp,
                pid -> Files.isDirectory(Path.of("/proc", Integer.toString(pid)))));
    }

    /** The duration histograms take the exchange's span as their exemplar. */
    @Override
    public void exchange(ExchangeReport report) {
        push.record(report);
    }

    /** A connection's lifetime, by who closed it. */
    @Override
    public void connectionClosed(ConnectionSummary connection) {
        push.metrics(connection.socket()).connectionClosed(connection);
    }

    /** Counted with the other retransmits. */
    @Override
    public void lateRetransmit(LateRetransmitReport report) {
        LateRetransmit retransmit = report.retransmit();
        push.metrics(retransmit.socket()).retransmittedAfterResponse(retransmit);
    }

    @Override
    public void responseAcked(ResponseAckedReport report) {
        if (report.exchange() != null) {
            push.metrics(report.exchange().socket()).responseAcked(report);
        }
    }

    @Override
    public void appeared(String interfaceName) {
        network.appeared(interfaceName);
    }

    @Override
    public void down(InterfaceOutage outage) {
        network.down(outage);
    }

    @Override
    public void up(InterfaceOutage outage) {
        network.up(outage);
    }

    @Override
    public void removed(String interfaceName) {
        network.removed(interfaceName);
    }

    /** Pushes that the OTLP endpoint did not accept. */
    public long exportFailures() {
        return exporter.failures();
    }

    /** Pushes what was recorded since the last push. */
    @Override
    public void close() {
        try {
            push.close();
        } catch (InterruptedException e) {
            Thread.currentThread().interrupt();
        }
        agentProvider.close();
    }
}
