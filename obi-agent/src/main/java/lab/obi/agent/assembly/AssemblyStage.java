package lab.obi.agent.assembly;

import io.opentelemetry.api.trace.SpanContext;
import lab.obi.agent.capture.ConnectFailedRecord;
import lab.obi.agent.capture.ConnectionRecord;
import lab.obi.agent.capture.ExchangeRecord;
import lab.obi.agent.capture.KernelRecord;
import lab.obi.agent.capture.LateRetransmitRecord;
import lab.obi.agent.capture.ResponseAckedRecord;
import lab.obi.agent.network.InterfaceOutages;
import lab.obi.agent.process.ObservedSocket.Direction;
import lab.obi.agent.process.ProcessResolver;
import lab.obi.agent.process.WatchFilter;
import lab.obi.agent.protocol.RouteNormaliser;
import lab.obi.agent.report.ConnectionSummary;
import lab.obi.agent.report.ExchangeReport;
import lab.obi.agent.report.HttpExchange;
import lab.obi.agent.report.LateRetransmit;
import lab.obi.agent.report.ResponseAcked;
import lab.obi.agent.report.ReportConsumer;

import java.util.HashMap;
import java.util.List;
import java.util.Map;
import java.util.Optional;
import java.util.OptionalLong;
import java.util.concurrent.atomic.LongAdder;
import java.util.function.LongSupplier;

/**
 * Turns the kernel's records into finished reports with their place in a trace, before any sink sees
 * them, so the request log, the metrics and the spans all see an exchange at the same moment and the
 * same way. It owns everything kept per connection in user space: pipelining remainders, each
 * connection's latest server span, the client calls waiting for the server request their thread was
 * serving (such a call ends first, so its record comes first; it leaves with its parent), which also
 * tell why a slow request was slow (obi.slow.cause). Reports of
 * unwatched processes and ports (obi.watch.*) are dropped here, and a process none of whose client
 * calls is reported is named to the kernel, which stops following them. Single-threaded: records of
 * one connection must come in order.
 */
public final class AssemblyStage {

    /** Where a process whose client calls are all dropped is named: the kernel's capture. */
    @FunctionalInterface
    public interface UnwatchedClients {
        /** @param startTicks when it started, as field 22 of /proc/pid/stat */
        void named(int pid, long startTicks);
    }

    /** More processes than a host runs at once: past it, they are named again as their calls come. */
    private static final int MAX_NAMED = 4096;

    private final ConnectionStates connections = new ConnectionStates();
    private final ThreadParents threadParents = new ThreadParents(connections);
    private final SpanIdentities identities = new SpanIdentities();
    private final ExchangeAssembler exchanges;
    private final ServerEnds serverEnds = new ServerEnds();
    private final HeldSlowRequests held = new HeldSlowRequests();
    private final SlowCauses slowCauses;
    private final WatchFilter filter;
    private final ProcessResolver processes;
    private final UnwatchedClients unwatchedClients;
    /** The processes named to the kernel, by pid, with their start time. */
    private final Map<Integer, Long> named = new HashMap<>();
    private final ReportConsumer out;
    private final LongSupplier nanoTime;
    private final LongAdder reported = new LongAdder();
    private final LongAdder ignored = new LongAdder();

    /**
     * @param slowNs a request this long in the host is slow, and its cause is told
     * @param out    where finished reports go: the sinks
     */
    public AssemblyStage(ProcessResolver processes, RouteNormaliser routes, boolean keepQuery,
                         InterfaceOutages outages, WatchFilter filter, UnwatchedClients unwatchedClients, long slowNs,
                         ReportConsumer out) {
        this(processes, routes, keepQuery, outages, filter, unwatchedClients, slowNs, out, System::nanoTime);
    }

    AssemblyStage(ProcessResolver processes, RouteNormaliser routes, boolean keepQuery, InterfaceOutages outages,
                  WatchFilter filter, UnwatchedClients unwatchedClients, long slowNs, ReportConsumer out,
                  LongSupplier nanoTime) {
        this.exchanges = new ExchangeAssembler(processes, routes, keepQuery, outages, connections);
        this.slowCauses = new SlowCauses(slowNs, serverEnds);
        this.filter = filter;
        this.processes = processes;
        this.unwatchedClients = unwatchedClients;
        this.out = out;
        this.nanoTime = nanoTime;
    }

    /** @param epochOffsetNs what to add to the record's CLOCK_MONOTONIC times to get Unix epoch nanoseconds */
    public void accept(KernelRecord record, long epochOffsetNs) {
        if (record instanceof ExchangeRecord exchange) {
            exchange(exchange, epochOffsetNs);
        } else if (record instanceof ConnectionRecord connection) {
            connectionClosed(connection, epochOffsetNs);
        } else if (record instanceof LateRetransmitRecord retransmit) {
            lateRetransmit(retransmit, epochOffsetNs);
        } else if (record instanceof ResponseAckedRecord acked) {
            responseAcked(acked, epochOffsetNs);
        } else if (record instanceof ConnectFailedRecord failed) {
            report(exchanges.connectFailed(failed, epochOffsetNs));
        }
    }

    /**
     * Slow requests held long enough go out; client calls that waited too long for theirs go out
     * without a parent.
     *
     * @return whether anything went out (the sinks have it to flush)
     */
    public boolean expireWaiting() {
        long now = nanoTime.getAsLong();
        List<HeldSlowRequests.Held> due = held.due(now, false);
        finish(due);
        List<HttpExchange> orphans = threadParents.expired(now, false);
        releaseWithoutParent(orphans);
        return !due.isEmpty() || !orphans.isEmpty();
    }

    /** At shutdown: every held request, then every client call still waiting, without a parent. */
    public void releaseAllWaiting() {
        long now = nanoTime.getAsLong();
        finish(held.due(now, true));
        releaseWithoutParent(threadParents.expired(now, true));
    }

    /** Requests reported: HTTP, and of a watched process and port. */
    public long reportedCount() {
        return reported.sum();
    }

    /** Requests of processes or ports not watched (obi.watch.*). */
    public long ignoredCount() {
        return ignored.sum();
    }

    /** Records whose bytes were not an HTTP/1.x request. */
    public long notHttpCount() {
        return exchanges.rejectedCount();
    }

    private void exchange(ExchangeRecord record, long epochOffsetNs) {
        exchanges.assemble(record, epochOffsetNs).ifPresent(this::report);
    }

    private void report(HttpExchange e) {
        if (e.socket().direction() == Direction.SERVER) {
            serverEnds.server(e); // watched or not: its clients may be
        }
        long now = nanoTime.getAsLong();
        if (filter.watched(e.socket())) {
            reported.increment();
            join(e, now);
        } else {
            ignored.increment();
            if (e.socket().direction() == Direction.SERVER) {
                // No span for it: the client calls it made go out without a parent now, not after the wait.
                releaseWithoutParent(threadParents.serverSpanCreated(e.connId(), e.requestIndex(),
                        SpanContext.getInvalid()));
            } else if (!filter.processWatched(e.socket())) {
                nameUnwatchedClient(e.socket().pid());
            }
        }
        finish(held.due(now, false));
        releaseWithoutParent(threadParents.expired(now, false));
    }

    private void join(HttpExchange e, long now) {
        if (e.socket().direction() == Direction.CLIENT) {
            if (held.joined(e)) {
                return;
            }
            SpanContext parent = e.parentConnId() == null ? null
                    : threadParents.serverSpan(e.parentConnId(), e.parentRequestIndex());
            if (e.parentConnId() != null && parent == null) {
                releaseWithoutParent(threadParents.hold(e, now));
            } else {
                out.exchange(call(e, parent));
            }
            return;
        }
        ExchangeReport report = identities.exchange(e, null);
        // The calls it made ended first and waited for it: they tell whose processing it waited on.
        List<HttpExchange> calls = threadParents.serverSpanCreated(e.connId(), e.requestIndex(), report.span());
        if (slowCauses.slow(e)) {
            finish(held.hold(report, calls, now));
        } else {
            finish(report, calls);
        }
    }

    private void finish(List<HeldSlowRequests.Held> due) {
        for (int i = 0; i < due.size(); i++) {
            finish(due.get(i).report(), due.get(i).calls());
        }
    }

    private void finish(ExchangeReport request, List<HttpExchange> calls) {
        HttpExchange e = request.exchange();
        ExchangeReport report = request.withSlowCause(slowCauses.of(e, calls));
        connections.serverReported(e.connId(), e.requestIndex(), report);
        out.exchange(report);
        for (int i = 0; i < calls.size(); i++) {
            out.exchange(call(calls.get(i), report.span()));
        }
    }

    /** @param parent the server request it was made for; null when there is none */
    private ExchangeReport call(HttpExchange e, SpanContext parent) {
        return identities.exchange(e, parent).withSlowCause(slowCauses.of(e, List.of()));
    }

    private void connectionClosed(ConnectionRecord record, long epochOffsetNs) {
        ConnectionSummary connection = exchanges.connection(record, epochOffsetNs);
        connections.closed(connection.connId());
        serverEnds.closed(connection.socket());
        if (filter.watched(connection.socket())) {
            out.connectionClosed(connection);
        }
    }

    private void lateRetransmit(LateRetransmitRecord record, long epochOffsetNs) {
        LateRetransmit retransmit = exchanges.lateRetransmit(record, epochOffsetNs);
        serverEnds.lateRetransmit(retransmit);
        if (!filter.watched(retransmit.socket())) {
            return;
        }
        SpanContext server = retransmit.socket().direction() == Direction.SERVER
                ? threadParents.serverSpan(retransmit.connId(), retransmit.requestIndex()) : null;
        out.lateRetransmit(identities.lateRetransmit(retransmit, server));
    }

    private void responseAcked(ResponseAckedRecord record, long epochOffsetNs) {
        ResponseAcked acked = exchanges.responseAcked(record, epochOffsetNs);
        serverEnds.responseAcked(acked);
        if (!filter.watched(acked.socket())) {
            return;
        }
        ExchangeReport exchange = connections.serverReport(acked.connId(), acked.requestIndex());
        out.responseAcked(identities.responseAcked(acked, exchange, slowCauses.ofAckWait(exchange, acked)));
    }

    /** Once per process, unless its pid went to another process since. */
    private void nameUnwatchedClient(int pid) {
        OptionalLong started = processes.knownStartTime(pid);
        if (started.isEmpty() || Long.valueOf(started.getAsLong()).equals(named.get(pid))) {
            return;
        }
        if (named.size() >= MAX_NAMED) {
            named.clear();
        }
        named.put(pid, started.getAsLong());
        unwatchedClients.named(pid, started.getAsLong());
    }

    /** Called for every exchange, almost always with nothing to release: no iterator. */
    private void releaseWithoutParent(List<HttpExchange> clients) {
        for (int i = 0; i < clients.size(); i++) {
            out.exchange(call(clients.get(i), null));
        }
    }
}
