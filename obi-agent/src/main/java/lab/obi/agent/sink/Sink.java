package lab.obi.agent.sink;

import lab.obi.agent.network.InterfaceOutage;
import lab.obi.agent.network.InterfaceOutages;
import lab.obi.agent.report.ReportConsumer;

/**
 * One destination of the assembled reports: the request log, the Prometheus endpoint, OTLP metrics,
 * OTLP spans. Reports come in order from the pipeline's one thread; interface outages come from the
 * thread that follows the links, and only the sinks that count them listen. A sink keeps no
 * connection state: the assembly joined everything a report needs before it came out.
 */
public interface Sink extends ReportConsumer, InterfaceOutages.Listener, AutoCloseable {

    @Override
    default void appeared(String interfaceName) {
    }

    @Override
    default void down(InterfaceOutage outage) {
    }

    @Override
    default void up(InterfaceOutage outage) {
    }

    @Override
    default void removed(String interfaceName) {
    }

    /** Nothing is waiting upstream: what was accepted so far should be visible now. */
    default void flush() {
    }

    /** After the last report: pushes what is left and releases the sink's resources. */
    @Override
    void close();
}
