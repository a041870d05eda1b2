package lab.obi.agent.assembly;

import lab.obi.agent.report.ExchangeReport;
import lab.obi.agent.report.HttpExchange;

import java.util.ArrayList;
import java.util.Iterator;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;

/**
 * Slow server requests, held a moment before they go out: a call they waited on can end after them
 * (a proxy whose client gave up closes the client's connection before its upstream's), and their
 * cause may be that call's. Bounded; single-threaded.
 */
final class HeldSlowRequests {

    static final long HOLD_NANOS = 100_000_000L;
    static final int MAX_HELD = 4096;

    private record Key(long connId, int requestIndex) {
    }

    /** A held request and the calls it made so far. */
    record Held(ExchangeReport report, List<HttpExchange> calls, long sinceNanos) {
    }

    private final LinkedHashMap<Key, Held> held = new LinkedHashMap<>();

    /** @return the requests that the bound pushed out, to go out now */
    List<Held> hold(ExchangeReport report, List<HttpExchange> calls, long nowNanos) {
        HttpExchange e = report.exchange();
        held.put(new Key(e.connId(), e.requestIndex()), new Held(report, new ArrayList<>(calls), nowNanos));
        List<Held> out = new ArrayList<>();
        Iterator<Held> oldest = held.values().iterator();
        while (held.size() > MAX_HELD && oldest.hasNext()) {
            out.add(oldest.next());
            oldest.remove();
        }
        return out;
    }

    /** True when the call joined a held request: it goes out with it. */
    boolean joined(HttpExchange call) {
        if (held.isEmpty() || call.parentConnId() == null) {
            return false;
        }
        Held parent = held.get(new Key(call.parentConnId(), call.parentRequestIndex()));
        if (parent == null) {
            return false;
        }
        parent.calls().add(call);
        return true;
    }

    /** The requests held long enough (or all of them), oldest first. */
    List<Held> due(long nowNanos, boolean all) {
        if (held.isEmpty()) {
            return List.of();
        }
        List<Held> out = new ArrayList<>();
        Iterator<Held> it = held.values().iterator();
        while (it.hasNext()) {
            Held h = it.next();
            if (!all && nowNanos - h.sinceNanos() < HOLD_NANOS) {
                break; // insertion order: the rest are younger
            }
            out.add(h);
            it.remove();
        }
        return out;
    }
}
