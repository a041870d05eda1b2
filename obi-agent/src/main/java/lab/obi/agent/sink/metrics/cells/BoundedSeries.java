package lab.obi.agent.sink.metrics.cells;

import io.opentelemetry.api.common.AttributeKey;
import io.opentelemetry.api.common.Attributes;
import org.jboss.logging.Logger;

import java.util.Collection;
import java.util.Map;
import java.util.concurrent.ConcurrentHashMap;
import java.util.function.Function;

/**
 * An instrument's series by their attributes, bounded as the SDK bounds its own: 1999 series, then
 * every new one is counted in a single series {@code otel.metric.overflow=true}. Series are never
 * removed (cumulative temporality). Concurrent: the pipeline adds series while a collection reads them.
 */
final class BoundedSeries<C> {

    /** The SDK's default cardinality limit, the overflow series included. */
    static final int LIMIT = 2000;
    static final Attributes OVERFLOW = Attributes.of(AttributeKey.booleanKey("otel.metric.overflow"), true);

    private static final Logger LOG = Logger.getLogger(BoundedSeries.class);

    private final String instrument;
    private final Function<Attributes, C> create;
    private final Map<Attributes, C> cells = new ConcurrentHashMap<>();
    private volatile boolean overflowed;

    BoundedSeries(String instrument, Function<Attributes, C> create) {
        this.instrument = instrument;
        this.create = create;
    }

    C get(Attributes attributes) {
        C known = cells.get(attributes);
        if (known != null) {
            return known;
        }
        if (cells.size() >= LIMIT - 1) {
            if (!overflowed) {
                overflowed = true;
                LOG.warnf("%s has more than %d series: the rest are counted in its series otel.metric.overflow=true",
                        instrument, LIMIT - 1);
            }
            return cells.computeIfAbsent(OVERFLOW, create);
        }
        return cells.computeIfAbsent(attributes, create);
    }

    Collection<C> all() {
        return cells.values();
    }
}
