package lab.obi.agent.sink.metrics;

import java.util.LinkedHashMap;
import java.util.Map;
import java.util.Optional;
import java.util.OptionalLong;

/**
 * The agent's own counters at one moment; drops are keyed by reason (ringbuf_full, queue_full...).
 * {@code peerFinWaitsExpired}: exchanges reported without the server's reaction to the peer's FIN;
 * {@code tlsLibraries}: OpenSSL libraries (and executables) whose HTTPS is seen; {@code routeOverflows}:
 * requests whose route became /{overflow} because their service had obi.routes.max-per-service already;
 * {@code trackedConnections}: entries of the kernel's connection table (-1: unknown).
 *
 * @param spanExport           the OTLP span sink's counters; empty when spans are not exported
 * @param metricExportFailures failed OTLP metric pushes; empty when metrics are not pushed
 */
public record SelfStats(long recordsReceived, long requestsReported, long ignored, long notHttp, Map<String, Long> drops,
                        long queueDepth, long peerFinWaitsExpired, int tlsLibraries, long routeOverflows,
                        long trackedConnections,
                        Optional<SpanExportCounts> spanExport,
                        OptionalLong metricExportFailures) {

    /**
     * Every drop by reason: the pipeline's and the kernel's, then the exports' where they run. The
     * log line and obi.agent.dropped both read this, so neither can miss a reason the other has.
     */
    public Map<String, Long> allDrops() {
        if (spanExport.isEmpty() && metricExportFailures.isEmpty()) {
            return drops;
        }
        Map<String, Long> all = new LinkedHashMap<>(drops);
        spanExport.ifPresent(spans -> {
            all.put("span_queue_full", spans.queueFull());
            all.put("span_export_failed", spans.failed());
        });
        metricExportFailures.ifPresent(failures -> all.put("metric_export_failed", failures));
        return all;
    }

    /**
     * @param queueFull spans dropped because the export queue was full
     * @param failed    spans the OTLP endpoint did not accept
     * @param queued    spans waiting for export
     */
    public record SpanExportCounts(long exported, long queueFull, long failed, int queued) {
    }
}
