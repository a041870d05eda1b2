package lab.obi.agent.assembly;

import lab.obi.agent.process.ObservedSocket;
import lab.obi.agent.report.HttpExchange;
import lab.obi.agent.report.LateRetransmit;
import lab.obi.agent.report.ResponseAcked;

import java.util.LinkedHashMap;
import java.util.Map;

/**
 * The server ends of connections whose both ends are on this host (containers, namespaces, a lab):
 * a client's own socket does not see a response lost on its way and sent again by the server, the
 * server's socket does. Kept by the connection's addresses, as the server sees them, from its first
 * exchange; a client's exchange looks its connection up the other way round. Bounded, least recently
 * used first out; single-threaded.
 */
final class ServerEnds {

    static final int MAX_CONNECTIONS = 65536;

    /** What a client learns of the server's end of its connection. */
    enum Seen {
        /** Not on this host, or older than the agent. */
        UNSEEN,
        /** On this host, and it sent nothing again during the client's exchange. */
        QUIET,
        /** On this host, and it sent segments again during the client's exchange. */
        RETRANSMITTED
    }

    private record Endpoints(String local, int localPort, String peer, int peerPort) {
    }

    /** Per connection, the last time its server end sent a segment again (0: never). */
    private final Map<Endpoints, long[]> lastRetransmit = new LinkedHashMap<>(16, 0.75f, true) {
        @Override
        protected boolean removeEldestEntry(Map.Entry<Endpoints, long[]> eldest) {
            return size() > MAX_CONNECTIONS;
        }
    };

    /** A server exchange: its connection's first, or one that sent segments again. */
    void server(HttpExchange e) {
        Long last = e.tcp().lastRetransmitUnixNs() != null ? e.tcp().lastRetransmitUnixNs()
                : e.tcp().firstRetransmitUnixNs();
        if (e.requestIndex() == 1 || last != null) {
            retransmittedAt(e.socket(), last == null ? 0 : last);
        }
    }

    void lateRetransmit(LateRetransmit r) {
        if (r.socket().direction() == ObservedSocket.Direction.SERVER) {
            retransmittedAt(r.socket(), r.atUnixNs());
        }
    }

    /** A late ACK after segments sent again: the last of them came before it. */
    void responseAcked(ResponseAcked a) {
        if (a.retransmits() > 0) {
            retransmittedAt(a.socket(), a.ackedUnixNs());
        }
    }

    void closed(ObservedSocket socket) {
        if (socket.direction() == ObservedSocket.Direction.SERVER) {
            lastRetransmit.remove(ownEnd(socket));
        }
    }

    Seen during(HttpExchange client) {
        ObservedSocket s = client.socket();
        long[] last = lastRetransmit.get(new Endpoints(s.peerAddress(), s.peerPort(), s.localAddress(), s.localPort()));
        if (last == null) {
            return Seen.UNSEEN;
        }
        long end = client.endUnixNs();
        return last[0] >= client.startUnixNs() && last[0] <= end ? Seen.RETRANSMITTED : Seen.QUIET;
    }

    private void retransmittedAt(ObservedSocket server, long unixNs) {
        long[] last = lastRetransmit.computeIfAbsent(ownEnd(server), k -> new long[1]);
        last[0] = Math.max(last[0], unixNs);
    }

    private static Endpoints ownEnd(ObservedSocket s) {
        return new Endpoints(s.localAddress(), s.localPort(), s.peerAddress(), s.peerPort());
    }
}
