package lab.obi.agent.sink.metrics.cells;

import io.opentelemetry.api.common.Attributes;
import lab.obi.agent.sink.metrics.Instruments;

import java.lang.invoke.MethodHandles;
import java.lang.invoke.VarHandle;

/**
 * One series of a monotonic counter: a negative increment is dropped with a warning, as the SDK drops it.
 * One writer, the pipeline's thread: a plain add and a release store, where an atomic add cost a
 * locked instruction per increment, several per request.
 */
final class CounterCell implements Instruments.CounterSeries {

    private static final VarHandle VALUE;

    static {
        try {
            VALUE = MethodHandles.lookup().findVarHandle(CounterCell.class, "value", long.class);
        } catch (ReflectiveOperationException e) {
            throw new ExceptionInInitializerError(e);
        }
    }

    final Attributes attributes;
    @SuppressWarnings("unused") // through VALUE
    private long value;

    CounterCell(Attributes attributes) {
        this.attributes = attributes;
    }

    @Override
    public void add(long increment) {
        if (increment < 0) {
            NegativeValues.dropped(attributes, increment);
            return;
        }
        VALUE.setRelease(this, (long) VALUE.getOpaque(this) + increment);
    }

    CollectedData.LongPoint collect(long startEpochNanos, long epochNanos) {
        return new CollectedData.LongPoint(startEpochNanos, epochNanos, attributes, (long) VALUE.getAcquire(this));
    }
}
