package lab.obi.agent.pipeline;

import io.opentelemetry.sdk.resources.Resource;
import lab.obi.agent.config.AgentConfig;
import lab.obi.agent.network.HostTcpCounters;
import lab.obi.agent.network.InterfaceOutage;
import lab.obi.agent.network.InterfaceOutages;
import lab.obi.agent.report.ConnectionSummary;
import lab.obi.agent.report.ExchangeReport;
import lab.obi.agent.report.LateRetransmitReport;
import lab.obi.agent.report.ResponseAckedReport;
import lab.obi.agent.report.ReportConsumer;
import lab.obi.agent.sink.Sink;
import lab.obi.agent.sink.metrics.AgentMetrics;
import lab.obi.agent.sink.metrics.SelfStats;
import lab.obi.agent.sink.otlp.OtlpEnvironment;
import lab.obi.agent.sink.otlp.ProcessResources;
import lab.obi.agent.sink.otlp.metrics.OtlpMetricsSink;
import lab.obi.agent.sink.otlp.spans.OtlpSpansSink;
import lab.obi.agent.sink.prometheus.PrometheusSink;
import lab.obi.agent.sink.requestlog.RequestLogSink;
import org.jboss.logging.Logger;

import java.io.IOException;
import java.net.InetAddress;
import java.net.UnknownHostException;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.Optional;
import java.util.OptionalLong;
import java.util.function.Consumer;
import java.util.function.Supplier;
import java.util.stream.Stream;

/**
 * The sinks the configuration asks for, each built from its own configuration group, and every
 * report handed to each of them in turn; a sink that throws loses that report alone
 * ({@link SinkFailures}). Interface outages are logged here and counted by the metric sinks.
 */
final class Sinks implements ReportConsumer, InterfaceOutages.Listener, AutoCloseable {

    private static final Logger LOG = Logger.getLogger("obi-agent");

    private final Optional<RequestLogSink> requestLog;
    private final Optional<OtlpSpansSink> otlpSpans;
    private final Optional<OtlpMetricsSink> otlpMetrics;
    /** An array: every report goes through this loop, and an array needs no iterator. */
    private final Sink[] all;
    private final SinkFailures failures;
    private final String description;

    Sinks(Optional<RequestLogSink> requestLog, Optional<PrometheusSink> prometheus,
          Optional<OtlpMetricsSink> otlpMetrics, Optional<OtlpSpansSink> otlpSpans, String description) {
        this.requestLog = requestLog;
        this.otlpSpans = otlpSpans;
        this.otlpMetrics = otlpMetrics;
        this.all = Stream.of(requestLog, prometheus, otlpMetrics, otlpSpans).flatMap(Optional::stream)
                .toArray(Sink[]::new);
        this.failures = new SinkFailures(Stream.of(requestLog.map(s -> "request log"),
                prometheus.map(s -> "Prometheus endpoint"), otlpMetrics.map(s -> "OTLP metric push"),
                otlpSpans.map(s -> "OTLP span export")).flatMap(Optional::stream).toArray(String[]::new));
        this.description = description;
    }

    /**
     * @param selfStats the agent's own counters, read at each metric collection (a scrape may come
     *                  before the pipeline is complete)
     */
    static Sinks open(AgentConfig config, Supplier<SelfStats> selfStats) throws IOException {
        String hostName = hostName();
        Resource agent = AgentMetrics.resource(hostName);
        HostTcpCounters hostTcp = new HostTcpCounters(Path.of("/proc"));
        OtlpEnvironment otlp = OtlpEnvironment.read();
        ProcessResources processes = new ProcessResources(hostName);
        Optional<RequestLogSink> requestLog = RequestLogSink.open(config.requestLog());
        Optional<PrometheusSink> prometheus = PrometheusSink.serve(config.metrics(), agent, selfStats, hostTcp::read);
        Optional<OtlpMetricsSink> otlpMetrics = OtlpMetricsSink.push(config.metrics(), otlp, processes, agent, selfStats,
                hostTcp::read);
        Optional<OtlpSpansSink> otlpSpans = OtlpSpansSink.push(config.traces(), otlp, processes);
        String description = "request log -> " + RequestLogSink.describe(config.requestLog())
                + ", Prometheus -> " + PrometheusSink.describe(config.metrics().prometheus())
                + ", OTLP -> " + otlp.describe(config.metrics().otlp().enabled(), config.traces().otlp().enabled());
        return new Sinks(requestLog, prometheus, otlpMetrics, otlpSpans, description);
    }

    private static String hostName() {
        try {
            return InetAddress.getLocalHost().getHostName();
        } catch (UnknownHostException e) {
            return "localhost";
        }
    }

    /** Where reports go, for the start-up line. */
    String description() {
        return description;
    }

    /*
     * Reports: a loop per kind rather than a lambda per report, which would allocate on the hot path.
     * A sink that throws loses that report alone.
     */

    @Override
    public void exchange(ExchangeReport exchange) {
        for (int i = 0; i < all.length; i++) {
            try {
                all[i].exchange(exchange);
            } catch (RuntimeException e) {
                failures.failed(i, e);
                continue;
            }
            failures.succeeded(i);
        }
    }

    @Override
    public void connectionClosed(ConnectionSummary connection) {
        for (int i = 0; i < all.length; i++) {
            try {
                all[i].connectionClosed(connection);
            } catch (RuntimeException e) {
                failures.failed(i, e);
                continue;
            }
            failures.succeeded(i);
        }
    }

    @Override
    public void lateRetransmit(LateRetransmitReport retransmit) {
        for (int i = 0; i < all.length; i++) {
            try {
                all[i].lateRetransmit(retransmit);
            } catch (RuntimeException e) {
                failures.failed(i, e);
                continue;
            }
            failures.succeeded(i);
        }
    }

    @Override
    public void responseAcked(ResponseAckedReport acked) {
        for (Sink sink : all) {
            sink.responseAcked(acked);
        }
    }

    @Override
    public void appeared(String interfaceName) {
        each(sink -> sink.appeared(interfaceName));
    }

    @Override
    public void down(InterfaceOutage outage) {
        LOG.warnf("interface %s stopped carrying traffic (%s)", outage.interfaceName(), outage.cause());
        each(sink -> sink.down(outage));
    }

    @Override
    public void up(InterfaceOutage outage) {
        LOG.infof("interface %s carries traffic again after %d ms (%s)", outage.interfaceName(),
                outage.durationNs() / 1_000_000, outage.cause());
        each(sink -> sink.up(outage));
    }

    @Override
    public void removed(String interfaceName) {
        each(sink -> sink.removed(interfaceName));
    }

    void flush() {
        each(Sink::flush);
    }

    private void each(Consumer<Sink> call) {
        for (int i = 0; i < all.length; i++) {
            try {
                call.accept(all[i]);
            } catch (RuntimeException e) {
                failures.failed(i, e);
                continue;
            }
            failures.succeeded(i);
        }
    }

    /** Reports that a sink threw instead of taking. */
    long sinkFailures() {
        return failures.count();
    }

    /** Request-log lines or flushes that failed. */
    long writeFailures() {
        return requestLog.map(RequestLogSink::writeFailures).orElse(0L);
    }

    /** Empty when spans are not exported. */
    Optional<SelfStats.SpanExportCounts> spanExport() {
        return otlpSpans.map(s -> new SelfStats.SpanExportCounts(s.exported(), s.queueFull(), s.failed(), s.queued()));
    }

    /** Empty when metrics are not pushed. */
    OptionalLong metricExportFailures() {
        return otlpMetrics.map(m -> OptionalLong.of(m.exportFailures())).orElse(OptionalLong.empty());
    }

    /** Every sink is closed, whatever the others do. */
    @Override
    public void close() {
        each(Sink::close);
    }
}
