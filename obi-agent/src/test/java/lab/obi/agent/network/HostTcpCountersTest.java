package lab.obi.agent.network;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

class HostTcpCountersTest {

    @TempDir
    Path proc;

    @Test
    void readsListenQueueAndRetransmitCounters() throws IOException {
        Files.createDirectories(proc.resolve("net"));
        Files.writeString(proc.resolve("net/netstat"), """
                TcpExt: SyncookiesSent SyncookiesRecv ListenOverflows ListenDrops
                TcpExt: 0 0 17 19
                IpExt: InNoRoutes ListenOverflows
                IpExt: 0 99
                """);
        Files.writeString(proc.resolve("net/snmp"), """
                Ip: Forwarding DefaultTTL
                Ip: 1 64
                Tcp: RtoAlgorithm RtoMin RtoMax MaxConn ActiveOpens RetransSegs
                Tcp: 1 200 120000 -1 5 1234
                """);
        assertEquals(new HostTcpCounters.Snapshot(17, 19, 1234), new HostTcpCounters(proc).read());
    }

    @Test
    void missingFilesAreUnknownNotZero() {
        assertEquals(new HostTcpCounters.Snapshot(-1, -1, -1), new HostTcpCounters(proc).read());
    }

    @Test
    void readsThisHost() {
        HostTcpCounters.Snapshot s = new HostTcpCounters(Path.of("/proc")).read();
        assertTrue(s.listenOverflows() >= 0 && s.retransmittedSegments() >= 0, s.toString());
    }
}
