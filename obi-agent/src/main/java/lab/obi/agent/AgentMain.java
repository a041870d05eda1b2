package lab.obi.agent;

import io.quarkus.runtime.Quarkus;
import io.quarkus.runtime.QuarkusApplication;
import io.quarkus.runtime.QuarkusBindException;
import io.quarkus.runtime.ShutdownEvent;
import io.quarkus.runtime.annotations.QuarkusMain;
import io.quarkus.runtime.util.ExceptionUtil;
import io.smallrye.config.ConfigValidationException;
import jakarta.enterprise.event.Observes;
import jakarta.inject.Inject;
import lab.obi.agent.bpf.BpfCapture;
import lab.obi.agent.bpf.BpfException;
import lab.obi.agent.bpf.KernelCounter;
import lab.obi.agent.bpf.RingBufferReader;
import lab.obi.agent.config.AgentConfig;
import lab.obi.agent.assembly.AssemblyStage;
import lab.obi.agent.export.JsonLinesWriter;
import lab.obi.agent.network.HostTcpCounters;
import lab.obi.agent.network.InterfaceOutage;
import lab.obi.agent.network.InterfaceOutages;
import lab.obi.agent.network.NetlinkLinkMonitor;
import lab.obi.agent.process.ProcessResolver;
import lab.obi.agent.process.WatchFilter;
import lab.obi.agent.protocol.RouteNormaliser;
import lab.obi.agent.telemetry.SelfStats;
import lab.obi.agent.telemetry.Telemetry;
import org.eclipse.microprofile.health.Readiness;
import org.jboss.logging.Logger;

import java.io.BufferedOutputStream;
import java.io.FileOutputStream;
import java.io.IOException;
import java.io.InputStream;
import java.io.OutputStream;
import java.nio.file.Files;
import java.nio.file.Path;
import java.nio.file.StandardOpenOption;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.Set;
import java.util.concurrent.Executors;
import java.util.concurrent.ScheduledExecutorService;
import java.util.concurrent.TimeUnit;
import java.util.function.Supplier;

/** Starts capture, writes the request log until SIGTERM/SIGINT, then detaches and flushes. */
@QuarkusMain
public class AgentMain implements QuarkusApplication {

    private static final Logger LOG = Logger.getLogger("obi-agent");
    private static final String EMBEDDED_OBJECT = "bpf/obi.bpf.o";
    private static final int EXIT_CANNOT_RUN = 2;
    private static final String NO_OUTPUT = "none";
    /**
     * Hibernate Validator announces its version when it first validates the configuration, before
     * Quarkus's logging (which hides that line) is set up: an invalid value would be reported after it.
     * Held here: the logging framework keeps no strong reference to a logger's level.
     */
    private static final java.util.logging.Logger VALIDATOR_LOG =
            java.util.logging.Logger.getLogger("org.hibernate.validator");

    @Inject
    AgentConfig config;

    @Inject
    @Readiness
    CaptureReadiness readiness;

    private final ScheduledExecutorService scheduler = Executors.newSingleThreadScheduledExecutor(r -> {
        Thread t = new Thread(r, "obi-stats");
        t.setDaemon(true);
        return t;
    });
    private JsonLinesWriter writer;
    private volatile Telemetry telemetry;
    private ExchangePipeline pipeline;
    private BpfCapture capture;
    private RingBufferReader reader;
    private StatsLog stats;
    private NetlinkLinkMonitor linkMonitor;

    public static void main(String... args) {
        VALIDATOR_LOG.setLevel(java.util.logging.Level.WARNING);
        Quarkus.run(AgentMain.class, AgentMain::exit, args);
    }

    /**
     * Every reason the agent cannot start is one line: Quarkus would print an invalid configuration
     * as a header and an indented list, and a busy health port as four lines of advice.
     */
    private static void exit(int status, Throwable failure) {
        if (failure == null) {
            System.exit(status);
        }
        Throwable cause = ExceptionUtil.getRootCause(failure);
        if (cause instanceof ConfigValidationException invalid) {
            for (int i = 0; i < invalid.getProblemCount(); i++) {
                System.err.println("cannot start: " + invalid.getProblem(i).getMessage());
            }
        } else if (cause instanceof QuarkusBindException busy) {
            LOG.errorf("cannot start: the health endpoint cannot listen on %s:%d, it is in use (set quarkus.http.port)",
                    busy.getHost(), busy.getPort());
        } else {
            LOG.error("cannot start", failure);
        }
        System.exit(EXIT_CANNOT_RUN);
    }

    @Override
    public int run(String... args) throws Exception {
        List<String> problems = Preflight.problems();
        if (!problems.isEmpty()) {
            problems.forEach(p -> LOG.error("cannot start: " + p));
            return EXIT_CANNOT_RUN;
        }
        try {
            return capture();
        } catch (BpfException | IOException e) {
            LOG.error("cannot start: " + e.getMessage());
            return EXIT_CANNOT_RUN;
        }
    }

    private int capture() throws BpfException, IOException, InterruptedException {
        byte[] object = bpfObject();
        RouteNormaliser routes = new RouteNormaliser(config.routes().maxPerService());
        InterfaceOutages outages = new InterfaceOutages(new OutageReport());
        if (!config.output().path().equals(NO_OUTPUT)) {
            writer = new JsonLinesWriter(openOutput());
        }
        try {
            HostTcpCounters hostTcp = new HostTcpCounters(Path.of("/proc"));
            telemetry = new Telemetry(telemetrySettings(), this::selfStats, hostTcp::read);
        } catch (IllegalArgumentException e) {
            throw new IOException(e.getMessage());
        }
        WatchFilter filter = new WatchFilter(config.watch().excludeExecutables(),
                config.watch().services().orElse(Set.of()), config.watch().ports().orElse(Set.of()));
        pipeline = new ExchangePipeline(config.capture().queueCapacity(),
                reports -> new AssemblyStage(new ProcessResolver(Path.of("/proc")), routes, config.routes().keepQuery(),
                        outages, filter, reports), writer, telemetry);
        BpfCapture.Settings settings = new BpfCapture.Settings((int) ProcessHandle.current().pid(),
                config.capture().requestHeadBytes(), config.capture().peerFinWait().toNanos(),
                config.bpf().ringbufSizeMb() << 20, config.bpf().maxConnections());
        capture = BpfCapture.load(object, settings);
        reader = new RingBufferReader(capture, settings.ringBufferBytes(), pipeline::accept);
        pipeline.start();
        reader.start();
        readiness.capturing(capture.programNames().size(), reader);
        if (config.network().interfaceEvents()) {
            try {
                linkMonitor = NetlinkLinkMonitor.start(outages);
            } catch (IOException e) {
                LOG.warnf("interface outages will not be seen (%s); requests are captured all the same",
                        e.getMessage());
            }
        }
        LOG.infof("obi-agent capturing: %d programs attached (tracepoints only), request log -> %s,"
                        + " Prometheus -> %s, OTLP -> %s", capture.programNames().size(), describeOutput(),
                describeMetrics(), Telemetry.describeOtlp(telemetrySettings()));
        scheduler.scheduleWithFixedDelay(this::expirePeerFinWaits, 1, 1, TimeUnit.SECONDS);
        stats = new StatsLog(this::selfStats);
        long intervalMs = config.statsInterval().toMillis();
        if (intervalMs > 0) {
            scheduler.scheduleAtFixedRate(stats::logIfChanged, intervalMs, intervalMs, TimeUnit.MILLISECONDS);
        }
        Quarkus.waitForExit();
        return 0;
    }

    /**
     * Runs inside the JVM shutdown hook (SIGTERM, SIGINT), which does not wait for the main thread:
     * drain the ring buffer, write what is queued, then detach.
     */
    void stop(@Observes ShutdownEvent event) throws InterruptedException, IOException {
        scheduler.shutdownNow();
        if (linkMonitor != null) {
            linkMonitor.close();
        }
        if (reader != null) {
            reader.close();
        }
        if (pipeline != null) {
            pipeline.close();
        }
        if (writer != null) {
            writer.close();
        }
        if (telemetry != null) {
            telemetry.close();
        }
        if (stats != null) {
            stats.logFinal();
        }
        if (capture != null) {
            capture.close();
        }
    }

    private void expirePeerFinWaits() {
        try {
            capture.expirePeerFinWaits();
        } catch (BpfException e) {
            LOG.warnf("exchanges waiting for a server's reaction to a FIN cannot be expired: %s", e.getMessage());
        }
    }

    private byte[] bpfObject() throws IOException {
        if (config.bpf().objectPath().isPresent()) {
            Path path = Path.of(config.bpf().objectPath().get());
            if (!Files.isReadable(path)) {
                throw new IOException("obi.bpf.object-path " + path + " is not a readable file");
            }
            return Files.readAllBytes(path);
        }
        try (InputStream in = AgentMain.class.getClassLoader().getResourceAsStream(EMBEDDED_OBJECT)) {
            if (in == null) {
                throw new IOException("this agent build has no BPF object inside: build it with `make build`"
                        + " (bpf/ first, then the agent) or set obi.bpf.object-path");
            }
            return in.readAllBytes();
        }
    }

    private OutputStream openOutput() throws IOException {
        String path = config.output().path();
        if (path.equals("-")) {
            return new BufferedOutputStream(new FileOutputStream(java.io.FileDescriptor.out), 1 << 16);
        }
        try {
            return new BufferedOutputStream(Files.newOutputStream(Path.of(path), StandardOpenOption.CREATE,
                    StandardOpenOption.APPEND), 1 << 16);
        } catch (IOException e) {
            throw new IOException("cannot open the request log obi.output.path=" + path + ": " + e);
        }
    }

    private String describeOutput() {
        return config.output().path().equals("-") ? "stdout" : config.output().path();
    }

    private String describeMetrics() {
        return config.metrics().prometheusPort() == 0 ? "off" : "http://" + config.metrics().prometheusHost() + ":"
                + config.metrics().prometheusPort() + "/metrics";
    }

    private Telemetry.Settings telemetrySettings() {
        return new Telemetry.Settings(config.metrics().prometheusHost(), config.metrics().prometheusPort(),
                config.metrics().exponentialHistograms(), config.metrics().peerAddresses(), config.export().otlpMetrics(),
                config.export().otlpTraces(),
                config.export().spanQueueCapacity());
    }

    /** Called by the metrics reader at each collection. */
    private SelfStats selfStats() {
        ExchangePipeline.Stats s = pipeline.stats();
        Map<String, Long> drops = new LinkedHashMap<>();
        long peerFinWaitsExpired = 0;
        drops.put("queue_full", s.queueFull());
        drops.put("undecodable", s.undecodable());
        drops.put("write_failure", s.writeFailures());
        BpfCapture loaded = capture;
        if (loaded != null) {
            try {
                long[] kernel = loaded.readCounters(KernelCounter.values().length);
                for (KernelCounter c : KernelCounter.values()) {
                    if (c == KernelCounter.PEER_FIN_WAIT_EXPIRED) {
                        peerFinWaitsExpired = kernel[c.ordinal()];
                    } else if (c != KernelCounter.RECORDS) {
                        drops.put(c.name().toLowerCase(), kernel[c.ordinal()]);
                    }
                }
            } catch (BpfException e) {
                LOG.debugf("kernel counters unavailable: %s", e.getMessage());
            }
        }
        return new SelfStats(s.received(), s.reported(), s.ignored(), s.notHttp(), drops, s.queued(),
                peerFinWaitsExpired);
    }

    /** Interface outages in the log and the metrics, as they happen. */
    private final class OutageReport implements InterfaceOutages.Listener {
        @Override
        public void appeared(String interfaceName) {
            if (telemetry != null) {
                telemetry.interfaceAppeared(interfaceName);
            }
        }

        @Override
        public void down(InterfaceOutage outage) {
            LOG.warnf("interface %s stopped carrying traffic (%s)", outage.interfaceName(), outage.cause());
            if (telemetry != null) {
                telemetry.interfaceDown(outage);
            }
        }

        @Override
        public void up(InterfaceOutage outage) {
            LOG.infof("interface %s carries traffic again after %d ms (%s)", outage.interfaceName(),
                    outage.durationNs() / 1_000_000, outage.cause());
            if (telemetry != null) {
                telemetry.interfaceUp(outage);
            }
        }
    }

    /** The periodic one-line health summary: throughput and every kind of drop. */
    private static final class StatsLog {
        private final Supplier<SelfStats> source;
        private String last = "";

        StatsLog(Supplier<SelfStats> source) {
            this.source = source;
        }

        void logIfChanged() {
            String line = line();
            if (!line.equals(last)) {
                LOG.info(line);
                last = line;
            }
        }

        void logFinal() {
            LOG.info("stopped; " + line());
        }

        private String line() {
            SelfStats s = source.get();
            StringBuilder b = new StringBuilder()
                    .append("requests reported=").append(s.requestsReported())
                    .append(" records received=").append(s.recordsReceived())
                    .append(" ignored=").append(s.ignored())
                    .append(" not-http=").append(s.notHttp())
                    .append(" | drops:");
            s.drops().forEach((reason, count) -> b.append(' ').append(reason).append('=').append(count));
            return b.toString();
        }
    }
}
