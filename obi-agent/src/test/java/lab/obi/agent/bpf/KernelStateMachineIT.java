package lab.obi.agent.bpf;

import java.nio.ByteBuffer;
import com.sun.jna.Callback;
import com.sun.jna.Library;
import com.sun.jna.Memory;
import com.sun.jna.Native;
import com.sun.jna.Pointer;
import lab.obi.agent.capture.ConnectionRecord;
import lab.obi.agent.capture.ExchangeRecord;
import lab.obi.agent.capture.KernelRecord;
import lab.obi.agent.capture.LateRetransmitRecord;
import lab.obi.agent.capture.RecordDecoder;
import lab.obi.agent.contract.BpfObject;
import lab.obi.agent.contract.ConfigLayout;
import lab.obi.agent.contract.ConnectionFlags;
import lab.obi.agent.contract.ExchangeFlags;
import lab.obi.agent.protocol.AbortKind;
import lab.obi.agent.protocol.Verdict;
import lab.obi.agent.protocol.http1.Verdicts;
import lab.obi.agent.protocol.http1.HttpParser;
import org.junit.jupiter.api.AfterAll;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.TestInstance;

import java.lang.ref.Reference;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;
import java.util.concurrent.ExecutorService;
import java.util.concurrent.Executors;
import java.util.concurrent.atomic.AtomicLong;

import static org.junit.jupiter.api.Assertions.*;

/**
 * The kernel's exchange state machine driven without traffic: bpf/test/harness.bpf.c exposes the
 * hooks' handlers as programs that BPF_PROG_TEST_RUN calls with byte sequences from this process and
 * TCP state changes; what they emit comes back through the ring buffer and the agent's decoder.
 * Each test uses a connection ("sk") of its own. Needs root (loading BPF programs), as `make test` is.
 */
@TestInstance(TestInstance.Lifecycle.PER_CLASS)
class KernelStateMachineIT {

    private static final Path HARNESS = Path.of("..", "bpf", "build", "harness.bpf.o");
    private static final int TCP_ESTABLISHED = 1;
    private static final int TCP_FIN_WAIT1 = 4;
    private static final int TCP_FIN_WAIT2 = 5;
    private static final int TCP_CLOSE = 7;
    private static final int TCP_CLOSE_WAIT = 8;
    private static final int TCP_LAST_ACK = 9;
    private static final int EPIPE = 32;
    private static final int ECONNRESET = 104;
    private static final int EAGAIN = 11;
    private static final long PEER_FIN_WAIT_NS = 50_000_000L;
    private static final int TEST_RUN_OPTS_SIZE = 80;

    /** The ring-buffer part of libbpf, which the agent reads by mapping the ring itself. */
    interface RingBuffers extends Library {
        RingBuffers INSTANCE = Native.load(LibBpf.SONAME, RingBuffers.class);

        interface Sample extends Callback {
            int invoke(Pointer context, Pointer data, long size);
        }

        Pointer ring_buffer__new(int mapFd, Sample sample, Pointer context, Pointer opts);

        int ring_buffer__consume(Pointer ringBuffer);

        void ring_buffer__free(Pointer ringBuffer);

        Pointer bpf_object__find_program_by_name(Pointer object, String name);
    }

    private final LibBpf libbpf = LibBpf.load();
    private final List<KernelRecord> received = new ArrayList<>();
    private final RingBuffers.Sample collect = (context, data, size) -> {
        received.add(RecordDecoder.decode(ByteBuffer.wrap(data.getByteArray(0, (int) size))).orElseThrow(
                () -> new AssertionError("a record the decoder cannot read: " + size + " bytes")));
        return 0;
    };
    private final AtomicLong nextSk = new AtomicLong(0x1000);
    private Memory objectBytes;
    private Pointer object;
    private Pointer ring;

    @BeforeAll
    void loadTheHarness() throws Exception {
        byte[] elf = Files.readAllBytes(HARNESS);
        objectBytes = new Memory(elf.length);
        objectBytes.write(0, elf, 0, elf.length);
        object = libbpf.bpf_object__open_mem(objectBytes, elf.length, null);
        assertNotNull(object, "libbpf opens " + HARNESS);
        assertEquals(List.of(), new ContractCheck(libbpf, libbpf.bpf_object__btf(object)).mismatches(),
                "the harness is built from the same contract");
        Memory config = new Memory(ConfigLayout.SIZE);
        config.clear();
        config.setInt(ConfigLayout.REQ_HEAD_LEN, 512);
        config.setLong(ConfigLayout.PEER_FIN_WAIT_NS, PEER_FIN_WAIT_NS);
        assertEquals(0, libbpf.bpf_map__set_initial_value(libbpf.bpf_object__find_map_by_name(object,
                BpfObject.CONFIG_SECTION), config, config.size()));
        assertEquals(0, libbpf.bpf_object__load(object), "the verifier accepts the harness (run as root)");
        int events = libbpf.bpf_map__fd(libbpf.bpf_object__find_map_by_name(object, BpfObject.MAP_EVENTS));
        ring = RingBuffers.INSTANCE.ring_buffer__new(events, collect, null, null);
        assertNotNull(ring);
    }

    @AfterAll
    void unload() {
        if (ring != null) {
            RingBuffers.INSTANCE.ring_buffer__free(ring);
        }
        if (object != null) {
            libbpf.bpf_object__close(object);
        }
    }

    /** Runs a harness program once with these context arguments. */
    private void run(String program, long... args) {
        Pointer p = RingBuffers.INSTANCE.bpf_object__find_program_by_name(object, program);
        assertNotNull(p, program);
        Memory opts = new Memory(TEST_RUN_OPTS_SIZE);
        opts.clear();
        opts.setLong(0, TEST_RUN_OPTS_SIZE);
        Memory context = args.length == 0 ? null : new Memory(8L * args.length);
        if (context != null) {
            for (int i = 0; i < args.length; i++) {
                context.setLong(8L * i, args[i]);
            }
            opts.setPointer(32, context); // ctx_in
            opts.setInt(48, 8 * args.length); // ctx_size_in
        }
        assertEquals(0, libbpf.bpf_prog_test_run_opts(libbpf.bpf_program__fd(p), opts), program);
        Reference.reachabilityFence(context); // its memory is read by the call above
    }

    /** One read (in) or write (out) of these bytes on the connection, returning what the call returned. */
    private void io(long sk, boolean in, String bytes) {
        begin(sk, in, bytes);
        run("harness_io_end", bytes.length());
    }

    private Memory pending; // the buffer of the call under way: the kernel reads it at the call's exit

    private void begin(long sk, boolean in, String bytes) {
        pending = beginCall(sk, in, bytes);
    }

    /** The entry of a call on the calling thread; returns its buffer, to keep until the call's exit. */
    private Memory beginCall(long sk, boolean in, String bytes) {
        byte[] b = bytes.getBytes(StandardCharsets.ISO_8859_1);
        Memory buffer = new Memory(Math.max(b.length, 1));
        buffer.write(0, b, 0, b.length);
        run("harness_io_begin", sk, Pointer.nativeValue(buffer), b.length, in ? 1 : 0);
        return buffer;
    }

    private void state(long sk, int from, int to) {
        run("harness_tcp_state", sk, from, to);
    }

    private List<KernelRecord> drain() {
        received.clear();
        RingBuffers.INSTANCE.ring_buffer__consume(ring);
        return List.copyOf(received);
    }

    private <T extends KernelRecord> List<T> drained(Class<T> kind) {
        return ofKind(drain(), kind);
    }

    private static <T extends KernelRecord> List<T> ofKind(List<KernelRecord> records, Class<T> kind) {
        return records.stream().filter(kind::isInstance).map(kind::cast).toList();
    }

    private static final String REQUEST = "GET /users/7 HTTP/1.1\r\nHost: lab\r\n\r\n";
    private static final String RESPONSE = "HTTP/1.1 200 OK\r\nContent-Length: 2\r\n\r\nok";

    private static Verdict verdict(ExchangeRecord r) {
        return Verdicts.judge(r, HttpParser.parseRequest(r.requestHead()).orElse(null));
    }

    @Test
    void aRequestAndItsResponseAreOneRecord() {
        long sk = nextSk.incrementAndGet();
        io(sk, true, REQUEST);
        assertEquals(List.of(), drain(), "nothing before the response ends");
        io(sk, false, RESPONSE);
        ExchangeRecord r = single(drained(ExchangeRecord.class));
        assertEquals(200, r.status());
        assertTrue(r.has(ExchangeFlags.RESPONSE_COMPLETE));
        assertTrue(r.has(ExchangeFlags.REQUEST_ENDS_BLANK_LINE));
        assertEquals(ExchangeRecord.Direction.SERVER, r.owner().direction());
        assertEquals(REQUEST, new String(r.requestHead(), StandardCharsets.ISO_8859_1));
        assertEquals(REQUEST.length(), r.bytesIn());
        assertEquals(RESPONSE.length(), r.bytesOut());
        assertEquals(2, r.contentLength());
        assertEquals(1, r.requestIndex());
        assertTrue(r.endNs() >= r.startNs() && r.startNs() > 0);
        assertEquals(ProcessHandle.current().pid(), r.owner().pid());
    }

    @Test
    void keepAliveRequestsAreCountedAndPipelinedOnesStartFromTheirResponses() {
        long sk = nextSk.incrementAndGet();
        io(sk, true, REQUEST);
        io(sk, false, RESPONSE);
        io(sk, true, REQUEST + REQUEST); // two requests in one read
        io(sk, false, RESPONSE);
        io(sk, false, RESPONSE);
        List<ExchangeRecord> records = drained(ExchangeRecord.class);
        assertEquals(List.of(1, 2, 3), records.stream().map(ExchangeRecord::requestIndex).toList());
        assertTrue(records.get(2).has(ExchangeFlags.PIPELINED), "started by its response");
        assertEquals(0, records.get(2).requestHead().length, "its request came with the one before");
    }

    private static final String MISSING = "GET /missing HTTP/1.1\r\nHost: lab\r\n\r\n";
    private static final String NOT_FOUND = "HTTP/1.1 404 Not Found\r\nContent-Length: 9\r\n\r\nnot found";

    /**
     * A client that writes on one thread and reads on another (the JDK's HttpClient): on loopback the
     * server can answer, and the reader read the answer, before the write's exit has run. The soak saw
     * it once in 180k requests as a 404 with no request.
     */
    @Test
    void anAnswerReadBeforeItsRequestWriteReturnedIsThatRequestsAnswer() throws Exception {
        long sk = nextSk.incrementAndGet();
        io(sk, false, REQUEST);
        io(sk, true, RESPONSE);
        assertEquals(List.of(1), drained(ExchangeRecord.class).stream().map(ExchangeRecord::requestIndex).toList());
        answeredBeforeTheWriteReturned(sk, MISSING, NOT_FOUND, () -> {
            ExchangeRecord r = single(drained(ExchangeRecord.class));
            assertEquals(MISSING, new String(r.requestHead(), StandardCharsets.ISO_8859_1), r.toString());
            assertEquals(404, verdict(r).status());
            assertEquals(2, r.requestIndex());
            assertEquals(MISSING.length(), r.bytesOut(), "the request's bytes, counted at the write's entry");
            assertFalse(r.has(ExchangeFlags.PIPELINED), r.toString());
        });
        io(sk, false, REQUEST);
        io(sk, true, RESPONSE);
        ExchangeRecord next = single(drained(ExchangeRecord.class));
        assertEquals(3, next.requestIndex(), "the late exit begins no exchange: " + next);
        assertEquals(REQUEST.length(), next.bytesOut());
        assertEquals(REQUEST, new String(next.requestHead(), StandardCharsets.ISO_8859_1));
    }

    /**
     * The request is written on a thread of its own, and its answer read on this one before the
     * write's exit runs; meanwhile runs between that read and the exit.
     */
    private void answeredBeforeTheWriteReturned(long sk, String request, String answer, Runnable meanwhile)
            throws Exception {
        ExecutorService writer = Executors.newSingleThreadExecutor();
        try {
            Memory buffer = writer.submit(() -> beginCall(sk, false, request)).get();
            io(sk, true, answer);
            meanwhile.run();
            writer.submit(() -> run("harness_io_end", request.length())).get();
            Reference.reachabilityFence(buffer);
        } finally {
            writer.shutdownNow();
        }
    }

    /**
     * The same race after an answer whose head came in two reads: the kernel could not frame it, so
     * the next request ends it. Seen as often as the race itself under a held write exit.
     */
    @Test
    void anAnswerReadBeforeItsRequestWriteReturnedEndsAnUnframedAnswerBeforeIt() throws Exception {
        long sk = nextSk.incrementAndGet();
        io(sk, false, REQUEST);
        io(sk, true, "HTTP/1.1 200 OK\r\nContent-Length: 2\r\n");
        io(sk, true, "\r\nok");
        assertEquals(List.of(), drain(), "no framing: the answer ends with the next request");
        answeredBeforeTheWriteReturned(sk, MISSING, NOT_FOUND, () -> { });
        List<ExchangeRecord> records = drained(ExchangeRecord.class);
        assertEquals(2, records.size(), records.toString());
        assertEquals(200, verdict(records.get(0)).status());
        assertTrue(records.get(0).has(ExchangeFlags.NEXT_REQUEST), records.get(0).toString());
        assertEquals(MISSING, new String(records.get(1).requestHead(), StandardCharsets.ISO_8859_1));
        assertEquals(404, verdict(records.get(1)).status());
    }

    /** The same race on a connection's first request: nothing tracked yet when the answer is read. */
    @Test
    void aFirstRequestAnsweredBeforeItsWriteReturnedIsOneExchange() throws Exception {
        long sk = nextSk.incrementAndGet();
        answeredBeforeTheWriteReturned(sk, MISSING, NOT_FOUND, () -> { });
        state(sk, TCP_ESTABLISHED, TCP_CLOSE);
        ExchangeRecord r = single(drained(ExchangeRecord.class));
        assertEquals(404, verdict(r).status(), r.toString());
        assertEquals(1, r.requestIndex());
        assertTrue(r.has(ExchangeFlags.RESPONSE_COMPLETE), r.toString());
    }

    /** A write that moves nothing (EAGAIN) began no request: the one that follows is the connection's first. */
    @Test
    void aRequestWriteThatMovedNothingIsWrittenAgainOnce() {
        long sk = nextSk.incrementAndGet();
        begin(sk, false, REQUEST);
        run("harness_io_end", -EAGAIN);
        io(sk, false, REQUEST);
        io(sk, true, RESPONSE);
        ExchangeRecord r = single(drained(ExchangeRecord.class));
        assertEquals(1, r.requestIndex());
        assertEquals(REQUEST, new String(r.requestHead(), StandardCharsets.ISO_8859_1), "its head once");
        assertEquals(REQUEST.length(), r.bytesOut());
        assertEquals(200, verdict(r).status());
    }

    /** A request write that moved part of its buffer: the head holds what moved, then the rest once. */
    @Test
    void aRequestWrittenInTwoPartsIsOneHead() {
        long sk = nextSk.incrementAndGet();
        begin(sk, false, REQUEST);
        run("harness_io_end", 10);
        io(sk, false, REQUEST.substring(10));
        io(sk, true, RESPONSE);
        ExchangeRecord r = single(drained(ExchangeRecord.class));
        assertEquals(REQUEST, new String(r.requestHead(), StandardCharsets.ISO_8859_1));
        assertEquals(REQUEST.length(), r.bytesOut());
        assertTrue(r.has(ExchangeFlags.REQUEST_ENDS_BLANK_LINE), r.toString());
    }

    /**
     * A client that reads its answer's first bytes alone (the JDK's HttpClient at the end of its
     * buffer): too few for a status line, kept until the next read completes it.
     */
    @Test
    void anAnswerWhoseStatusLineCameInTwoReadsKeepsItsStatus() {
        long sk = nextSk.incrementAndGet();
        io(sk, false, REQUEST);
        io(sk, true, "HTTP/1.1 4");
        io(sk, true, "04 Not Found\r\nContent-Length: 9\r\n\r\nnot found");
        io(sk, false, REQUEST); // no framing: the next request ends it
        ExchangeRecord r = single(drained(ExchangeRecord.class));
        assertEquals(404, verdict(r).status(), r.toString());
        assertTrue(r.has(ExchangeFlags.NEXT_REQUEST), r.toString());
        assertEquals(NOT_FOUND.length(), r.bytesIn());
    }

    @Test
    void aChunkedResponseEndsWithItsLastChunk() {
        long sk = nextSk.incrementAndGet();
        io(sk, true, REQUEST);
        io(sk, false, "HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n");
        io(sk, false, "4\r\nbody\r\n");
        assertEquals(List.of(), drain(), "the body goes on");
        io(sk, false, "0\r\n\r\n");
        ExchangeRecord r = single(drained(ExchangeRecord.class));
        assertTrue(r.has(ExchangeFlags.CHUNKED) && r.has(ExchangeFlags.RESPONSE_COMPLETE), r.toString());
    }

    @Test
    void theClientsFinThenTheAnswerThenItsResetIsAnAnswerAfterTheClientLeft() {
        long sk = nextSk.incrementAndGet();
        io(sk, true, REQUEST);
        state(sk, TCP_ESTABLISHED, TCP_CLOSE_WAIT);
        io(sk, false, RESPONSE);
        state(sk, TCP_CLOSE_WAIT, TCP_LAST_ACK);
        assertEquals(List.of(), drain(), "after an answer to a FIN, the close tells half-close from abandon");
        run("harness_reset_received", sk);
        state(sk, TCP_LAST_ACK, TCP_CLOSE);
        List<KernelRecord> records = drain();
        ExchangeRecord r = single(ofKind(records, ExchangeRecord.class));
        assertTrue(r.has(ExchangeFlags.PEER_FIN) && r.has(ExchangeFlags.RST_RECEIVED)
                && r.has(ExchangeFlags.RESPONSE_COMPLETE), r.toString());
        Verdict v = verdict(r);
        assertEquals(200, v.status(), "the status it wrote");
        assertTrue(v.aborted(), "the client had left");
        ConnectionRecord c = single(ofKind(records, ConnectionRecord.class));
        assertTrue(c.has(ConnectionFlags.PEER_CLOSED_FIRST) && c.has(ConnectionFlags.RST_RECEIVED));
        assertEquals(1, c.requests());
    }

    @Test
    void aHalfCloseAnsweredAndAcknowledgedIsNoAbandon() {
        long sk = nextSk.incrementAndGet();
        io(sk, true, REQUEST);
        state(sk, TCP_ESTABLISHED, TCP_CLOSE_WAIT);
        io(sk, false, RESPONSE);
        state(sk, TCP_CLOSE_WAIT, TCP_LAST_ACK);
        state(sk, TCP_LAST_ACK, TCP_CLOSE);
        Verdict v = verdict(single(drained(ExchangeRecord.class)));
        assertEquals(200, v.status());
        assertFalse(v.aborted());
    }

    /**
     * A client that half-closed, on a busy host: its read took the answer, and the server's FIN,
     * held in the socket's backlog meanwhile, closed the socket (time-wait) as the read let go of
     * it, before the read's exit. Nothing is left unread then, yet the answer is that read's.
     */
    @Test
    void theServersFinProcessedBeforeTheExitOfTheReadThatTookTheAnswerWaitsForIt() {
        int[] pair = connectedPair();
        long sk = sockOf(pair[0]);
        try {
            io(sk, false, REQUEST);
            byte[] answer = RESPONSE.getBytes(StandardCharsets.ISO_8859_1);
            assertEquals(answer.length, Sockets.INSTANCE.write(pair[1], answer, answer.length));
            assertEquals(answer.length, Sockets.INSTANCE.read(pair[0], new byte[256], 256), "the read took it");
            state(sk, TCP_FIN_WAIT2, TCP_CLOSE);
            assertEquals(List.of(), drain(), "the close waits for the read's exit");
            io(sk, true, RESPONSE); // that read's exit
            ExchangeRecord r = single(drained(ExchangeRecord.class));
            assertEquals(answer.length, r.bytesIn(), "the read's bytes are in");
            Verdict v = verdict(r);
            assertEquals(200, v.status());
            assertFalse(v.aborted(), r.toString());
            run("harness_tcp_destroy", sk);
            assertEquals(1, drained(ConnectionRecord.class).size(), "then the connection's record");
        } finally {
            Sockets.INSTANCE.close(pair[0]);
            Sockets.INSTANCE.close(pair[1]);
        }
    }

    @Test
    void aWriteThatTheResetAnswersInsideTheCallIsStillCounted() {
        long sk = nextSk.incrementAndGet();
        io(sk, true, REQUEST);
        state(sk, TCP_ESTABLISHED, TCP_CLOSE_WAIT);
        begin(sk, false, RESPONSE);
        run("harness_reset_received", sk);
        state(sk, TCP_CLOSE_WAIT, TCP_CLOSE); // on loopback: inside the write
        assertEquals(List.of(), drain(), "the close waits for the write's exit");
        run("harness_io_end", RESPONSE.length());
        List<KernelRecord> records = drain();
        ExchangeRecord r = (ExchangeRecord) records.get(0);
        assertEquals(RESPONSE.length(), r.bytesOut(), "the write's bytes are in");
        assertEquals(200, verdict(r).status());
        assertInstanceOf(ConnectionRecord.class, records.get(1), "then the connection's record");
    }

    @Test
    void aClientThatLeftBeforeAnyStatusLineIs499AndAHeadCutShortIs400() {
        long complete = nextSk.incrementAndGet();
        io(complete, true, REQUEST);
        state(complete, TCP_ESTABLISHED, TCP_CLOSE_WAIT);
        state(complete, TCP_CLOSE_WAIT, TCP_LAST_ACK);
        Verdict gone = verdict(single(drained(ExchangeRecord.class)));
        assertEquals(499, gone.status());
        assertTrue(gone.aborted() && gone.requestComplete());

        long cut = nextSk.incrementAndGet();
        io(cut, true, "GET /users/7 HTTP/1.1\r\nHo");
        io(cut, true, "st: lab\r\n");
        state(cut, TCP_ESTABLISHED, TCP_CLOSE_WAIT);
        state(cut, TCP_CLOSE_WAIT, TCP_LAST_ACK);
        ExchangeRecord r = single(drained(ExchangeRecord.class));
        assertFalse(r.has(ExchangeFlags.REQUEST_ENDS_BLANK_LINE));
        Verdict v = verdict(r);
        assertEquals(400, v.status());
        assertFalse(v.requestComplete());
    }

    @Test
    void aRequestSentAFewBytesPerReadEndsWithABlankLine() {
        long sk = nextSk.incrementAndGet();
        io(sk, true, "GET /x HTTP/1.1\r\nHost: lab\r\n");
        for (char c : "\r\n".toCharArray()) {
            io(sk, true, String.valueOf(c));
        }
        io(sk, false, RESPONSE);
        ExchangeRecord r = single(drained(ExchangeRecord.class));
        assertTrue(r.has(ExchangeFlags.REQUEST_ENDS_BLANK_LINE), "the last four bytes, one read at a time");
    }

    @Test
    void aRequestSentOneByteAtATimeIsOneExchangeFromItsFirstByte() {
        long sk = nextSk.incrementAndGet();
        long before = System.nanoTime();
        for (char c : REQUEST.toCharArray()) {
            io(sk, true, String.valueOf(c));
        }
        io(sk, false, RESPONSE);
        ExchangeRecord r = single(drained(ExchangeRecord.class));
        assertEquals(REQUEST, new String(r.requestHead(), StandardCharsets.ISO_8859_1));
        assertEquals(REQUEST.length(), r.bytesIn());
        assertEquals(200, verdict(r).status());
        assertTrue(r.requestEndNs() - r.startNs() > 0, "from the first byte to the last");
        assertTrue(r.has(ExchangeFlags.REQUEST_ENDS_BLANK_LINE));

        io(sk, true, "G"); // the next request on the same connection, slowly again
        io(sk, true, "ET /users/8 HTTP/1.1\r\n\r\n");
        io(sk, false, RESPONSE);
        assertEquals(2, single(drained(ExchangeRecord.class)).requestIndex());
    }

    @Test
    void bytesThatOnlyBeganLikeARequestAreForgotten() {
        long sk = nextSk.incrementAndGet();
        for (char c : "PING\r\n".toCharArray()) {
            io(sk, true, String.valueOf(c));
        }
        io(sk, false, RESPONSE);
        state(sk, TCP_ESTABLISHED, TCP_CLOSE);
        assertEquals(List.of(), drain(), "no exchange, and no connection left to report");
    }

    @Test
    void aServerThatNeverReactsToTheFinIsReportedOnceTheWaitRunsOut() throws Exception {
        long sk = nextSk.incrementAndGet();
        io(sk, true, REQUEST);
        state(sk, TCP_ESTABLISHED, TCP_CLOSE_WAIT);
        run(BpfObject.PROGRAM_EXPIRE_PEER_FIN_WAITS);
        assertEquals(List.of(), drained(ExchangeRecord.class), "still within the wait");
        Thread.sleep(PEER_FIN_WAIT_NS / 1_000_000 + 20);
        run(BpfObject.PROGRAM_EXPIRE_PEER_FIN_WAITS);
        ExchangeRecord r = single(drained(ExchangeRecord.class));
        assertTrue(r.has(ExchangeFlags.WAIT_EXPIRED), r.toString());
        assertTrue(r.endNs() - r.finNs() >= PEER_FIN_WAIT_NS, "it lasted until it was given up on");
        assertEquals(499, verdict(r).status());
        io(sk, false, RESPONSE);
        state(sk, TCP_CLOSE_WAIT, TCP_LAST_ACK);
        state(sk, TCP_LAST_ACK, TCP_CLOSE);
        assertEquals(List.of(), drained(ExchangeRecord.class), "the late answer is no exchange");
    }

    /** nginx logs the status it meant to send when the write fails (the client reset): so does the agent. */
    @Test
    void aWriteThatFailsAfterTheClientLeftIsAWriteErrorWithTheStatusItCarried() {
        long sk = nextSk.incrementAndGet();
        io(sk, true, REQUEST);
        begin(sk, false, RESPONSE);
        run("harness_io_end", -EPIPE);
        state(sk, TCP_ESTABLISHED, TCP_FIN_WAIT1);
        ExchangeRecord r = single(drained(ExchangeRecord.class));
        assertTrue(r.has(ExchangeFlags.WRITE_ERROR) && r.writeErrorNs() > 0, r.toString());
        assertEquals(0, r.bytesOut());
        Verdict v = verdict(r);
        assertEquals(200, v.status(), r.toString());
        assertTrue(v.aborted() && v.truncated(), v.toString());
    }

    /**
     * A client resets a request its server has not answered: the reset closes the socket, but the
     * exchange waits for the server. nginx then logs the status its failed write carried, or 499 if
     * it closes first; a server that does neither is reported once the wait runs out.
     */
    @Test
    void aResetBeforeTheAnswerEndsWithTheServersFailedWriteOrItsClose() throws Exception {
        long written = resetBeforeTheAnswer();
        begin(written, false, RESPONSE);
        run("harness_io_end", -ECONNRESET);
        List<KernelRecord> records = drain();
        ExchangeRecord r = single(ofKind(records, ExchangeRecord.class));
        Verdict v = verdict(r);
        assertEquals(200, v.status(), "the status the failed write carried: " + r);
        assertEquals(AbortKind.RST, v.abortKind(), r.toString());
        assertTrue(r.has(ExchangeFlags.CONN_CLOSED) && !r.has(ExchangeFlags.LOCAL_CLOSE), r.toString());
        assertEquals(1, ofKind(records, ConnectionRecord.class).size(), records.toString());

        long closed = resetBeforeTheAnswer();
        run("harness_tcp_destroy", closed);
        records = drain();
        v = verdict(single(ofKind(records, ExchangeRecord.class)));
        assertEquals(499, v.status());
        assertEquals(AbortKind.RST, v.abortKind());
        assertEquals(1, ofKind(records, ConnectionRecord.class).size(), records.toString());

        long ignored = resetBeforeTheAnswer();
        run(BpfObject.PROGRAM_EXPIRE_PEER_FIN_WAITS);
        assertEquals(List.of(), drain(), "still within the wait");
        Thread.sleep(PEER_FIN_WAIT_NS / 1_000_000 + 20);
        run(BpfObject.PROGRAM_EXPIRE_PEER_FIN_WAITS);
        records = drain();
        r = single(ofKind(records, ExchangeRecord.class));
        assertTrue(r.has(ExchangeFlags.WAIT_EXPIRED), r.toString());
        assertEquals(499, verdict(r).status());
        run("harness_tcp_destroy", ignored);
        assertEquals(List.of(), drain(), "reported once");
    }

    private long resetBeforeTheAnswer() {
        long sk = nextSk.incrementAndGet();
        io(sk, true, REQUEST);
        run("harness_reset_received", sk);
        state(sk, TCP_ESTABLISHED, TCP_CLOSE);
        assertEquals(List.of(), drain(), "the server has yet to react to the reset");
        return sk;
    }

    @Test
    void aFailedWriteOfNoFinalStatusLineLeavesTheRequestUnanswered() {
        for (String attempted : List.of("HTTP/1.1 100 Continue\r\n\r\n", "<html>not a status line</html>")) {
            long sk = nextSk.incrementAndGet();
            io(sk, true, REQUEST);
            begin(sk, false, attempted);
            run("harness_io_end", -EPIPE);
            state(sk, TCP_ESTABLISHED, TCP_FIN_WAIT1);
            ExchangeRecord r = single(drained(ExchangeRecord.class));
            assertEquals(499, verdict(r).status(), attempted + ": " + r);
        }
    }

    @Test
    void aSegmentSentAgainAfterTheRecordIsALateRetransmitOfThatExchange() {
        long sk = nextSk.incrementAndGet();
        io(sk, true, REQUEST);
        io(sk, false, RESPONSE);
        drain();
        run("harness_retransmit", sk, 0);
        run("harness_retransmit", sk, 1); // a FIN alone delays no response
        LateRetransmitRecord late = single(drained(LateRetransmitRecord.class));
        assertEquals(1, late.requestIndex());
    }

    @Test
    void bytesThatAreNoHttpCreateNoState() {
        long sk = nextSk.incrementAndGet();
        io(sk, true, "\u0016\u0003\u0001\u0002\u0000\u0001\u0000\u0001\u00fc\u0003\u0003");
        io(sk, false, RESPONSE);
        state(sk, TCP_ESTABLISHED, TCP_CLOSE);
        assertEquals(List.of(), drain(), "TLS bytes, then a status line: nothing tracked, nothing emitted");
    }

    /**
     * A request read after its client had reset (it was still queued): the reset's TCP_CLOSE came
     * before any state, so the read that found it ends the connection, as the client that left.
     */
    @Test
    void aRequestReadAfterItsClientResetEndsWithTheReadAsAClientThatLeft() {
        int[] pair = connectedPair();
        try {
            long server = sockOf(pair[1]);
            resetBy(pair[0], pair[1]);
            io(server, true, REQUEST);
            List<KernelRecord> records = drain();
            ExchangeRecord r = single(ofKind(records, ExchangeRecord.class));
            assertTrue(r.has(ExchangeFlags.CONN_CLOSED) && r.has(ExchangeFlags.RST_RECEIVED), r.toString());
            assertFalse(r.has(ExchangeFlags.LOCAL_CLOSE), "the client closed it: " + r);
            assertTrue(r.rstNs() >= r.startNs(), "reset no earlier than the exchange it ended: " + r);
            Verdict v = verdict(r);
            assertEquals(499, v.status());
            assertTrue(v.aborted());
            ConnectionRecord c = single(ofKind(records, ConnectionRecord.class));
            assertTrue(c.has(ConnectionFlags.RST_RECEIVED), c.toString());
            assertEquals(r.connId(), c.connId());
        } finally {
            Sockets.INSTANCE.close(pair[1]);
        }
    }

    /** A request written onto a kept-alive connection that its server had reset: it fails, and ends with the write. */
    @Test
    void aRequestWrittenOntoAConnectionItsServerResetEndsWithTheFailedWrite() {
        int[] pair = connectedPair();
        try {
            long client = sockOf(pair[0]);
            resetBy(pair[1], pair[0]);
            begin(client, false, REQUEST);
            run("harness_io_end", -EPIPE);
            List<KernelRecord> records = drain();
            ExchangeRecord r = single(ofKind(records, ExchangeRecord.class));
            assertTrue(r.has(ExchangeFlags.WRITE_ERROR) && r.has(ExchangeFlags.CONN_CLOSED), r.toString());
            assertEquals(1, ofKind(records, ConnectionRecord.class).size(), records.toString());
            run(BpfObject.PROGRAM_EXPIRE_PEER_FIN_WAITS);
            assertEquals(List.of(), drain(), "nothing left for the scan");
        } finally {
            Sockets.INSTANCE.close(pair[0]);
        }
    }

    @Test
    void aStructSockFreedUnseenAndGivenToANewSocketIsANewConnection() {
        int[] pair = connectedPair();
        int first = pair[0];
        long sk = sockOf(first);
        io(sk, true, REQUEST); // and then no TCP state change: its close goes unseen
        int second = closedAndReused(first, sk);
        int[] secondPair = connected(second); // a new connection, where the old one's close went unseen
        try {
            io(sk, true, REQUEST);
            io(sk, false, RESPONSE);
            List<KernelRecord> records = drain();
            List<ExchangeRecord> exchanges = ofKind(records, ExchangeRecord.class);
            assertEquals(2, exchanges.size(), "the old connection's exchange, then the new one's: " + records);
            ExchangeRecord stale = exchanges.get(0);
            ExchangeRecord current = exchanges.get(1);
            assertTrue(stale.has(ExchangeFlags.CONN_CLOSED), stale.toString());
            assertEquals(stale.connId(), single(ofKind(records, ConnectionRecord.class)).connId(),
                    "the old connection is reported closed");
            assertNotEquals(stale.connId(), current.connId());
            assertEquals(1, current.requestIndex());
            assertEquals(200, verdict(current).status());
        } finally {
            Sockets.INSTANCE.close(second);
            Sockets.INSTANCE.close(secondPair[1]);
            Sockets.INSTANCE.close(pair[1]);
        }
    }

    @Test
    void theSweepFinishesAConnectionWhoseStructSockServesAnotherSocket() throws Exception {
        int[] pair = connectedPair();
        int first = pair[0];
        long sk = sockOf(first);
        io(sk, true, REQUEST);
        int listening = closedAndReused(first, sk);
        try {
            assertEquals(0, Sockets.INSTANCE.listen(listening, 1), "a listening socket: its state is not CLOSE");
            run(BpfObject.PROGRAM_EXPIRE_PEER_FIN_WAITS);
            assertEquals(List.of(), drained(ConnectionRecord.class), "a close may still be on its way");
            Thread.sleep(CLOSE_MISSED_AFTER_MS + 100);
            run(BpfObject.PROGRAM_EXPIRE_PEER_FIN_WAITS);
            List<KernelRecord> records = drain();
            ConnectionRecord closed = single(ofKind(records, ConnectionRecord.class));
            assertTrue(records.stream().anyMatch(r -> r instanceof ExchangeRecord e && e.connId() == closed.connId()
                    && e.has(ExchangeFlags.CONN_CLOSED)), "its open exchange ends with it: " + records);
        } finally {
            Sockets.INSTANCE.close(listening);
            Sockets.INSTANCE.close(pair[1]);
        }
    }

    /** Real sockets of this process, to have a struct sock freed and handed to another socket. */
    interface Sockets extends Library {
        Sockets INSTANCE = Native.load("c", Sockets.class);

        int socket(int domain, int type, int protocol);

        int listen(int fd, int backlog);

        int bind(int fd, byte[] address, int length);

        int connect(int fd, byte[] address, int length);

        int getsockname(int fd, byte[] address, int[] length);

        int accept(int fd, Pointer address, Pointer length);

        int setsockopt(int fd, int level, int option, int[] value, int length);

        int getsockopt(int fd, int level, int option, int[] value, int[] length);

        int close(int fd);

        long write(int fd, byte[] buffer, long count);

        long read(int fd, byte[] buffer, long count);

        int sched_getcpu();

        /** pid 0: the calling thread */
        int sched_getaffinity(int pid, long size, long[] mask);

        int sched_setaffinity(int pid, long size, long[] mask);
    }

    private static final int AF_INET = 2;
    private static final int SOCK_STREAM = 1;
    private static final int SOL_SOCKET = 1;
    private static final int SO_LINGER = 13;
    private static final int IPPROTO_TCP = 6;
    private static final int TCP_INFO = 11;
    /** bpf/src/expiry.h's OBI_CLOSE_MISSED_AFTER_NS. */
    private static final long CLOSE_MISSED_AFTER_MS = 1000;

    private long sockOf(int fd) {
        assertTrue(fd >= 0, "a socket");
        run("harness_sock_of_fd", fd);
        Memory key = new Memory(4);
        key.setInt(0, 0);
        Memory value = new Memory(8);
        assertEquals(0, libbpf.bpf_map_lookup_elem(libbpf.bpf_map__fd(
                libbpf.bpf_object__find_map_by_name(object, "harness_found_sk")), key, value));
        long sk = value.getLong(0);
        assertNotEquals(0, sk, "fd " + fd + " is a TCP socket");
        return sk;
    }

    /** A TCP connection over loopback: {the client's descriptor, the server's}. */
    private int[] connectedPair() {
        return connected(Sockets.INSTANCE.socket(AF_INET, SOCK_STREAM, 0));
    }

    /** Connects this socket to a listener of its own on loopback: {it, the server's descriptor}. */
    private int[] connected(int client) {
        int listening = Sockets.INSTANCE.socket(AF_INET, SOCK_STREAM, 0);
        try {
            byte[] address = {AF_INET, 0, 0, 0, 127, 0, 0, 1, 0, 0, 0, 0, 0, 0, 0, 0}; // port 0: any
            assertEquals(0, Sockets.INSTANCE.bind(listening, address, address.length));
            assertEquals(0, Sockets.INSTANCE.listen(listening, 1));
            assertEquals(0, Sockets.INSTANCE.getsockname(listening, address, new int[] {address.length}));
            assertEquals(0, Sockets.INSTANCE.connect(client, address, address.length));
            int server = Sockets.INSTANCE.accept(listening, null, null);
            assertTrue(server >= 0, "accepted");
            return new int[] {client, server};
        } finally {
            Sockets.INSTANCE.close(listening);
        }
    }

    /** Its close will send a reset and free its struct sock at once (SO_LINGER of 0). */
    private static void resetOnClose(int fd) {
        assertEquals(0, Sockets.INSTANCE.setsockopt(fd, SOL_SOCKET, SO_LINGER, new int[] {1, 0}, 8));
    }

    /** The peer closes with a reset, which leaves the other end in TCP_CLOSE with its queued bytes. */
    private static void resetBy(int peer, int fd) {
        resetOnClose(peer);
        Sockets.INSTANCE.close(peer);
        assertEquals(TCP_CLOSE, stateOf(fd), "the reset closed the socket");
    }

    /** The socket's TCP state (tcpi_state, the first byte of struct tcp_info). */
    private static int stateOf(int fd) {
        int[] info = new int[64];
        assertEquals(0, Sockets.INSTANCE.getsockopt(fd, IPPROTO_TCP, TCP_INFO, info, new int[] {info.length * 4}));
        return info[0] & 0xff;
    }

    /**
     * Closes the socket and opens sockets until one is given its freed struct sock. The thread stays
     * on one CPU meanwhile: a freed object goes back to that CPU's free list, and the next socket made
     * there takes it (on another CPU it could take 2000 tries and more).
     */
    private int closedAndReused(int fd, long sk) {
        long[] affinity = new long[16];
        assertEquals(0, Sockets.INSTANCE.sched_getaffinity(0, affinity.length * 8L, affinity));
        long[] oneCpu = new long[16];
        int cpu = Sockets.INSTANCE.sched_getcpu();
        oneCpu[cpu / 64] = 1L << (cpu % 64);
        assertEquals(0, Sockets.INSTANCE.sched_setaffinity(0, oneCpu.length * 8L, oneCpu));
        try {
            resetOnClose(fd); // no FIN_WAIT: freed by the close itself
            Sockets.INSTANCE.close(fd);
            return socketReusing(sk);
        } finally {
            Sockets.INSTANCE.sched_setaffinity(0, affinity.length * 8L, affinity);
        }
    }

    /**
     * Opens sockets until one is given this freed struct sock, as the kernel's allocator soon does
     * (TCP's socks are reused at once, by RCU's rules); closes the others.
     */
    private int socketReusing(long sk) {
        List<Integer> others = new ArrayList<>();
        try {
            for (int attempt = 0; attempt < 2000; attempt++) {
                int fd = Sockets.INSTANCE.socket(AF_INET, SOCK_STREAM, 0);
                if (sockOf(fd) == sk) {
                    return fd;
                }
                others.add(fd);
            }
        } finally {
            others.forEach(Sockets.INSTANCE::close);
        }
        return fail("no new socket was given the freed struct sock in 2000 tries");
    }

    private static <T> T single(List<T> records) {
        assertEquals(1, records.size(), records.toString());
        return records.get(0);
    }
}
