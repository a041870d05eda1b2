package lab.obi.agent.assembly;

import lab.obi.agent.process.ObservedSocket;
import lab.obi.agent.report.HttpExchange;
import lab.obi.agent.report.LateRetransmit;
import lab.obi.agent.report.Phases;
import lab.obi.agent.report.ResponseAcked;
import lab.obi.agent.report.SlowCause;
import lab.obi.agent.report.TcpEvidence;
import lab.obi.agent.report.TestReports;
import org.junit.jupiter.api.Test;

import java.util.List;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertNull;

/** The rule of docs/phases.md, one case each. */
class SlowCausesTest {

    private static final long MS = 1_000_000L;
    private final SlowCauses causes = new SlowCauses(500 * MS, new ServerEnds());

    private static HttpExchange server(Phases p, TcpEvidence tcp) {
        HttpExchange e = TestReports.exchange(TestReports.SERVER, "GET", "/", 200, null, tcp);
        long duration = p.requestTransferNs() + p.processingNs() + p.responseTransferNs();
        return withPhases(e, duration, p);
    }

    private static HttpExchange client(Phases p, TcpEvidence tcp) {
        HttpExchange e = TestReports.exchange(TestReports.CLIENT, "GET", "/", 200, null, tcp);
        return withPhases(e, p.requestTransferNs() + p.processingNs() + p.responseTransferNs(), p);
    }

    private static HttpExchange withPhases(HttpExchange e, long durationNs, Phases p) {
        return new HttpExchange(e.startUnixNs(), durationNs, e.socket(), e.connId(), e.requestIndex(), e.method(),
                e.route(), e.host(), e.userAgent(), e.status(), e.aborted(), e.abortKind(), e.timeToAbandonNs(),
                e.truncated(), e.requestComplete(), e.bytesIn(), e.bytesOut(), e.traceparent(), e.uberTraceId(),
                e.caller(), e.parentConnId(), e.parentRequestIndex(), e.tcp(), e.tls(), e.httpVersion(), p);
    }

    private static Phases processing(long ns) {
        return new Phases(null, 0L, 10_000L, 0, ns, 20_000);
    }

    @Test
    void aRequestUnderTheThresholdHasNoCause() {
        assertNull(causes.of(server(processing(499 * MS), TcpEvidence.NONE), List.of()));
    }

    @Test
    void theQueuesBeforeTheRequestCountTowardsTheThreshold() {
        Phases queued = new Phases(null, 300 * MS, 250 * MS, 0, 1_000, 1_000);
        assertEquals(SlowCause.ACCEPT_QUEUE, causes.of(server(queued, TcpEvidence.NONE), List.of()));
        Phases unread = new Phases(null, 0L, 600 * MS, 0, 1_000, 1_000);
        assertEquals(SlowCause.RECEIVE_QUEUE, causes.of(server(unread, TcpEvidence.NONE), List.of()));
    }

    @Test
    void theLongestPhaseDecides() {
        assertEquals(SlowCause.PROCESSING, causes.of(server(processing(600 * MS), TcpEvidence.NONE), List.of()));
        Phases connect = new Phases(900 * MS, null, null, 0, 100 * MS, 0);
        assertEquals(SlowCause.CONNECT, causes.of(client(connect, TcpEvidence.NONE), List.of()));
        Phases sending = new Phases(null, null, 0L, 700 * MS, 10 * MS, 0);
        assertEquals(SlowCause.CLIENT, causes.of(server(sending, TcpEvidence.NONE), List.of()),
                "a request sent slowly, the network quiet: the client");
        assertEquals(SlowCause.NETWORK, causes.of(server(sending, TestReports.retransmitted(2, 300, false)), List.of()));
        Phases answering = new Phases(null, null, 0L, 0, 10 * MS, 700 * MS);
        assertEquals(SlowCause.NETWORK, causes.of(server(answering, TcpEvidence.NONE), List.of()));
    }

    @Test
    void aClientsWaitIsTheServersProcessingUnlessTheNetworkWasSeen() {
        assertEquals(SlowCause.PROCESSING, causes.of(client(processing(800 * MS), TcpEvidence.NONE), List.of()));
        TcpEvidence outage = new TcpEvidence(0, null, null, false, false, null, null, null, null, null,
                List.of(new TcpEvidence.Outage("veth0", "no_carrier", 1L, 2L)));
        assertEquals(SlowCause.NETWORK, causes.of(client(processing(800 * MS), outage), List.of()));
    }

    @Test
    void aClientLearnsFromTheServersEndOnThisHost() {
        ServerEnds ends = new ServerEnds();
        SlowCauses local = new SlowCauses(500 * MS, ends);
        TcpEvidence outage = new TcpEvidence(0, null, null, false, false, null, null, null, null, null,
                List.of(new TcpEvidence.Outage("veth0", "no_carrier", 1L, 2L)));
        HttpExchange call = client(processing(800 * MS), outage); // 10.0.0.1:40000 -> 10.0.0.3:5432
        ObservedSocket serverEnd = new ObservedSocket(ObservedSocket.Direction.SERVER, 9, "postgres", null, "db",
                null, "10.0.0.3", 5432, "10.0.0.1", 40000);
        HttpExchange served = TestReports.exchange(serverEnd, "GET", "/", 200, null, TcpEvidence.NONE);
        ends.server(new HttpExchange(served.startUnixNs(), served.durationNs(), serverEnd, 3, 1, "GET", "/", null, null,
                200, false, null, null, false, true, 1, 1, null, null, null, null, null, TcpEvidence.NONE, false, "1.1",
                Phases.NONE)); // the connection's first request: its server end is known from then on
        assertEquals(SlowCause.PROCESSING, local.of(call, List.of()),
                "the server's end was quiet: another interface's outage is not this request's");
        ends.lateRetransmit(new LateRetransmit(call.startUnixNs() + 300 * MS, serverEnd, 3, 1, null));
        assertEquals(SlowCause.NETWORK, local.of(call, List.of()), "the server sent its response again");
    }

    @Test
    void aServerWaitingOnItsCallTakesTheCallsCauseWhenTheCallTookHalfOfItsProcessing() {
        HttpExchange call = client(processing(500 * MS), TestReports.retransmitted(1, 300, false));
        HttpExchange request = server(processing(900 * MS), TcpEvidence.NONE);
        assertEquals(SlowCause.NETWORK, causes.of(request, List.of(call)));
        HttpExchange shortCall = client(processing(400 * MS), TestReports.retransmitted(1, 300, false));
        assertEquals(SlowCause.PROCESSING, causes.of(request, List.of(shortCall)), "the server's own code took most");
    }

    @Test
    void aLateAckMakesAQuickRequestSlowAndItIsTheNetwork() {
        HttpExchange quick = server(processing(100 * MS), TcpEvidence.NONE);
        ResponseAcked late = new ResponseAcked(0, 450 * MS, TestReports.SERVER, 7, 2, 2, 300);
        assertEquals(SlowCause.NETWORK, causes.ofAckWait(TestReports.traced(quick), late));
        ResponseAcked soon = new ResponseAcked(0, 300 * MS, TestReports.SERVER, 7, 2, 0, 300);
        assertNull(causes.ofAckWait(TestReports.traced(quick), soon));
        HttpExchange slow = server(processing(600 * MS), TcpEvidence.NONE);
        assertNull(causes.ofAckWait(TestReports.traced(slow).withSlowCause(SlowCause.PROCESSING), late),
                "already counted as slow, with its own cause");
    }
}
