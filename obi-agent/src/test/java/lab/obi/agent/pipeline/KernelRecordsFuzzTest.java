package lab.obi.agent.pipeline;

import lab.obi.agent.config.AgentConfig.Traces.Otlp.Detail;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

import com.code_intelligence.jazzer.api.FuzzedDataProvider;
import com.code_intelligence.jazzer.junit.FuzzTest;
import com.fasterxml.jackson.databind.ObjectMapper;
import io.opentelemetry.sdk.common.CompletableResultCode;
import io.opentelemetry.sdk.testing.exporter.InMemoryMetricReader;
import io.opentelemetry.sdk.trace.data.SpanData;
import io.opentelemetry.sdk.trace.export.SpanExporter;
import java.io.ByteArrayOutputStream;
import java.io.IOException;
import java.io.UncheckedIOException;
import java.nio.ByteBuffer;
import java.nio.ByteOrder;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.Collection;
import java.util.List;
import java.util.Map;
import java.util.Optional;
import java.util.OptionalLong;
import java.util.Set;
import lab.obi.agent.assembly.AssemblyStage;
import lab.obi.agent.capture.KernelRecord;
import lab.obi.agent.capture.RecordDecoder;
import lab.obi.agent.contract.ConnectFailedRecordLayout;
import lab.obi.agent.contract.ConnectionRecordLayout;
import lab.obi.agent.contract.Directions;
import lab.obi.agent.contract.ExchangeRecordLayout;
import lab.obi.agent.contract.LateRetransmitRecordLayout;
import lab.obi.agent.contract.RecordHeaderLayout;
import lab.obi.agent.contract.RecordKinds;
import lab.obi.agent.contract.ResponseAckedRecordLayout;
import lab.obi.agent.network.HostTcpCounters;
import lab.obi.agent.network.InterfaceOutage;
import lab.obi.agent.network.InterfaceOutages;
import lab.obi.agent.process.ProcessResolver;
import lab.obi.agent.process.WatchFilter;
import lab.obi.agent.protocol.RouteNormaliser;
import lab.obi.agent.report.ConnectionSummary;
import lab.obi.agent.report.ExchangeReport;
import lab.obi.agent.report.LateRetransmitReport;
import lab.obi.agent.report.ReportConsumer;
import lab.obi.agent.report.ResponseAckedReport;
import lab.obi.agent.sink.metrics.AgentMetrics;
import lab.obi.agent.sink.metrics.MetricOptions;
import lab.obi.agent.sink.metrics.SelfStats;
import lab.obi.agent.sink.otlp.ProcessResources;
import lab.obi.agent.sink.otlp.spans.OtlpSpansSink;
import lab.obi.agent.sink.prometheus.PrometheusSink;
import lab.obi.agent.sink.requestlog.RequestLogSink;

/**
 * Sequences of kernel records, their fields whatever the fuzzer makes of them, through the decoder,
 * the assembly and every sink (request log, Prometheus, spans): nothing throws, every request-log
 * line is one JSON object of bounded size. A few connection ids, so records meet on a connection.
 */
class KernelRecordsFuzzTest {

    private static final int MAX_RECORDS = 12;
    private static final int MAX_LINE_BYTES = 16 * 1024;
    private static final SelfStats STATS = new SelfStats(0, 0, 0, 0, Map.of(), 0, 0, 0, 0, -1, Optional.empty(),
            OptionalLong.empty());
    private static final Path EMPTY_PROC = emptyDirectory();
    /** Span conversion runs on the caller's thread; export is the SDK's, so spans are discarded. */
    private static final OtlpSpansSink SPANS = new OtlpSpansSink(new Discarding(), 1024, Detail.ALL, new ProcessResources("fuzz"));
    private static final ObjectMapper JSON = new ObjectMapper();
    /** Every exchange is slow, so each one goes through the search for its cause. */
    private static final long SLOW_NS = 1;

    @FuzzTest
    void records(FuzzedDataProvider data) throws IOException {
        ByteArrayOutputStream log = new ByteArrayOutputStream();
        RequestLogSink requestLog = RequestLogSink.everyLine(log);
        InMemoryMetricReader reader = InMemoryMetricReader.create();
        PrometheusSink metrics = new PrometheusSink(reader, AgentMetrics.resource("fuzz"),
                new MetricOptions(data.consumeBoolean(), data.consumeBoolean()), () -> STATS,
                () -> new HostTcpCounters.Snapshot(-1, -1, -1));
        FanOut sinks = new FanOut(List.of(requestLog, metrics, SPANS));
        AssemblyStage assembly = new AssemblyStage(new ProcessResolver(EMPTY_PROC), new RouteNormaliser(8),
                data.consumeBoolean(), new InterfaceOutages(sinks), new WatchFilter(Set.of("prometheus"), Set.of(), Set.of()),
                (pid, started) -> { }, SLOW_NS, sinks);
        for (int i = 0; i < MAX_RECORDS && data.remainingBytes() > 0; i++) {
            Optional<KernelRecord> record = RecordDecoder.decode(ByteBuffer.wrap(record(data)));
            record.ifPresent(r -> assembly.accept(r, 1_700_000_000_000_000_000L));
        }
        assembly.releaseAllWaiting();
        requestLog.flush();
        reader.collectAllMetrics(); // runs the callbacks and turns spans into exemplars
        metrics.close();
        for (String line : log.toString(StandardCharsets.UTF_8).lines().toList()) {
            assertTrue(line.length() <= MAX_LINE_BYTES, "a request-log line of " + line.length() + " bytes");
            assertEquals("{", line.substring(0, 1));
            JSON.readTree(line);
        }
    }

    /** One record of a kind the fuzzer picks, its header consistent, every other byte the fuzzer's. */
    private static byte[] record(FuzzedDataProvider data) {
        int kind = data.pickValue(new int[] {RecordKinds.EXCHANGE, RecordKinds.CONNECTION, RecordKinds.LATE_RETRANSMIT,
                RecordKinds.RESPONSE_ACKED, RecordKinds.CONNECT_FAILED});
        int fixed = switch (kind) {
            case RecordKinds.EXCHANGE -> ExchangeRecordLayout.REQ_HEAD;
            case RecordKinds.CONNECTION -> ConnectionRecordLayout.SIZE;
            case RecordKinds.RESPONSE_ACKED -> ResponseAckedRecordLayout.SIZE;
            case RecordKinds.CONNECT_FAILED -> ConnectFailedRecordLayout.SIZE;
            default -> LateRetransmitRecordLayout.SIZE;
        };
        byte direction = data.consumeBoolean() ? (byte) Directions.SERVER : (byte) Directions.CLIENT;
        long connId = data.consumeLong(1, 3);
        byte[] requestHead = kind == RecordKinds.EXCHANGE
                ? data.consumeBytes(data.consumeInt(0, ExchangeRecordLayout.REQ_HEAD_LENGTH)) : new byte[0];
        byte[] bytes = new byte[fixed + requestHead.length];
        byte[] fields = data.consumeBytes(fixed);
        System.arraycopy(fields, 0, bytes, 0, fields.length);
        System.arraycopy(requestHead, 0, bytes, fixed, requestHead.length);
        ByteBuffer b = ByteBuffer.wrap(bytes).order(ByteOrder.nativeOrder());
        b.put(RecordHeaderLayout.KIND, (byte) kind);
        b.put(RecordHeaderLayout.DIRECTION, direction);
        b.putShort(RecordHeaderLayout.LENGTH, (short) bytes.length);
        b.putLong(RecordHeaderLayout.CONN_ID, connId);
        if (kind == RecordKinds.EXCHANGE) {
            b.putShort(ExchangeRecordLayout.REQ_HEAD_LEN, (short) requestHead.length);
        }
        return bytes;
    }

    private record FanOut(List<lab.obi.agent.sink.Sink> sinks) implements ReportConsumer, InterfaceOutages.Listener {

        @Override
        public void exchange(ExchangeReport exchange) {
            sinks.forEach(s -> s.exchange(exchange));
        }

        @Override
        public void connectionClosed(ConnectionSummary connection) {
            sinks.forEach(s -> s.connectionClosed(connection));
        }

        @Override
        public void lateRetransmit(LateRetransmitReport retransmit) {
            sinks.forEach(s -> s.lateRetransmit(retransmit));
        }

        @Override
        public void responseAcked(ResponseAckedReport acked) {
            sinks.forEach(s -> s.responseAcked(acked));
        }

        @Override
        public void appeared(String interfaceName) {
            sinks.forEach(s -> s.appeared(interfaceName));
        }

        @Override
        public void down(InterfaceOutage outage) {
            sinks.forEach(s -> s.down(outage));
        }

        @Override
        public void up(InterfaceOutage outage) {
            sinks.forEach(s -> s.up(outage));
        }

        @Override
        public void removed(String interfaceName) {
            sinks.forEach(s -> s.removed(interfaceName));
        }
    }

    private static final class Discarding implements SpanExporter {

        @Override
        public CompletableResultCode export(Collection<SpanData> spans) {
            return CompletableResultCode.ofSuccess();
        }

        @Override
        public CompletableResultCode flush() {
            return CompletableResultCode.ofSuccess();
        }

        @Override
        public CompletableResultCode shutdown() {
            return CompletableResultCode.ofSuccess();
        }
    }

    private static Path emptyDirectory() {
        try {
            Path dir = Files.createTempDirectory("obi-fuzz-proc-");
            dir.toFile().deleteOnExit();
            return dir;
        } catch (IOException e) {
            throw new UncheckedIOException(e);
        }
    }
}
