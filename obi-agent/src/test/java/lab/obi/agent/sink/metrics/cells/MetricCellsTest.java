package lab.obi.agent.sink.metrics.cells;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

import io.opentelemetry.api.common.Attributes;
import io.opentelemetry.sdk.metrics.data.HistogramPointData;
import io.opentelemetry.sdk.metrics.data.LongPointData;
import io.opentelemetry.sdk.metrics.data.MetricData;
import io.opentelemetry.sdk.resources.Resource;
import java.util.List;
import java.util.concurrent.atomic.AtomicBoolean;
import lab.obi.agent.sink.metrics.Instruments;
import org.junit.jupiter.api.Test;

class MetricCellsTest {

    private final MetricCells cells = new MetricCells("test");

    @Test
    void aCollectionNeverSeesACountWithoutItsSum() throws InterruptedException {
        Instruments.HistogramSeries series = cells.histogram("h", "s", "", List.of(1.0, 2.0))
                .series(Attributes.empty());
        AtomicBoolean stop = new AtomicBoolean();
        Thread recorder = new Thread(() -> {
            while (!stop.get()) {
                series.record(1.5, null);
            }
        });
        recorder.start();
        try {
            for (int i = 0; i < 20_000; i++) {
                HistogramPointData p = (HistogramPointData) only(cells.produce(Resource.empty())).getData().getPoints()
                        .iterator().next();
                assertEquals(p.getCount() * 1.5, p.getSum(), 0.0, "count and sum of one point");
                assertEquals(p.getCount(), (long) p.getCounts().get(1), "count and buckets of one point");
            }
        } finally {
            stop.set(true);
            recorder.join();
        }
    }

    @Test
    void negativeMeasurementsAreDroppedAsTheSdkDropsThem() {
        cells.histogram("h", "s", "", List.of(1.0)).series(Attributes.empty()).record(-1, null);
        Instruments.CounterSeries counter = cells.counter("c", "1", "").series(Attributes.empty());
        counter.add(3);
        counter.add(-1);
        List<MetricData> metrics = List.copyOf(cells.produce(Resource.empty()));
        HistogramPointData h = (HistogramPointData) metrics.get(0).getData().getPoints().iterator().next();
        assertEquals(0, h.getCount());
        assertTrue(!h.hasMin(), "no min of nothing");
        assertEquals(3, ((LongPointData) metrics.get(1).getData().getPoints().iterator().next()).getValue());
    }

    private static MetricData only(java.util.Collection<MetricData> metrics) {
        assertEquals(1, metrics.size());
        return metrics.iterator().next();
    }
}
