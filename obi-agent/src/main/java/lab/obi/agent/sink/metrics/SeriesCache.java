package lab.obi.agent.sink.metrics;

import java.util.HashMap;
import java.util.Map;

/**
 * What was built once per metric series, by the series' key. Bounded: when full it starts over
 * rather than tracking which series are still used, since the series a host produces change slowly.
 * Not thread-safe: the pipeline's one thread records every measurement.
 */
final class SeriesCache<K, V> {

    private final Map<K, V> values = new HashMap<>();
    private final int bound;

    SeriesCache(int bound) {
        this.bound = bound;
    }

    /** Null when not built yet. */
    V get(K key) {
        return values.get(key);
    }

    /** @return {@code value} */
    V put(K key, V value) {
        if (values.size() >= bound) {
            values.clear();
        }
        values.put(key, value);
        return value;
    }
}
