package lab.obi.agent.health;

import lab.obi.agent.bpf.RingBufferReader;

/** Ready when the BPF programs are attached and the ring buffer is being drained. */
public final class CaptureReadiness {

    private static final long STALE_NANOS = 2_000_000_000L; // the reader wakes every 100 ms

    private volatile int programsAttached;
    private volatile RingBufferReader reader;

    public void capturing(int programs, RingBufferReader ringBufferReader) {
        programsAttached = programs;
        reader = ringBufferReader;
    }

    Status status() {
        RingBufferReader r = reader;
        long lastDrain = r == null ? 0 : r.lastDrainNanos();
        boolean draining = lastDrain != 0 && System.nanoTime() - lastDrain < STALE_NANOS;
        return new Status(programsAttached, draining);
    }

    record Status(int programsAttached, boolean ringBufferDrained) {
        boolean up() {
            return programsAttached > 0 && ringBufferDrained;
        }
    }
}
