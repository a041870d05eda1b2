package lab.obi.agent.sink.otlp.spans;

import io.opentelemetry.api.common.AttributeKey;
import io.opentelemetry.api.common.Attributes;
import io.opentelemetry.api.common.AttributesBuilder;

import java.util.Arrays;
import java.util.Collections;
import java.util.LinkedHashMap;
import java.util.Map;
import java.util.function.BiConsumer;

/**
 * An exchange span's attributes in the order they were put. The SDK's builder sorts them by key
 * and drops repeated keys, for every span: at saturation in the JDK benchmark (a span per request,
 * about 25 attributes each) that sort was about 7% of the agent's CPU samples. {@link ExchangeSpans}
 * puts each key once, and the OTLP exporter writes them in any order.
 */
final class SpanAttributes implements Attributes {

    /*
     * Keys and values side by side, not interleaved in one Object[]: the exporter walks them twice
     * per span (sizes, then bytes), and a key read from an Object[] is cast to the AttributeKey
     * interface each time.
     */
    private final AttributeKey<?>[] keys;
    private final Object[] values;

    private SpanAttributes(AttributeKey<?>[] keys, Object[] values) {
        this.keys = keys;
        this.values = values;
    }

    @Override
    @SuppressWarnings("unchecked")
    public <T> T get(AttributeKey<T> key) {
        for (int i = 0; i < keys.length; i++) {
            if (keys[i].equals(key)) {
                return (T) values[i];
            }
        }
        return null;
    }

    @Override
    public void forEach(BiConsumer<? super AttributeKey<?>, ? super Object> consumer) {
        for (int i = 0; i < keys.length; i++) {
            consumer.accept(keys[i], values[i]);
        }
    }

    @Override
    public int size() {
        return keys.length;
    }

    @Override
    public boolean isEmpty() {
        return keys.length == 0;
    }

    @Override
    public Map<AttributeKey<?>, Object> asMap() {
        Map<AttributeKey<?>, Object> map = new LinkedHashMap<>();
        forEach(map::put);
        return Collections.unmodifiableMap(map);
    }

    @Override
    public AttributesBuilder toBuilder() {
        return Attributes.builder().putAll(this);
    }

    @Override
    public boolean equals(Object o) {
        return o instanceof Attributes other && asMap().equals(other.asMap());
    }

    @Override
    public int hashCode() {
        return asMap().hashCode();
    }

    @Override
    public String toString() {
        return asMap().toString();
    }

    /** Each key put at most once; a null value is not put. */
    static final class Builder implements AttributesBuilder {

        private AttributeKey<?>[] keys = new AttributeKey<?>[32];
        private Object[] values = new Object[32];
        private int length;

        @Override
        public <T> Builder put(AttributeKey<T> key, T value) {
            if (value == null) {
                return this;
            }
            if (length == keys.length) {
                keys = Arrays.copyOf(keys, length * 2);
                values = Arrays.copyOf(values, length * 2);
            }
            keys[length] = key;
            values[length++] = value;
            return this;
        }

        @Override
        public <T> Builder put(AttributeKey<Long> key, int value) {
            return put(key, (long) value);
        }

        @Override
        @SuppressWarnings("unchecked")
        public Builder putAll(Attributes attributes) {
            attributes.forEach((key, value) -> put((AttributeKey<Object>) key, value));
            return this;
        }

        @Override
        public Attributes build() {
            return new SpanAttributes(Arrays.copyOf(keys, length), Arrays.copyOf(values, length));
        }
    }
}
