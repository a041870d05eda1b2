package lab.obi.agent.exchange;

import java.util.Optional;
import java.util.concurrent.atomic.LongAdder;
import lab.obi.agent.capture.ExchangeRecord;
import lab.obi.agent.http.HttpParser;
import lab.obi.agent.http.HttpRequestHead;
import lab.obi.agent.http.RouteNormaliser;
import lab.obi.agent.process.ProcessInfo;
import lab.obi.agent.process.ProcessResolver;

/** Joins a kernel record with its parsed request, its verdict and its process into the exchange obi-agent reports. */
public final class ExchangeAssembler {

    private final ProcessResolver processResolver;
    private final RouteNormaliser routeNormaliser;
    private final boolean keepQuery;
    private final LongAdder rejected = new LongAdder();

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
        Optional<HttpRequestHead> parsed = HttpParser.parseRequest(r.requestHead());
        if (parsed.isEmpty()) {
            rejected.increment();
            return Optional.empty();
        }
        HttpRequestHead request = parsed.get();
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
                routeNormaliser.normalise(process.serviceName(), request.target(), keepQuery),
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
                request.uberTraceId()));
    }

    /** How many records were dropped because their bytes were not an HTTP/1.x request. */
    public long rejectedCount() {
        return rejected.sum();
    }
}
