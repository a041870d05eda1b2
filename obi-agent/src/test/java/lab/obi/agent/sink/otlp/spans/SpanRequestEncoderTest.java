package lab.obi.agent.sink.otlp.spans;

import lab.obi.agent.config.AgentConfig.Traces.Otlp.Detail;
import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

import io.opentelemetry.api.common.AttributeKey;
import io.opentelemetry.api.common.Attributes;
import io.opentelemetry.api.trace.SpanContext;
import io.opentelemetry.api.trace.SpanKind;
import io.opentelemetry.api.trace.StatusCode;
import io.opentelemetry.api.trace.TraceFlags;
import io.opentelemetry.api.trace.TraceState;
import io.opentelemetry.exporter.internal.otlp.traces.TraceRequestMarshaler;
import io.opentelemetry.sdk.common.InstrumentationScopeInfo;
import io.opentelemetry.sdk.resources.Resource;
import io.opentelemetry.sdk.trace.data.EventData;
import io.opentelemetry.sdk.trace.data.SpanData;
import io.opentelemetry.sdk.trace.data.StatusData;
import java.io.ByteArrayOutputStream;
import java.io.IOException;
import java.util.ArrayList;
import java.util.List;
import lab.obi.agent.protocol.AbortKind;
import lab.obi.agent.report.ExchangeReport;
import lab.obi.agent.report.HttpExchange;
import lab.obi.agent.report.Phases;
import lab.obi.agent.report.SlowCause;
import lab.obi.agent.report.TcpEvidence;
import lab.obi.agent.report.TestReports;
import lab.obi.agent.sink.otlp.ProcessResources;
import org.junit.jupiter.api.Test;

/** The encoder's bytes against the SDK's own marshaler's, for the same spans. */
class SpanRequestEncoderTest {

    private static final InstrumentationScopeInfo SCOPE = InstrumentationScopeInfo.create("lab.obi.agent");
    private static final Resource RESOURCE = Resource.create(Attributes.of(
            AttributeKey.stringKey("service.name"), "orders", AttributeKey.longKey("process.pid"), 42L));

    private final SpanRequestEncoder encoder = new SpanRequestEncoder();
    private final ExchangeSpans exchangeSpans = new ExchangeSpans(new ProcessResources("node-1"), Detail.ALL);

    @Test
    void exchangeSpansOfEveryKindAreTheBytesTheSdkWrites() throws IOException {
        TcpEvidence troubled = new TcpEvidence(2, 1_050_000_000L, 1_100_000_000L, false, true, 1_150_000_000L, 900,
                null, null, null, List.of(new TcpEvidence.Outage("veth1", "no_carrier", 1_010_000_000L, 20_000_000L)));
        HttpExchange e = TestReports.exchange(TestReports.SERVER, "GET", "/slow", 499, AbortKind.FIN, troubled);
        ExchangeReport abandoned = TestReports.traced(new HttpExchange(e.startUnixNs(), e.durationNs(), e.socket(),
                e.connId(), e.requestIndex(), e.method(), e.route(), e.host(), e.userAgent(), e.status(), true,
                e.abortKind(), e.timeToAbandonNs(), false, true, 1, 1, null, null, null, null, null, troubled, false,
                "1.1", new Phases(null, 300L, 0L, 100, 500, 100))).withSlowCause(SlowCause.NETWORK);
        ExchangeReport served = TestReports.traced(TestReports.exchange(TestReports.CLIENT, "/orders", 200));
        List<ExchangeSpan> spans = new ArrayList<>();
        spans.add(exchangeSpans.toSpan(abandoned));
        spans.add(exchangeSpans.toSpan(served));
        spans.addAll(exchangeSpans.phaseSpans(abandoned));
        assertTrue(spans.size() > 4, "phase spans too");

        assertSameBytes(spans);
    }

    @Test
    void everyValueTypeLengthsAboveOneByteAndNonAsciiTextAreTheBytesTheSdkWrites() throws IOException {
        Attributes attributes = new SpanAttributes.Builder()
                .put(AttributeKey.stringKey("url.path"), "/" + "x".repeat(300))
                .put(AttributeKey.stringKey("user_agent.original"), "navigateur \u00e9t\u00e9 \u2603")
                .put(AttributeKey.stringKey("empty"), "")
                .put(AttributeKey.booleanKey("yes"), true)
                .put(AttributeKey.booleanKey("no"), false)
                .put(AttributeKey.longKey("zero"), 0L)
                .put(AttributeKey.longKey("negative"), -3L)
                .put(AttributeKey.longKey("large"), Long.MAX_VALUE)
                .put(AttributeKey.doubleKey("half"), 0.5)
                .put(AttributeKey.doubleKey("nothing"), 0.0)
                .put(AttributeKey.stringArrayKey("interfaces"), List.of("eth0", "", "veth\u00e9"))
                .put(AttributeKey.longArrayKey("ports"), List.of(1L, 65535L))
                .put(AttributeKey.doubleArrayKey("ratios"), List.of(0.25, 0.0))
                .put(AttributeKey.booleanArrayKey("flags"), List.of(true, false))
                .build();
        SpanContext remoteParent = SpanContext.createFromRemoteParent("4bf92f3577b34da6a3ce929d0e0e4736",
                "00f067aa0ba902b7", TraceFlags.getSampled(), TraceState.getDefault());
        SpanContext self = SpanContext.create("4bf92f3577b34da6a3ce929d0e0e4736", "b7ad6b7169203331",
                TraceFlags.getDefault(), TraceState.getDefault());
        ExchangeSpan span = new ExchangeSpan("GET /\u00e9t\u00e9", SpanKind.SERVER, self, remoteParent,
                StatusData.create(StatusCode.ERROR, "abandoned: fin"), 1_000L, attributes,
                List.of(EventData.create(1_500L, "obi.abandoned", Attributes.of(AttributeKey.stringKey("k"), "v")),
                        EventData.create(1_600L, "obi.tcp.reset", Attributes.empty())),
                2_000L, RESOURCE, SCOPE);
        ExchangeSpan internal = new ExchangeSpan("processing", SpanKind.INTERNAL, SpanContext.create(
                "4bf92f3577b34da6a3ce929d0e0e4736", "1111111111111111", TraceFlags.getSampled(), TraceState.getDefault()),
                self, StatusData.ok(), 1_100L, Attributes.empty(), List.of(), 1_200L, RESOURCE, SCOPE);

        assertSameBytes(List.of(span, internal));
    }

    @Test
    void aBatchOfMegabytesAcrossResourcesIsEachResourcesBytesAsTheSdkWritesThem() throws IOException {
        Resource billing = Resource.create(Attributes.of(AttributeKey.stringKey("service.name"), "billing"));
        List<ExchangeSpan> spans = new ArrayList<>();
        List<ExchangeSpan> orders = new ArrayList<>();
        List<ExchangeSpan> billed = new ArrayList<>();
        for (int i = 0; i < 12_000; i++) {
            ExchangeReport report = TestReports.traced(TestReports.exchange(TestReports.SERVER, "/orders/" + i, 200));
            ExchangeSpan s = exchangeSpans.toSpan(report);
            if (i % 3 == 1) {
                s = new ExchangeSpan(s.name(), s.kind(), s.spanContext(), s.parentSpanContext(), s.status(),
                        s.startEpochNanos(), s.attributes(), s.events(), s.endEpochNanos(), billing, SCOPE);
                billed.add(s);
            } else {
                orders.add(s);
            }
            spans.add(s);
        }
        byte[] ours = ours(spans);
        ByteArrayOutputStream expected = new ByteArrayOutputStream();
        expected.write(sdkBytes(orders)); // a request is its resources' entries one after the other
        expected.write(sdkBytes(billed));
        assertArrayEquals(expected.toByteArray(), ours, "resources in the order their first span came");
        assertTrue(ours.length > 2 * 1024 * 1024, "past what a 3-byte length holds: " + ours.length);
    }

    private void assertSameBytes(List<ExchangeSpan> spans) throws IOException {
        byte[] ours = ours(spans);
        assertArrayEquals(sdkBytes(spans), ours);
        assertArrayEquals(ours, ours(spans), "the encoder's buffer is reused");
    }

    /** As the exporter's transport writes the request. */
    private byte[] ours(List<ExchangeSpan> spans) throws IOException {
        encoder.encode(spans);
        EncodedSpanSender.EncodedRequest request = new EncodedSpanSender.EncodedRequest(encoder);
        ByteArrayOutputStream written = new ByteArrayOutputStream();
        request.writeBinaryTo(written);
        assertEquals(request.getBinarySerializedSize(), written.size());
        return written.toByteArray();
    }

    /** The SDK's request for one resource's spans (for several, its order of resources is a hash map's). */
    private static byte[] sdkBytes(List<ExchangeSpan> spans) throws IOException {
        ByteArrayOutputStream sdk = new ByteArrayOutputStream();
        TraceRequestMarshaler.create(new ArrayList<SpanData>(spans)).writeBinaryTo(sdk);
        return sdk.toByteArray();
    }
}
