package lab.obi.agent.telemetry;

import java.util.Map;

/**
 * The agent's own counters at one moment; drops are keyed by reason (ringbuf_full, queue_full...).
 * {@code peerFinWaitsExpired}: exchanges reported without the server's reaction to the peer's FIN;
 * {@code tlsLibraries}: OpenSSL libraries (and executables) whose HTTPS is seen.
 */
public record SelfStats(long recordsReceived, long requestsReported, long ignored, long notHttp, Map<String, Long> drops,
                        long queueDepth, long peerFinWaitsExpired, int tlsLibraries) {
}
