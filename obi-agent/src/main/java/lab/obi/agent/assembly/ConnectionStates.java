package lab.obi.agent.assembly;

import io.opentelemetry.api.trace.SpanContext;
import lab.obi.agent.report.ExchangeReport;

import java.util.LinkedHashMap;
import java.util.Map;

/**
 * What the assembly keeps about a connection between its records: the request bytes a pipelined
 * read left for the exchanges after the first, and the latest server exchange with its span (the
 * parent of client calls made while serving it, of retransmits of its response and of its late ACK). The
 * connection's close drops all of it, here. Bounded, least recently used first out, for
 * connections whose close is never seen; single-threaded.
 */
final class ConnectionStates {

    /** As many as the kernel's connection table holds by default. */
    static final int MAX_CONNECTIONS = 65536;
    /** Pipelining is rare and a remainder is up to a captured head long: fewer of them are kept. */
    static final int MAX_PIPELINED = 1024;

    private static final byte[] NOTHING = new byte[0];

    /** Updated in place, so a keep-alive connection's requests add no entry. */
    private static final class LatestServer {
        int requestIndex;
        SpanContext span;
        ExchangeReport report; // null when the exchange was not reported
    }

    private final Map<Long, byte[]> pipelined = leastRecentlyUsedFirst(MAX_PIPELINED);
    private final Map<Long, LatestServer> latestServers = leastRecentlyUsedFirst(MAX_CONNECTIONS);

    private static <V> Map<Long, V> leastRecentlyUsedFirst(int bound) {
        return new LinkedHashMap<>(16, 0.75f, true) {
            @Override
            protected boolean removeEldestEntry(Map.Entry<Long, V> eldest) {
                return size() > bound;
            }
        };
    }

    /** The request bytes a pipelined read left on the connection, or an empty array. */
    byte[] takePipelined(long connId) {
        byte[] remainder = pipelined.isEmpty() ? null : pipelined.remove(connId);
        return remainder == null ? NOTHING : remainder;
    }

    /** @param remainder request bytes after the exchange just parsed; null when there are none */
    void keepPipelined(long connId, byte[] remainder) {
        if (remainder != null) {
            pipelined.put(connId, remainder);
        } else if (!pipelined.isEmpty()) { // the common case: no pipelining anywhere, no boxing
            pipelined.remove(connId);
        }
    }

    /** No request follows on the connection: what pipelining left is no one's. */
    void requestsEnded(long connId) {
        keepPipelined(connId, null);
    }

    /** The span of the connection's latest server exchange if it is exchange {@code requestIndex}; else null. */
    SpanContext serverSpan(long connId, int requestIndex) {
        LatestServer latest = latestServers.get(connId);
        return latest != null && latest.requestIndex == requestIndex ? latest.span : null;
    }

    /** The report of the connection's latest server exchange if it is exchange {@code requestIndex}; else null. */
    ExchangeReport serverReport(long connId, int requestIndex) {
        LatestServer latest = latestServers.get(connId);
        return latest != null && latest.requestIndex == requestIndex ? latest.report : null;
    }

    /** The report of a server exchange whose span was recorded, unless the connection moved on or closed. */
    void serverReported(long connId, int requestIndex, ExchangeReport report) {
        LatestServer latest = latestServers.get(connId);
        if (latest != null && latest.requestIndex == requestIndex) {
            latest.report = report;
        }
    }

    /** @param span invalid when the exchange is not reported */
    void serverExchange(long connId, int requestIndex, SpanContext span) {
        LatestServer latest = latestServers.get(connId);
        if (latest == null) {
            latest = new LatestServer();
            latestServers.put(connId, latest);
        }
        latest.requestIndex = requestIndex;
        latest.span = span;
        latest.report = null;
    }

    /** The connection closed: none of its exchanges will be named again. */
    void closed(long connId) {
        if (!pipelined.isEmpty()) {
            pipelined.remove(connId);
        }
        latestServers.remove(connId);
    }
}
