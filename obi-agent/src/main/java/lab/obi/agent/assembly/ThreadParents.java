package lab.obi.agent.assembly;

import io.opentelemetry.api.trace.SpanContext;
import lab.obi.agent.report.HttpExchange;

import java.util.ArrayList;
import java.util.Iterator;
import java.util.LinkedHashMap;
import java.util.List;

/**
 * Joins client calls, and retransmits after a response, to the server request they belong to. A
 * client call ends before its server request does, so its record comes first: it waits here until
 * the server's span exists (bounded in number and time; beyond, it goes out without a parent).
 * Single-threaded.
 */
final class ThreadParents {

    static final int MAX_WAITING = 4096;
    static final long MAX_WAIT_NANOS = 60_000_000_000L;

    private record Key(long connId, int requestIndex) {
    }

    private record Waiting(HttpExchange exchange, long sinceNanos) {
    }

    private final ConnectionStates connections;
    private final LinkedHashMap<Key, List<Waiting>> waiting = new LinkedHashMap<>();
    private int waitingCount;

    /** @param connections where each connection's latest server span is kept */
    ThreadParents(ConnectionStates connections) {
        this.connections = connections;
    }

    /**
     * The span of the latest server exchange of a connection, if it is exchange {@code requestIndex};
     * else null. Invalid when that exchange is not reported.
     */
    SpanContext serverSpan(long connId, int requestIndex) {
        return connections.serverSpan(connId, requestIndex);
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

    /**
     * Records a server span (invalid when the exchange is not reported); returns the client exchanges
     * that were waiting for it.
     */
    List<HttpExchange> serverSpanCreated(long connId, int requestIndex, SpanContext span) {
        connections.serverExchange(connId, requestIndex, span);
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
        if (waiting.isEmpty()) {
            return List.of();
        }
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
