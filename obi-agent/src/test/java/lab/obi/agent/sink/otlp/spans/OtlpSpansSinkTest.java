package lab.obi.agent.sink.otlp.spans;

import lab.obi.agent.config.AgentConfig.Traces.Otlp.Detail;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

import io.opentelemetry.api.common.AttributeKey;
import io.opentelemetry.api.common.Attributes;
import io.opentelemetry.api.trace.SpanContext;
import io.opentelemetry.api.trace.SpanKind;
import io.opentelemetry.api.trace.StatusCode;
import io.opentelemetry.sdk.common.CompletableResultCode;
import io.opentelemetry.sdk.testing.exporter.InMemorySpanExporter;
import io.opentelemetry.sdk.trace.data.EventData;
import io.opentelemetry.sdk.trace.data.SpanData;
import io.opentelemetry.sdk.trace.export.SpanExporter;
import java.util.Collection;
import java.util.List;
import java.util.concurrent.CopyOnWriteArrayList;
import java.util.concurrent.CountDownLatch;
import java.util.concurrent.TimeUnit;
import java.util.function.Function;
import java.util.function.LongSupplier;
import lab.obi.agent.assembly.SpanIdentities;
import lab.obi.agent.protocol.AbortKind;
import lab.obi.agent.report.ConnectionSummary;
import lab.obi.agent.report.ExchangeReport;
import lab.obi.agent.report.LateRetransmit;
import lab.obi.agent.report.TcpEvidence;
import lab.obi.agent.report.TestReports;
import lab.obi.agent.sink.otlp.ProcessResources;
import org.junit.jupiter.api.Test;

class OtlpSpansSinkTest {

    private final InMemorySpanExporter exported = InMemorySpanExporter.create();

    /** Keeps what was exported when the sink shuts its exporter down (the in-memory one would forget it). */
    private final SpanExporter keeping = exporter(exported::export);

    private final OtlpSpansSink sink = new OtlpSpansSink(keeping, 16, Detail.ALL, new ProcessResources("node-1"));

    @Test
    void anAbandonedRequestIsAnErrorSpanWithTheNetworkAndTheAbandonOnItsTimeAxis() {
        TcpEvidence tcp = new TcpEvidence(2, 1_050_000_000L, 1_100_000_000L, false, true, 1_150_000_000L, 900,
                null, null, null, List.of(new TcpEvidence.Outage("veth1", "no_carrier", 1_010_000_000L, 20_000_000L)));
        ExchangeReport report = TestReports.traced(TestReports.exchange(TestReports.SERVER, "GET", "/slow", 499,
                AbortKind.FIN, tcp));
        sink.exchange(report);
        sink.connectionClosed(new ConnectionSummary(0, 1, true, TestReports.SERVER, 7, 2, 0, 0, 0, false, false,
                "peer", null));
        sink.close();

        assertEquals(1, exported.getFinishedSpanItems().size(), "a connection is not a span");
        SpanData span = exported.getFinishedSpanItems().get(0);
        assertEquals("GET /slow", span.getName());
        assertEquals(SpanKind.SERVER, span.getKind());
        assertEquals(report.span(), span.getSpanContext());
        assertEquals(report.parent(), span.getParentSpanContext());
        assertEquals(1_000_000_000L, span.getStartEpochNanos());
        assertEquals(1_250_000_000L, span.getEndEpochNanos());
        assertEquals(StatusCode.ERROR, span.getStatus().getStatusCode());
        assertEquals("abandoned: fin", span.getStatus().getDescription());
        assertEquals("orders", span.getResource().getAttribute(AttributeKey.stringKey("service.name")));
        assertEquals("lab.obi.agent", span.getInstrumentationScopeInfo().getName());
        assertEquals(499L, span.getAttributes().get(AttributeKey.longKey("http.response.status_code")));
        assertEquals(2L, span.getAttributes().get(AttributeKey.longKey("obi.tcp.retransmits")));
        assertEquals(List.of("veth1"),
                span.getAttributes().get(AttributeKey.stringArrayKey("obi.network.interface.outages")));
        assertEquals(span.getAttributes().size(), Attributes.builder().putAll(span.getAttributes()).build().size(),
                "each key once: the SDK's builder would have dropped a repeated one");

        assertEquals(List.of("obi.network.interface.down", "obi.network.interface.up", "obi.tcp.retransmit",
                "obi.tcp.retransmit", "obi.tcp.reset", "obi.abandoned"),
                span.getEvents().stream().map(EventData::getName).toList(), "in time order");
        EventData abandoned = span.getEvents().get(5);
        assertEquals(1_200_000_000L, abandoned.getEpochNanos());
        assertEquals("fin", abandoned.getAttributes().get(AttributeKey.stringKey("obi.abort.kind")));
        assertEquals(0.2, abandoned.getAttributes().get(AttributeKey.doubleKey("obi.time_to_abandon")));
        assertEquals("first", span.getEvents().get(2).getAttributes().get(AttributeKey.stringKey("obi.tcp.retransmit")));
        assertEquals("last", span.getEvents().get(3).getAttributes().get(AttributeKey.stringKey("obi.tcp.retransmit")));
        assertEquals(1_030_000_000L, span.getEvents().get(1).getEpochNanos(), "when the interface came back");
        assertEquals(1, sink.exported());
    }

    @Test
    void aRetransmitAfterTheResponseIsAChildSpanOnlyWhenItsServerSpanIsKnown() {
        ExchangeReport server = TestReports.traced(TestReports.exchange(TestReports.SERVER, "/orders/{id}", 200));
        LateRetransmit late = new LateRetransmit(1_650_000_000L, TestReports.SERVER, 7, 2, 300);
        SpanIdentities identities = new SpanIdentities();
        sink.exchange(server);
        sink.lateRetransmit(identities.lateRetransmit(late, server.span()));
        sink.lateRetransmit(identities.lateRetransmit(late, null));
        sink.close();

        assertEquals(2, exported.getFinishedSpanItems().size());
        SpanData child = exported.getFinishedSpanItems().get(1);
        assertEquals("TCP retransmit after response", child.getName());
        assertEquals(SpanKind.INTERNAL, child.getKind());
        assertEquals(server.span(), child.getParentSpanContext());
        assertEquals(server.span().getTraceId(), child.getTraceId());
        assertEquals(1_650_000_000L, child.getStartEpochNanos());
        assertEquals("after_response", child.getAttributes().get(AttributeKey.stringKey("obi.tcp.retransmit")));
        assertEquals(7L, child.getAttributes().get(AttributeKey.longKey("obi.connection.id")));
        assertEquals(2L, child.getAttributes().get(AttributeKey.longKey("obi.connection.request_index")));
    }

    @Test
    void aSlowEndpointCostsDroppedSpansNeverMemory() throws InterruptedException {
        CountDownLatch exporting = new CountDownLatch(1);
        CountDownLatch release = new CountDownLatch(1);
        SpanExporter slow = exporter(spans -> {
            exporting.countDown();
            try {
                release.await(10, TimeUnit.SECONDS);
            } catch (InterruptedException e) {
                Thread.currentThread().interrupt();
            }
            return CompletableResultCode.ofSuccess();
        });
        OtlpSpansSink oneSlot = new OtlpSpansSink(slow, 1, Detail.ALL, new ProcessResources("node-1"));
        ExchangeReport report = TestReports.traced(TestReports.exchange(TestReports.SERVER, "/", 200));
        oneSlot.exchange(report);
        assertTrue(exporting.await(10, TimeUnit.SECONDS), "the first span is being exported");
        oneSlot.exchange(report);
        oneSlot.exchange(report);
        assertEquals(1, oneSlot.queued());
        assertEquals(1, oneSlot.queueFull());
        release.countDown();
        oneSlot.close();
        assertEquals(2, oneSlot.exported());
        assertEquals(0, oneSlot.failed());
    }

    @Test
    void spansComingFastGoInFullBatchesAndALoneSpanStillGoes() throws InterruptedException {
        List<Integer> batches = new CopyOnWriteArrayList<>();
        SpanExporter counting = exporter(spans -> {
            batches.add(spans.size());
            return CompletableResultCode.ofSuccess();
        });
        OtlpSpansSink batching = new OtlpSpansSink(counting, 64, Detail.ALL, new ProcessResources("node-1"));
        ExchangeReport report = TestReports.traced(TestReports.exchange(TestReports.SERVER, "/", 200));
        for (int i = 0; i < 40; i++) {
            batching.exchange(report);
        }
        awaitExported(batching, 40);
        assertTrue(batches.get(0) >= 32, "half the queue makes a batch, the first span waited for it: " + batches);

        batching.exchange(report);
        awaitExported(batching, 41);
        assertEquals(1, batches.get(batches.size() - 1), "a lone span goes after a wait, without a close");
        batching.close();
        assertEquals(0, batching.queueFull());
    }

    @Test
    void batchesAwaitingTheirAnswerDoNotHoldBackTheNextButAreBounded() throws InterruptedException {
        List<CompletableResultCode> answers = new CopyOnWriteArrayList<>();
        SpanExporter unanswered = exporter(spans -> {
            CompletableResultCode answer = new CompletableResultCode();
            answers.add(answer);
            return answer;
        });
        // a queue of 2 makes every span a batch of its own
        OtlpSpansSink sending = new OtlpSpansSink(unanswered, 2, Detail.ALL, new ProcessResources("node-1"));
        ExchangeReport report = TestReports.traced(TestReports.exchange(TestReports.SERVER, "/", 200));
        for (int i = 1; i <= 4; i++) {
            sending.exchange(report);
            awaitAnswers(answers, i);
        }
        sending.exchange(report);
        Thread.sleep(200);
        assertEquals(4, answers.size(), "four batches in flight at most");
        assertEquals(1, sending.queued());

        answers.get(0).succeed();
        awaitAnswers(answers, 5);
        answers.forEach(CompletableResultCode::succeed);
        sending.close();
        assertEquals(5, sending.exported());
        assertEquals(0, sending.queueFull());
    }

    @Test
    void aBatchThatCannotBeSentIsCountedAndTheNextOneStillGoes() throws InterruptedException {
        List<Integer> sent = new CopyOnWriteArrayList<>();
        SpanExporter failingOnce = exporter(spans -> {
            if (sent.isEmpty()) {
                sent.add(0);
                throw new IllegalStateException("a bug while encoding");
            }
            sent.add(spans.size());
            return CompletableResultCode.ofSuccess();
        });
        OtlpSpansSink sink = new OtlpSpansSink(failingOnce, 2, Detail.ALL, new ProcessResources("node-1"));
        ExchangeReport report = TestReports.traced(TestReports.exchange(TestReports.SERVER, "/", 200));
        sink.exchange(report);
        awaitCount(sink::failed, 1, "spans of the batch that threw, counted as failed");
        sink.exchange(report);
        awaitExported(sink, 1);
        sink.close();
        assertEquals(List.of(0, 1), sent);
    }

    private static void awaitAnswers(List<CompletableResultCode> answers, int batches) throws InterruptedException {
        awaitCount(answers::size, batches, "batches sent without waiting for the ones before");
    }

    private static void awaitExported(OtlpSpansSink sink, long spans) throws InterruptedException {
        awaitCount(sink::exported, spans, "spans exported");
    }

    /** Waits up to 10 s for count to reach expected, then holds it to exactly that. */
    private static void awaitCount(LongSupplier count, long expected, String what) throws InterruptedException {
        long deadline = System.nanoTime() + TimeUnit.SECONDS.toNanos(10);
        while (count.getAsLong() < expected && System.nanoTime() < deadline) {
            Thread.sleep(5);
        }
        assertEquals(expected, count.getAsLong(), what);
    }

    @Test
    void aRootSpanHasNoParent() {
        sink.exchange(TestReports.traced(TestReports.exchange(TestReports.CLIENT, "/stock", 200)));
        sink.close();
        SpanData span = exported.getFinishedSpanItems().get(0);
        assertEquals(SpanKind.CLIENT, span.getKind());
        assertEquals(SpanContext.getInvalid(), span.getParentSpanContext());
        assertEquals("10.0.0.3", span.getAttributes().get(AttributeKey.stringKey("server.address")));
    }

    /** An exporter that exports with the given function, and has nothing to flush or shut down. */
    private static SpanExporter exporter(Function<Collection<SpanData>, CompletableResultCode> export) {
        return new SpanExporter() {
            @Override
            public CompletableResultCode export(Collection<SpanData> spans) {
                return export.apply(spans);
            }

            @Override
            public CompletableResultCode flush() {
                return CompletableResultCode.ofSuccess();
            }

            @Override
            public CompletableResultCode shutdown() {
                return CompletableResultCode.ofSuccess();
            }
        };
    }
}
