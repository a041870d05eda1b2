package lab.obi.agent.sink.metrics.cells;

import io.opentelemetry.api.common.Attributes;
import lab.obi.agent.sink.metrics.Instruments;

import java.util.concurrent.atomic.AtomicLong;

/** One series of a monotonic counter: a negative increment is dropped with a warning, as the SDK drops it. */
final class CounterCell implements Instruments.CounterSeries {

    final Attributes attributes;
    private final AtomicLong value = new AtomicLong();

    CounterCell(Attributes attributes) {
        this.attributes = attributes;
    }

    @Override
    public void add(long increment) {
        if (increment < 0) {
            NegativeValues.dropped(attributes, increment);
            return;
        }
        value.addAndGet(increment);
    }

    CollectedData.LongPoint collect(long startEpochNanos, long epochNanos) {
        return new CollectedData.LongPoint(startEpochNanos, epochNanos, attributes, value.get());
    }
}
