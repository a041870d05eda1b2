package lab.obi.agent.assembly;

import lab.obi.agent.contract.ConnectionFlags;
import lab.obi.agent.contract.ExchangeFlags;
import static java.nio.charset.StandardCharsets.ISO_8859_1;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertNotEquals;
import static org.junit.jupiter.api.Assertions.assertNull;
import static org.junit.jupiter.api.Assertions.assertTrue;

import io.opentelemetry.api.trace.Span;
import java.io.IOException;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;
import java.util.Set;
import lab.obi.agent.capture.ConnectFailedRecord;
import lab.obi.agent.capture.ConnectionRecord;
import lab.obi.agent.capture.ExchangeRecord;
import lab.obi.agent.capture.LateRetransmitRecord;
import lab.obi.agent.capture.ResponseAckedRecord;
import lab.obi.agent.capture.RecordBuilder;
import lab.obi.agent.capture.SocketOwner;
import lab.obi.agent.capture.TcpFacts;
import lab.obi.agent.network.InterfaceOutages;
import lab.obi.agent.protocol.AbortKind;
import lab.obi.agent.process.FakeProc;
import lab.obi.agent.process.ObservedSocket;
import lab.obi.agent.process.ProcessResolver;
import lab.obi.agent.process.WatchFilter;
import lab.obi.agent.protocol.RouteNormaliser;
import lab.obi.agent.report.ConnectionSummary;
import lab.obi.agent.report.ExchangeReport;
import lab.obi.agent.report.LateRetransmitReport;
import lab.obi.agent.report.ResponseAckedReport;
import lab.obi.agent.report.SlowCause;
import lab.obi.agent.report.ReportConsumer;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

class AssemblyStageTest {

    private static final String TRACEPARENT = "00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01";
    private static final long SERVER_CONN = 7;
    private static final long CLIENT_CONN = 9;

    @TempDir
    Path proc;

    static final long SLOW_NS = 500_000_000L;

    private final List<Object> reports = new ArrayList<>();
    /** pid@start of the processes named to the kernel as unwatched clients. */
    private final List<String> namedClients = new ArrayList<>();
    private long now = 1_000;

    private final ReportConsumer collect = new ReportConsumer() {
        @Override
        public void exchange(ExchangeReport exchange) {
            reports.add(exchange);
        }

        @Override
        public void connectionClosed(ConnectionSummary connection) {
            reports.add(connection);
        }

        @Override
        public void lateRetransmit(LateRetransmitReport retransmit) {
            reports.add(retransmit);
        }

        @Override
        public void responseAcked(ResponseAckedReport acked) {
            reports.add(acked);
        }
    };

    private AssemblyStage stage(WatchFilter filter) {
        return new AssemblyStage(new ProcessResolver(proc), new RouteNormaliser(100), false,
                new InterfaceOutages(ExchangeAssemblerTest.NO_LISTENER), filter,
                (pid, started) -> namedClients.add(pid + "@" + started), SLOW_NS, collect, () -> now);
    }

    private AssemblyStage stage() {
        return stage(new WatchFilter(Set.of(), Set.of(), Set.of()));
    }

    private static ExchangeRecord server(int requestIndex, String head) {
        RecordBuilder r = new RecordBuilder();
        r.connId = SERVER_CONN;
        r.requestIndex = requestIndex;
        r.requestHead = head.getBytes(ISO_8859_1);
        return r.build();
    }

    private static ExchangeRecord server(int requestIndex) {
        return server(requestIndex, "GET /orders/" + requestIndex + " HTTP/1.1\r\ntraceparent: " + TRACEPARENT
                + "\r\n\r\n");
    }

    /** A call to port 9000 made while the thread served request {@code parentRequestIndex} of SERVER_CONN. */
    private static ExchangeRecord clientCall(int parentRequestIndex) {
        RecordBuilder r = new RecordBuilder();
        r.connId = CLIENT_CONN;
        r.direction = ExchangeRecord.Direction.CLIENT;
        r.localPort = 40000;
        r.peerPort = 9000;
        r.parentConnId = SERVER_CONN;
        r.parentRequestIndex = parentRequestIndex;
        r.requestHead = "GET /stock HTTP/1.1\r\n\r\n".getBytes(ISO_8859_1);
        return r.build();
    }

    private static SocketOwner serverOwner() {
        return new SocketOwner(4242, "nginx", ExchangeRecord.Direction.SERVER, "127.0.0.1", 8080, "127.0.0.1", 51234);
    }

    private static ConnectionRecord closed(long connId) {
        return new ConnectionRecord(connId, 1_000, 5_000, 100, 200, 2, 0, ConnectionFlags.PEER_CLOSED_FIRST,
                serverOwner(), TcpFacts.NONE);
    }

    private static LateRetransmitRecord retransmitted(int requestIndex) {
        return new LateRetransmitRecord(SERVER_CONN, requestIndex, 4_000, 300, serverOwner());
    }

    private ExchangeReport exchange(int i) {
        return (ExchangeReport) reports.get(i);
    }

    @Test
    void aServerExchangeContinuesItsCallersTrace() {
        stage().accept(server(1), 0);
        ExchangeReport report = exchange(0);
        assertEquals("4bf92f3577b34da6a3ce929d0e0e4736", report.span().getTraceId());
        assertEquals("00f067aa0ba902b7", report.parent().getSpanId());
        assertTrue(report.parent().isRemote(), "the caller's span is in another process");
        assertTrue(report.parent().isSampled());
        assertEquals(report.span(), Span.fromContext(report.context()).getSpanContext(),
                "measurements take the exchange's span as their exemplar");
    }

    @Test
    void aClientCallWaitsForTheServerRequestItsThreadServedAndComesOutWithIt() {
        AssemblyStage stage = stage();
        stage.accept(clientCall(1), 0);
        assertEquals(List.of(), reports, "its parent is not assembled yet");

        stage.accept(server(1), 0);
        assertEquals(2, reports.size());
        ExchangeReport server = exchange(0);
        ExchangeReport client = exchange(1);
        assertEquals("/orders/{id}", server.exchange().route());
        assertEquals("/stock", client.exchange().route());
        assertEquals(server.span(), client.parent());
        assertEquals(server.span().getTraceId(), client.span().getTraceId());
    }

    @Test
    void aClientCallAfterItsServerRequestWasAssembledIsJoinedAtOnce() {
        AssemblyStage stage = stage();
        stage.accept(server(1), 0);
        stage.accept(clientCall(1), 0);
        assertEquals(exchange(0).span(), exchange(1).parent());
        stage.accept(clientCall(0), 0);
        assertEquals(2, reports.size(), "request 0 of the connection was never seen: the call waits");
    }

    @Test
    void aWaitingClientCallGoesOutWithoutParentAfterAMinute() {
        AssemblyStage stage = stage();
        stage.accept(clientCall(1), 0);
        now += ThreadParents.MAX_WAIT_NANOS - 1;
        stage.expireWaiting();
        assertEquals(List.of(), reports);
        now += 1;
        stage.expireWaiting();
        assertEquals(1, reports.size());
        assertFalse(exchange(0).parent().isValid());
        assertNotEquals("4bf92f3577b34da6a3ce929d0e0e4736", exchange(0).span().getTraceId(), "a trace of its own");

        stage.accept(server(1), 0);
        assertEquals(2, reports.size(), "the server request, and no second copy of the call");
    }

    @Test
    void atShutdownEveryWaitingCallGoesOut() {
        AssemblyStage stage = stage();
        stage.accept(clientCall(1), 0);
        stage.accept(clientCall(2), 0);
        stage.releaseAllWaiting();
        assertEquals(2, reports.size());
        assertFalse(exchange(0).parent().isValid());
        assertFalse(exchange(1).parent().isValid());
    }

    @Test
    void aServerRequestThatIsNotWatchedReleasesItsCallsWithoutParentAtOnce() {
        AssemblyStage stage = stage(new WatchFilter(Set.of(), Set.of(), Set.of(9000)));
        stage.accept(clientCall(1), 0);
        stage.accept(server(1), 0);
        assertEquals(1, reports.size(), "the call is reported, its server request is not");
        assertEquals("/stock", exchange(0).exchange().route());
        assertFalse(exchange(0).parent().isValid(), "no span for a request that is not reported");
        stage.accept(clientCall(1), 0);
        assertEquals(2, reports.size(), "a later call of that request does not wait either");
        assertEquals(2, stage.reportedCount());
        assertEquals(1, stage.ignoredCount());
    }

    @Test
    void aLateRetransmitIsAChildOfTheServerExchangeWhoseResponseItCarried() {
        AssemblyStage stage = stage();
        stage.accept(server(1), 0);
        stage.accept(retransmitted(1), 0);
        ExchangeReport server = exchange(0);
        LateRetransmitReport late = (LateRetransmitReport) reports.get(1);
        assertEquals(server.span(), late.parent());
        assertEquals(server.span().getTraceId(), late.span().getTraceId());
        assertNotEquals(server.span().getSpanId(), late.span().getSpanId());

        stage.accept(server(2), 0);
        stage.accept(retransmitted(1), 0);
        LateRetransmitReport stale = (LateRetransmitReport) reports.get(3);
        assertFalse(stale.parent().isValid(), "the connection moved on: only its latest exchange is known");
        assertFalse(stale.span().isValid());
    }

    @Test
    void aSlowRequestWaitingOnASlowCallTakesTheCallsCause() {
        AssemblyStage stage = stage();
        RecordBuilder call = new RecordBuilder();
        call.connId = CLIENT_CONN;
        call.direction = ExchangeRecord.Direction.CLIENT;
        call.parentConnId = SERVER_CONN;
        call.parentRequestIndex = 1;
        call.startNs = 1_000_000;
        call.requestEndNs = 1_000_000;
        call.responseStartNs = 901_000_000;
        call.endNs = 901_000_000;
        call.tcp = new TcpFacts(2, 300_000_000, 700_000_000, 0, 0, 0, 0); // it retransmitted: the network
        call.requestHead = "GET /stock HTTP/1.1\r\n\r\n".getBytes(ISO_8859_1);
        stage.accept(call.build(), 0);
        RecordBuilder request = new RecordBuilder();
        request.connId = SERVER_CONN;
        request.startNs = 0;
        request.requestEndNs = 0;
        request.responseStartNs = 902_000_000;
        request.endNs = 903_000_000;
        stage.accept(request.build(), 0);
        assertTrue(reports.isEmpty(), "a slow request waits a moment for calls that end after it");
        now += HeldSlowRequests.HOLD_NANOS;
        stage.expireWaiting();

        assertEquals(SlowCause.NETWORK, exchange(0).slowCause(), "the request waited on a call the network held up");
        assertEquals(SlowCause.NETWORK, exchange(1).slowCause());
        assertEquals(exchange(0).span(), exchange(1).parent());
    }

    /** A request on SERVER_CONN read at 0, whose client sent FIN and whose connection closed unanswered. */
    private static ExchangeRecord abandonedUnanswered(long endNs, long finNs) {
        RecordBuilder request = new RecordBuilder();
        request.connId = SERVER_CONN;
        request.startNs = 0;
        request.requestEndNs = 0;
        request.responseStartNs = 0;
        request.endNs = endNs;
        request.flags = ExchangeFlags.PEER_FIN | ExchangeFlags.CONN_CLOSED;
        request.finNs = finNs;
        request.status = 0;
        return request.build();
    }

    @Test
    void aConnectThatNeverGotThroughIsACallOfTheRequestThatWaitedOnIt() {
        AssemblyStage stage = stage();
        SocketOwner connecting = new SocketOwner(4242, "nginx", ExchangeRecord.Direction.CLIENT,
                "10.0.0.1", 40000, "10.0.0.9", 8080);
        stage.accept(new ConnectFailedRecord(1_000_000, 1_501_000_000, 2, SERVER_CONN, 1, connecting), 0);
        assertTrue(reports.isEmpty(), "it waits for the request it was made for");
        stage.accept(abandonedUnanswered(1_502_000_000, 1_500_000_000), 0);
        now += HeldSlowRequests.HOLD_NANOS;
        stage.expireWaiting();

        ExchangeReport served = exchange(0);
        ExchangeReport connect = exchange(1);
        assertEquals(served.span(), connect.parent());
        assertEquals(AbortKind.CONNECT, connect.exchange().abortKind());
        assertEquals(1_500_000_000L, connect.exchange().phases().connectNs());
        assertEquals(2, connect.exchange().tcp().synRetransmits());
        assertEquals(SlowCause.CONNECT, connect.slowCause(), "SYNs unanswered, no link down: the connect");
        assertEquals(SlowCause.CONNECT, served.slowCause(), "the request waited on that connect");
        assertEquals(499, served.exchange().status());
    }

    @Test
    void aCallThatEndsJustAfterItsSlowRequestStillGivesItsCause() {
        AssemblyStage stage = stage();
        // a proxy's client gave up: it closed that connection first
        stage.accept(abandonedUnanswered(1_500_000_000, 1_499_000_000), 0);
        stage.accept(closed(SERVER_CONN), 0);
        SocketOwner connecting = new SocketOwner(4242, "nginx", ExchangeRecord.Direction.CLIENT,
                "10.0.0.1", 40000, "10.0.0.9", 8080);
        now += 1_000_000;
        stage.accept(new ConnectFailedRecord(1_000_000, 1_500_500_000, 1, SERVER_CONN, 1, connecting), 0);
        now += HeldSlowRequests.HOLD_NANOS;
        stage.expireWaiting();

        ExchangeReport served = reports.stream().filter(r -> r instanceof ExchangeReport x
                && x.exchange().socket().direction() == ObservedSocket.Direction.SERVER).map(ExchangeReport.class::cast)
                .findFirst().orElseThrow();
        assertEquals(SlowCause.CONNECT, served.slowCause());
        assertEquals(499, served.exchange().status());
        assertTrue(reports.stream().anyMatch(r -> r instanceof ExchangeReport x && served.span().equals(x.parent())),
                "the connect is the request's child: " + reports);
    }

    @Test
    void aLateAckJoinsItsExchangeAndMakesItSlowWhenTheWaitIsLong() {
        AssemblyStage stage = stage();
        stage.accept(server(1), 0);
        assertNull(exchange(0).slowCause(), "2 µs: not slow");
        stage.accept(new ResponseAckedRecord(SERVER_CONN, 1, 3_000, 600_003_000, 3, 40, serverOwner()), 0);
        ResponseAckedReport acked = (ResponseAckedReport) reports.get(1);
        assertEquals(exchange(0).span(), acked.parent());
        assertEquals(exchange(0).exchange(), acked.exchange());
        assertEquals(600_000_000, acked.acked().ackWaitNs());
        assertEquals(SlowCause.NETWORK, acked.slowCause());

        stage.accept(new ResponseAckedRecord(SERVER_CONN, 7, 3_000, 600_003_000, 0, 40, serverOwner()), 0);
        ResponseAckedReport unknown = (ResponseAckedReport) reports.get(2);
        assertNull(unknown.exchange(), "not the connection's latest exchange");
        assertFalse(unknown.parent().isValid());
        assertNull(unknown.slowCause());
    }

    @Test
    void aConnectionsCloseDropsEverythingKeptForIt() {
        AssemblyStage stage = stage();
        stage.accept(server(1, "GET /a HTTP/1.1\r\n\r\nGET /b HTTP/1.1\r\n\r\n"), 0);
        stage.accept(closed(SERVER_CONN), 0);
        ConnectionSummary connection = (ConnectionSummary) reports.get(1);
        assertEquals(SERVER_CONN, connection.connId());
        assertEquals("peer", connection.closedBy());

        stage.accept(retransmitted(1), 0);
        assertFalse(((LateRetransmitReport) reports.get(2)).parent().isValid(), "the server span is forgotten");

        RecordBuilder pipelined = new RecordBuilder();
        pipelined.connId = SERVER_CONN;
        pipelined.requestIndex = 2;
        pipelined.requestHead = new byte[0];
        pipelined.flags = ExchangeFlags.RESPONSE_COMPLETE | ExchangeFlags.PIPELINED;
        stage.accept(pipelined.build(), 0);
        assertNull(exchange(3).exchange().route(), "the pipelined request bytes are forgotten");
    }

    @Test
    void pipelinedRequestsGetTheirRequestLineFromTheFirstExchangesBytes() {
        AssemblyStage stage = stage();
        stage.accept(server(1, "GET /a HTTP/1.1\r\n\r\nGET /b HTTP/1.1\r\n\r\n"), 0);
        RecordBuilder second = new RecordBuilder();
        second.connId = SERVER_CONN;
        second.requestIndex = 2;
        second.requestHead = new byte[0];
        second.flags = ExchangeFlags.RESPONSE_COMPLETE | ExchangeFlags.PIPELINED;
        stage.accept(second.build(), 0);
        assertEquals("/a", exchange(0).exchange().route());
        assertEquals("/b", exchange(1).exchange().route());
    }

    @Test
    void reportsOfProcessesThatAreNotWatchedAreDroppedAndCounted() {
        AssemblyStage stage = stage(new WatchFilter(Set.of("nginx"), Set.of(), Set.of()));
        stage.accept(server(1), 0);
        stage.accept(retransmitted(1), 0);
        stage.accept(closed(SERVER_CONN), 0);
        RecordBuilder notHttp = new RecordBuilder();
        notHttp.requestHead = "SSH-2.0-OpenSSH_9.6\r\n".getBytes(ISO_8859_1);
        stage.accept(notHttp.build(), 0);
        assertEquals(List.of(), reports);
        assertEquals(0, stage.reportedCount());
        assertEquals(1, stage.ignoredCount());
        assertEquals(1, stage.notHttpCount());
    }

    @Test
    void aProcessNoneOfWhoseClientCallsIsWatchedIsNamedToTheKernelOnce() throws IOException {
        AssemblyStage stage = stage(new WatchFilter(Set.of("curl"), Set.of("backend", "nginx"), Set.of()));
        FakeProc.process(proc, 4242, "wrk", 777);
        stage.accept(call(4242, "wrk", 1), 0);
        stage.accept(call(4242, "wrk", 2), 0);
        assertEquals(List.of("4242@777"), namedClients, "a service not watched, named once");
        FakeProc.process(proc, 4343, "curl", 778);
        stage.accept(call(4343, "curl", 1), 0);
        FakeProc.process(proc, 4444, "nginx", 779);
        stage.accept(call(4444, "nginx", 1), 0);
        RecordBuilder unwatchedServer = new RecordBuilder();
        unwatchedServer.pid = 4242;
        unwatchedServer.comm = "wrk";
        stage.accept(unwatchedServer.build(), 0);
        assertEquals(List.of("4242@777", "4343@778"), namedClients,
                "an excluded executable too; not a watched client, nor a server: its clients may be watched");
        assertEquals(1, stage.reportedCount(), "nginx's call");
    }

    @Test
    void aClientLeftOutByItsPortsIsNotNamed() throws IOException {
        AssemblyStage stage = stage(new WatchFilter(Set.of(), Set.of(), Set.of(9000)));
        FakeProc.process(proc, 4242, "wrk", 777);
        stage.accept(call(4242, "wrk", 1), 0);
        assertEquals(List.of(), namedClients, "its calls to port 9000 would be reported");
    }

    /** A call from the process to port 8080. */
    private static ExchangeRecord call(int pid, String comm, int requestIndex) {
        RecordBuilder r = new RecordBuilder();
        r.connId = CLIENT_CONN + pid;
        r.pid = pid;
        r.comm = comm;
        r.direction = ExchangeRecord.Direction.CLIENT;
        r.localPort = 51234;
        r.peerPort = 8080;
        r.requestIndex = requestIndex;
        return r.build();
    }

    @Test
    void aClientSpanNamedByItsTraceHeaderIsTheChildOfItsThreadsServerRequestInTheSameTrace() {
        AssemblyStage stage = stage();
        stage.accept(server(1), 0);
        RecordBuilder call = new RecordBuilder();
        call.connId = CLIENT_CONN;
        call.direction = ExchangeRecord.Direction.CLIENT;
        call.parentConnId = SERVER_CONN;
        call.parentRequestIndex = 1;
        call.requestHead = ("GET /stock HTTP/1.1\r\ntraceparent: 00-4bf92f3577b34da6a3ce929d0e0e4736-1111111111111111-01"
                + "\r\n\r\n").getBytes(ISO_8859_1);
        stage.accept(call.build(), 0);
        ExchangeReport client = exchange(1);
        assertEquals("1111111111111111", client.span().getSpanId(), "the span the server on the other side names");
        assertEquals(exchange(0).span(), client.parent());
    }
}
