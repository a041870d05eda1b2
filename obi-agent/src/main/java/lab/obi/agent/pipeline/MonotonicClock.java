package lab.obi.agent.pipeline;

import java.time.Instant;

/**
 * Converts the kernel's CLOCK_MONOTONIC timestamps (bpf_ktime_get_ns, the clock behind
 * System.nanoTime on Linux) to wall-clock time, re-measuring the offset so NTP steps are followed.
 */
final class MonotonicClock {

    private static final long REMEASURE_NS = 1_000_000_000L;

    private long offsetNs;
    private long measuredAtNs = Long.MIN_VALUE;

    long epochOffsetNs() {
        long now = System.nanoTime();
        if (measuredAtNs == Long.MIN_VALUE || now - measuredAtNs > REMEASURE_NS) {
            offsetNs = measure();
            measuredAtNs = now;
        }
        return offsetNs;
    }

    /** The tightest of a few samples: the one least disturbed by preemption between the two clock reads. */
    private static long measure() {
        long best = 0;
        long bestWindow = Long.MAX_VALUE;
        for (int i = 0; i < 5; i++) {
            long before = System.nanoTime();
            Instant wall = Instant.now();
            long after = System.nanoTime();
            if (after - before < bestWindow) {
                bestWindow = after - before;
                long wallNs = wall.getEpochSecond() * 1_000_000_000L + wall.getNano();
                best = wallNs - (before + (after - before) / 2);
            }
        }
        return best;
    }
}
