package lab.obi.agent.telemetry;

import io.opentelemetry.api.trace.SpanContext;
import lab.obi.agent.exchange.HttpExchange;

import java.util.ArrayList;
import java.util.Iterator;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;

/**
 * Joins client calls to the server request their thread was serving. A client call ends before its
 * server request does, so its record comes first: it waits here until the server's span exists
 * (bounded in number and time; beyond, it goes out without a parent). Single-threaded.
 */
final class ThreadParents {

    static final int MAX_WAITING = 4096;
    static final long MAX_WAIT_NANOS = 60_000_000_000L;
    private static final int MAX_RECENT_SERVERS = 4096;

    private record Key(long connId, int requestIndex) {
    }

    private record Waiting(HttpExchange exchange, long sinceNanos) {
    }

    private final Map<Key, SpanContext> recentServers = new LinkedHashMap<>(16, 0.75f, true) {
        @Override
        protected boolean removeEldestEntry(Map.Entry<Key, SpanContext> eldest) {
            return size() > MAX_RECENT_SERVERS;
        }
    };
    private final LinkedHashMap<Key, List<Waiting>> waiting = new LinkedHashMap<>();
    private int waitingCount;

    /** The span of a server exchange already seen, or null. */
    SpanContext serverSpan(long connId, int requestIndex) {
        return recentServers.get(new Key(connId, requestIndex));
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
        Key key = new Key(connId, requestIndex);
        recentServers.put(key, span);
        List<Waiting> children = waiting.remove(key);
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
