package lab.obi.agent.exchange;

import lab.obi.agent.capture.ExchangeRecord.Direction;

/**
 * One HTTP request as obi-agent reports it: the kernel's facts joined with the parsed request,
 * the verdict and the identity of the process. Nullable fields are absent from the request log.
 * A client exchange made while a server exchange was in flight on the same thread names it by
 * {@code parentConnId}/{@code parentRequestIndex} (the server's {@code connId}/{@code requestIndex}).
 * {@code tcp}: what TCP and the host's interfaces did meanwhile.
 */
public record HttpExchange(
        long startUnixNs,
        long durationNs,
        Direction direction,
        int pid,
        String comm,
        String exe,
        String service,
        String containerId,
        String localAddress,
        int localPort,
        String peerAddress,
        int peerPort,
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
        long bytesIn,
        long bytesOut,
        String traceparent,
        String uberTraceId,
        Long parentConnId,
        Integer parentRequestIndex,
        TcpEvidence tcp) implements Observed {
}
