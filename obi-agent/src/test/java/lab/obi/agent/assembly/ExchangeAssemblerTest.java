package lab.obi.agent.assembly;

import lab.obi.agent.contract.ConnectionFlags;
import lab.obi.agent.contract.ExchangeFlags;
import static java.nio.charset.StandardCharsets.ISO_8859_1;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertNull;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.List;
import lab.obi.agent.capture.ConnectionRecord;
import lab.obi.agent.capture.ExchangeRecord;
import lab.obi.agent.capture.LateRetransmitRecord;
import lab.obi.agent.capture.SocketOwner;
import lab.obi.agent.process.FakeProc;
import lab.obi.agent.process.ObservedSocket;
import lab.obi.agent.process.ObservedSocket.Direction;
import lab.obi.agent.protocol.RouteNormaliser;
import lab.obi.agent.network.InterfaceOutage;
import lab.obi.agent.network.InterfaceOutages;
import lab.obi.agent.network.LinkState;
import lab.obi.agent.capture.TcpFacts;
import lab.obi.agent.capture.RecordBuilder;
import lab.obi.agent.protocol.AbortKind;
import lab.obi.agent.protocol.TraceContext;
import lab.obi.agent.process.ProcessResolver;
import lab.obi.agent.report.ConnectionSummary;
import lab.obi.agent.report.HttpExchange;
import lab.obi.agent.report.Phases;
import lab.obi.agent.report.LateRetransmit;
import lab.obi.agent.report.TcpEvidence;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.ValueSource;

class ExchangeAssemblerTest {

    private static final String TRACEPARENT = "00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01";
    private static final TraceContext CALLER = new TraceContext("4bf92f3577b34da6a3ce929d0e0e4736", "00f067aa0ba902b7", true);

    static final InterfaceOutages.Listener NO_LISTENER = new InterfaceOutages.Listener() {
        @Override
        public void appeared(String interfaceName) {
        }

        @Override
        public void down(InterfaceOutage outage) {
        }

        @Override
        public void up(InterfaceOutage outage) {
        }

        @Override
        public void removed(String interfaceName) {
        }
    };

    @TempDir
    Path proc;

    private ExchangeAssembler assembler(boolean keepQuery) {
        return new ExchangeAssembler(new ProcessResolver(proc), new RouteNormaliser(100), keepQuery,
                new InterfaceOutages(NO_LISTENER), new ConnectionStates());
    }

    @Test
    void summarisesAConnectionAtItsClose() throws IOException {
        TcpFacts established = new TcpFacts(0, 0, 0, 1_000, 0, 120, 0);
        SocketOwner owner = new SocketOwner(99, "python3", ExchangeRecord.Direction.SERVER, "10.0.0.2", 8080, "10.0.0.1",
                5555);
        ConnectionRecord closed = new ConnectionRecord(7, 1_000, 61_000_001_000L, 300, 9_000, 3, 2,
                ConnectionFlags.PEER_CLOSED_FIRST | ConnectionFlags.RST_SENT, owner, established);
        ConnectionSummary c = assembler(false).connection(closed, 10);
        assertEquals(1_010, c.startUnixNs());
        assertEquals(61_000_000_000L, c.durationNs());
        assertTrue(c.lifetimeFromEstablished());
        assertEquals("peer", c.closedBy());
        assertTrue(c.resetSent());
        assertEquals(3, c.requests());
        assertEquals(9_000, c.bytesOut());
        assertEquals(2, c.retransmits());
        assertEquals(120, c.rttUs());
        assertEquals("10.0.0.1", c.socket().peerAddress());
        assertEquals("python3", c.socket().comm(), "no /proc entry: the kernel's name");

        ConnectionRecord older = new ConnectionRecord(8, 5_000, 6_000, 0, 0, 1, 0, ConnectionFlags.RST_RECEIVED,
                owner, TcpFacts.NONE);
        ConnectionSummary o = assembler(false).connection(older, 0);
        assertEquals(false, o.lifetimeFromEstablished(), "established before the agent: counted from its first request");
        assertEquals("reset", o.closedBy(), "no FIN either way");
        assertNull(o.rttUs());
    }

    @Test
    void namesTheExchangeALateRetransmitBelongsTo() throws IOException {
        LateRetransmitRecord r = new LateRetransmitRecord(7, 4, 2_000, 0, new SocketOwner(99, "python3",
                ExchangeRecord.Direction.SERVER, "::1", 8080, "::1", 5555));
        LateRetransmit late = assembler(false).lateRetransmit(r, 1_000_000);
        assertEquals(1_002_000, late.atUnixNs());
        assertEquals(7, late.connId());
        assertEquals(4, late.requestIndex());
        assertNull(late.rttUs());
        assertEquals("::1", late.socket().localAddress());
    }

    @Test
    void joinsRecordRequestVerdictAndProcess() throws IOException {
        Path pid = FakeProc.process(proc, 4242, "java", 777);
        Files.write(pid.resolve("environ"), "OTEL_SERVICE_NAME=orders\0".getBytes(ISO_8859_1));
        Files.writeString(pid.resolve("cgroup"),
                "0::/system.slice/docker-" + "ab".repeat(32) + ".scope\n");
        Files.createDirectories(proc.resolve("sys/kernel"));
        Files.writeString(proc.resolve("sys/kernel/hostname"), "node-1\n");

        RecordBuilder r = new RecordBuilder();
        r.direction = ExchangeRecord.Direction.CLIENT;
        r.localAddress = RecordBuilder.address("::ffff:10.0.0.5");
        r.peerAddress = RecordBuilder.address("2001:db8::7");
        r.requestHead = ("POST http://api.example/orders/42?debug=1 HTTP/1.1\r\n"
                + "Host: api.example\r\nUser-Agent: okhttp/4.12\r\ntraceparent: " + TRACEPARENT
                + "\r\nuber-trace-id: abc%3Adef%3A0%3A1\r\n\r\n").getBytes(ISO_8859_1);
        r.flags = 0;
        r.rstNs = 1_250;

        HttpExchange e = assembler(true).assemble(r.build(), 1_700_000_000_000_000_000L).orElseThrow();

        assertEquals(new HttpExchange(1_700_000_000_000_001_000L, 2_000, new ObservedSocket(Direction.CLIENT, 4242,
                "java", null, "orders", "ab".repeat(32), "10.0.0.5", 8080, "2001:db8::7", 51234), 7, 1, "POST",
                "/orders/{id}?debug=1", "api.example", "okhttp/4.12", 200, true, AbortKind.RST, 250L, true, true, 78, 512,
                TRACEPARENT, "abc:def:0:1", CALLER, null, null, new TcpEvidence(0, null, null, false, true,
                1_700_000_000_000_001_250L, null, null, null, null, List.of()), false, "1.1",
                new Phases(null, null, null, 100, 900, 1_000)), e);
    }

    @Test
    void interfaceOutagesJoinTheRequestsThatSufferedNotEveryOverlappingOne() {
        InterfaceOutages outages = new InterfaceOutages(NO_LISTENER);
        outages.baseline(new LinkState(5, "vethb1", true, true, false));
        outages.update(new LinkState(5, "vethb1", true, false, false), 1_000_000_000L);
        ExchangeAssembler assembler = new ExchangeAssembler(new ProcessResolver(proc), new RouteNormaliser(100), false,
                outages, new ConnectionStates());

        RecordBuilder quick = new RecordBuilder();
        quick.startNs = 1_000_000_500L;
        quick.endNs = quick.startNs + 20_000_000L;
        assertEquals(List.of(), assembler.assemble(quick.build(), 0).orElseThrow().tcp().interfaceOutages(),
                "a quick, complete request during another link's outage");

        RecordBuilder slow = new RecordBuilder();
        slow.startNs = quick.startNs;
        slow.endNs = slow.startNs + 300_000_000L;
        RecordBuilder retransmitted = new RecordBuilder();
        retransmitted.startNs = quick.startNs;
        retransmitted.endNs = quick.endNs;
        retransmitted.tcp = new TcpFacts(1, quick.startNs + 1, quick.startNs + 1, 0, 0, 0, 0);
        RecordBuilder abandoned = new RecordBuilder();
        abandoned.startNs = quick.startNs;
        abandoned.endNs = quick.endNs;
        abandoned.finNs = quick.endNs;
        abandoned.flags = ExchangeFlags.PEER_FIN | ExchangeFlags.CONN_CLOSED;
        abandoned.status = 0;
        abandoned.responseHead = new byte[0];
        abandoned.bytesOut = 0;
        for (RecordBuilder suffered : List.of(slow, retransmitted, abandoned)) {
            List<TcpEvidence.Outage> joined = assembler.assemble(suffered.build(), 0).orElseThrow().tcp()
                    .interfaceOutages();
            assertEquals(List.of(new TcpEvidence.Outage("vethb1", "no_carrier", 1_000_000_000L, null)), joined);
        }
    }

    @Test
    void exitedProcessIsNamedByTheKernelsComm() {
        HttpExchange e = assembler(false).assemble(new RecordBuilder().build(), 0).orElseThrow();
        assertEquals("nginx", e.socket().comm());
        assertEquals("nginx", e.socket().service());
        assertEquals("/users/{id}", e.route());
        assertEquals("shop.example", e.host());
        assertEquals("127.0.0.1", e.socket().localAddress());
        assertEquals(Direction.SERVER, e.socket().direction());
    }

    @Test
    void negativeDurationIsClampedToZero() {
        RecordBuilder r = new RecordBuilder();
        r.endNs = r.startNs - 1;
        assertEquals(0, assembler(false).assemble(r.build(), 0).orElseThrow().durationNs());
    }

    @ParameterizedTest
    @ValueSource(strings = {"", "\u0016\u0003\u0001\u0002\u0000", "PRI * HTTP/2.0\r\n", "SSH-2.0-OpenSSH_9.6\r\n", "GET /"})
    void notAnHttpRequestIsRejectedAndCounted(String head) {
        ExchangeAssembler assembler = assembler(false);
        RecordBuilder r = new RecordBuilder();
        r.requestHead = head.getBytes(ISO_8859_1);
        r.bytesIn = r.requestHead.length; // every byte captured: nothing more was sent
        assertTrue(assembler.assemble(r.build(), 0).isEmpty());
        r.requestHead = null;
        assertTrue(assembler.assemble(r.build(), 0).isEmpty());
        assertEquals(2, assembler.rejectedCount());
    }

    @Test
    void pipelinedRequestsReadInOneGoEachGetTheirRequestLine() {
        ExchangeAssembler assembler = assembler(false);
        RecordBuilder first = new RecordBuilder();
        first.requestHead = ("POST /a HTTP/1.1\r\nContent-Length: 5\r\n\r\nhello"
                + "GET /b HTTP/1.1\r\nHost: x\r\n\r\nGET /c HTTP/1.1\r\nHost: x\r\n\r\n").getBytes(ISO_8859_1);
        RecordBuilder second = new RecordBuilder();
        second.requestHead = new byte[0];
        second.flags = ExchangeFlags.RESPONSE_COMPLETE | ExchangeFlags.PIPELINED;
        second.requestIndex = 2;
        RecordBuilder third = new RecordBuilder();
        third.requestHead = new byte[0];
        third.flags = ExchangeFlags.RESPONSE_COMPLETE | ExchangeFlags.PIPELINED;
        third.requestIndex = 3;
        RecordBuilder fourth = new RecordBuilder();
        fourth.requestHead = new byte[0];
        fourth.flags = ExchangeFlags.PIPELINED | ExchangeFlags.CONN_CLOSED;
        fourth.requestIndex = 4;

        assertEquals("/a", assembler.assemble(first.build(), 0).orElseThrow().route());
        assertEquals("/b", assembler.assemble(second.build(), 0).orElseThrow().route());
        assertEquals("/c", assembler.assemble(third.build(), 0).orElseThrow().route());
        HttpExchange beyondCapture = assembler.assemble(fourth.build(), 0).orElseThrow();
        assertEquals(4, beyondCapture.requestIndex(), "counted even without its request bytes");
        assertNull(beyondCapture.method());
        assertNull(beyondCapture.route());
    }

    @Test
    void aRequestLineLongerThanTheCaptureIsReportedWithTheTargetAsFarAsCaptured() {
        RecordBuilder r = new RecordBuilder();
        String captured = "GET /" + "a".repeat(507);
        r.requestHead = captured.getBytes(ISO_8859_1);
        r.bytesIn = 65_536 + 20;
        r.status = 414;
        r.responseHead = "HTTP/1.1 414 Request-URI Too Large\r\n".getBytes(ISO_8859_1);
        r.flags = ExchangeFlags.RESPONSE_COMPLETE | ExchangeFlags.REQUEST_ENDS_BLANK_LINE;
        HttpExchange e = assembler(false).assemble(r.build(), 0).orElseThrow();
        assertEquals("GET", e.method());
        assertEquals(captured.substring(4), e.route());
        assertEquals(414, e.status());
        assertNull(e.httpVersion(), "the version was beyond the capture");
        assertTrue(e.requestComplete(), "the client sent it all: the kernel saw its head end");
    }

    @Test
    void anEmptyHeadThatIsNotPipelinedIsNotARequest() {
        RecordBuilder r = new RecordBuilder();
        r.requestHead = new byte[0];
        ExchangeAssembler assembler = assembler(false);
        assertTrue(assembler.assemble(r.build(), 0).isEmpty());
        assertEquals(1, assembler.rejectedCount());
    }
}
