package lab.obi.agent.report;

import lab.obi.agent.process.ObservedSocket;
import lab.obi.agent.protocol.AbortKind;
import lab.obi.agent.protocol.TraceContext;

/**
 * One HTTP request as obi-agent reports it: the kernel's facts joined with the parsed request,
 * the verdict and the process with its end of the connection ({@code socket}). Nullable fields are absent from the request log.
 * A client exchange made while a server exchange was in flight on the same thread names it by
 * {@code parentConnId}/{@code parentRequestIndex} (the server's {@code connId}/{@code requestIndex}).
 * {@code traceparent}/{@code uberTraceId}: the trace headers as sent; {@code caller}: the span they name.
 * {@code tcp}: what TCP and the host's interfaces did meanwhile. {@code tls}: read through OpenSSL
 * (HTTPS); {@code httpVersion}: "1.1" or "1.0", from the request line (null when it was not captured).
 * {@code phases}: where its time went.
 */
public record HttpExchange(
        long startUnixNs,
        long durationNs,
        ObservedSocket socket,
        long connId,
        int requestIndex,
        String method,
        String route,
        String host,
        String userAgent,
        Integer status,
        boolean aborted,
        AbortKind abortKind,
        Long timeToAbandonNs,
        boolean truncated,
        boolean requestComplete,
        long bytesIn,
        long bytesOut,
        String traceparent,
        String uberTraceId,
        TraceContext caller,
        Long parentConnId,
        Integer parentRequestIndex,
        TcpEvidence tcp,
        boolean tls,
        String httpVersion,
        Phases phases) {

    /** When the exchange ended: its last byte, or when it was closed or given up. */
    public long endUnixNs() {
        return startUnixNs + durationNs;
    }

    /**
     * The first request of a connection the agent saw open. A keep-alive connection older than the
     * agent also starts at request index 1 when the agent picks it up, but it is not new.
     */
    public boolean onNewConnection() {
        return requestIndex == 1 && tcp.connectionAgeNs() != null;
    }
}
