package lab.obi.agent.sink.otlp.spans;

import io.opentelemetry.api.common.AttributeKey;
import io.opentelemetry.api.common.Attributes;
import io.opentelemetry.api.common.AttributesBuilder;
import io.opentelemetry.api.trace.SpanKind;
import io.opentelemetry.api.trace.StatusCode;
import io.opentelemetry.sdk.common.InstrumentationScopeInfo;
import io.opentelemetry.sdk.trace.data.EventData;
import io.opentelemetry.sdk.trace.data.StatusData;
import lab.obi.agent.process.ObservedSocket;
import lab.obi.agent.process.ObservedSocket.Direction;
import lab.obi.agent.report.ExchangeReport;
import lab.obi.agent.report.HttpExchange;
import lab.obi.agent.report.LateRetransmit;
import lab.obi.agent.report.LateRetransmitReport;
import lab.obi.agent.report.TcpEvidence;
import lab.obi.agent.sink.SemanticConventions;
import lab.obi.agent.sink.otlp.ProcessResources;

import java.util.ArrayList;
import java.util.Comparator;
import java.util.List;

import static lab.obi.agent.sink.SemanticConventions.INTERFACE;
import static lab.obi.agent.sink.SemanticConventions.INTERFACE_CAUSE;

/**
 * One span per exchange, with the observed process as its resource and the ids the assembly gave
 * it; one per retransmit after a response, a child of that response's server span.
 */
final class ExchangeSpans {

    private static final InstrumentationScopeInfo SCOPE = InstrumentationScopeInfo.create("lab.obi.agent");
    static final String ABANDONED_EVENT = "obi.abandoned";
    static final String RETRANSMIT_EVENT = "obi.tcp.retransmit";
    static final String RESET_EVENT = "obi.tcp.reset";
    static final String LATE_RETRANSMIT_SPAN = "TCP retransmit after response";
    static final String INTERFACE_DOWN_EVENT = "obi.network.interface.down";
    static final String INTERFACE_UP_EVENT = "obi.network.interface.up";

    private final ProcessResources resources;

    ExchangeSpans(ProcessResources resources) {
        this.resources = resources;
    }

    ExchangeSpan toSpan(ExchangeReport report) {
        HttpExchange e = report.exchange();
        boolean server = e.socket().direction() == Direction.SERVER;
        String errorType = SemanticConventions.errorType(e);
        StatusData status = errorType == null ? StatusData.unset()
                : StatusData.create(StatusCode.ERROR, e.aborted() ? "abandoned: " + errorType : errorType);
        return new ExchangeSpan(name(e), server ? SpanKind.SERVER : SpanKind.CLIENT, report.span(),
                report.parent(), status,
                e.startUnixNs(), attributes(e, server, errorType), events(e), e.startUnixNs() + e.durationNs(),
                resources.of(e.socket()), SCOPE);
    }

    /** A retransmit after the response, at its moment, in the trace of the server exchange it belongs to. */
    ExchangeSpan lateRetransmitSpan(LateRetransmitReport report) {
        LateRetransmit r = report.retransmit();
        AttributesBuilder a = Attributes.builder()
                .put(AttributeKey.stringKey("obi.tcp.retransmit"), "after_response")
                .put(AttributeKey.stringKey("network.peer.address"), r.socket().peerAddress())
                .put(AttributeKey.longKey("network.peer.port"), r.socket().peerPort())
                .put(AttributeKey.longKey("obi.connection.id"), r.connId())
                .put(AttributeKey.longKey("obi.connection.request_index"), r.requestIndex());
        if (r.rttUs() != null) {
            a.put(AttributeKey.doubleKey("obi.tcp.rtt"), r.rttUs() / 1e6);
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
                a.put(AttributeKey.doubleKey("obi.network.interface.outage.duration"), o.durationNs() / 1e9);
            }
            events.add(EventData.create(o.downUnixNs(), INTERFACE_DOWN_EVENT, a.build()));
            if (o.durationNs() != null) {
                events.add(EventData.create(o.downUnixNs() + o.durationNs(), INTERFACE_UP_EVENT,
                        Attributes.of(INTERFACE, o.interfaceName())));
            }
        }
        if (t.firstRetransmitUnixNs() != null) {
            events.add(EventData.create(t.firstRetransmitUnixNs(), RETRANSMIT_EVENT,
                    Attributes.of(AttributeKey.stringKey("obi.tcp.retransmit"), "first",
                            AttributeKey.longKey("obi.tcp.retransmits"), (long) t.retransmits())));
            if (t.retransmits() > 1 && t.lastRetransmitUnixNs() != null) {
                events.add(EventData.create(t.lastRetransmitUnixNs(), RETRANSMIT_EVENT,
                        Attributes.of(AttributeKey.stringKey("obi.tcp.retransmit"), "last",
                                AttributeKey.longKey("obi.tcp.retransmits"), (long) t.retransmits())));
            }
        }
        if (t.resetReceivedUnixNs() != null) {
            events.add(EventData.create(t.resetReceivedUnixNs(), RESET_EVENT,
                    Attributes.of(AttributeKey.stringKey("obi.tcp.reset"), "received")));
        }
        if (e.aborted() && e.abortKind() != null && e.timeToAbandonNs() != null) {
            events.add(EventData.create(e.startUnixNs() + e.timeToAbandonNs(), ABANDONED_EVENT, Attributes.of(
                    SemanticConventions.ABORT_KIND, e.abortKind().wireName(),
                    AttributeKey.doubleKey("obi.time_to_abandon"), e.timeToAbandonNs() / 1e9)));
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

    private static Attributes attributes(HttpExchange e, boolean server, String errorType) {
        ObservedSocket socket = e.socket();
        AttributesBuilder a = Attributes.builder();
        putIfPresent(a, SemanticConventions.METHOD, e.method());
        putIfPresent(a, SemanticConventions.ROUTE, e.route());
        if (e.status() != null) {
            a.put(SemanticConventions.STATUS, e.status().longValue());
        }
        putIfPresent(a, SemanticConventions.ERROR_TYPE, errorType);
        putIfPresent(a, AttributeKey.stringKey("user_agent.original"), e.userAgent());
        a.put(SemanticConventions.URL_SCHEME, SemanticConventions.scheme(e));
        if (e.httpVersion() != null) {
            a.put(SemanticConventions.PROTOCOL_NAME, "http");
            a.put(SemanticConventions.PROTOCOL_VERSION, e.httpVersion());
        }
        if (server) {
            putIfPresent(a, SemanticConventions.SERVER_ADDRESS, e.host());
            a.put(SemanticConventions.SERVER_PORT, socket.localPort());
            a.put(SemanticConventions.CLIENT_ADDRESS, socket.peerAddress());
            a.put(AttributeKey.longKey("client.port"), socket.peerPort());
        } else {
            a.put(SemanticConventions.SERVER_ADDRESS, socket.peerAddress());
            a.put(SemanticConventions.SERVER_PORT, socket.peerPort());
        }
        a.put(AttributeKey.stringKey("network.peer.address"), socket.peerAddress());
        a.put(AttributeKey.longKey("network.peer.port"), socket.peerPort());
        a.put(AttributeKey.longKey("obi.connection.id"), e.connId());
        a.put(AttributeKey.longKey("obi.connection.request_index"), e.requestIndex());
        a.put(AttributeKey.longKey("obi.bytes_in"), e.bytesIn());
        a.put(AttributeKey.longKey("obi.bytes_out"), e.bytesOut());
        TcpEvidence t = e.tcp();
        if (t.retransmits() > 0) {
            a.put(AttributeKey.longKey("obi.tcp.retransmits"), t.retransmits());
        }
        if (t.resetSent()) {
            a.put(AttributeKey.booleanKey("obi.tcp.reset_sent"), true);
        }
        if (t.resetReceived()) {
            a.put(AttributeKey.booleanKey("obi.tcp.reset_received"), true);
        }
        if (t.rttUs() != null) {
            a.put(AttributeKey.doubleKey("obi.tcp.rtt"), t.rttUs() / 1e6);
        }
        a.put(AttributeKey.booleanKey("obi.connection.new"), e.requestIndex() == 1);
        if (t.connectNs() != null) {
            a.put(AttributeKey.doubleKey("obi.tcp.connect.duration"), t.connectNs() / 1e9);
            a.put(AttributeKey.longKey("obi.tcp.syn_retransmits"), t.synRetransmits());
        }
        if (!t.interfaceOutages().isEmpty()) {
            a.put(AttributeKey.stringArrayKey("obi.network.interface.outages"),
                    t.interfaceOutages().stream().map(TcpEvidence.Outage::interfaceName).distinct().toList());
        }
        if (e.truncated()) {
            a.put(AttributeKey.booleanKey("obi.response.truncated"), true);
        }
        return a.build();
    }

    private static <T> void putIfPresent(AttributesBuilder a, AttributeKey<T> key, T value) {
        if (value != null) {
            a.put(key, value);
        }
    }
}
