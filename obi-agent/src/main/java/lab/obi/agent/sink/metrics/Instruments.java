package lab.obi.agent.sink.metrics;

import io.opentelemetry.api.common.Attributes;
import lab.obi.agent.report.ExchangeReport;

import java.util.List;

/**
 * What the request metrics are recorded with: the agent's own cells ({@code cells.MetricCells}), or
 * the SDK's instruments ({@link SdkInstruments}, for exponential histograms). A series is looked up
 * once by its attributes and kept by its caller: recording into it is all a request costs.
 */
public interface Instruments {

    Histogram histogram(String name, String unit, String description, List<Double> boundaries);

    Counter counter(String name, String unit, String description);

    interface Histogram {
        HistogramSeries series(Attributes attributes);

        /**
         * Looked up at its first measurement: a series exists (and counts against the bound on
         * series) once something was recorded in it, as with the SDK. For one thread.
         */
        default HistogramSeries onFirstUse(Attributes attributes) {
            return new HistogramSeries() {
                private HistogramSeries series;

                @Override
                public void record(double value, ExchangeReport exemplar) {
                    if (series == null) {
                        series = series(attributes);
                    }
                    series.record(value, exemplar);
                }
            };
        }
    }

    interface Counter {
        CounterSeries series(Attributes attributes);

        /** See {@link Histogram#onFirstUse}. */
        default CounterSeries onFirstUse(Attributes attributes) {
            return new CounterSeries() {
                private CounterSeries series;

                @Override
                public void add(long increment) {
                    if (series == null) {
                        series = series(attributes);
                    }
                    series.add(increment);
                }
            };
        }
    }

    interface HistogramSeries {
        /** @param exemplar the exchange whose span becomes the measurement's exemplar when sampled; null for none */
        void record(double value, ExchangeReport exemplar);
    }

    interface CounterSeries {
        void add(long increment);
    }
}
