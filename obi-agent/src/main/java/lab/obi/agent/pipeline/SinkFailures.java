package lab.obi.agent.pipeline;

import org.jboss.logging.Logger;

import java.util.concurrent.atomic.AtomicIntegerArray;
import java.util.concurrent.atomic.AtomicLongArray;

/**
 * What a sink threw instead of taking a report: counted (obi.agent.dropped, sink_failure) and logged
 * when that sink starts failing and when it works again, not per report. A sink's bug then costs that
 * sink's share of the reports, never the pipeline's thread or the other sinks. Reports come from the
 * pipeline's thread and interface events from the link monitor's, hence the atomics.
 */
final class SinkFailures {

    private static final Logger LOG = Logger.getLogger("obi-agent");

    private final String[] names;
    private final AtomicIntegerArray failing;
    private final AtomicLongArray failures;
    /** Each sink's failures when it last started failing: what the "works again" line reports. */
    private final AtomicLongArray failuresBefore;

    /** @param names each sink's name for the log, by its index in the fan-out */
    SinkFailures(String[] names) {
        this.names = names.clone();
        this.failing = new AtomicIntegerArray(names.length);
        this.failures = new AtomicLongArray(names.length);
        this.failuresBefore = new AtomicLongArray(names.length);
    }

    void failed(int sink, RuntimeException e) {
        long before = failures.getAndIncrement(sink);
        if (failing.compareAndSet(sink, 0, 1)) {
            failuresBefore.set(sink, before);
            LOG.errorf(e, "the %s failed and lost a report; while it keeps failing, its losses are only counted"
                    + " (obi.agent.dropped, obi.drop.reason=sink_failure)", names[sink]);
        }
    }

    /** Called after each report a sink took: one read unless it was failing. */
    void succeeded(int sink) {
        if (failing.get(sink) != 0 && failing.compareAndSet(sink, 1, 0)) {
            LOG.infof("the %s takes reports again (%d lost while it failed)", names[sink],
                    failures.get(sink) - failuresBefore.get(sink));
        }
    }

    /** Reports that some sink could not take, all sinks together. */
    long count() {
        long sum = 0;
        for (int i = 0; i < failures.length(); i++) {
            sum += failures.get(i);
        }
        return sum;
    }
}
