package lab.obi.agent.assembly;

import lab.obi.agent.contract.ConnectionFlags;
import lab.obi.agent.contract.ExchangeFlags;
import java.util.List;
import java.util.Optional;
import java.util.concurrent.atomic.LongAdder;
import lab.obi.agent.capture.ConnectFailedRecord;
import lab.obi.agent.capture.ConnectionRecord;
import lab.obi.agent.capture.ExchangeRecord;
import lab.obi.agent.capture.LateRetransmitRecord;
import lab.obi.agent.capture.ResponseAckedRecord;
import lab.obi.agent.capture.SocketOwner;
import lab.obi.agent.capture.TcpFacts;
import lab.obi.agent.network.InterfaceOutage;
import lab.obi.agent.network.InterfaceOutages;
import lab.obi.agent.process.ObservedSocket;
import lab.obi.agent.process.ProcessInfo;
import lab.obi.agent.process.ProcessResolver;
import lab.obi.agent.protocol.AbortKind;
import lab.obi.agent.protocol.RouteNormaliser;
import lab.obi.agent.protocol.Verdict;
import lab.obi.agent.protocol.http1.HttpParser;
import lab.obi.agent.protocol.http1.HttpRequestHead;
import lab.obi.agent.protocol.http1.Pipelining;
import lab.obi.agent.protocol.http1.Verdicts;
import lab.obi.agent.report.ConnectionSummary;
import lab.obi.agent.report.HttpExchange;
import lab.obi.agent.report.LateRetransmit;
import lab.obi.agent.report.Phases;
import lab.obi.agent.report.ResponseAcked;
import lab.obi.agent.report.TcpEvidence;

/**
 * The one step that reads the kernel's records: joins each with its parsed request, its verdict and
 * its process into what obi-agent reports. Not thread-safe: records of one connection must come in
 * order from one thread.
 */
final class ExchangeAssembler {

    /** An RTO is at least 200 ms: a request this slow may have waited for the network. */
    private static final long SLOW_NS = 200_000_000L;

    private static final HttpRequestHead UNKNOWN_REQUEST =
            new HttpRequestHead(null, null, null, null, null, null, null, null, false, null);

    private final ProcessResolver processResolver;
    private final RouteNormaliser routeNormaliser;
    private final boolean keepQuery;
    private final LongAdder rejected = new LongAdder();
    private final InterfaceOutages outages;
    private final ConnectionStates connections;

    /** @param connections where the request bytes a pipelined read left are kept for the next exchanges */
    ExchangeAssembler(ProcessResolver processResolver, RouteNormaliser routeNormaliser, boolean keepQuery,
                      InterfaceOutages outages, ConnectionStates connections) {
        this.processResolver = processResolver;
        this.routeNormaliser = routeNormaliser;
        this.keepQuery = keepQuery;
        this.outages = outages;
        this.connections = connections;
    }

    /**
     * The exchange, or empty if the captured bytes are not an HTTP/1.x request (the kernel only peeks
     * at a few bytes, so TLS or other protocols can get through).
     *
     * @param epochOffsetNs what to add to CLOCK_MONOTONIC to get nanoseconds since the Unix epoch
     */
    Optional<HttpExchange> assemble(ExchangeRecord r, long epochOffsetNs) {
        boolean pipelinedWithoutHead = r.has(ExchangeFlags.PIPELINED) && r.requestHead().length == 0;
        byte[] head = pipelinedWithoutHead ? connections.takePipelined(r.connId()) : r.requestHead();
        long requestBytes = r.owner().direction() == ExchangeRecord.Direction.SERVER ? r.bytesIn() : r.bytesOut();
        Optional<HttpRequestHead> parsed = HttpParser.parseRequest(head,
                !pipelinedWithoutHead && head != null && requestBytes > head.length);
        if (parsed.isPresent()) {
            connections.keepPipelined(r.connId(), Pipelining.afterFirstRequest(head, parsed.get()));
        }
        if (r.has(ExchangeFlags.CONN_CLOSED)) {
            connections.requestsEnded(r.connId());
        }
        if (parsed.isEmpty() && !pipelinedWithoutHead) {
            rejected.increment();
            return Optional.empty();
        }
        // A pipelined request beyond the captured bytes still counts, without method and route.
        HttpRequestHead request = parsed.orElse(UNKNOWN_REQUEST);
        ObservedSocket socket = socket(r.owner());
        Verdict verdict = Verdicts.judge(r, parsed.orElse(null));
        TcpEvidence tcp = evidence(r, verdict.aborted(), epochOffsetNs);
        return Optional.of(new HttpExchange(
                r.startNs() + epochOffsetNs,
                Math.max(0, r.endNs() - r.startNs()),
                socket,
                r.connId(),
                r.requestIndex(),
                request.method(),
                request.target() == null ? null
                        : routeNormaliser.normalise(socket.service(), request.target(), keepQuery),
                request.host(),
                request.userAgent(),
                verdict.status(),
                verdict.aborted(),
                verdict.abortKind(),
                verdict.timeToAbandonNs(),
                verdict.truncated(),
                verdict.requestComplete(),
                r.bytesIn(),
                r.bytesOut(),
                request.traceparent(),
                request.uberTraceId(),
                request.caller(),
                r.parentConnId() == 0 ? null : r.parentConnId(),
                r.parentConnId() == 0 ? null : r.parentRequestIndex(),
                tcp,
                r.has(ExchangeFlags.TLS),
                request.protocolVersion(),
                phases(r, tcp.connectNs())));
    }

    /**
     * The kernel's moments, each clamped between its neighbours so the transfer and processing phases
     * add up to the duration exactly, whatever order a pipelined or aborted exchange left them in.
     */
    static Phases phases(ExchangeRecord r, Long connectNs) {
        long start = r.startNs();
        long end = Math.max(start, r.endNs());
        long requestEnd = clamp(r.requestEndNs(), start, end);
        long responseStart = r.responseStartNs() == 0 ? end : clamp(r.responseStartNs(), requestEnd, end);
        Long acceptQueue = null;
        Long receiveQueue = null;
        if (r.owner().direction() == ExchangeRecord.Direction.SERVER) {
            long queued = r.queuedNs();
            long accepted = r.acceptedNs();
            long established = r.tcp().establishedNs();
            if (queued != 0 && queued <= start) {
                // The request waited for accept() first if it came before it, then for the first read.
                long acceptedAt = accepted == 0 ? queued : clamp(accepted, queued, start);
                acceptQueue = accepted == 0 ? null : acceptedAt - queued;
                receiveQueue = start - acceptedAt;
            } else if (accepted != 0 && established != 0 && established <= accepted && accepted <= start) {
                acceptQueue = accepted - established; // its arrival unseen (TLS): from the handshake
            }
        }
        return new Phases(connectNs, acceptQueue, receiveQueue, requestEnd - start, responseStart - requestEnd,
                end - responseStart);
    }

    private static long clamp(long ns, long low, long high) {
        return Math.min(Math.max(ns, low), high);
    }

    /** A connection's summary at its close. */
    ConnectionSummary connection(ConnectionRecord r, long epochOffsetNs) {
        String closedBy = r.has(ConnectionFlags.LOCAL_CLOSED_FIRST) ? "local"
                : r.has(ConnectionFlags.PEER_CLOSED_FIRST) ? "peer" : "reset";
        return new ConnectionSummary(
                r.startNs() + epochOffsetNs,
                Math.max(0, r.endNs() - r.startNs()),
                r.tcp().establishedNs() != 0,
                socket(r.owner()),
                r.connId(),
                r.requests(),
                r.bytesIn(),
                r.bytesOut(),
                r.retransmits(),
                r.has(ConnectionFlags.RST_SENT),
                r.has(ConnectionFlags.RST_RECEIVED),
                closedBy,
                r.tcp().srttUs() == 0 ? null : r.tcp().srttUs());
    }

    /** A retransmit after an exchange was reported, named by the exchange's connection and index. */
    LateRetransmit lateRetransmit(LateRetransmitRecord r, long epochOffsetNs) {
        return new LateRetransmit(r.atNs() + epochOffsetNs, socket(r.owner()), r.connId(), r.requestIndex(),
                r.srttUs() == 0 ? null : r.srttUs());
    }

    /**
     * A request's connect that never got through, as the client call it would have been: no request
     * was sent, the client gave up while connecting, its whole time was the connect.
     */
    HttpExchange connectFailed(ConnectFailedRecord r, long epochOffsetNs) {
        long connectNs = Math.max(0, r.endNs() - r.synSentNs());
        ObservedSocket socket = socket(r.owner());
        List<TcpEvidence.Outage> down = outages.overlapping(r.synSentNs(), r.endNs()).stream()
                .map(o -> outage(o, epochOffsetNs)).toList();
        TcpEvidence tcp = new TcpEvidence(0, null, null, false, false, null, null, null, connectNs,
                r.synRetransmits(), down);
        return new HttpExchange(r.synSentNs() + epochOffsetNs, connectNs, socket, 0, 1, null, null, null, null, null,
                true, AbortKind.CONNECT, connectNs, false, true, 0, 0, null, null, null,
                r.parentConnId() == 0 ? null : r.parentConnId(),
                r.parentConnId() == 0 ? null : r.parentRequestIndex(), tcp, false, null,
                new Phases(connectNs, null, null, 0, 0, 0));
    }

    /** A response's last byte acknowledged late, named by its exchange's connection and index. */
    ResponseAcked responseAcked(ResponseAckedRecord r, long epochOffsetNs) {
        return new ResponseAcked(r.endNs() + epochOffsetNs, r.ackedNs() + epochOffsetNs, socket(r.owner()), r.connId(),
                r.requestIndex(), r.retransmits(), r.srttUs() == 0 ? null : r.srttUs());
    }

    private ObservedSocket socket(SocketOwner owner) {
        ProcessInfo process = processResolver.resolve(owner.pid(), owner.comm());
        ObservedSocket.Direction direction = owner.direction() == ExchangeRecord.Direction.SERVER
                ? ObservedSocket.Direction.SERVER : ObservedSocket.Direction.CLIENT;
        return new ObservedSocket(direction, owner.pid(), process.comm(), process.exe(),
                process.serviceName(), process.containerId(), owner.localAddress(), owner.localPort(),
                owner.peerAddress(), owner.peerPort());
    }

    private TcpEvidence evidence(ExchangeRecord r, boolean aborted, long epochOffsetNs) {
        TcpFacts t = r.tcp();
        boolean clientOnNewConnection = r.owner().direction() == ExchangeRecord.Direction.CLIENT && r.requestIndex() == 1
                && t.connectNs() > 0;
        boolean resetSent = r.has(ExchangeFlags.RST_SENT);
        boolean resetReceived = r.has(ExchangeFlags.RST_RECEIVED) || r.rstNs() != 0;
        // Interface outages are host-wide facts: they are joined to the requests that show what an outage
        // does (given up, retransmitted, reset, or slow), not to every quick request that happened to
        // overlap the outage of some other container's link.
        // A new connection's request waited for its connect too.
        long waitedFromNs = clientOnNewConnection ? r.startNs() - t.connectNs() : r.startNs();
        boolean suffered = aborted || resetSent || resetReceived || t.retransmits() > 0 || t.synRetransmits() > 0
                || r.endNs() - waitedFromNs >= SLOW_NS;
        List<TcpEvidence.Outage> down = suffered ? outages.overlapping(waitedFromNs, r.endNs()).stream()
                .map(o -> outage(o, epochOffsetNs)).toList() : List.of();
        return new TcpEvidence(
                t.retransmits(),
                t.firstRetransmitNs() == 0 ? null : t.firstRetransmitNs() + epochOffsetNs,
                t.lastRetransmitNs() == 0 ? null : t.lastRetransmitNs() + epochOffsetNs,
                resetSent,
                resetReceived,
                r.rstNs() == 0 ? null : r.rstNs() + epochOffsetNs,
                t.srttUs() == 0 ? null : t.srttUs(),
                t.establishedNs() == 0 || t.establishedNs() > r.startNs() ? null : r.startNs() - t.establishedNs(),
                clientOnNewConnection ? t.connectNs() : null,
                clientOnNewConnection ? t.synRetransmits() : null,
                down);
    }

    private static TcpEvidence.Outage outage(InterfaceOutage o, long epochOffsetNs) {
        return new TcpEvidence.Outage(o.interfaceName(), o.cause(), o.downNs() + epochOffsetNs,
                o.ongoing() ? null : o.durationNs());
    }

    /** How many records were dropped because their bytes were not an HTTP/1.x request. */
    long rejectedCount() {
        return rejected.sum();
    }
}
