package lab.obi.agent.sink.otlp.spans;

import io.opentelemetry.api.common.AttributeKey;
import io.opentelemetry.api.common.Attributes;
import io.opentelemetry.api.common.AttributesBuilder;
import io.opentelemetry.api.trace.SpanContext;
import io.opentelemetry.api.trace.SpanKind;
import io.opentelemetry.api.trace.TraceFlags;
import io.opentelemetry.api.trace.TraceState;
import io.opentelemetry.api.trace.StatusCode;
import io.opentelemetry.sdk.common.InstrumentationScopeInfo;
import io.opentelemetry.sdk.resources.Resource;
import io.opentelemetry.sdk.trace.IdGenerator;
import io.opentelemetry.sdk.trace.data.EventData;
import io.opentelemetry.sdk.trace.data.StatusData;
import lab.obi.agent.config.AgentConfig.Traces.Otlp.Detail;
import lab.obi.agent.process.ObservedSocket;
import lab.obi.agent.process.ObservedSocket.Direction;
import lab.obi.agent.report.ExchangeReport;
import lab.obi.agent.report.HttpExchange;
import lab.obi.agent.report.LateRetransmit;
import lab.obi.agent.report.LateRetransmitReport;
import lab.obi.agent.report.Phase;
import lab.obi.agent.report.Phases;
import lab.obi.agent.report.ResponseAcked;
import lab.obi.agent.report.ResponseAckedReport;
import lab.obi.agent.report.SlowCause;
import lab.obi.agent.report.TcpEvidence;
import lab.obi.agent.sink.SemanticConventions;
import lab.obi.agent.sink.Tail;
import lab.obi.agent.sink.otlp.ProcessResources;

import java.util.ArrayList;
import java.util.Arrays;
import java.util.Comparator;
import java.util.List;

import static lab.obi.agent.sink.SemanticConventions.INTERFACE;
import static lab.obi.agent.sink.SemanticConventions.INTERFACE_CAUSE;

/**
 * One span per exchange, with the observed process as its resource and the ids the assembly gave
 * it, its phases as attributes; a slow one's phases as child spans too; one per retransmit after a
 * response and one for a late ACK of it, children of that response's server span.
 */
final class ExchangeSpans {

    private static final InstrumentationScopeInfo SCOPE = InstrumentationScopeInfo.create("lab.obi.agent");
    static final String ABANDONED_EVENT = "obi.abandoned";
    static final String RETRANSMIT_EVENT = "obi.tcp.retransmit";
    static final String RESET_EVENT = "obi.tcp.reset";
    static final String LATE_RETRANSMIT_SPAN = "TCP retransmit after response";
    static final String INTERFACE_DOWN_EVENT = "obi.network.interface.down";
    static final String INTERFACE_UP_EVENT = "obi.network.interface.up";
    static final String ACK_WAIT_SPAN = "TCP wait for the response's ACK";
    static final AttributeKey<String> SLOW_CAUSE = AttributeKey.stringKey("obi.slow.cause");
    static final AttributeKey<String> PHASE = AttributeKey.stringKey("obi.phase");
    /*
     * Keys made once: the OTLP exporter caches a key's UTF-8 bytes in the key, so a key made per span
     * is encoded again for every span it labels.
     */
    private static final AttributeKey<Boolean> NEW_CONNECTION = AttributeKey.booleanKey("obi.connection.new");
    private static final AttributeKey<Boolean> RESET_RECEIVED = AttributeKey.booleanKey("obi.tcp.reset_received");
    private static final AttributeKey<Boolean> RESET_SENT = AttributeKey.booleanKey("obi.tcp.reset_sent");
    private static final AttributeKey<Boolean> TRUNCATED = AttributeKey.booleanKey("obi.response.truncated");
    private static final AttributeKey<Double> CONNECT_DURATION = AttributeKey.doubleKey("obi.tcp.connect.duration");
    private static final AttributeKey<Double> OUTAGE_DURATION = AttributeKey.doubleKey("obi.network.interface.outage.duration");
    private static final AttributeKey<Double> RTT = AttributeKey.doubleKey("obi.tcp.rtt");
    private static final AttributeKey<Double> TIME_TO_ABANDON = AttributeKey.doubleKey("obi.time_to_abandon");
    private static final AttributeKey<List<String>> OUTAGES = AttributeKey.stringArrayKey("obi.network.interface.outages");
    private static final AttributeKey<Long> BYTES_IN = AttributeKey.longKey("obi.bytes_in");
    private static final AttributeKey<Long> BYTES_OUT = AttributeKey.longKey("obi.bytes_out");
    private static final AttributeKey<Long> CLIENT_PORT = AttributeKey.longKey("client.port");
    private static final AttributeKey<Long> CONNECTION_ID = AttributeKey.longKey("obi.connection.id");
    private static final AttributeKey<Long> PEER_PORT = AttributeKey.longKey("network.peer.port");
    private static final AttributeKey<Long> REQUEST_INDEX = AttributeKey.longKey("obi.connection.request_index");
    private static final AttributeKey<Long> RETRANSMITS = AttributeKey.longKey("obi.tcp.retransmits");
    private static final AttributeKey<Long> SYN_RETRANSMITS = AttributeKey.longKey("obi.tcp.syn_retransmits");
    private static final AttributeKey<String> PEER_ADDRESS = AttributeKey.stringKey("network.peer.address");
    private static final AttributeKey<String> RESET = AttributeKey.stringKey("obi.tcp.reset");
    private static final AttributeKey<String> RETRANSMIT = AttributeKey.stringKey("obi.tcp.retransmit");
    private static final AttributeKey<String> USER_AGENT = AttributeKey.stringKey("user_agent.original");

    private static final Phase[] PHASES = Phase.values();
    /** obi.phase.accept_queue.duration and the like, in seconds, on every exchange's span. */
    private static final List<AttributeKey<Double>> PHASE_DURATIONS = Arrays.stream(PHASES)
            .map(p -> AttributeKey.doubleKey("obi.phase." + p.wireName() + ".duration")).toList();
    /** A slow request's phases as child spans, named for Jaeger's timeline. */
    private static final List<String> PHASE_SPAN_NAMES = Arrays.stream(PHASES)
            .map(p -> p.wireName().replace('_', ' ')).toList();

    private final IdGenerator ids = IdGenerator.random();

    private final ProcessResources resources;
    private final Detail detail;

    ExchangeSpans(ProcessResources resources, Detail detail) {
        this.resources = resources;
        this.detail = detail;
    }

    ExchangeSpan toSpan(ExchangeReport report) {
        HttpExchange e = report.exchange();
        boolean server = e.socket().direction() == Direction.SERVER;
        String errorType = SemanticConventions.errorType(e);
        StatusData status = errorType == null ? StatusData.unset()
                : StatusData.create(StatusCode.ERROR, e.aborted() ? "abandoned: " + errorType : errorType);
        return new ExchangeSpan(name(e), server ? SpanKind.SERVER : SpanKind.CLIENT, report.span(),
                report.parent(), status,
                e.startUnixNs(), attributes(e, server, errorType, report.slowCause(),
                        detail == Detail.ALL || Tail.wentWrongOrSlow(report)), events(e),
                e.endUnixNs(), resources.of(e.socket()), SCOPE);
    }

    /**
     * A slow request's phases as child spans of its own, so Jaeger's timeline shows where the time
     * went: the queues before the request's start, then its transfers and processing.
     */
    List<ExchangeSpan> phaseSpans(ExchangeReport report) {
        HttpExchange e = report.exchange();
        Phases p = e.phases();
        List<ExchangeSpan> children = new ArrayList<>();
        Resource resource = resources.of(e.socket());
        long at = e.startUnixNs() - p.beforeStartNs();
        for (Phase phase : PHASES) {
            Long ns = p.ns(phase);
            if (ns == null) {
                continue;
            }
            if (ns > 0) {
                SpanContext span = SpanContext.create(report.span().getTraceId(), ids.generateSpanId(),
                        TraceFlags.getSampled(), TraceState.getDefault());
                children.add(new ExchangeSpan(PHASE_SPAN_NAMES.get(phase.ordinal()), SpanKind.INTERNAL, span,
                        report.span(), StatusData.unset(), at, Attributes.of(PHASE, phase.wireName()), List.of(),
                        at + ns, resource, SCOPE));
            }
            at += ns;
        }
        return children;
    }

    /** The wait for a response's ACK, after the server's span, in its trace. */
    ExchangeSpan ackWaitSpan(ResponseAckedReport report) {
        ResponseAcked a = report.acked();
        AttributesBuilder attributes = Attributes.builder()
                .put(PHASE, Phase.ACK_WAIT.wireName())
                .put(PHASE_DURATIONS.get(Phase.ACK_WAIT.ordinal()), a.ackWaitNs() / 1e9)
                .put(RETRANSMITS, a.retransmits())
                .put(CONNECTION_ID, a.connId())
                .put(REQUEST_INDEX, a.requestIndex());
        if (a.rttUs() != null) {
            attributes.put(RTT, a.rttUs() / 1e6);
        }
        if (report.slowCause() != null) {
            attributes.put(SLOW_CAUSE, report.slowCause().wireName());
        }
        return new ExchangeSpan(ACK_WAIT_SPAN, SpanKind.INTERNAL, report.span(), report.parent(), StatusData.unset(),
                a.endUnixNs(), attributes.build(), List.of(), a.ackedUnixNs(), resources.of(a.socket()), SCOPE);
    }

    /** A retransmit after the response, at its moment, in the trace of the server exchange it belongs to. */
    ExchangeSpan lateRetransmitSpan(LateRetransmitReport report) {
        LateRetransmit r = report.retransmit();
        AttributesBuilder a = Attributes.builder()
                .put(RETRANSMIT, "after_response")
                .put(PEER_ADDRESS, r.socket().peerAddress())
                .put(PEER_PORT, r.socket().peerPort())
                .put(CONNECTION_ID, r.connId())
                .put(REQUEST_INDEX, r.requestIndex());
        if (r.rttUs() != null) {
            a.put(RTT, r.rttUs() / 1e6);
        }
        return new ExchangeSpan(LATE_RETRANSMIT_SPAN, SpanKind.INTERNAL, report.span(), report.parent(),
                StatusData.unset(), r.atUnixNs(), a.build(), List.of(), r.atUnixNs(), resources.of(r.socket()), SCOPE);
    }

    /**
     * The moments that explain a slow or abandoned request, on its time axis: interface outages,
     * the first and last retransmit, a reset, the abandon itself.
     */
    static List<EventData> events(HttpExchange e) {
        List<EventData> events = new ArrayList<>();
        TcpEvidence t = e.tcp();
        for (TcpEvidence.Outage o : t.interfaceOutages()) {
            AttributesBuilder a = Attributes.builder().put(INTERFACE, o.interfaceName()).put(INTERFACE_CAUSE, o.cause());
            if (o.durationNs() != null) {
                a.put(OUTAGE_DURATION, o.durationNs() / 1e9);
            }
            events.add(EventData.create(o.downUnixNs(), INTERFACE_DOWN_EVENT, a.build()));
            if (o.durationNs() != null) {
                events.add(EventData.create(o.downUnixNs() + o.durationNs(), INTERFACE_UP_EVENT,
                        Attributes.of(INTERFACE, o.interfaceName())));
            }
        }
        if (t.firstRetransmitUnixNs() != null) {
            events.add(EventData.create(t.firstRetransmitUnixNs(), RETRANSMIT_EVENT,
                    Attributes.of(RETRANSMIT, "first",
                            RETRANSMITS, (long) t.retransmits())));
            if (t.retransmits() > 1 && t.lastRetransmitUnixNs() != null) {
                events.add(EventData.create(t.lastRetransmitUnixNs(), RETRANSMIT_EVENT,
                        Attributes.of(RETRANSMIT, "last",
                                RETRANSMITS, (long) t.retransmits())));
            }
        }
        if (t.resetReceivedUnixNs() != null) {
            events.add(EventData.create(t.resetReceivedUnixNs(), RESET_EVENT,
                    Attributes.of(RESET, "received")));
        }
        if (e.aborted() && e.abortKind() != null && e.timeToAbandonNs() != null) {
            events.add(EventData.create(e.startUnixNs() + e.timeToAbandonNs(), ABANDONED_EVENT, Attributes.of(
                    SemanticConventions.ABORT_KIND, e.abortKind().wireName(),
                    TIME_TO_ABANDON, e.timeToAbandonNs() / 1e9)));
        }
        events.sort(Comparator.comparingLong(EventData::getEpochNanos));
        return List.copyOf(events);
    }

    private static String name(HttpExchange e) {
        if (e.method() == null) {
            return "HTTP";
        }
        return e.route() == null ? e.method() : e.method() + " " + e.route();
    }

    /**
     * detailed: every attribute; else the request's own and its place on its connection. At a span
     * per request (JDK backend at saturation, 2-core lab host), decoding ~20 attributes a span took
     * the Collector 14% of a core; with 12 on the spans of exchanges that went well (their bytes and
     * RTT, and a server's phases, are in the metrics' histograms), 10%, the agent used 2 points of a
     * core less and the backend served 16-21% more requests.
     */
    private static Attributes attributes(HttpExchange e, boolean server, String errorType, SlowCause slowCause,
                                         boolean detailed) {
        ObservedSocket socket = e.socket();
        SpanAttributes.Builder a = new SpanAttributes.Builder();
        a.put(SemanticConventions.METHOD, e.method());
        a.put(SemanticConventions.ROUTE, e.route());
        if (e.status() != null) {
            a.put(SemanticConventions.STATUS, e.status().longValue());
        }
        a.put(SemanticConventions.ERROR_TYPE, errorType);
        a.put(USER_AGENT, e.userAgent());
        a.put(SemanticConventions.URL_SCHEME, SemanticConventions.scheme(e));
        // network.protocol.name is left out: the conventions ask for it only when it is not "http"
        a.put(SemanticConventions.PROTOCOL_VERSION, e.httpVersion());
        if (server) {
            a.put(SemanticConventions.SERVER_ADDRESS, e.host());
            a.put(SemanticConventions.SERVER_PORT, socket.localPort());
            a.put(SemanticConventions.CLIENT_ADDRESS, socket.peerAddress());
            a.put(CLIENT_PORT, socket.peerPort());
        } else {
            a.put(SemanticConventions.SERVER_ADDRESS, socket.peerAddress());
            a.put(SemanticConventions.SERVER_PORT, socket.peerPort());
        }
        /*
         * network.peer.* is left out: it would repeat client.* (server spans) or server.* (client
         * spans), the socket's peer either way. Every attribute costs a span's export and the
         * Collector's decoding, at a span per request.
         */
        a.put(CONNECTION_ID, e.connId());
        a.put(REQUEST_INDEX, e.requestIndex());
        if (!detailed) {
            return a.build();
        }
        a.put(BYTES_IN, e.bytesIn());
        a.put(BYTES_OUT, e.bytesOut());
        TcpEvidence t = e.tcp();
        if (t.retransmits() > 0) {
            a.put(RETRANSMITS, t.retransmits());
        }
        if (t.resetSent()) {
            a.put(RESET_SENT, true);
        }
        if (t.resetReceived()) {
            a.put(RESET_RECEIVED, true);
        }
        if (t.rttUs() != null) {
            a.put(RTT, t.rttUs() / 1e6);
        }
        a.put(NEW_CONNECTION, e.onNewConnection());
        if (t.connectNs() != null) {
            a.put(CONNECT_DURATION, t.connectNs() / 1e9);
            a.put(SYN_RETRANSMITS, t.synRetransmits());
        }
        if (!t.interfaceOutages().isEmpty()) {
            a.put(OUTAGES,
                    t.interfaceOutages().stream().map(TcpEvidence.Outage::interfaceName).distinct().toList());
        }
        if (e.truncated()) {
            a.put(TRUNCATED, true);
        }
        e.phases().forEach((phase, ns) -> a.put(PHASE_DURATIONS.get(phase.ordinal()), ns / 1e9));
        if (slowCause != null) {
            a.put(SLOW_CAUSE, slowCause.wireName());
        }
        return a.build();
    }
}
