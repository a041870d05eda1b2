package lab.obi.agent.sink.otlp.spans;

import lab.obi.agent.config.AgentConfig.Traces.Otlp.Detail;
import lab.obi.agent.report.TcpEvidence;

import io.opentelemetry.api.common.AttributeKey;
import io.opentelemetry.api.trace.SpanKind;
import io.opentelemetry.api.trace.StatusCode;
import lab.obi.agent.process.ObservedSocket.Direction;
import lab.obi.agent.assembly.SpanIdentities;
import lab.obi.agent.sink.otlp.ProcessResources;
import lab.obi.agent.protocol.AbortKind;
import lab.obi.agent.report.HttpExchange;
import java.util.List;
import lab.obi.agent.report.ExchangeReport;
import lab.obi.agent.report.SlowCause;
import lab.obi.agent.report.Phases;
import lab.obi.agent.report.LateRetransmit;
import lab.obi.agent.process.ObservedSocket;
import lab.obi.agent.protocol.TraceContext;
import org.junit.jupiter.api.Test;

import static org.junit.jupiter.api.Assertions.*;

class ExchangeSpansTest {

    private static final String TRACEPARENT = "00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01";
    private static final TraceContext CALLER = new TraceContext("4bf92f3577b34da6a3ce929d0e0e4736", "00f067aa0ba902b7", true);
    private final SpanIdentities identities = new SpanIdentities();
    private final ExchangeSpans spans = new ExchangeSpans(new ProcessResources("node-1"), Detail.ALL);

    private ExchangeSpan span(HttpExchange e, io.opentelemetry.api.trace.SpanContext threadParent) {
        return spans.toSpan(identities.exchange(e, threadParent));
    }

    private static HttpExchange exchange(Direction direction, Integer status, boolean aborted, String traceparent) {
        return new HttpExchange(1_000_000_000L, 250_000_000L, new ObservedSocket(direction, 42, "java", "/usr/bin/java",
                "orders", "c0ffee", "10.0.0.1", 8080, "10.0.0.2", 51000), 7, 2, "GET", "/orders/{id}", "shop", "curl/8",
                status, aborted, aborted ? AbortKind.FIN : null, aborted ? 200_000_000L : null, false, true, 80, 0,
                traceparent, null, traceparent == null ? null : CALLER, null, null, TcpEvidence.NONE, false, "1.1", Phases.NONE);
    }

    @Test
    void serverSpanContinuesTheCallersTraceWithKernelTimes() {
        ExchangeSpan span = span(exchange(Direction.SERVER, 200, false, TRACEPARENT), null);
        assertEquals(SpanKind.SERVER, span.getKind());
        assertEquals("GET /orders/{id}", span.getName());
        assertEquals("4bf92f3577b34da6a3ce929d0e0e4736", span.getTraceId());
        assertEquals("00f067aa0ba902b7", span.getParentSpanId());
        assertNotEquals("00f067aa0ba902b7", span.getSpanId());
        assertEquals(1_000_000_000L, span.getStartEpochNanos());
        assertEquals(1_250_000_000L, span.getEndEpochNanos());
        assertEquals(StatusCode.UNSET, span.getStatus().getStatusCode());
        assertEquals("orders", span.getResource().getAttribute(AttributeKey.stringKey("service.name")));
        assertEquals("node-1/42", span.getResource().getAttribute(AttributeKey.stringKey("service.instance.id")));
        assertEquals("c0ffee", span.getResource().getAttribute(AttributeKey.stringKey("container.id")));
        assertEquals(8080L, span.getAttributes().get(AttributeKey.longKey("server.port")));
        assertEquals("10.0.0.2", span.getAttributes().get(AttributeKey.stringKey("client.address")));
    }

    @Test
    void byDefaultOnlyTheSpansOfTheTailCarryEveryAttribute() {
        ExchangeSpans tail = new ExchangeSpans(new ProcessResources("node-1"), Detail.TAIL);
        HttpExchange e = exchange(Direction.SERVER, 200, false, null);
        HttpExchange timed = new HttpExchange(e.startUnixNs(), 700, e.socket(), e.connId(), e.requestIndex(), e.method(),
                e.route(), e.host(), e.userAgent(), e.status(), false, null, null, false, true, 1, 1, null, null, null,
                null, null, TcpEvidence.NONE, false, "1.1", new Phases(null, 300L, 0L, 100, 500, 100));
        AttributeKey<Double> processing = AttributeKey.doubleKey("obi.phase.processing.duration");

        ExchangeSpan fine = tail.toSpan(identities.exchange(timed, null));
        assertEquals(List.of("http.request.method", "http.route", "http.response.status_code", "user_agent.original",
                        "url.scheme", "network.protocol.version", "server.address", "server.port", "client.address",
                        "client.port", "obi.connection.id", "obi.connection.request_index"),
                fine.getAttributes().asMap().keySet().stream().map(AttributeKey::getKey).toList());
        ExchangeSpan slow = tail.toSpan(identities.exchange(timed, null).withSlowCause(SlowCause.PROCESSING));
        assertEquals(5e-7, slow.getAttributes().get(processing));
        assertEquals(1L, slow.getAttributes().get(AttributeKey.longKey("obi.bytes_in")));
        ExchangeSpan failed = tail.toSpan(identities.exchange(exchange(Direction.SERVER, 503, false, null), null));
        assertEquals(80L, failed.getAttributes().get(AttributeKey.longKey("obi.bytes_in")));
        assertEquals(5e-7, spans.toSpan(identities.exchange(timed, null)).getAttributes().get(processing),
                "every span in full with obi.traces.otlp.detail=all");
    }

    @Test
    void anExchangeReadThroughOpenSslIsHttps() {
        HttpExchange clear = exchange(Direction.SERVER, 200, false, null);
        HttpExchange tls = new HttpExchange(clear.startUnixNs(), clear.durationNs(), clear.socket(), clear.connId(),
                clear.requestIndex(), clear.method(), clear.route(), clear.host(), clear.userAgent(), clear.status(),
                false, null, null, false, true, 80, 0, null, null, null, null, null, TcpEvidence.NONE, true, "1.0", Phases.NONE);
        assertEquals("http", span(clear, null).getAttributes().get(AttributeKey.stringKey("url.scheme")));
        ExchangeSpan https = span(tls, null);
        assertEquals("https", https.getAttributes().get(AttributeKey.stringKey("url.scheme")));
        assertNull(https.getAttributes().get(AttributeKey.stringKey("network.protocol.name")), "http is implied");
        assertEquals("1.0", https.getAttributes().get(AttributeKey.stringKey("network.protocol.version")));
    }

    @Test
    void aRetransmitAfterTheResponseIsAChildOfTheServerSpanAtItsMoment() {
        ExchangeSpan server = span(exchange(Direction.SERVER, 200, false, TRACEPARENT), null);
        LateRetransmit late = new LateRetransmit(1_650_000_000L, new ObservedSocket(Direction.SERVER, 42, "java",
                "/usr/bin/java", "orders", "c0ffee", "10.0.0.1", 8080, "10.0.0.2", 51000), 7, 2, 300);
        ExchangeSpan child = spans.lateRetransmitSpan(identities.lateRetransmit(late, server.getSpanContext()));
        assertEquals(server.getTraceId(), child.getTraceId());
        assertEquals(server.getSpanId(), child.getParentSpanId());
        assertEquals(SpanKind.INTERNAL, child.getKind());
        assertEquals(1_650_000_000L, child.getStartEpochNanos());
        assertTrue(child.getStartEpochNanos() > server.getEndEpochNanos(), "after the server's span ended");
        assertEquals("after_response", child.getAttributes().get(AttributeKey.stringKey("obi.tcp.retransmit")));
        assertEquals(0.0003, child.getAttributes().get(AttributeKey.doubleKey("obi.tcp.rtt")));
        assertEquals("orders", child.getResource().getAttribute(AttributeKey.stringKey("service.name")));
    }

    @Test
    void aSlowRequestsPhasesAreChildSpansEndToEnd() {
        HttpExchange e = exchange(Direction.SERVER, 200, false, null);
        HttpExchange slow = new HttpExchange(e.startUnixNs(), 700, e.socket(), e.connId(), e.requestIndex(), e.method(),
                e.route(), e.host(), e.userAgent(), e.status(), false, null, null, false, true, 1, 1, null, null, null,
                null, null, TcpEvidence.NONE, false, "1.1", new Phases(null, 300L, 0L, 100, 500, 100));
        ExchangeReport report = identities.exchange(slow, null).withSlowCause(SlowCause.ACCEPT_QUEUE);
        ExchangeSpan parent = spans.toSpan(report);
        assertEquals("accept_queue", parent.getAttributes().get(AttributeKey.stringKey("obi.slow.cause")));
        assertEquals(5e-7, parent.getAttributes().get(AttributeKey.doubleKey("obi.phase.processing.duration")));
        List<ExchangeSpan> phases = spans.phaseSpans(report);
        assertEquals(List.of("accept queue", "request transfer", "processing", "response transfer"),
                phases.stream().map(ExchangeSpan::getName).toList(), "phases that took time, in order");
        assertEquals(e.startUnixNs() - 300, phases.get(0).getStartEpochNanos(), "the queue came before the request");
        assertEquals(e.startUnixNs(), phases.get(1).getStartEpochNanos());
        assertEquals(parent.getEndEpochNanos(), phases.get(3).getEndEpochNanos());
        for (ExchangeSpan phase : phases) {
            assertEquals(parent.getSpanId(), phase.getParentSpanId());
            assertEquals(SpanKind.INTERNAL, phase.getKind());
        }
    }

    @Test
    void clientSpanWithATraceHeaderIsTheSpanTheHeaderNames() {
        ExchangeSpan span = span(exchange(Direction.CLIENT, 200, false, TRACEPARENT), null);
        assertEquals(SpanKind.CLIENT, span.getKind());
        assertEquals("00f067aa0ba902b7", span.getSpanId());
        assertFalse(span.getParentSpanContext().isValid());
        assertEquals("10.0.0.2", span.getAttributes().get(AttributeKey.stringKey("server.address")));
    }

    @Test
    void withoutHeaderARootSpanStartsANewTrace() {
        ExchangeSpan a = span(exchange(Direction.SERVER, 200, false, null), null);
        ExchangeSpan b = span(exchange(Direction.SERVER, 200, false, null), null);
        assertFalse(a.getParentSpanContext().isValid());
        assertNotEquals(a.getTraceId(), b.getTraceId());
        assertTrue(a.getSpanContext().isSampled(), "sampled: the Collector's tail sampling decides");
    }

    @Test
    void abandonedRequestIsAnErrorWithTheAbandonEventAtItsMoment() {
        ExchangeSpan span = span(exchange(Direction.SERVER, 499, true, null), null);
        assertEquals(StatusCode.ERROR, span.getStatus().getStatusCode());
        assertEquals("fin", span.getAttributes().get(AttributeKey.stringKey("error.type")));
        assertEquals(1, span.getEvents().size());
        assertEquals("obi.abandoned", span.getEvents().get(0).getName());
        assertEquals(1_200_000_000L, span.getEvents().get(0).getEpochNanos());
        assertEquals("fin", span.getEvents().get(0).getAttributes().get(AttributeKey.stringKey("obi.abort.kind")));
    }

    @Test
    void serverErrorsAre5xxOnlyClientErrors4xxToo() {
        assertEquals(StatusCode.UNSET, span(exchange(Direction.SERVER, 404, false, null), null).getStatus().getStatusCode());
        assertEquals(StatusCode.ERROR, span(exchange(Direction.CLIENT, 404, false, null), null).getStatus().getStatusCode());
        assertEquals(StatusCode.ERROR, span(exchange(Direction.SERVER, 503, false, null), null).getStatus().getStatusCode());
    }

    @Test
    void aClientCallInsideAServerRequestIsItsChild() {
        ExchangeSpan server = span(exchange(Direction.SERVER, 200, false, TRACEPARENT), null);
        ExchangeSpan client = span(exchange(Direction.CLIENT, 200, false, null), server.getSpanContext());
        assertEquals(server.getTraceId(), client.getTraceId());
        assertEquals(server.getSpanId(), client.getParentSpanId());
        assertEquals(SpanKind.CLIENT, client.getKind());
    }

    @Test
    void aClientHeaderOfAnotherTraceKeepsItsOwnTrace() {
        ExchangeSpan server = span(exchange(Direction.SERVER, 200, false, null), null);
        ExchangeSpan client = span(exchange(Direction.CLIENT, 200, false, TRACEPARENT), server.getSpanContext());
        assertEquals("4bf92f3577b34da6a3ce929d0e0e4736", client.getTraceId());
        assertFalse(client.getParentSpanContext().isValid(), "a parent from another trace would be a guess");
    }
}
