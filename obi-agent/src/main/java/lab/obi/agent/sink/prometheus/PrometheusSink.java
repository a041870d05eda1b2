package lab.obi.agent.sink.prometheus;

import io.opentelemetry.api.metrics.Meter;
import io.opentelemetry.exporter.prometheus.PrometheusHttpServer;
import io.opentelemetry.sdk.metrics.SdkMeterProvider;
import io.opentelemetry.sdk.metrics.export.MetricReader;
import io.opentelemetry.sdk.resources.Resource;
import lab.obi.agent.config.AgentConfig;
import lab.obi.agent.network.HostTcpCounters;
import lab.obi.agent.network.InterfaceOutage;
import lab.obi.agent.report.ConnectionSummary;
import lab.obi.agent.report.ExchangeReport;
import lab.obi.agent.report.LateRetransmitReport;
import lab.obi.agent.report.ResponseAckedReport;
import lab.obi.agent.sink.Sink;
import lab.obi.agent.sink.metrics.AgentMetrics;
import lab.obi.agent.sink.metrics.HttpMetrics;
import lab.obi.agent.sink.metrics.MetricOptions;
import lab.obi.agent.sink.metrics.NetworkMetrics;
import lab.obi.agent.sink.metrics.SelfStats;

import java.io.IOException;
import java.io.UncheckedIOException;
import java.util.Optional;
import java.util.function.Supplier;

/**
 * Every metric on a Prometheus scrape endpoint (OpenMetrics with trace-id exemplars; native
 * histograms when exponential histograms are on). The endpoint has one target, the agent, so the
 * observed service is a label (service.name) rather than a resource.
 */
public final class PrometheusSink implements Sink {

    private final SdkMeterProvider provider;
    private final HttpMetrics http;
    private final NetworkMetrics network;

    /** @param reader what serves or collects the metrics: the scrape endpoint, or a test's reader */
    public PrometheusSink(MetricReader reader, Resource agent, MetricOptions options, Supplier<SelfStats> selfStats,
                          Supplier<HostTcpCounters.Snapshot> hostTcp) {
        MetricOptions.RequestMetrics requestMetrics = options.requestMetrics(
                SdkMeterProvider.builder().setResource(agent), reader, true);
        provider = requestMetrics.provider();
        http = requestMetrics.http();
        Meter meter = provider.get(AgentMetrics.SCOPE);
        AgentMetrics.register(meter, selfStats);
        network = new NetworkMetrics(meter, hostTcp);
    }

    /** Empty when the endpoint is off. */
    public static Optional<PrometheusSink> serve(AgentConfig.Metrics config, Resource agent,
                                                 Supplier<SelfStats> selfStats,
                                                 Supplier<HostTcpCounters.Snapshot> hostTcp) throws IOException {
        AgentConfig.Metrics.Prometheus endpoint = config.prometheus();
        if (!endpoint.enabled()) {
            return Optional.empty();
        }
        PrometheusHttpServer server;
        try {
            server = PrometheusHttpServer.builder().setHost(endpoint.host()).setPort(endpoint.port()).build();
        } catch (UncheckedIOException e) {
            throw new IOException("cannot serve Prometheus metrics on " + endpoint.host() + ":" + endpoint.port()
                    + " (" + e.getCause().getMessage() + "): set obi.metrics.prometheus.port,"
                    + " or obi.metrics.prometheus.enabled=false");
        }
        return Optional.of(new PrometheusSink(server, agent, MetricOptions.of(config), selfStats, hostTcp));
    }

    /** Where the endpoint is, for the start-up line. */
    public static String describe(AgentConfig.Metrics.Prometheus endpoint) {
        return endpoint.enabled() ? "http://" + endpoint.host() + ":" + endpoint.port() + "/metrics" : "off";
    }

    /** The duration histograms take the exchange's span as their exemplar. */
    @Override
    public void exchange(ExchangeReport report) {
        http.record(report);
    }

    /** A connection's lifetime, by who closed it. */
    @Override
    public void connectionClosed(ConnectionSummary connection) {
        http.connectionClosed(connection);
    }

    /** Counted with the other retransmits. */
    @Override
    public void lateRetransmit(LateRetransmitReport report) {
        http.retransmittedAfterResponse(report.retransmit());
    }

    @Override
    public void responseAcked(ResponseAckedReport report) {
        http.responseAcked(report);
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

    @Override
    public void close() {
        provider.close();
    }
}
