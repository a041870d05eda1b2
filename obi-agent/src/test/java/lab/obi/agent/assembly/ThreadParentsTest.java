package lab.obi.agent.assembly;

import lab.obi.agent.report.TcpEvidence;

import io.opentelemetry.api.trace.SpanContext;
import io.opentelemetry.api.trace.TraceFlags;
import io.opentelemetry.api.trace.TraceState;
import lab.obi.agent.process.ObservedSocket.Direction;
import lab.obi.agent.report.HttpExchange;
import lab.obi.agent.report.Phases;
import lab.obi.agent.process.ObservedSocket;
import org.junit.jupiter.api.Test;

import java.util.List;

import static org.junit.jupiter.api.Assertions.*;

class ThreadParentsTest {

    private static final SpanContext SERVER_SPAN = SpanContext.create("4bf92f3577b34da6a3ce929d0e0e4736",
            "00f067aa0ba902b7", TraceFlags.getSampled(), TraceState.getDefault());

    private final ConnectionStates connections = new ConnectionStates();

    private static HttpExchange client(long parentConnId, int parentRequestIndex) {
        return new HttpExchange(0, 0, new ObservedSocket(Direction.CLIENT, 1, "java", null, "svc", null, "127.0.0.1",
                40000, "127.0.0.1", 80), 9, 1, "GET", "/", null, null, 200, false, null, null, false, true, 0, 0, null, null, null,
                parentConnId, parentRequestIndex, TcpEvidence.NONE, false, "1.1", Phases.NONE);
    }

    @Test
    void aWaitingClientIsReleasedWithItsServer() {
        ThreadParents parents = new ThreadParents(connections);
        HttpExchange call = client(7, 2);
        assertEquals(List.of(), parents.hold(call, 0));
        assertNull(parents.serverSpan(7, 2));
        assertEquals(List.of(), parents.serverSpanCreated(7, 1, SERVER_SPAN), "another request on that connection");
        assertEquals(List.of(call), parents.serverSpanCreated(7, 2, SERVER_SPAN));
        assertEquals(SERVER_SPAN, parents.serverSpan(7, 2), "later calls link at once");
        assertEquals(List.of(), parents.expired(Long.MAX_VALUE, true));
    }

    @Test
    void aConnectionNamesOnlyItsLatestServerExchangeUntilItCloses() {
        ThreadParents parents = new ThreadParents(connections);
        parents.serverSpanCreated(7, 1, SERVER_SPAN);
        SpanContext second = SpanContext.create("4bf92f3577b34da6a3ce929d0e0e4736", "00f067aa0ba902b8",
                TraceFlags.getSampled(), TraceState.getDefault());
        parents.serverSpanCreated(7, 2, second);
        assertEquals(second, parents.serverSpan(7, 2), "a retransmit of the latest response finds its span");
        assertNull(parents.serverSpan(7, 1), "the connection moved on");
        connections.closed(7);
        assertNull(parents.serverSpan(7, 2));
    }

    @Test
    void clientsWaitAtMostAMinute() {
        ThreadParents parents = new ThreadParents(connections);
        HttpExchange old = client(1, 1);
        HttpExchange young = client(2, 1);
        parents.hold(old, 0);
        parents.hold(young, ThreadParents.MAX_WAIT_NANOS / 2);
        assertEquals(List.of(old), parents.expired(ThreadParents.MAX_WAIT_NANOS, false));
        assertEquals(List.of(young), parents.expired(0, true), "shutdown releases everything");
    }

    @Test
    void theWaitingRoomIsBounded() {
        ThreadParents parents = new ThreadParents(connections);
        HttpExchange first = client(1, 1);
        parents.hold(first, 0);
        for (int i = 2; i <= ThreadParents.MAX_WAITING; i++) {
            assertEquals(List.of(), parents.hold(client(i, 1), 0));
        }
        assertEquals(List.of(first), parents.hold(client(ThreadParents.MAX_WAITING + 1, 1), 0), "the eldest goes out");
    }
}
