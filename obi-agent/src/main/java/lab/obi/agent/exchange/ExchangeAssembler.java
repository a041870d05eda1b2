package lab.obi.agent.exchange;

import java.util.Optional;
import java.util.concurrent.atomic.LongAdder;
import lab.obi.agent.capture.ExchangeRecord;
import lab.obi.agent.http.HttpParser;
import lab.obi.agent.http.HttpRequestHead;
import lab.obi.agent.http.RouteNormaliser;
import lab.obi.agent.process.ProcessInfo;
import lab.obi.agent.process.ProcessResolver;

/**
 * Joins a kernel record with its parsed request, its verdict and its process into the exchange
 * obi-agent reports. Not thread-safe: records of one connection must come in order from one thread.
 */
public final class ExchangeAssembler {

    private static final HttpRequestHead UNKNOWN_REQUEST =
            new HttpRequestHead(null, null, null, null, null, null, null, null);

    private final ProcessResolver processResolver;
    private final RouteNormaliser routeNormaliser;
    private final boolean keepQuery;
    private final LongAdder rejected = new LongAdder();
    private final PipelinedRequests pipelined = new PipelinedRequests();

    public ExchangeAssembler(ProcessResolver processResolver, RouteNormaliser routeNormaliser, boolean keepQuery) {
        this.processResolver = processResolver;
        this.routeNormaliser = routeNormaliser;
        this.keepQuery = keepQuery;
    }

    /**
     * The exchange, or empty if the captured bytes are not an HTTP/1.x request (the kernel only peeks
     * at a few bytes, so TLS or other protocols can get through).
     *
     * @param epochOffsetNs what to add to CLOCK_MONOTONIC to get nanoseconds since the Unix epoch
     */
    public Optional<HttpExchange> assemble(ExchangeRecord r, long epochOffsetNs) {
        boolean pipelinedWithoutHead = r.has(ExchangeRecord.F_PIPELINED) && r.requestHead().length == 0;
        byte[] head = pipelinedWithoutHead ? pipelined.take(r.connId()) : r.requestHead();
        Optional<HttpRequestHead> parsed = HttpParser.parseRequest(head);
        parsed.ifPresent(p -> pipelined.rememberAfterFirstRequest(r.connId(), head, p.contentLength()));
        if (r.has(ExchangeRecord.F_CONN_CLOSED)) {
            pipelined.forget(r.connId());
        }
        if (parsed.isEmpty() && !pipelinedWithoutHead) {
            rejected.increment();
            return Optional.empty();
        }
        // A pipelined request beyond the captured bytes still counts, without method and route.
        HttpRequestHead request = parsed.orElse(UNKNOWN_REQUEST);
        ProcessInfo process = processResolver.resolve(r.pid(), r.comm());
        Verdict verdict = Verdicts.judge(r);
        return Optional.of(new HttpExchange(
                r.startNs() + epochOffsetNs,
                Math.max(0, r.endNs() - r.startNs()),
                r.direction(),
                r.pid(),
                process.comm(),
                process.exe(),
                process.serviceName(),
                process.containerId(),
                AddressText.of(r.localAddress()),
                r.localPort(),
                AddressText.of(r.peerAddress()),
                r.peerPort(),
                r.connId(),
                r.requestIndex(),
                request.method(),
                request.target() == null ? null
                        : routeNormaliser.normalise(process.serviceName(), request.target(), keepQuery),
                request.host(),
                request.userAgent(),
                verdict.status(),
                verdict.aborted(),
                verdict.abortKind(),
                verdict.timeToAbandonNs(),
                verdict.truncated(),
                r.bytesIn(),
                r.bytesOut(),
                request.traceparent(),
                request.uberTraceId(),
                r.parentConnId() == 0 ? null : r.parentConnId(),
                r.parentConnId() == 0 ? null : r.parentRequestIndex(),
                r.retransmits()));
    }

    /** How many records were dropped because their bytes were not an HTTP/1.x request. */
    public long rejectedCount() {
        return rejected.sum();
    }
}
