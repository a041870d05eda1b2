package lab.obi.agent.sink.otlp.spans;

import io.opentelemetry.sdk.trace.export.SpanExporter;
import lab.obi.agent.config.AgentConfig;
import lab.obi.agent.config.AgentConfig.Traces.Otlp.Detail;
import lab.obi.agent.report.ConnectionSummary;
import lab.obi.agent.report.ExchangeReport;
import lab.obi.agent.report.LateRetransmitReport;
import lab.obi.agent.report.ResponseAckedReport;
import lab.obi.agent.sink.Sink;
import lab.obi.agent.sink.otlp.OtlpEnvironment;
import lab.obi.agent.sink.otlp.ProcessResources;

import java.util.Optional;

/**
 * One span per exchange pushed over OTLP, and a child span for each retransmit after a response
 * whose server span is known. Spans wait in a bounded queue for the exporter's thread.
 */
public final class OtlpSpansSink implements Sink {

    private final ExchangeSpans spans;
    private final SpanExport export;

    /**
     * @param exporter where the spans go: OTLP, or a test's exporter
     * @param detail which spans carry every attribute
     */
    public OtlpSpansSink(SpanExporter exporter, int queueCapacity, Detail detail, ProcessResources processes) {
        spans = new ExchangeSpans(processes, detail);
        export = new SpanExport(exporter, queueCapacity);
    }

    /** Empty when spans are not pushed: turned off, or no OTLP endpoint in the environment. */
    public static Optional<OtlpSpansSink> push(AgentConfig.Traces config, OtlpEnvironment otlp,
                                               ProcessResources processes) {
        if (!config.otlp().enabled() || !otlp.endpointConfigured()) {
            return Optional.empty();
        }
        return Optional.of(new OtlpSpansSink(otlp.spanExporter(), config.otlp().queueCapacity(), config.otlp().detail(),
                processes));
    }

    @Override
    public void exchange(ExchangeReport report) {
        export.offer(spans.toSpan(report));
        if (report.slowCause() != null) {
            for (ExchangeSpan phase : spans.phaseSpans(report)) {
                export.offer(phase);
            }
        }
    }

    @Override
    public void connectionClosed(ConnectionSummary connection) {
        // A connection is not a span: its lifetime is a metric, its record a line of the request log.
    }

    @Override
    public void lateRetransmit(LateRetransmitReport report) {
        if (report.parent().isValid()) {
            export.offer(spans.lateRetransmitSpan(report));
        }
    }

    @Override
    public void responseAcked(ResponseAckedReport report) {
        if (report.parent().isValid()) {
            export.offer(spans.ackWaitSpan(report));
        }
    }

    /** Spans the OTLP endpoint accepted. */
    public long exported() {
        return export.exported();
    }

    /** Spans dropped because the queue was full. */
    public long queueFull() {
        return export.dropped();
    }

    /** Spans the OTLP endpoint did not accept. */
    public long failed() {
        return export.failed();
    }

    /** Spans waiting for export. */
    public int queued() {
        return export.queued();
    }

    /** Exports what is queued, then shuts the exporter down. */
    @Override
    public void close() {
        try {
            export.close();
        } catch (InterruptedException e) {
            Thread.currentThread().interrupt();
        }
    }
}
