package lab.obi.agent.sink.metrics;

import io.opentelemetry.api.common.AttributeKey;
import io.opentelemetry.api.common.Attributes;
import io.opentelemetry.api.common.AttributesBuilder;
import io.opentelemetry.api.metrics.DoubleHistogram;
import io.opentelemetry.api.metrics.LongCounter;
import io.opentelemetry.api.metrics.Meter;
import io.opentelemetry.context.Context;
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
    /**
     * What measurements without an exemplar are recorded in. Given explicitly: the SDK would look up
     * the thread's current context (always the root here) on each call. A histogram offered a sampled
     * span takes it as an exemplar, which costs more than the measurement itself, so only the
     * histograms whose exemplars a dashboard shows get the exchange's context.
     */
    private static final Context NO_EXEMPLAR = Context.root();
    private static final int NO_STATUS = -1;

    private final DoubleHistogram serverDuration;
    private final DoubleHistogram clientDuration;
    private final LongCounter abandoned;
    private final LongCounter serverRequests;
    private final DoubleHistogram timeToAbandon;
    private final LongCounter received;
    private final LongCounter sent;
    private final LongCounter retransmits;
    private final LongCounter resets;
    private final DoubleHistogram rtt;
    private final DoubleHistogram connectDuration;
    private final DoubleHistogram connectionDuration;
    private final DoubleHistogram serverPhases;
    private final LongCounter slowRequests;

    /** What a client's abandon looks like at a server: it closed (FIN) or reset (RST) the connection. */
    private static final List<AbortKind> SERVER_ABORT_KINDS = List.of(AbortKind.FIN, AbortKind.RST);

    private static final AttributeKey<String> PHASE = AttributeKey.stringKey("obi.phase");
    private static final AttributeKey<String> SLOW_CAUSE = AttributeKey.stringKey("obi.slow.cause");
    private static final Phase[] PHASES = Phase.values();
    private static final SlowCause[] SLOW_CAUSES = SlowCause.values();

    /**
     * Attribute sets are built once per series, not per request: building one sorts and copies its
     * keys, which cost more than recording the measurement. Bounded by the SDK's own cardinality limit.
     */
    private static final int MAX_CACHED_SERIES = 2000;

    /** What a request's duration is counted by. */
    private record RequestSeries(String service, boolean server, String method, int status, String route, String scheme,
                                 String serverAddress, int serverPort, String error, String clientAddress) {
    }

    /** What a process's bytes and TCP facts are counted by: its service and side, for a client the server it called. */
    private record SocketSeries(String service, boolean server, String serverAddress) {
    }

    /** The two attribute sets of a {@link SocketSeries}. */
    private record SocketAttributes(Attributes service, Attributes peer) {
    }

    /** A server route: every request counts in obi.http.server.requests, its phases and slow causes by route. */
    private record RouteKey(String service, String route) {
    }

    /** A server route's attribute sets: the route's, one per phase, one per slow cause. */
    private record RouteSeries(Attributes route, Attributes[] phases, Attributes[] slowCauses) {
    }

    private final SeriesCache<RequestSeries, Attributes> requests = new SeriesCache<>(MAX_CACHED_SERIES);
    private final SeriesCache<SocketSeries, SocketAttributes> sockets = new SeriesCache<>(MAX_CACHED_SERIES);
    private final SeriesCache<RouteKey, RouteSeries> serverRoutes = new SeriesCache<>(MAX_CACHED_SERIES);
    private final boolean serviceAttribute;
    private final boolean peerAddresses;

    /**
     * @param serviceAttribute label points with service.name: where the resource is the agent, not the process
     * @param peerAddresses    label server requests with client.address
     */
    public HttpMetrics(Meter meter, boolean serviceAttribute, boolean peerAddresses) {
        this.serviceAttribute = serviceAttribute;
        this.peerAddresses = peerAddresses;
        serverDuration = meter.histogramBuilder("http.server.request.duration").setUnit("s")
                .setDescription("Duration of HTTP server requests, as the kernel saw them")
                .setExplicitBucketBoundariesAdvice(DURATION_BUCKETS).build();
        clientDuration = meter.histogramBuilder("http.client.request.duration").setUnit("s")
                .setDescription("Duration of HTTP client requests, as the kernel saw them")
                .setExplicitBucketBoundariesAdvice(DURATION_BUCKETS).build();
        serverRequests = meter.counterBuilder("obi.http.server.requests").setUnit("{request}")
                .setDescription("Server requests per route, started at 0 when a route is first seen, like the 499s"
                        + " of obi.http.abandoned: the denominator of a 499 ratio that rate() gets exactly").build();
        abandoned = meter.counterBuilder("obi.http.abandoned").setUnit("{request}")
                .setDescription("Requests their peer gave up on, by abort kind and the status the server wrote"
                        + " (499: none before the client left)").build();
        timeToAbandon = meter.histogramBuilder("obi.http.time_to_abandon").setUnit("s")
                .setDescription("From the first request byte to the moment the request was abandoned")
                .setExplicitBucketBoundariesAdvice(DURATION_BUCKETS).build();
        received = meter.counterBuilder("obi.http.received").setUnit("By")
                .setDescription("Bytes read by the observed process during HTTP exchanges, heads included").build();
        retransmits = meter.counterBuilder("obi.tcp.retransmits").setUnit("{segment}")
                .setDescription("TCP segments retransmitted on a connection while one of its HTTP exchanges was open,"
                        + " or after a response was all written while its tail had not arrived")
                .build();
        resets = meter.counterBuilder("obi.tcp.resets").setUnit("{reset}")
                .setDescription("TCP resets sent or received on a connection while one of its HTTP exchanges was open")
                .build();
        rtt = meter.histogramBuilder("obi.tcp.rtt").setUnit("s")
                .setDescription("Smoothed round-trip time of the connection when an HTTP exchange ended")
                .setExplicitBucketBoundariesAdvice(RTT_BUCKETS).build();
        connectDuration = meter.histogramBuilder("obi.tcp.connect.duration").setUnit("s")
                .setDescription("Client connections: first SYN to ESTABLISHED, SYN retries included")
                .setExplicitBucketBoundariesAdvice(DURATION_BUCKETS).build();
        connectionDuration = meter.histogramBuilder("obi.tcp.connection.duration").setUnit("s")
                .setDescription("Lifetime of connections that carried HTTP, ESTABLISHED to close, by who closed first")
                .setExplicitBucketBoundariesAdvice(CONNECTION_BUCKETS).build();
        serverPhases = meter.histogramBuilder("obi.http.server.phase.duration").setUnit("s")
                .setDescription("Where server requests' time went, by phase (obi.phase): accept and receive queues,"
                        + " request transfer, processing, response transfer, wait for the response's ACK")
                .setExplicitBucketBoundariesAdvice(DURATION_BUCKETS).build();
        slowRequests = meter.counterBuilder("obi.http.server.slow_requests").setUnit("{request}")
                .setDescription("Server requests slower than obi.slow.threshold in the host, by cause (obi.slow.cause)")
                .build();
        sent = meter.counterBuilder("obi.http.sent").setUnit("By")
                .setDescription("Bytes written by the observed process during HTTP exchanges, heads included").build();
    }

    /** The exchange's span becomes the exemplar of the duration, RTT, connect and time-to-abandon histograms. */
    public void record(ExchangeReport report) {
        HttpExchange e = report.exchange();
        Context context = report.context();
        ObservedSocket socket = e.socket();
        boolean server = socket.direction() == Direction.SERVER;
        double seconds = e.durationNs() / NANOS_PER_SECOND;
        (server ? serverDuration : clientDuration).record(seconds, requestAttributes(e, server), context);

        SocketAttributes series = socketAttributes(socket);
        Attributes service = series.service();
        received.add(e.bytesIn(), service, NO_EXEMPLAR);
        sent.add(e.bytesOut(), service, NO_EXEMPLAR);
        TcpEvidence t = e.tcp();
        Attributes peer = series.peer();
        if (t.retransmits() > 0) {
            retransmits.add(t.retransmits(), peer, NO_EXEMPLAR);
        }
        if (t.resetSent()) {
            resets.add(1, peer.toBuilder().put(RESET_DIRECTION, "sent").build());
        }
        if (t.resetReceived()) {
            resets.add(1, peer.toBuilder().put(RESET_DIRECTION, "received").build());
        }
        if (t.rttUs() != null) {
            rtt.record(t.rttUs() / 1e6, peer, context);
        }
        if (t.connectNs() != null) {
            connectDuration.record(t.connectNs() / NANOS_PER_SECOND, peer, context);
        }
        if (server && e.route() != null) {
            RouteSeries route = serverRoute(service, socket.service(), e.route());
            serverRequests.add(1, route.route(), NO_EXEMPLAR);
            e.phases().forEach((phase, ns) -> serverPhases.record(ns / NANOS_PER_SECOND,
                    route.phases()[phase.ordinal()], NO_EXEMPLAR));
            if (report.slowCause() != null) {
                slowRequests.add(1, route.slowCauses()[report.slowCause().ordinal()], NO_EXEMPLAR);
            }
        }
        if (e.aborted() && e.abortKind() != null) {
            AttributesBuilder kind = service.toBuilder().put(ABORT_KIND, e.abortKind().wireName());
            if (e.route() != null) {
                kind.put(ROUTE, e.route());
            }
            if (e.status() != null) {
                kind.put(STATUS, e.status().longValue()); // 499, or the status written after the client left
            }
            abandoned.add(1, kind.build());
            if (e.timeToAbandonNs() != null) {
                timeToAbandon.record(e.timeToAbandonNs() / NANOS_PER_SECOND,
                        service.toBuilder().put(ABORT_KIND, e.abortKind().wireName()).build(), context);
            }
        }
    }

    /** Connections older than the agent are left out: their lifetime is not known. */
    public void connectionClosed(ConnectionSummary c) {
        if (c.lifetimeFromEstablished()) {
            connectionDuration.record(c.durationNs() / NANOS_PER_SECOND,
                    socketAttributes(c.socket()).peer().toBuilder().put(CLOSED_BY, c.closedBy()).build());
        }
    }

    /** The wait for a response's ACK is a phase of its request; a wait that made it slow counts it as slow. */
    public void responseAcked(ResponseAckedReport r) {
        HttpExchange e = r.exchange();
        if (e == null || e.route() == null) {
            return;
        }
        RouteSeries route = serverRoute(socketAttributes(e.socket()).service(), e.socket().service(), e.route());
        serverPhases.record(r.acked().ackWaitNs() / NANOS_PER_SECOND, route.phases()[Phase.ACK_WAIT.ordinal()],
                NO_EXEMPLAR);
        if (r.slowCause() != null) {
            slowRequests.add(1, route.slowCauses()[r.slowCause().ordinal()], NO_EXEMPLAR);
        }
    }

    public void retransmittedAfterResponse(LateRetransmit r) {
        retransmits.add(1, socketAttributes(r.socket()).peer());
    }

    /**
     * The service and its side (bytes), and for a client the server it called (TCP facts). A series
     * seen for the first time starts its TCP counters at 0 (again after the cache was cleared: adding
     * 0 changes nothing).
     */
    private SocketAttributes socketAttributes(ObservedSocket o) {
        boolean server = o.direction() == Direction.SERVER;
        SocketSeries key = new SocketSeries(o.service(), server, server ? null : o.peerAddress());
        SocketAttributes known = sockets.get(key);
        if (known != null) {
            return known;
        }
        Attributes service = base(o.service()).put(DIRECTION, direction(server)).build();
        Attributes peer = server ? service : service.toBuilder().put(SERVER_ADDRESS, o.peerAddress()).build();
        startTcpAtZero(peer);
        return sockets.put(key, new SocketAttributes(service, peer));
    }

    /**
     * A counter series that first appears with a burst (a route's first 499s, in the middle of an
     * incident) is invisible to rate() and increase(): they need a sample before the burst. Every
     * server route gets its 499 series at 0 when it is first seen.
     */
    private RouteSeries serverRoute(Attributes service, String serviceName, String route) {
        RouteKey key = new RouteKey(serviceName, route);
        RouteSeries known = serverRoutes.get(key);
        if (known != null) {
            return known;
        }
        Attributes attributes = service.toBuilder().put(ROUTE, route).build();
        Attributes[] phases = new Attributes[PHASES.length];
        for (Phase phase : PHASES) {
            phases[phase.ordinal()] = attributes.toBuilder().put(PHASE, phase.wireName()).build();
        }
        Attributes[] causes = new Attributes[SLOW_CAUSES.length];
        for (SlowCause cause : SLOW_CAUSES) {
            causes[cause.ordinal()] = attributes.toBuilder().put(SLOW_CAUSE, cause.wireName()).build();
            slowRequests.add(0, causes[cause.ordinal()]); // a table of causes needs them all from the start
        }
        serverRequests.add(0, attributes);
        startAbandonedAtZero(service, route);
        return serverRoutes.put(key, new RouteSeries(attributes, phases, causes));
    }

    private void startAbandonedAtZero(Attributes service, String route) {
        for (AbortKind kind : SERVER_ABORT_KINDS) {
            abandoned.add(0, service.toBuilder().put(ABORT_KIND, kind.wireName()).put(ROUTE, route)
                    .put(STATUS, (long) Verdict.CLIENT_CLOSED_REQUEST).build());
        }
    }

    /** Retransmits and resets come in bursts too: each service and peer starts at 0. */
    private void startTcpAtZero(Attributes peer) {
        retransmits.add(0, peer);
        resets.add(0, peer.toBuilder().put(RESET_DIRECTION, "sent").build());
        resets.add(0, peer.toBuilder().put(RESET_DIRECTION, "received").build());
    }

    private AttributesBuilder base(String service) {
        return serviceAttribute ? Attributes.builder().put(SERVICE, service) : Attributes.builder();
    }

    private Attributes requestAttributes(HttpExchange e, boolean server) {
        ObservedSocket socket = e.socket();
        RequestSeries key = new RequestSeries(socket.service(), server, e.method(),
                e.status() == null ? NO_STATUS : e.status(), e.route(), SemanticConventions.scheme(e),
                server ? null : socket.peerAddress(), server ? socket.localPort() : socket.peerPort(),
                SemanticConventions.errorType(e), server && peerAddresses ? socket.peerAddress() : null);
        Attributes known = requests.get(key);
        return known != null ? known : requests.put(key, requestAttributes(key));
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
