package lab.obi.agent.sink.metrics;

import org.junit.jupiter.api.Test;

import java.util.LinkedHashMap;
import java.util.Map;
import java.util.Optional;
import java.util.OptionalLong;

import static org.junit.jupiter.api.Assertions.assertEquals;

class SelfStatsTest {

    private static final Map<String, Long> PIPELINE = Map.of("queue_full", 3L, "ringbuf_full", 0L);

    private static SelfStats stats(Optional<SelfStats.SpanExportCounts> spans, OptionalLong metricFailures) {
        return new SelfStats(10, 8, 0, 0, PIPELINE, 0, 0, 0, 0, -1, spans, metricFailures);
    }

    @Test
    void everyDropOfTheExportsIsAmongAllDrops() {
        Map<String, Long> expected = new LinkedHashMap<>(PIPELINE);
        expected.put("span_queue_full", 7L);
        expected.put("span_export_failed", 2L);
        expected.put("metric_export_failed", 1L);
        assertEquals(expected, stats(Optional.of(new SelfStats.SpanExportCounts(100, 7, 2, 5)), OptionalLong.of(1))
                .allDrops());
    }

    @Test
    void withoutExportsTheyAreThePipelinesAndTheKernels() {
        assertEquals(PIPELINE, stats(Optional.empty(), OptionalLong.empty()).allDrops());
    }
}
