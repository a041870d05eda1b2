package lab.obi.agent;

import io.quarkus.runtime.Quarkus;
import io.quarkus.runtime.QuarkusApplication;
import io.quarkus.runtime.ShutdownEvent;
import io.quarkus.runtime.annotations.QuarkusMain;
import io.quarkus.runtime.util.ExceptionUtil;
import io.smallrye.config.ConfigValidationException;
import jakarta.enterprise.event.Observes;
import jakarta.inject.Inject;
import lab.obi.agent.bpf.BpfCapture;
import lab.obi.agent.bpf.BpfException;
import lab.obi.agent.bpf.OpenSslProbes;
import lab.obi.agent.bpf.RingBufferReader;
import lab.obi.agent.contract.KernelCounter;
import lab.obi.agent.config.AgentConfig;
import lab.obi.agent.health.CaptureReadiness;
import lab.obi.agent.health.HealthEndpoint;
import lab.obi.agent.network.NetlinkLinkMonitor;
import lab.obi.agent.pipeline.Pipeline;
import lab.obi.agent.pipeline.StatsLog;
import org.jboss.logging.Logger;

import java.io.IOException;
import java.io.InputStream;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.List;
import java.util.Map;
import java.util.concurrent.Executors;
import java.util.concurrent.ScheduledExecutorService;
import java.util.concurrent.TimeUnit;

/**
 * The agent's life cycle: start the pipeline and the capture, run until SIGTERM/SIGINT, then detach,
 * drain and flush, in that order.
 */
@QuarkusMain
public class AgentMain implements QuarkusApplication {

    private static final Logger LOG = Logger.getLogger("obi-agent");
    private static final String EMBEDDED_OBJECT = "bpf/obi.bpf.o";
    private static final int EXIT_CANNOT_RUN = 2;

    @Inject
    AgentConfig config;

    private final CaptureReadiness readiness = new CaptureReadiness();
    private volatile HealthEndpoint health;

    private final ScheduledExecutorService scheduler = Executors.newSingleThreadScheduledExecutor(r -> {
        Thread t = new Thread(r, "obi-stats");
        t.setDaemon(true);
        return t;
    });
    private Pipeline pipeline;
    private volatile BpfCapture capture;
    private RingBufferReader reader;
    private StatsLog stats;
    private NetlinkLinkMonitor linkMonitor;
    private volatile OpenSslProbes openSsl;
    /** The pipeline's thread's own: the first failure to name an unwatched client is logged. */
    private boolean unwatchedClientFailed;
    private final ScheduledExecutorService tlsScanner = Executors.newSingleThreadScheduledExecutor(r -> {
        Thread t = new Thread(r, "obi-tls");
        t.setDaemon(true);
        return t;
    });

    public static void main(String... args) {
        Quarkus.run(AgentMain.class, AgentMain::exit, args);
    }

    /**
     * Every reason the agent cannot start is one line: Quarkus would print an invalid configuration
     * as a header and an indented list.
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
        Preflight.warnings().forEach(LOG::warn);
        try {
            health = HealthEndpoint.start(config.health().host(), config.health().port(), readiness);
            return capture();
        } catch (BpfException | IOException e) {
            LOG.error("cannot start: " + e.getMessage());
            return EXIT_CANNOT_RUN;
        }
    }

    private int capture() throws BpfException, IOException, InterruptedException {
        byte[] object = bpfObject();
        pipeline = new Pipeline(config, this::kernelCounters, () -> openSsl == null ? 0 : openSsl.attachedCount(),
                this::trackedConnections, this::unwatchedClient);
        BpfCapture.Settings settings = new BpfCapture.Settings((int) ProcessHandle.current().pid(),
                config.capture().requestHeadBytes(), config.capture().peerFinWait().toNanos(),
                config.bpf().ringbufSizeMb() << 20, config.bpf().maxConnections(), !Preflight.sysAdmin());
        capture = BpfCapture.load(object, settings);
        reader = new RingBufferReader(capture, settings.ringBufferBytes(), pipeline::accept, pipeline::drained);
        if (config.tls().enabled()) {
            followOpenSsl();
        }
        pipeline.start();
        reader.start();
        readiness.capturing(capture.programNames().size(), reader);
        if (config.network().interfaceEvents()) {
            try {
                linkMonitor = NetlinkLinkMonitor.start(pipeline.interfaceOutages());
            } catch (IOException e) {
                LOG.warnf("interface outages will not be seen (%s); requests are captured all the same",
                        e.getMessage());
            }
        }
        LOG.infof("obi-agent capturing: %d programs attached (tracepoints only), %s", capture.programNames().size(),
                pipeline.description());
        scheduler.scheduleWithFixedDelay(this::expirePeerFinWaits, 1, 1, TimeUnit.SECONDS);
        stats = new StatsLog(pipeline);
        long intervalMs = config.statsInterval().toMillis();
        if (intervalMs > 0) {
            scheduler.scheduleAtFixedRate(stats::logIfChanged, intervalMs, intervalMs, TimeUnit.MILLISECONDS);
        }
        Quarkus.waitForExit();
        return 0;
    }

    /**
     * Runs inside the JVM shutdown hook (SIGTERM, SIGINT), which does not wait for the main thread:
     * drain the ring buffer, let the pipeline hand everything to the sinks and close them, then detach.
     */
    void stop(@Observes ShutdownEvent event) throws InterruptedException {
        scheduler.shutdownNow();
        tlsScanner.shutdownNow();
        tlsScanner.awaitTermination(5, TimeUnit.SECONDS);
        if (linkMonitor != null) {
            linkMonitor.close();
        }
        if (reader != null) {
            reader.close();
        }
        if (pipeline != null) {
            pipeline.close();
        }
        if (stats != null) {
            stats.logFinal();
        }
        if (openSsl != null) {
            openSsl.close();
        }
        if (capture != null) {
            capture.close();
        }
        if (health != null) {
            health.close();
        }
    }

    /** Processes that start are looked at within a quarter of a second; all of them every 10 s. */
    private void followOpenSsl() throws BpfException {
        openSsl = new OpenSslProbes(capture, Path.of("/proc"));
        openSsl.scan();
        tlsScanner.scheduleWithFixedDelay(() -> followOpenSsl(OpenSslProbes::startedSinceLastCall), 250, 250,
                TimeUnit.MILLISECONDS);
        tlsScanner.scheduleWithFixedDelay(() -> followOpenSsl(OpenSslProbes::scan), 10, 10, TimeUnit.SECONDS);
    }

    private interface ProbeStep {
        void run(OpenSslProbes probes) throws BpfException;
    }

    private void followOpenSsl(ProbeStep step) {
        try {
            step.run(openSsl);
        } catch (BpfException | RuntimeException e) {
            LOG.warnf("following OpenSSL libraries failed: %s", e.getMessage());
        }
    }

    private void expirePeerFinWaits() {
        try {
            capture.expirePeerFinWaits();
        } catch (BpfException e) {
            LOG.warnf("exchanges waiting for a server's reaction to a FIN cannot be expired: %s", e.getMessage());
        }
    }

    /** Empty before the programs are loaded, or when the kernel's counters cannot be read. */
    private Map<KernelCounter, Long> kernelCounters() {
        BpfCapture loaded = capture;
        if (loaded == null) {
            return Map.of();
        }
        try {
            return loaded.readCounters();
        } catch (BpfException e) {
            LOG.debugf("kernel counters unavailable: %s", e.getMessage());
            return Map.of();
        }
    }

    /** -1 before the programs are loaded, or when the table cannot be read. */
    private long trackedConnections() {
        BpfCapture loaded = capture;
        if (loaded == null) {
            return -1;
        }
        try {
            return loaded.trackedConnections();
        } catch (BpfException e) {
            LOG.debugf("connection table unavailable: %s", e.getMessage());
            return -1;
        }
    }

    /** Called by the pipeline's thread; a failure costs only the work the kernel could have saved. */
    private void unwatchedClient(int pid, long startTicks) {
        BpfCapture loaded = capture;
        if (loaded == null) {
            return;
        }
        try {
            loaded.unwatchedClient(pid, startTicks);
        } catch (BpfException e) {
            if (!unwatchedClientFailed) {
                unwatchedClientFailed = true;
                LOG.warnf("the kernel will keep following the client calls of processes that are not watched"
                        + " (they are dropped all the same): %s", e.getMessage());
            }
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
}
