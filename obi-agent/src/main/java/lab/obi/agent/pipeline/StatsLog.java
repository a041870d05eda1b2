package lab.obi.agent.pipeline;

import lab.obi.agent.sink.metrics.SelfStats;
import org.jboss.logging.Logger;

/** The periodic one-line health summary: throughput and every kind of drop. */
public final class StatsLog {

    private static final Logger LOG = Logger.getLogger("obi-agent");

    private final Pipeline pipeline;
    private String last = "";

    public StatsLog(Pipeline pipeline) {
        this.pipeline = pipeline;
    }

    /** Logs the summary unless it says what the last one said. */
    public void logIfChanged() {
        String line = line();
        if (!line.equals(last)) {
            LOG.info(line);
            last = line;
        }
    }

    public void logFinal() {
        LOG.info("stopped; " + line());
    }

    private String line() {
        SelfStats s = pipeline.selfStats();
        StringBuilder b = new StringBuilder()
                .append("requests reported=").append(s.requestsReported())
                .append(" records received=").append(s.recordsReceived())
                .append(" ignored=").append(s.ignored())
                .append(" not-http=").append(s.notHttp())
                .append(" route-overflows=").append(s.routeOverflows())
                .append(" | drops:");
        s.allDrops().forEach((reason, count) -> b.append(' ').append(reason).append('=').append(count));
        return b.toString();
    }
}
