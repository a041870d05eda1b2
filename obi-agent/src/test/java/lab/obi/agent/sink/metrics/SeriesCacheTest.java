package lab.obi.agent.sink.metrics;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertNull;
import static org.junit.jupiter.api.Assertions.assertSame;

import org.junit.jupiter.api.Test;

class SeriesCacheTest {

    @Test
    void keepsWhatWasBuiltByKey() {
        SeriesCache<String, Object> cache = new SeriesCache<>(4);
        Object built = new Object();
        assertNull(cache.get("a"));
        assertSame(built, cache.put("a", built));
        assertSame(built, cache.get("a"));
        assertNull(cache.get("b"));
    }

    @Test
    void startsOverWhenFull() {
        SeriesCache<Integer, Integer> cache = new SeriesCache<>(3);
        for (int i = 0; i < 3; i++) {
            cache.put(i, i);
        }
        assertEquals(2, cache.get(2));
        cache.put(3, 3);
        assertNull(cache.get(0));
        assertEquals(3, cache.get(3));
    }
}
