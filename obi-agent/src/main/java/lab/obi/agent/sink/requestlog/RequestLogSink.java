package lab.obi.agent.sink.requestlog;

import lab.obi.agent.config.AgentConfig;
import lab.obi.agent.report.ConnectionSummary;
import lab.obi.agent.report.ExchangeReport;
import lab.obi.agent.report.LateRetransmitReport;
import lab.obi.agent.report.ResponseAckedReport;
import lab.obi.agent.sink.Sink;
import org.jboss.logging.Logger;

import java.io.FileDescriptor;
import java.io.FileOutputStream;
import java.io.IOException;
import java.io.OutputStream;
import java.io.UncheckedIOException;
import java.nio.ByteBuffer;
import java.nio.channels.FileChannel;
import java.nio.file.FileSystemException;
import java.nio.file.Path;
import java.nio.file.StandardOpenOption;
import java.util.Optional;
import java.util.concurrent.atomic.LongAdder;

/**
 * The request log (JSON Lines) on stdout or in a file: by default its tail, every line on request
 * ({@link LineSelection}). Lines are written when the pipeline has nothing queued. Lines that cannot
 * be written (a full disk) are dropped and counted (obi.agent.dropped, write_failure), and the log
 * says so once when writing starts failing and once when it works again; in a file, no half line
 * stays behind.
 */
public final class RequestLogSink implements Sink, LineBatch.Outcome {

    private static final Logger LOG = Logger.getLogger(RequestLogSink.class);
    /**
     * A nearly full disk takes small writes and refuses larger ones by turns: writing counts as
     * working again only after this long without a failure, so the log says it once, not per flush.
     */
    private static final long RECOVERED_AFTER_NS = 2_000_000_000L;

    private final LineBatch batch;
    private final LineSelection selection;
    private JsonLinesWriter writer;
    private final LongAdder linesLost = new LongAdder();
    private long linesLostWhenFailingStarted;
    private boolean failing;
    private long lastFailureNs;

    /** Writes to a stream; a failed write may leave part of a line in it. */
    RequestLogSink(OutputStream out, LineSelection selection) throws IOException {
        this(new LineBatch.Destination() {
            @Override
            public void write(byte[] bytes, int length) throws IOException {
                out.write(bytes, 0, length);
                out.flush();
            }

            @Override
            public void close() throws IOException {
                out.close();
            }
        }, selection);
    }

    private RequestLogSink(LineBatch.Destination destination, LineSelection selection) throws IOException {
        this.batch = new LineBatch(destination, this);
        this.writer = new JsonLinesWriter(batch);
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
        if (config.path().isEmpty()) {
            return Optional.of(new RequestLogSink(new FileOutputStream(FileDescriptor.out), LineSelection.of(config)));
        }
        return Optional.of(new RequestLogSink(new FileDestination(config.path().get()), LineSelection.of(config)));
    }

    private static FileChannel appendTo(Path path) throws IOException {
        try {
            return FileChannel.open(path, StandardOpenOption.CREATE, StandardOpenOption.WRITE,
                    StandardOpenOption.APPEND);
        } catch (FileSystemException e) {
            throw new IOException("cannot open the request log obi.request-log.path=" + path + ": "
                    + (e.getReason() == null ? e.getClass().getSimpleName() : e.getReason()));
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
        } catch (IOException | RuntimeException e) {
            throw lineAbandoned(e);
        }
    }

    @Override
    public void connectionClosed(ConnectionSummary connection) {
        if (!selection.keeps(connection)) {
            return;
        }
        try {
            writer.write(connection);
        } catch (IOException | RuntimeException e) {
            throw lineAbandoned(e);
        }
    }

    @Override
    public void lateRetransmit(LateRetransmitReport report) {
        try {
            writer.write(report.retransmit());
        } catch (IOException | RuntimeException e) {
            throw lineAbandoned(e);
        }
    }

    /**
     * A line that failed half-way (a bug: serialising into memory has nothing else to fail on) would
     * leave the generator inside its object, and every later line refused. The lines before it are
     * kept, its start is cut off, the next line starts with a fresh generator, and the failure goes
     * to the pipeline to be counted.
     */
    private RuntimeException lineAbandoned(Exception e) {
        try {
            writer.flush();
            writer = new JsonLinesWriter(batch);
        } catch (IOException cannotHappenInMemory) {
            e.addSuppressed(cannotHappenInMemory);
        }
        batch.discardPartialLine();
        return e instanceof RuntimeException unchecked ? unchecked : new UncheckedIOException((IOException) e);
    }

    @Override
    public void responseAcked(ResponseAckedReport report) {
        try {
            writer.write(report.acked(), report.slowCause());
        } catch (IOException | RuntimeException e) {
            throw lineAbandoned(e);
        }
    }

    @Override
    public void flush() {
        try {
            writer.flush();
        } catch (IOException e) {
            throw new UncheckedIOException(e);
        }
        batch.writeOut();
    }

    /** Lines that could not be written. */
    public long writeFailures() {
        return linesLost.sum();
    }

    @Override
    public void written() {
        if (failing && System.nanoTime() - lastFailureNs >= RECOVERED_AFTER_NS) {
            failing = false;
            LOG.infof("the request log is written again; %d lines were lost while it could not be",
                    linesLost.sum() - linesLostWhenFailingStarted);
        }
    }

    @Override
    public void lost(long lines, IOException cause) {
        lastFailureNs = System.nanoTime();
        if (!failing) {
            failing = true;
            linesLostWhenFailingStarted = linesLost.sum();
            LOG.errorf("writing the request log failed (%s): its lines are dropped and counted"
                    + " (obi.agent.dropped, obi.drop.reason=write_failure) until it can be written again",
                    cause.getMessage());
        }
        linesLost.add(lines);
    }

    @Override
    public void close() {
        try {
            writer.close();
        } catch (IOException e) {
            LOG.errorf("closing the request log failed: %s", e.getMessage());
        }
    }

    /**
     * A file, opened again at its path after a failed write: a disk that went read-only comes back
     * as a new mount there (remounted, or replaced), which the old descriptor would never reach.
     * What part of a failed write reached the file is cut off again, so a full disk never leaves
     * half a JSON line for the next one to be glued to.
     */
    private static final class FileDestination implements LineBatch.Destination {
        private final Path path;
        private FileChannel file;
        private boolean failed;

        FileDestination(Path path) throws IOException {
            this.path = path;
            this.file = appendTo(path);
        }

        @Override
        public void write(byte[] bytes, int length) throws IOException {
            if (failed) {
                reopen();
            }
            failed = true; // until the write went through: a descriptor that cannot even say its size too
            long sizeBefore = file.size();
            try {
                ByteBuffer buffer = ByteBuffer.wrap(bytes, 0, length);
                while (buffer.hasRemaining()) {
                    file.write(buffer);
                }
                failed = false;
            } catch (IOException e) {
                try {
                    file.truncate(sizeBefore);
                } catch (IOException cannotTruncate) {
                    e.addSuppressed(cannotTruncate);
                }
                throw e;
            }
        }

        /** Kept failing (its lines counted lost) until the path can be opened again. */
        private void reopen() throws IOException {
            FileChannel reopened = appendTo(path);
            try {
                file.close();
            } catch (IOException onADeadDisk) {
                // the old descriptor is given up either way
            }
            file = reopened;
        }

        @Override
        public void close() throws IOException {
            file.close();
        }
    }
}
