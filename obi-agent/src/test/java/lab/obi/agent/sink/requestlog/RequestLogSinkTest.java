package lab.obi.agent.sink.requestlog;

import static java.nio.charset.StandardCharsets.UTF_8;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import io.opentelemetry.api.trace.SpanContext;
import java.io.ByteArrayOutputStream;
import java.io.IOException;
import java.io.OutputStream;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.List;
import java.util.Optional;
import lab.obi.agent.config.AgentConfig;
import lab.obi.agent.config.AgentConfig.RequestLog.Lines;
import lab.obi.agent.report.ConnectionSummary;
import lab.obi.agent.report.LateRetransmit;
import lab.obi.agent.report.LateRetransmitReport;
import lab.obi.agent.report.SlowCause;
import lab.obi.agent.report.TestReports;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

class RequestLogSinkTest {

    private record Config(boolean enabled, Optional<Path> path, Lines lines) implements AgentConfig.RequestLog {
        Config(boolean enabled, Optional<Path> path) {
            this(enabled, path, Lines.ALL);
        }

        @Override
        public double sampleRatio() {
            return 0;
        }
    }

    private static final ConnectionSummary CLOSED = new ConnectionSummary(10, 20, true, TestReports.SERVER, 7, 2,
            300, 9_000, 0, false, false, "peer", null);
    private static final LateRetransmitReport LATE = new LateRetransmitReport(
            new LateRetransmit(99, TestReports.SERVER, 7, 2, null), SpanContext.getInvalid(), SpanContext.getInvalid());

    private static List<String> records(String log) {
        return log.lines().map(line -> line.substring(0, line.indexOf(',')).replace("{\"record\":", "")).toList();
    }

    @Test
    void everyReportIsALineInTheOrderItCameAndLinesAreWrittenAtTheFlush() throws IOException {
        ByteArrayOutputStream out = new ByteArrayOutputStream();
        RequestLogSink sink = new RequestLogSink(out, LineSelection.all());
        sink.exchange(TestReports.traced(TestReports.exchange(TestReports.SERVER, "/orders/{id}", 200)));
        sink.connectionClosed(CLOSED);
        sink.lateRetransmit(LATE);
        assertEquals("", out.toString(UTF_8), "buffered until the pipeline has nothing queued");

        sink.flush();
        String log = out.toString(UTF_8);
        assertEquals(List.of("\"exchange\"", "\"connection\"", "\"late_retransmit\""), records(log));
        assertTrue(log.lines().findFirst().orElseThrow().contains("\"route\":\"/orders/{id}\",\"host\":\"shop\""));
        assertTrue(log.endsWith("}\n"));
        assertEquals(0, sink.writeFailures());
    }

    @Test
    void aStreamThatFailsIsCountedNotThrown() throws IOException {
        OutputStream full = new OutputStream() {
            @Override
            public void write(int b) throws IOException {
                throw new IOException("No space left on device");
            }
        };
        RequestLogSink sink = new RequestLogSink(full, LineSelection.all());
        sink.exchange(TestReports.traced(TestReports.exchange(TestReports.SERVER, "/", 200)));
        sink.flush();
        assertEquals(1, sink.writeFailures());
        sink.connectionClosed(CLOSED);
        sink.flush();
        assertEquals(2, sink.writeFailures(), "every failure counts, the log line says it once");
        sink.close();
    }

    /** A disk that fills up and gets room again: refuses every write while full. */
    private static final class Disk extends OutputStream {
        final ByteArrayOutputStream written = new ByteArrayOutputStream();
        boolean full;

        @Override
        public void write(int b) throws IOException {
            write(new byte[] {(byte) b}, 0, 1);
        }

        @Override
        public void write(byte[] b, int off, int len) throws IOException {
            if (full) {
                throw new IOException("No space left on device");
            }
            written.write(b, off, len);
        }
    }

    @Test
    void linesLostToAFullDiskAreCountedAndWritingResumesWithWholeLines() throws IOException {
        Disk disk = new Disk();
        RequestLogSink sink = new RequestLogSink(disk, LineSelection.all());
        sink.connectionClosed(CLOSED);
        sink.flush();
        disk.full = true;
        for (int i = 0; i < 3; i++) {
            sink.connectionClosed(CLOSED);
            sink.lateRetransmit(LATE);
            sink.flush();
        }
        assertEquals(6, sink.writeFailures(), "every line lost, not every flush");
        disk.full = false;
        sink.exchange(TestReports.traced(TestReports.exchange(TestReports.SERVER, "/", 200)));
        sink.flush();
        assertEquals(List.of("\"connection\"", "\"exchange\""), records(disk.written.toString(UTF_8)),
                "what could not be written is gone, what follows is whole");
        assertEquals(6, sink.writeFailures());
    }

    @Test
    void aBusyPipelineWritesWholeLinesBeforeItFlushes() throws IOException {
        ByteArrayOutputStream out = new ByteArrayOutputStream();
        RequestLogSink sink = new RequestLogSink(out, LineSelection.all());
        while (out.size() == 0) {
            sink.connectionClosed(CLOSED);
        }
        assertTrue(out.size() >= LineBatch.WRITE_AT, "held in memory up to a bound: " + out.size());
        assertTrue(out.toString(UTF_8).endsWith("}\n"), "only whole lines");
    }

    @Test
    void closingClosesTheStream() throws IOException {
        boolean[] closed = {false};
        RequestLogSink sink = new RequestLogSink(new ByteArrayOutputStream() {
            @Override
            public void close() {
                closed[0] = true;
            }
        }, LineSelection.all());
        sink.close();
        assertTrue(closed[0]);
    }

    @Test
    void aFileIsAppendedToAndStdoutIsTheDefault(@TempDir Path dir) throws IOException {
        Path file = dir.resolve("requests.jsonl");
        Files.writeString(file, "{\"record\":\"earlier\"}\n");
        RequestLogSink sink = RequestLogSink.open(new Config(true, Optional.of(file))).orElseThrow();
        sink.connectionClosed(CLOSED);
        sink.close();
        List<String> lines = Files.readAllLines(file);
        assertEquals("{\"record\":\"earlier\"}", lines.get(0));
        assertEquals(List.of("\"connection\""), records(lines.get(1)));

        assertEquals(file + " (every exchange)", RequestLogSink.describe(new Config(true, Optional.of(file))));
        assertEquals("stdout (the tail (wrong, or slow: obi.slow.threshold) and 0.0% of the rest)",
                RequestLogSink.describe(new Config(true, Optional.empty(), Lines.TAIL)));
        assertEquals("off", RequestLogSink.describe(new Config(false, Optional.of(file))));
        assertEquals(Optional.empty(), RequestLogSink.open(new Config(false, Optional.of(file))));
    }

    @Test
    void theTailLeavesOutWhatWentWellAndTheConfigurationSaysWhatTheTailIs(@TempDir Path dir) throws IOException {
        Path file = dir.resolve("requests.jsonl");
        RequestLogSink sink = RequestLogSink.open(new Config(true, Optional.of(file), Lines.TAIL)).orElseThrow();
        sink.exchange(TestReports.traced(TestReports.exchange(TestReports.SERVER, "/slow", 200))
                .withSlowCause(SlowCause.PROCESSING));
        sink.exchange(TestReports.traced(LineSelectionTest.fast(TestReports.SERVER, 200)));
        sink.connectionClosed(CLOSED);
        sink.lateRetransmit(LATE);
        sink.close();
        List<String> lines = Files.readAllLines(file);
        assertEquals(List.of("\"exchange\"", "\"late_retransmit\""), records(String.join("\n", lines)));
        assertTrue(lines.get(0).contains("/slow"));
    }

    @Test
    void aFileThatCannotBeOpenedSaysWhichSetting(@TempDir Path dir) {
        Path missing = dir.resolve("no/such/dir/requests.jsonl");
        IOException e = assertThrows(IOException.class,
                () -> RequestLogSink.open(new Config(true, Optional.of(missing))));
        assertTrue(e.getMessage().startsWith("cannot open the request log obi.request-log.path=" + missing), e.getMessage());
    }
}
