package lab.obi.agent;

import jakarta.enterprise.context.ApplicationScoped;
import lab.obi.agent.bpf.RingBufferReader;
import org.eclipse.microprofile.health.HealthCheck;
import org.eclipse.microprofile.health.HealthCheckResponse;
import org.eclipse.microprofile.health.Readiness;

/** Ready when the BPF programs are attached and the ring buffer is being drained (/q/health/ready). */
@Readiness
@ApplicationScoped
public class CaptureReadiness implements HealthCheck {

    private static final long STALE_NANOS = 2_000_000_000L; // the reader wakes every 100 ms

    private volatile int programsAttached;
    private volatile RingBufferReader reader;

    void capturing(int programs, RingBufferReader ringBufferReader) {
        programsAttached = programs;
        reader = ringBufferReader;
    }

    @Override
    public HealthCheckResponse call() {
        RingBufferReader r = reader;
        long lastDrain = r == null ? 0 : r.lastDrainNanos();
        boolean draining = lastDrain != 0 && System.nanoTime() - lastDrain < STALE_NANOS;
        return HealthCheckResponse.named("capture")
                .status(programsAttached > 0 && draining)
                .withData("programs_attached", programsAttached)
                .withData("ring_buffer_drained", draining)
                .build();
    }
}
