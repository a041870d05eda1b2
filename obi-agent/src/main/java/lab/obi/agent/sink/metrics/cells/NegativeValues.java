package lab.obi.agent.sink.metrics.cells;

import io.opentelemetry.api.common.Attributes;
import org.jboss.logging.Logger;

/** Histograms and counters take no negative values; the first one dropped is logged (a clock went backwards?). */
final class NegativeValues {

    private static final Logger LOG = Logger.getLogger(NegativeValues.class);
    private static volatile boolean logged;

    private NegativeValues() {
    }

    static void dropped(Attributes series, double value) {
        if (!logged) {
            logged = true;
            LOG.warnf("a negative measurement (%s of %s) was dropped; further ones are dropped without a line", value,
                    series);
        }
    }
}
