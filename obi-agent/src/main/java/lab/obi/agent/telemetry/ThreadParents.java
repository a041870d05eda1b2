package lab.obi.agent.telemetry;

import io.opentelemetry.api.trace.SpanContext;
import lab.obi.agent.exchange.HttpExchange;

import java.util.ArrayList;
import java.util.Iterator;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;

/**
 * Joins client calls, and retransmits after a response, to the server request they belong to. A client call ends before its
 * server request does, so its record comes first: it waits here until the server's span exists
 * (bounded in number and time; beyond, it goes out without a parent). Single-threaded.
 */
final class ThreadParents {

    static final int MAX_WAITING = 4096;
    static final long MAX_WAIT_NANOS = 60_000_000_000L;
    /** As many as the kernel's connection table holds by default; closed connections leave at once. */
    static final int MAX_CONNECTIONS = 65536;

    private record Key(long connId, int requestIndex) {
    }

    private record Waiting(HttpExchange exchange, long sinceNanos) {
    }

    /** The latest server exchange of a connection: updated in place, so keep-alive requests add no entry. */
    private static final class LatestServer {
        int requestIndex;
        SpanContext span;
    }

    private final Map<Long, LatestServer> latestServers = new LinkedHashMap<>(16, 0.75f, true) {
        @Override
        protected boolean removeEldestEntry(Map.Entry<Long, LatestServer> eldest) {
            return size() > MAX_CONNECTIONS;
        }
    };
    private final LinkedHashMap<Key, List<Waiting>> waiting = new LinkedHashMap<>();
    private int waitingCount;

    /** The span of the latest server exchange of a connection, if it is exchange {@code requestIndex}; else null. */
    SpanContext serverSpan(long connId, int requestIndex) {
        LatestServer latest = latestServers.get(connId);
        return latest != null && latest.requestIndex == requestIndex ? latest.span : null;
    }

    /** Its exchanges will not be named again. */
    void connectionClosed(long connId) {
        latestServers.remove(connId);
    }

    /** Keeps a client exchange until its server's span exists; returns what overflow pushed out. */
    List<HttpExchange> hold(HttpExchange client, long nowNanos) {
        waiting.computeIfAbsent(new Key(client.parentConnId(), client.parentRequestIndex()), k -> new ArrayList<>())
                .add(new Waiting(client, nowNanos));
        waitingCount++;
        List<HttpExchange> released = new ArrayList<>();
        while (waitingCount > MAX_WAITING) {
            released.addAll(removeEldest());
        }
        return released;
    }

    /** Records a server span; returns the client exchanges that were waiting for it. */
    List<HttpExchange> serverSpanCreated(long connId, int requestIndex, SpanContext span) {
        LatestServer latest = latestServers.get(connId);
        if (latest == null) {
            latest = new LatestServer();
            latestServers.put(connId, latest);
        }
        latest.requestIndex = requestIndex;
        latest.span = span;
        if (waiting.isEmpty()) {
            return List.of();
        }
        List<Waiting> children = waiting.remove(new Key(connId, requestIndex));
        if (children == null) {
            return List.of();
        }
        waitingCount -= children.size();
        return children.stream().map(Waiting::exchange).toList();
    }

    /** Client exchanges that waited too long (or all of them, at shutdown): they go out without a parent. */
    List<HttpExchange> expired(long nowNanos, boolean all) {
        List<HttpExchange> released = new ArrayList<>();
        Iterator<List<Waiting>> it = waiting.values().iterator();
        while (it.hasNext()) {
            List<Waiting> group = it.next();
            if (!all && nowNanos - group.get(0).sinceNanos() < MAX_WAIT_NANOS) {
                break; // insertion order: the rest are younger
            }
            group.forEach(w -> released.add(w.exchange()));
            waitingCount -= group.size();
            it.remove();
        }
        return released;
    }

    private List<HttpExchange> removeEldest() {
        Iterator<List<Waiting>> it = waiting.values().iterator();
        List<Waiting> group = it.next();
        it.remove();
        waitingCount -= group.size();
        return group.stream().map(Waiting::exchange).toList();
    }
}
