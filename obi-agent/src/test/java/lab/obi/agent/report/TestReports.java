package lab.obi.agent.report;

import lab.obi.agent.assembly.SpanIdentities;
import lab.obi.agent.process.ObservedSocket;
import lab.obi.agent.process.ObservedSocket.Direction;
import lab.obi.agent.protocol.AbortKind;

import java.util.List;

/** Reports as the assembly hands them to the sinks, for the sinks' tests. */
public final class TestReports {

    /** A server process: the "orders" service, pid 42, serving on 10.0.0.1:8080. */
    public static final ObservedSocket SERVER = new ObservedSocket(Direction.SERVER, 42, "java", "/usr/bin/java",
            "orders", "c0ffee", "10.0.0.1", 8080, "10.0.0.2", 51000);
    /** The same process calling a database at 10.0.0.3:5432. */
    public static final ObservedSocket CLIENT = new ObservedSocket(Direction.CLIENT, 42, "java", "/usr/bin/java",
            "orders", "c0ffee", "10.0.0.1", 40000, "10.0.0.3", 5432);
    /** Another process: a second resource over OTLP. */
    public static final ObservedSocket OTHER_SERVER = new ObservedSocket(Direction.SERVER, 77, "python3",
            "/usr/bin/python3", "billing", null, "10.0.0.4", 9000, "10.0.0.2", 52000);

    private static final SpanIdentities IDENTITIES = new SpanIdentities();

    private TestReports() {
    }

    /** 250 ms from 1 s after the epoch, 80 bytes in and 512 out, the connection's second request. */
    public static HttpExchange exchange(ObservedSocket socket, String method, String route, Integer status,
                                        AbortKind abort, TcpEvidence tcp) {
        return new HttpExchange(1_000_000_000L, 250_000_000L, socket, 7, 2, method, route, "shop", "curl/8", status,
                abort != null, abort, abort != null ? 200_000_000L : null, false, true, 80, 512, null, null, null,
                null, null, tcp, false, "1.1", Phases.NONE);
    }

    public static HttpExchange exchange(ObservedSocket socket, String route, Integer status) {
        return exchange(socket, "GET", route, status, null, TcpEvidence.NONE);
    }

    /** With a span of its own in a new trace. */
    public static ExchangeReport traced(HttpExchange exchange) {
        return IDENTITIES.exchange(exchange, null);
    }

    public static TcpEvidence retransmitted(int segments, Integer rttUs, boolean resetReceived) {
        return new TcpEvidence(segments, segments > 0 ? 1_050_000_000L : null, segments > 1 ? 1_100_000_000L : null,
                false, resetReceived, resetReceived ? 1_200_000_000L : null, rttUs, 5_000_000L, null, null, List.of());
    }
}
