package lab.obi.agent.sink.requestlog;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertTrue;

import io.opentelemetry.api.common.Attributes;
import io.opentelemetry.api.trace.SpanContext;
import io.opentelemetry.api.trace.SpanKind;
import io.opentelemetry.api.trace.TraceFlags;
import io.opentelemetry.api.trace.TraceState;
import io.opentelemetry.context.Context;
import io.opentelemetry.sdk.trace.samplers.Sampler;
import io.opentelemetry.sdk.trace.samplers.SamplingDecision;
import java.util.List;
import java.util.Optional;
import java.util.stream.IntStream;
import lab.obi.agent.config.AgentConfig;
import lab.obi.agent.config.AgentConfig.RequestLog.Lines;
import lab.obi.agent.process.ObservedSocket;
import lab.obi.agent.protocol.AbortKind;
import lab.obi.agent.report.ConnectionSummary;
import lab.obi.agent.report.ExchangeReport;
import lab.obi.agent.report.GeneratedSpanContext;
import lab.obi.agent.report.HttpExchange;
import lab.obi.agent.report.Phases;
import lab.obi.agent.report.SlowCause;
import lab.obi.agent.report.TcpEvidence;
import lab.obi.agent.report.TestReports;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.ValueSource;

class LineSelectionTest {

    private record Config(Lines lines, double sampleRatio) implements AgentConfig.RequestLog {
        @Override
        public boolean enabled() {
            return true;
        }

        @Override
        public Optional<java.nio.file.Path> path() {
            return Optional.empty();
        }
    }

    private static final LineSelection TAIL = LineSelection.of(new Config(Lines.TAIL, 0));

    /** 1 ms, complete, nothing wrong on TCP. */
    static HttpExchange fast(ObservedSocket socket, Integer status) {
        return exchange(socket, 1_000_000, status, null, false, true, TcpEvidence.NONE);
    }

    private static HttpExchange exchange(ObservedSocket socket, long durationNs, Integer status, AbortKind abort,
                                         boolean truncated, boolean requestComplete, TcpEvidence tcp) {
        return new HttpExchange(1_000_000_000L, durationNs, socket, 7, 2, "GET", "/", "shop", "curl/8", status,
                abort != null, abort, abort != null ? 500_000L : null, truncated, requestComplete, 80, 512, null, null,
                null, null, null, tcp, false, "1.1", Phases.NONE);
    }

    private static boolean tail(HttpExchange e) {
        return TAIL.keeps(TestReports.traced(e));
    }

    @Test
    void whatWentWellIsLeftOut() {
        assertFalse(tail(fast(TestReports.SERVER, 200)));
        assertFalse(tail(fast(TestReports.SERVER, 404)), "a server's 4xx is the client's error");
        assertFalse(tail(exchange(TestReports.SERVER, 600_000_000, 200, null, false, true, TcpEvidence.NONE)),
                "long, but not slow as obi.slow.threshold says (a long poll, a download)");
    }

    @Test
    void whatWentWrongOrWasSlowIsKept() {
        assertTrue(tail(exchange(TestReports.SERVER, 1_000_000, 499, AbortKind.FIN, false, true, TcpEvidence.NONE)));
        assertTrue(tail(exchange(TestReports.SERVER, 1_000_000, 200, null, true, true, TcpEvidence.NONE)));
        assertTrue(tail(exchange(TestReports.SERVER, 1_000_000, 400, null, false, false, TcpEvidence.NONE)));
        assertTrue(TAIL.keeps(TestReports.traced(exchange(TestReports.SERVER, 600_000_000, 200, null, false, true,
                TcpEvidence.NONE)).withSlowCause(SlowCause.PROCESSING)));
        assertTrue(tail(fast(TestReports.SERVER, 503)));
        assertTrue(tail(fast(TestReports.CLIENT, 404)), "a client's 4xx is an error (error.type)");
        assertTrue(tail(exchange(TestReports.SERVER, 1_000_000, 200, null, false, true,
                TestReports.retransmitted(1, 300, false))));
        assertTrue(tail(exchange(TestReports.SERVER, 1_000_000, 200, null, false, true,
                TestReports.retransmitted(0, 300, true))));
        assertTrue(tail(exchange(TestReports.SERVER, 1_000_000, 200, null, false, true, new TcpEvidence(0, null,
                null, false, false, null, null, null, null, null,
                List.of(new TcpEvidence.Outage("eth0", "no_carrier", 1_000_000_000L, null))))));
    }

    @Test
    void connectionsAreKeptWhenResetOrRetransmittedOn() {
        assertFalse(TAIL.keeps(connection(0, false, false)));
        assertTrue(TAIL.keeps(connection(3, false, false)));
        assertTrue(TAIL.keeps(connection(0, true, false)));
        assertTrue(TAIL.keeps(connection(0, false, true)));
    }

    @Test
    void allKeepsEveryLine() {
        LineSelection all = LineSelection.of(new Config(Lines.ALL, 0));
        assertTrue(all.keeps(TestReports.traced(fast(TestReports.SERVER, 200))));
        assertTrue(all.keeps(connection(0, false, false)));
    }

    @ParameterizedTest
    @ValueSource(doubles = {0.0, 0.1, 0.5, 1.0})
    void theRestIsSampledByTraceIdAtTheRatio(double ratio) {
        LineSelection selection = LineSelection.of(new Config(Lines.TAIL, ratio));
        long kept = IntStream.range(0, 20_000)
                .filter(i -> selection.keeps(TestReports.traced(fast(TestReports.SERVER, 200)))).count();
        assertEquals(ratio, kept / 20_000.0, 0.02);
    }

    @Test
    void theExchangesOfATraceAreInOrOutTogether() {
        LineSelection selection = LineSelection.of(new Config(Lines.TAIL, 0.5));
        for (int i = 0; i < 200; i++) {
            ExchangeReport server = TestReports.traced(fast(TestReports.SERVER, 200));
            SpanContext sameTrace = SpanContext.create(server.span().getTraceId(), "00f067aa0ba902b7",
                    TraceFlags.getSampled(), TraceState.getDefault());
            ExchangeReport client = ExchangeReport.traced(fast(TestReports.CLIENT, 200), sameTrace, server.span());
            assertEquals(selection.keeps(server), selection.keeps(client));
        }
    }

    @ParameterizedTest
    @ValueSource(doubles = {0.0, 0.01, 0.1, 0.5, 1.0})
    void theSampleIsTheOneTheSdksTraceIdRatioSamplerTakes(double ratio) {
        LineSelection selection = LineSelection.of(new Config(Lines.TAIL, ratio));
        Sampler sdk = Sampler.traceIdRatioBased(ratio);
        for (int i = 0; i < 5_000; i++) {
            SpanContext generated = GeneratedSpanContext.newTrace();
            SpanContext named = SpanContext.create(generated.getTraceId(), "00f067aa0ba902b7",
                    TraceFlags.getSampled(), TraceState.getDefault());
            boolean expected = sdk.shouldSample(Context.root(), generated.getTraceId(), "", SpanKind.SERVER,
                    Attributes.empty(), List.of()).getDecision() == SamplingDecision.RECORD_AND_SAMPLE;
            HttpExchange e = fast(TestReports.SERVER, 200);
            assertEquals(expected, selection.keeps(ExchangeReport.traced(e, generated, SpanContext.getInvalid())),
                    generated.getTraceId());
            assertEquals(expected, selection.keeps(ExchangeReport.traced(e, named, SpanContext.getInvalid())));
        }
    }

    private static ConnectionSummary connection(int retransmits, boolean resetSent, boolean resetReceived) {
        return new ConnectionSummary(10, 20, true, TestReports.SERVER, 7, 2, 300, 9_000, retransmits, resetSent,
                resetReceived, resetSent || resetReceived ? "reset" : "peer", null);
    }
}
