package lab.obi.agent.sink.metrics;

import io.opentelemetry.api.common.AttributeKey;
import io.opentelemetry.api.common.Attributes;
import io.opentelemetry.api.common.AttributesBuilder;
import lab.obi.agent.process.ObservedSocket;
import lab.obi.agent.process.ObservedSocket.Direction;
import lab.obi.agent.protocol.AbortKind;
import lab.obi.agent.protocol.Verdict;
import lab.obi.agent.report.ConnectionSummary;
import lab.obi.agent.report.ExchangeReport;
import lab.obi.agent.report.HttpExchange;
import lab.obi.agent.report.LateRetransmit;
import lab.obi.agent.report.Phase;
import lab.obi.agent.report.ResponseAckedReport;
import lab.obi.agent.report.SlowCause;
import lab.obi.agent.report.TcpEvidence;
import lab.obi.agent.sink.SemanticConventions;

import java.util.List;
import java.util.Set;

import static lab.obi.agent.sink.SemanticConventions.ABORT_KIND;
import static lab.obi.agent.sink.SemanticConventions.CLIENT_ADDRESS;
import static lab.obi.agent.sink.SemanticConventions.ERROR_TYPE;
import static lab.obi.agent.sink.SemanticConventions.METHOD;
import static lab.obi.agent.sink.SemanticConventions.ROUTE;
import static lab.obi.agent.sink.SemanticConventions.SERVER_ADDRESS;
import static lab.obi.agent.sink.SemanticConventions.SERVER_PORT;
import static lab.obi.agent.sink.SemanticConventions.URL_SCHEME;
import static lab.obi.agent.sink.SemanticConventions.STATUS;

/**
 * The request metrics: OpenTelemetry HTTP semantic conventions where they exist
 * (http.server.request.duration, http.client.request.duration), obi.* for what they do not cover
 * (abandoned requests, time to abandon, bytes on the wire including heads, where a server request's
 * time went and why a slow one was slow).
 */
public final class HttpMetrics {

    /** Sub-millisecond to 30 s: the tail, not the average, is what obi-lab is about. */
    private static final List<Double> DURATION_BUCKETS = List.of(0.0005, 0.001, 0.0025, 0.005, 0.0075, 0.01, 0.025,
            0.05, 0.075, 0.1, 0.25, 0.5, 0.75, 1.0, 2.5, 5.0, 7.5, 10.0, 30.0);

    private static final AttributeKey<String> SERVICE = AttributeKey.stringKey("service.name");
    private static final AttributeKey<String> DIRECTION = AttributeKey.stringKey("obi.direction");

    /** Loopback and a LAN are well under a millisecond; a WAN or a retransmit storm is not. */
    private static final List<Double> RTT_BUCKETS = List.of(0.00005, 0.0001, 0.00025, 0.0005, 0.001, 0.0025, 0.005,
            0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0);
    private static final AttributeKey<String> RESET_DIRECTION = AttributeKey.stringKey("obi.tcp.reset.direction");
    private static final AttributeKey<String> CLOSED_BY = AttributeKey.stringKey("obi.tcp.closed_by");
    /** Connections live from one request to hours in a pool. */
    private static final List<Double> CONNECTION_BUCKETS = List.of(0.01, 0.1, 1.0, 5.0, 15.0, 60.0, 300.0, 900.0,
            3600.0);

    private static final Set<String> KNOWN_METHODS =
            Set.of("GET", "HEAD", "POST", "PUT", "DELETE", "CONNECT", "OPTIONS", "TRACE", "PATCH");
    private static final double NANOS_PER_SECOND = 1e9;
    private static final int NO_STATUS = -1;

    private final Instruments.Histogram serverDuration;
    private final Instruments.Histogram clientDuration;
    private final Instruments.Counter abandoned;
    private final Instruments.Counter serverRequests;
    private final Instruments.Histogram timeToAbandon;
    private final Instruments.Counter received;
    private final Instruments.Counter sent;
    private final Instruments.Counter retransmits;
    private final Instruments.Counter resets;
    private final Instruments.Histogram rtt;
    private final Instruments.Histogram connectDuration;
    private final Instruments.Histogram connectionDuration;
    private final Instruments.Histogram serverPhases;
    private final Instruments.Counter slowRequests;

    /** What a client's abandon looks like at a server: it closed (FIN) or reset (RST) the connection. */
    private static final List<AbortKind> SERVER_ABORT_KINDS = List.of(AbortKind.FIN, AbortKind.RST);

    private static final AttributeKey<String> PHASE = AttributeKey.stringKey("obi.phase");
    private static final AttributeKey<String> SLOW_CAUSE = AttributeKey.stringKey("obi.slow.cause");
    private static final Phase[] PHASES = Phase.values();
    private static final SlowCause[] SLOW_CAUSES = SlowCause.values();

    /**
     * A request's series are looked up by a key of its fields, not by attribute sets built per
     * request: building one sorts and copies its keys, which cost more than recording the
     * measurement. Bounded like the instruments' own series.
     */
    private static final int MAX_CACHED_SERIES = 2000;

    /** What a request's duration is counted by. */
    private record RequestSeries(String service, boolean server, String method, int status, String route, String scheme,
                                 String serverAddress, int serverPort, String error, String clientAddress) {
    }

    /** What a process's bytes and TCP facts are counted by: its service and side, for a client the server it called. */
    private record SocketSeries(String service, boolean server, String serverAddress) {
    }

    /**
     * The series of a {@link SocketSeries}: bytes by the service and side, TCP facts by the peer too.
     * The attribute sets are kept for the series recorded rarely (abandons, closed connections).
     */
    private record SocketCells(Attributes service, Attributes peer, Instruments.CounterSeries received,
                               Instruments.CounterSeries sent, Instruments.CounterSeries retransmits,
                               Instruments.CounterSeries resetsSent, Instruments.CounterSeries resetsReceived,
                               Instruments.HistogramSeries rtt, Instruments.HistogramSeries connect) {
    }

    /** A server route: every request counts in obi.http.server.requests, its phases and slow causes by route. */
    private record RouteKey(String service, String route) {
    }

    /** A server route's series: its requests, one per phase, one per slow cause. */
    private record RouteCells(Instruments.CounterSeries requests, Instruments.HistogramSeries[] phases,
                              Instruments.CounterSeries[] slowCauses) {
    }

    /** A request's series, all found with one lookup: its duration's, its socket's, its route's (null for none). */
    private record RequestCells(Instruments.HistogramSeries duration, SocketCells socket, RouteCells route) {
    }

    private final SeriesCache<RequestSeries, RequestCells> requests = new SeriesCache<>(MAX_CACHED_SERIES);
    private final SeriesCache<SocketSeries, SocketCells> sockets = new SeriesCache<>(MAX_CACHED_SERIES);
    private final SeriesCache<RouteKey, RouteCells> serverRoutes = new SeriesCache<>(MAX_CACHED_SERIES);
    private final boolean serviceAttribute;
    private final boolean peerAddresses;

    /**
     * @param serviceAttribute label points with service.name: where the resource is the agent, not the process
     * @param peerAddresses    label server requests with client.address
     */
    public HttpMetrics(Instruments instruments, boolean serviceAttribute, boolean peerAddresses) {
        this.serviceAttribute = serviceAttribute;
        this.peerAddresses = peerAddresses;
        serverDuration = instruments.histogram("http.server.request.duration", "s",
                "Duration of HTTP server requests, as the kernel saw them", DURATION_BUCKETS);
        clientDuration = instruments.histogram("http.client.request.duration", "s",
                "Duration of HTTP client requests, as the kernel saw them", DURATION_BUCKETS);
        serverRequests = instruments.counter("obi.http.server.requests", "{request}",
                "Server requests per route, started at 0 when a route is first seen, like the 499s"
                        + " of obi.http.abandoned: the denominator of a 499 ratio that rate() gets exactly");
        abandoned = instruments.counter("obi.http.abandoned", "{request}",
                "Requests their peer gave up on, by abort kind and the status the server wrote"
                        + " (499: none before the client left)");
        timeToAbandon = instruments.histogram("obi.http.time_to_abandon", "s",
                "From the first request byte to the moment the request was abandoned", DURATION_BUCKETS);
        received = instruments.counter("obi.http.received", "By",
                "Bytes read by the observed process during HTTP exchanges, heads included");
        retransmits = instruments.counter("obi.tcp.retransmits", "{segment}",
                "TCP segments retransmitted on a connection while one of its HTTP exchanges was open,"
                        + " or after a response was all written while its tail had not arrived");
        resets = instruments.counter("obi.tcp.resets", "{reset}",
                "TCP resets sent or received on a connection while one of its HTTP exchanges was open");
        rtt = instruments.histogram("obi.tcp.rtt", "s",
                "Smoothed round-trip time of the connection when an HTTP exchange ended", RTT_BUCKETS);
        connectDuration = instruments.histogram("obi.tcp.connect.duration", "s",
                "Client connections: first SYN to ESTABLISHED, SYN retries included", DURATION_BUCKETS);
        connectionDuration = instruments.histogram("obi.tcp.connection.duration", "s",
                "Lifetime of connections that carried HTTP, ESTABLISHED to close, by who closed first",
                CONNECTION_BUCKETS);
        serverPhases = instruments.histogram("obi.http.server.phase.duration", "s",
                "Where server requests' time went, by phase (obi.phase): accept and receive queues,"
                        + " request transfer, processing, response transfer, wait for the response's ACK",
                DURATION_BUCKETS);
        slowRequests = instruments.counter("obi.http.server.slow_requests", "{request}",
                "Server requests slower than obi.slow.threshold in the host, by cause (obi.slow.cause)");
        sent = instruments.counter("obi.http.sent", "By",
                "Bytes written by the observed process during HTTP exchanges, heads included");
    }

    /**
     * The exchange's span becomes the exemplar of the duration, RTT, connect and time-to-abandon
     * histograms (when it is sampled); the phases get none: no dashboard shows them, and keeping one
     * costs more than the measurement, three to four times per request.
     */
    public void record(ExchangeReport report) {
        HttpExchange e = report.exchange();
        ObservedSocket socket = e.socket();
        boolean server = socket.direction() == Direction.SERVER;
        RequestCells request = requestCells(e, server);
        request.duration().record(e.durationNs() / NANOS_PER_SECOND, report);

        SocketCells cells = request.socket();
        cells.received().add(e.bytesIn());
        cells.sent().add(e.bytesOut());
        TcpEvidence t = e.tcp();
        if (t.retransmits() > 0) {
            cells.retransmits().add(t.retransmits());
        }
        if (t.resetSent()) {
            cells.resetsSent().add(1);
        }
        if (t.resetReceived()) {
            cells.resetsReceived().add(1);
        }
        if (t.rttUs() != null) {
            cells.rtt().record(t.rttUs() / 1e6, report);
        }
        if (t.connectNs() != null) {
            cells.connect().record(t.connectNs() / NANOS_PER_SECOND, report);
        }
        RouteCells route = request.route();
        if (route != null) {
            route.requests().add(1);
            e.phases().forEach((phase, ns) -> route.phases()[phase.ordinal()].record(ns / NANOS_PER_SECOND, null));
            if (report.slowCause() != null) {
                route.slowCauses()[report.slowCause().ordinal()].add(1);
            }
        }
        if (e.aborted() && e.abortKind() != null) {
            Attributes service = cells.service();
            AttributesBuilder kind = service.toBuilder().put(ABORT_KIND, e.abortKind().wireName());
            if (e.route() != null) {
                kind.put(ROUTE, e.route());
            }
            if (e.status() != null) {
                kind.put(STATUS, e.status().longValue()); // 499, or the status written after the client left
            }
            abandoned.series(kind.build()).add(1);
            if (e.timeToAbandonNs() != null) {
                timeToAbandon.series(service.toBuilder().put(ABORT_KIND, e.abortKind().wireName()).build())
                        .record(e.timeToAbandonNs() / NANOS_PER_SECOND, report);
            }
        }
    }

    /** Connections older than the agent are left out: their lifetime is not known. */
    public void connectionClosed(ConnectionSummary c) {
        if (c.lifetimeFromEstablished()) {
            connectionDuration.series(socketCells(c.socket()).peer().toBuilder().put(CLOSED_BY, c.closedBy()).build())
                    .record(c.durationNs() / NANOS_PER_SECOND, null);
        }
    }

    /** The wait for a response's ACK is a phase of its request; a wait that made it slow counts it as slow. */
    public void responseAcked(ResponseAckedReport r) {
        HttpExchange e = r.exchange();
        if (e == null || e.route() == null) {
            return;
        }
        RouteCells route = serverRoute(socketCells(e.socket()).service(), e.socket().service(), e.route());
        route.phases()[Phase.ACK_WAIT.ordinal()].record(r.acked().ackWaitNs() / NANOS_PER_SECOND, null);
        if (r.slowCause() != null) {
            route.slowCauses()[r.slowCause().ordinal()].add(1);
        }
    }

    public void retransmittedAfterResponse(LateRetransmit r) {
        socketCells(r.socket()).retransmits().add(1);
    }

    /**
     * The service and its side (bytes), and for a client the server it called (TCP facts). A series
     * seen for the first time starts its TCP counters at 0 (again after the cache was cleared: adding
     * 0 changes nothing).
     */
    private SocketCells socketCells(ObservedSocket o) {
        boolean server = o.direction() == Direction.SERVER;
        SocketSeries key = new SocketSeries(o.service(), server, server ? null : o.peerAddress());
        SocketCells known = sockets.get(key);
        if (known != null) {
            return known;
        }
        Attributes service = base(o.service()).put(DIRECTION, direction(server)).build();
        Attributes peer = server ? service : service.toBuilder().put(SERVER_ADDRESS, o.peerAddress()).build();
        SocketCells cells = new SocketCells(service, peer, received.onFirstUse(service), sent.onFirstUse(service),
                retransmits.series(peer), resets.series(peer.toBuilder().put(RESET_DIRECTION, "sent").build()),
                resets.series(peer.toBuilder().put(RESET_DIRECTION, "received").build()), rtt.onFirstUse(peer),
                connectDuration.onFirstUse(peer));
        // Retransmits and resets come in bursts: each service and peer starts at 0.
        cells.retransmits().add(0);
        cells.resetsSent().add(0);
        cells.resetsReceived().add(0);
        return sockets.put(key, cells);
    }

    /**
     * A counter series that first appears with a burst (a route's first 499s, in the middle of an
     * incident) is invisible to rate() and increase(): they need a sample before the burst. Every
     * server route gets its 499 series at 0 when it is first seen.
     */
    private RouteCells serverRoute(Attributes service, String serviceName, String route) {
        RouteKey key = new RouteKey(serviceName, route);
        RouteCells known = serverRoutes.get(key);
        if (known != null) {
            return known;
        }
        Attributes attributes = service.toBuilder().put(ROUTE, route).build();
        Instruments.HistogramSeries[] phases = new Instruments.HistogramSeries[PHASES.length];
        for (Phase phase : PHASES) {
            phases[phase.ordinal()] = serverPhases.onFirstUse(attributes.toBuilder().put(PHASE, phase.wireName())
                    .build());
        }
        Instruments.CounterSeries[] causes = new Instruments.CounterSeries[SLOW_CAUSES.length];
        for (SlowCause cause : SLOW_CAUSES) {
            causes[cause.ordinal()] = slowRequests.series(attributes.toBuilder().put(SLOW_CAUSE, cause.wireName())
                    .build());
            causes[cause.ordinal()].add(0); // a table of causes needs them all from the start
        }
        Instruments.CounterSeries requests = serverRequests.series(attributes);
        requests.add(0);
        startAbandonedAtZero(service, route);
        return serverRoutes.put(key, new RouteCells(requests, phases, causes));
    }

    private void startAbandonedAtZero(Attributes service, String route) {
        for (AbortKind kind : SERVER_ABORT_KINDS) {
            abandoned.series(service.toBuilder().put(ABORT_KIND, kind.wireName()).put(ROUTE, route)
                    .put(STATUS, (long) Verdict.CLIENT_CLOSED_REQUEST).build()).add(0);
        }
    }

    private AttributesBuilder base(String service) {
        return serviceAttribute ? Attributes.builder().put(SERVICE, service) : Attributes.builder();
    }

    private RequestCells requestCells(HttpExchange e, boolean server) {
        ObservedSocket socket = e.socket();
        RequestSeries key = new RequestSeries(socket.service(), server, e.method(),
                e.status() == null ? NO_STATUS : e.status(), e.route(), SemanticConventions.scheme(e),
                server ? null : socket.peerAddress(), server ? socket.localPort() : socket.peerPort(),
                SemanticConventions.errorType(e), server && peerAddresses ? socket.peerAddress() : null);
        RequestCells known = requests.get(key);
        if (known != null) {
            return known;
        }
        SocketCells socketCells = socketCells(socket);
        return requests.put(key, new RequestCells((server ? serverDuration : clientDuration)
                .series(requestAttributes(key)), socketCells,
                server && e.route() != null ? serverRoute(socketCells.service(), socket.service(), e.route()) : null));
    }

    private Attributes requestAttributes(RequestSeries k) {
        AttributesBuilder a = base(k.service());
        a.put(METHOD, k.method() != null && KNOWN_METHODS.contains(k.method()) ? k.method() : "_OTHER");
        if (k.status() != NO_STATUS) {
            a.put(STATUS, (long) k.status());
        }
        if (k.route() != null) {
            a.put(ROUTE, k.route());
        }
        a.put(URL_SCHEME, k.scheme());
        if (k.serverAddress() != null) {
            a.put(SERVER_ADDRESS, k.serverAddress());
        }
        a.put(SERVER_PORT, k.serverPort());
        if (k.error() != null) {
            a.put(ERROR_TYPE, k.error());
        }
        if (k.clientAddress() != null) {
            a.put(CLIENT_ADDRESS, k.clientAddress());
        }
        return a.build();
    }

    private static String direction(boolean server) {
        return server ? "server" : "client";
    }
}
