package lab.obi.agent.sink.requestlog;

import lab.obi.agent.config.AgentConfig;
import lab.obi.agent.report.ConnectionSummary;
import lab.obi.agent.report.ExchangeReport;
import lab.obi.agent.report.LateRetransmitReport;
import lab.obi.agent.report.ResponseAckedReport;
import lab.obi.agent.sink.Sink;
import org.jboss.logging.Logger;

import java.io.BufferedOutputStream;
import java.io.FileDescriptor;
import java.io.FileOutputStream;
import java.io.IOException;
import java.io.OutputStream;
import java.nio.file.Files;
import java.nio.file.Path;
import java.nio.file.StandardOpenOption;
import java.util.Optional;
import java.util.concurrent.atomic.LongAdder;

/**
 * The request log (JSON Lines) on stdout or in a file: by default its tail, every line on request
 * ({@link LineSelection}). Lines are buffered and written when the pipeline has nothing queued; a
 * failed write is logged once and counted (obi.agent.dropped, write_failure), never thrown at the
 * pipeline.
 */
public final class RequestLogSink implements Sink {

    private static final Logger LOG = Logger.getLogger(RequestLogSink.class);
    private static final int BUFFER_BYTES = 1 << 16;

    private final JsonLinesWriter writer;
    private final LineSelection selection;
    private final LongAdder writeFailures = new LongAdder();

    RequestLogSink(OutputStream out, LineSelection selection) throws IOException {
        this.writer = new JsonLinesWriter(out);
        this.selection = selection;
    }

    /** A line for every exchange, into the stream (the fuzzing of every sink writes all it can). */
    public static RequestLogSink everyLine(OutputStream out) throws IOException {
        return new RequestLogSink(out, LineSelection.all());
    }

    /** Empty when the log is off. */
    public static Optional<RequestLogSink> open(AgentConfig.RequestLog config) throws IOException {
        if (!config.enabled()) {
            return Optional.empty();
        }
        OutputStream out = config.path().isPresent() ? appendTo(config.path().get())
                : new FileOutputStream(FileDescriptor.out);
        return Optional.of(new RequestLogSink(new BufferedOutputStream(out, BUFFER_BYTES), LineSelection.of(config)));
    }

    private static OutputStream appendTo(Path path) throws IOException {
        try {
            return Files.newOutputStream(path, StandardOpenOption.CREATE, StandardOpenOption.APPEND);
        } catch (IOException e) {
            throw new IOException("cannot open the request log obi.request-log.path=" + path + ": " + e);
        }
    }

    /** Where the log goes, for the start-up line. */
    public static String describe(AgentConfig.RequestLog config) {
        return !config.enabled() ? "off"
                : config.path().map(Path::toString).orElse("stdout") + " (" + LineSelection.describe(config) + ")";
    }

    @Override
    public void exchange(ExchangeReport report) {
        if (!selection.keeps(report)) {
            return;
        }
        try {
            writer.write(report.exchange(), report.slowCause());
        } catch (IOException e) {
            failed(e);
        }
    }

    @Override
    public void connectionClosed(ConnectionSummary connection) {
        if (!selection.keeps(connection)) {
            return;
        }
        try {
            writer.write(connection);
        } catch (IOException e) {
            failed(e);
        }
    }

    @Override
    public void lateRetransmit(LateRetransmitReport report) {
        try {
            writer.write(report.retransmit());
        } catch (IOException e) {
            failed(e);
        }
    }

    @Override
    public void responseAcked(ResponseAckedReport report) {
        try {
            writer.write(report.acked(), report.slowCause());
        } catch (IOException e) {
            failed(e);
        }
    }

    @Override
    public void flush() {
        try {
            writer.flush();
        } catch (IOException e) {
            writeFailures.increment();
        }
    }

    /** Lines or flushes that could not be written. */
    public long writeFailures() {
        return writeFailures.sum();
    }

    @Override
    public void close() {
        try {
            writer.close();
        } catch (IOException e) {
            LOG.errorf("closing the request log failed: %s", e.getMessage());
        }
    }

    private void failed(IOException e) {
        if (writeFailures.sum() == 0) {
            LOG.errorf("writing the request log failed: %s (further failures are only counted)", e.getMessage());
        }
        writeFailures.increment();
    }
}
