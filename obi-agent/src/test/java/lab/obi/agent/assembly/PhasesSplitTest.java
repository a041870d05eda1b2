package lab.obi.agent.assembly;

import lab.obi.agent.capture.ExchangeRecord;
import lab.obi.agent.capture.RecordBuilder;
import lab.obi.agent.capture.TcpFacts;
import lab.obi.agent.report.Phases;
import org.junit.jupiter.api.Test;

import static org.junit.jupiter.api.Assertions.assertEquals;

/** How the kernel's moments of an exchange become its phases (ExchangeAssembler.phases). */
class PhasesSplitTest {

    /** A server exchange: read at 1 000, last request byte 1 100, first response byte 2 000, done 3 000. */
    private static RecordBuilder server() {
        return new RecordBuilder();
    }

    @Test
    void theTransferAndProcessingPhasesAreTheDuration() {
        assertEquals(new Phases(null, null, null, 100, 900, 1_000), ExchangeAssembler.phases(server().build(), null));
    }

    @Test
    void aRequestThatCameBeforeAcceptWaitedInTheAcceptQueueThenInTheReceiveQueue() {
        RecordBuilder r = server();
        r.queuedNs = 200;
        r.acceptedNs = 700;
        assertEquals(new Phases(null, 500L, 300L, 100, 900, 1_000), ExchangeAssembler.phases(r.build(), null));
    }

    @Test
    void aRequestThatCameAfterAcceptWaitedOnlyToBeRead() {
        RecordBuilder r = server();
        r.acceptedNs = 100;
        r.queuedNs = 400;
        assertEquals(new Phases(null, 0L, 600L, 100, 900, 1_000), ExchangeAssembler.phases(r.build(), null));
    }

    @Test
    void withoutTheRequestsArrivalTheAcceptQueueStartsAtTheHandshake() {
        RecordBuilder r = server(); // a TLS connection: its first bytes were the handshake
        r.acceptedNs = 600;
        r.tcp = new TcpFacts(0, 0, 0, 100, 0, 0, 0);
        assertEquals(new Phases(null, 500L, null, 100, 900, 1_000), ExchangeAssembler.phases(r.build(), null));
    }

    @Test
    void momentsOutOfOrderAreClampedSoThePhasesStillAddUp() {
        RecordBuilder r = server(); // an early answer while the upload went on, then a connection that ended
        r.requestEndNs = 2_500;
        r.responseStartNs = 2_000;
        Phases p = ExchangeAssembler.phases(r.build(), null);
        assertEquals(new Phases(null, null, null, 1_500, 0, 500), p);

        RecordBuilder aborted = server(); // no response at all
        aborted.responseStartNs = 0;
        assertEquals(new Phases(null, null, null, 100, 1_900, 0), ExchangeAssembler.phases(aborted.build(), null));
    }

    @Test
    void aClientHasItsConnectAndNoQueues() {
        RecordBuilder r = server();
        r.direction = ExchangeRecord.Direction.CLIENT;
        r.queuedNs = 200;
        r.acceptedNs = 300;
        assertEquals(new Phases(5_000L, null, null, 100, 900, 1_000), ExchangeAssembler.phases(r.build(), 5_000L));
    }
}
