package lab.obi.agent.sink.metrics;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

import io.opentelemetry.api.trace.SpanContext;
import io.opentelemetry.api.trace.TraceFlags;
import io.opentelemetry.api.trace.TraceState;
import io.opentelemetry.sdk.metrics.data.DoubleExemplarData;
import io.opentelemetry.sdk.metrics.data.ExponentialHistogramBuckets;
import io.opentelemetry.sdk.metrics.data.ExponentialHistogramPointData;
import io.opentelemetry.sdk.metrics.data.HistogramPointData;
import io.opentelemetry.sdk.metrics.data.LongPointData;
import io.opentelemetry.sdk.metrics.data.MetricData;
import io.opentelemetry.sdk.metrics.data.PointData;
import java.io.IOException;
import java.io.InputStream;
import java.io.UncheckedIOException;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.Collection;
import java.util.Comparator;
import java.util.HashMap;
import java.util.List;
import java.util.Map;
import java.util.Set;
import lab.obi.agent.process.ObservedSocket;
import lab.obi.agent.process.ObservedSocket.Direction;
import lab.obi.agent.protocol.AbortKind;
import lab.obi.agent.report.ConnectionSummary;
import lab.obi.agent.report.ExchangeReport;
import lab.obi.agent.report.HttpExchange;
import lab.obi.agent.report.LateRetransmit;
import lab.obi.agent.report.LateRetransmitReport;
import lab.obi.agent.report.Phases;
import lab.obi.agent.report.ResponseAcked;
import lab.obi.agent.report.ResponseAckedReport;
import lab.obi.agent.report.SlowCause;
import lab.obi.agent.report.TcpEvidence;
import lab.obi.agent.report.TestReports;
import lab.obi.agent.sink.Sink;

/**
 * A fixed sequence of reports fed to a metric sink in two rounds, and the request metrics collected
 * after each rendered as text, to compare with what the SDK's own instruments recorded for the same
 * sequence (the golden files under src/test/resources/lab/obi/agent/sink/metrics). Span ids are
 * rendered as the number of the report that carried them, start timestamps as the order they were
 * first seen in: both must stay put from one collection to the next.
 */
public final class RecordedSequence {

    /** What HttpMetrics records; the agent's own metrics and the host's are left out (their values vary). */
    private static final Set<String> REQUEST_METRICS = Set.of("http.server.request.duration",
            "http.client.request.duration", "obi.http.server.requests", "obi.http.abandoned", "obi.http.time_to_abandon",
            "obi.http.received", "obi.http.sent", "obi.tcp.retransmits", "obi.tcp.resets", "obi.tcp.rtt",
            "obi.tcp.connect.duration", "obi.tcp.connection.duration", "obi.http.server.phase.duration",
            "obi.http.server.slow_requests");

    private static final ObservedSocket OTHER_CLIENT = new ObservedSocket(Direction.CLIENT, 42, "java",
            "/usr/bin/java", "orders", "c0ffee", "10.0.0.1", 40001, "10.0.0.9", 443);

    private final Map<String, String> spans = new HashMap<>();
    private final Map<Long, String> starts = new HashMap<>();

    /** Everything the request metrics record, once each, with exemplars to keep and to replace. */
    public void first(Sink sink) {
        Phases phases = new Phases(null, 1_000_000L, 2_000_000L, 3_000_000L, 200_000_000L, 47_000_000L);
        ExchangeReport orders = exchange(sink, 1, TestReports.SERVER, "GET", "/orders/{id}", 200, 250_000_000L, null,
                TcpEvidence.NONE, phases, SlowCause.PROCESSING, true);
        exchange(sink, 2, TestReports.SERVER, "GET", "/orders/{id}", 200, 240_000_000L, null,
                new TcpEvidence(0, null, null, false, false, null, 120, 1_000_000L, null, null, List.of()),
                new Phases(500_000L, null, null, 100L, 239_000_000L, 999_900L), null, true);
        exchange(sink, 3, TestReports.SERVER, "POST", "/orders", 503, 12_000_000L, null, TcpEvidence.NONE,
                Phases.NONE, null, true);
        exchange(sink, 4, TestReports.SERVER, "BREW", "/pot", null, 3_000_000L, null, TcpEvidence.NONE, Phases.NONE,
                null, true);
        exchange(sink, 5, TestReports.SERVER, "GET", "/slow", 499, 2_000_000_000L, AbortKind.FIN, TcpEvidence.NONE,
                Phases.NONE, SlowCause.CLIENT, true);
        exchange(sink, 6, TestReports.SERVER, "GET", "/slow", 200, 1_000_000_000L, AbortKind.RST,
                TestReports.retransmitted(1, 800, false), Phases.NONE, null, true);
        exchange(sink, 7, TestReports.CLIENT, "GET", "/stock", 404, 7_000_000L, null,
                new TcpEvidence(2, 1L, 2L, false, true, 3L, 1_500, 9_000_000L, 1_200_000L, 1, List.of()),
                Phases.NONE, null, true);
        exchange(sink, 8, OTHER_CLIENT, "PUT", null, 201, 30_000_000L, null,
                new TcpEvidence(0, null, null, true, false, null, 40, null, 30_000L, 0, List.of()), Phases.NONE,
                null, true);
        exchange(sink, 9, TestReports.OTHER_SERVER, "GET", "/invoices", 200, 9_000_000L, null, TcpEvidence.NONE,
                Phases.NONE, null, false);
        exchange(sink, 10, TestReports.OTHER_SERVER, "GET", null, 200, 100_000L, AbortKind.RST, TcpEvidence.NONE,
                Phases.NONE, null, true);

        ResponseAcked acked = new ResponseAcked(1_250_000_000L, 1_550_000_000L, TestReports.SERVER, 7, 2, 1, 1_500);
        sink.responseAcked(new ResponseAckedReport(acked, orders.exchange(), SpanContext.getInvalid(), orders.span(),
                SlowCause.NETWORK));
        sink.responseAcked(new ResponseAckedReport(acked, orders.exchange(), SpanContext.getInvalid(), orders.span(),
                null));
        sink.responseAcked(new ResponseAckedReport(acked, null, SpanContext.getInvalid(), SpanContext.getInvalid(),
                null));

        sink.lateRetransmit(new LateRetransmitReport(new LateRetransmit(2L, TestReports.SERVER, 7, 2, 300),
                SpanContext.getInvalid(), SpanContext.getInvalid()));
        sink.lateRetransmit(new LateRetransmitReport(new LateRetransmit(3L, TestReports.CLIENT, 8, 1, null),
                SpanContext.getInvalid(), SpanContext.getInvalid()));

        sink.connectionClosed(new ConnectionSummary(0, 61_000_000_000L, true, TestReports.SERVER, 7, 3, 300, 9_000,
                0, false, false, "peer", 120));
        sink.connectionClosed(new ConnectionSummary(0, 50_000_000L, true, TestReports.CLIENT, 8, 1, 10, 20, 0,
                false, false, "local", null));
        sink.connectionClosed(new ConnectionSummary(0, 5_000_000_000L, false, TestReports.SERVER, 9, 1, 0, 0, 0,
                false, false, "local", null));
    }

    /** After a collection: counts go on from there, exemplars are the new ones only, bucket edges included. */
    public void second(Sink sink) {
        exchange(sink, 11, TestReports.SERVER, "GET", "/orders/{id}", 200, 45_000_000_000L, null, TcpEvidence.NONE,
                Phases.NONE, null, true);
        exchange(sink, 12, TestReports.SERVER, "GET", "/orders/{id}", 200, 100_000L, null, TcpEvidence.NONE,
                Phases.NONE, null, true);
        exchange(sink, 13, TestReports.SERVER, "GET", "/orders/{id}", 200, 500_000L, null, TcpEvidence.NONE,
                Phases.NONE, null, true);
        exchange(sink, 14, TestReports.CLIENT, "GET", "/stock", 404, 30_000_000_000L, null,
                TestReports.retransmitted(0, 50, false), Phases.NONE, null, true);
    }

    private ExchangeReport exchange(Sink sink, int number, ObservedSocket socket, String method, String route,
                                    Integer status, long durationNs, AbortKind abort, TcpEvidence tcp, Phases phases,
                                    SlowCause cause, boolean sampled) {
        HttpExchange e = new HttpExchange(1_000_000_000L, durationNs, socket, 7, 2, method, route, "shop", "curl/8",
                status, abort != null, abort, abort != null ? durationNs / 2 : null, false, true, 80 + number,
                512 * number, null, null, null, null, null, tcp, false, "1.1", phases);
        ExchangeReport report = TestReports.traced(e);
        if (!sampled) {
            SpanContext span = report.span();
            report = ExchangeReport.traced(e, SpanContext.create(span.getTraceId(), span.getSpanId(),
                    TraceFlags.getDefault(), TraceState.getDefault()), SpanContext.getInvalid());
        }
        report = report.withSlowCause(cause);
        spans.put(report.span().getSpanId(), "#" + number);
        sink.exchange(report);
        return report;
    }

    /** The request metrics, one line per metric and per point, in a stable order. */
    public String render(Collection<MetricData> collected) {
        List<MetricData> metrics = new ArrayList<>(collected.stream()
                .filter(m -> REQUEST_METRICS.contains(m.getName())).toList());
        metrics.sort(Comparator.comparing((MetricData m) -> m.getResource().getAttributes().toString())
                .thenComparing(MetricData::getName));
        StringBuilder out = new StringBuilder();
        for (MetricData m : metrics) {
            out.append(m.getName()).append(' ').append(m.getType()).append(" unit=").append(m.getUnit())
                    .append(" scope=").append(m.getInstrumentationScopeInfo().getName())
                    .append(" resource=").append(m.getResource().getAttributes())
                    .append("\n  description=").append(m.getDescription()).append('\n');
            switch (m.getType()) {
                case LONG_SUM -> out.append("  monotonic=").append(m.getLongSumData().isMonotonic())
                        .append(' ').append(m.getLongSumData().getAggregationTemporality()).append('\n');
                case HISTOGRAM -> out.append("  ").append(m.getHistogramData().getAggregationTemporality()).append('\n');
                case EXPONENTIAL_HISTOGRAM -> out.append("  ")
                        .append(m.getExponentialHistogramData().getAggregationTemporality()).append('\n');
                default -> throw new AssertionError("unexpected type " + m.getType() + " of " + m.getName());
            }
            List<? extends PointData> points = new ArrayList<>(m.getData().getPoints());
            points.sort(Comparator.comparing(p -> p.getAttributes().toString()));
            for (PointData p : points) {
                out.append("  ").append(p.getAttributes()).append(" start=").append(start(p));
                if (p instanceof LongPointData l) {
                    out.append(" value=").append(l.getValue());
                } else if (p instanceof HistogramPointData h) {
                    out.append(" count=").append(h.getCount()).append(" sum=").append(h.getSum()).append(" min=")
                            .append(h.hasMin() ? h.getMin() : "none").append(" max=")
                            .append(h.hasMax() ? h.getMax() : "none").append(" boundaries=").append(h.getBoundaries())
                            .append(" counts=").append(h.getCounts()).append(" exemplars=")
                            .append(exemplars(h.getExemplars()));
                } else if (p instanceof ExponentialHistogramPointData x) {
                    out.append(" count=").append(x.getCount()).append(" sum=").append(x.getSum()).append(" min=")
                            .append(x.getMin()).append(" max=").append(x.getMax()).append(" scale=")
                            .append(x.getScale()).append(" zero=").append(x.getZeroCount()).append(" positive=")
                            .append(buckets(x.getPositiveBuckets())).append(" negative=")
                            .append(buckets(x.getNegativeBuckets())); // its exemplars are a random sample
                } else {
                    throw new AssertionError("unexpected point " + p);
                }
                out.append('\n');
            }
        }
        return out.toString();
    }

    private String start(PointData p) {
        assertTrue(p.getEpochNanos() >= p.getStartEpochNanos(), "collected after its start: " + p);
        return starts.computeIfAbsent(p.getStartEpochNanos(), s -> "t" + starts.size());
    }

    private List<String> exemplars(List<DoubleExemplarData> exemplars) {
        return exemplars.stream().map(x -> x.getValue() + "@" + spans.getOrDefault(x.getSpanContext().getSpanId(),
                "unknown") + (x.getFilteredAttributes().isEmpty() ? "" : x.getFilteredAttributes().toString()))
                .toList();
    }

    private static String buckets(ExponentialHistogramBuckets b) {
        return b.getOffset() + ":" + b.getBucketCounts();
    }

    /** Compares with a golden file; the actual text goes to target/ for a diff when they differ. */
    public static void assertMatches(String golden, String actual) {
        String expected;
        try (InputStream in = RecordedSequence.class.getResourceAsStream(golden)) {
            expected = in == null ? "" : new String(in.readAllBytes(), StandardCharsets.UTF_8);
            if (!expected.equals(actual)) {
                Files.writeString(Path.of("target", golden + ".actual"), actual);
            }
        } catch (IOException e) {
            throw new UncheckedIOException(e);
        }
        assertEquals(expected, actual, "request metrics differ from " + golden + " (actual in target/)");
    }
}
