package lab.obi.agent.sink.metrics;

import io.opentelemetry.api.common.AttributeKey;
import io.opentelemetry.api.common.Attributes;
import io.opentelemetry.api.metrics.Meter;
import io.opentelemetry.api.metrics.ObservableLongMeasurement;
import io.opentelemetry.sdk.resources.Resource;

import java.lang.management.ManagementFactory;
import java.util.function.Supplier;

/** The agent's own health (obi.agent.*) and cost (process.*), observed at each collection of a metric sink. */
public final class AgentMetrics {

    public static final String SCOPE = "lab.obi.agent";

    private static final AttributeKey<String> DROP_REASON = AttributeKey.stringKey("obi.drop.reason");
    private static final AttributeKey<String> QUEUE = AttributeKey.stringKey("obi.queue");

    private AgentMetrics() {
    }

    /** The agent as a resource: where its own metrics come from, and every metric on the scrape endpoint. */
    public static Resource resource(String hostName) {
        return Resource.getDefault().merge(Resource.create(Attributes.of(
                AttributeKey.stringKey("service.name"), "obi-agent", AttributeKey.stringKey("host.name"), hostName)));
    }

    public static void register(Meter meter, Supplier<SelfStats> selfStats) {
        ObservableLongMeasurement records = meter.counterBuilder("obi.agent.records").setUnit("{record}")
                .setDescription("Records received from the kernel: exchanges, closed connections, retransmits after a response,"
                        + " late ACKs of a response, failed connects").buildObserver();
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
                        + " the server to react once the client had sent FIN or reset the request").buildObserver();
        ObservableLongMeasurement tlsLibraries = meter.gaugeBuilder("obi.agent.tls.libraries").ofLongs()
                .setUnit("{library}").setDescription("OpenSSL libraries and executables whose HTTPS the agent sees")
                .buildObserver();
        ObservableLongMeasurement routeOverflows = meter.counterBuilder("obi.agent.route_overflows")
                .setUnit("{request}").setDescription("Requests whose http.route became /{overflow}: their service had"
                        + " obi.routes.max-per-service distinct routes already").buildObserver();
        ObservableLongMeasurement trackedConnections = meter.gaugeBuilder("obi.agent.connections.tracked").ofLongs()
                .setUnit("{connection}").setDescription("Connections in the kernel's table (obi.bpf.max-connections):"
                        + " HTTP connections open now, and any the kernel failed to forget").buildObserver();
        meter.batchCallback(() -> {
            SelfStats s = selfStats.get();
            records.record(s.recordsReceived());
            logged.record(s.requestsReported());
            notHttp.record(s.notHttp());
            ignored.record(s.ignored());
            s.allDrops().forEach((reason, count) -> dropped.record(count, Attributes.of(DROP_REASON, reason)));
            queue.record(s.queueDepth(), Attributes.of(QUEUE, "records"));
            finWaitsExpired.record(s.peerFinWaitsExpired());
            tlsLibraries.record(s.tlsLibraries());
            routeOverflows.record(s.routeOverflows());
            if (s.trackedConnections() >= 0) {
                trackedConnections.record(s.trackedConnections());
            }
            s.spanExport().ifPresent(spans -> {
                exportedSpans.record(spans.exported());
                queue.record(spans.queued(), Attributes.of(QUEUE, "spans"));
            });
        }, records, logged, ignored, notHttp, dropped, queue, exportedSpans, finWaitsExpired, tlsLibraries,
                routeOverflows, trackedConnections);
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
}
