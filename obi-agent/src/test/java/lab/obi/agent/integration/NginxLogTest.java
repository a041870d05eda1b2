package lab.obi.agent.integration;

import org.junit.jupiter.api.Test;

import static org.junit.jupiter.api.Assertions.*;

class NginxLogTest {

    @Test
    void parsesTheObiFormat() {
        NginxLog.Line l = NginxLog.parse(
                "39408 4 2 499 0.202 1795572309.239 \"GET /jdk/slow?ms=1000 HTTP/1.1\" 127.0.0.1:18081 0.202");
        assertEquals(39408, l.remotePort());
        assertEquals(2, l.connectionRequests());
        assertEquals(499, l.status());
        assertEquals(0.202, l.requestTimeSeconds());
        assertEquals(1_795_572_309_239_000_000L, l.endUnixNs(), 1_000);
        assertEquals("/jdk/slow?ms=1000", l.path());
        assertTrue(l.isHttpRequest());
    }

    @Test
    void garbageRequestsAreNotHttp() {
        NginxLog.Line l = NginxLog.parse("40000 9 1 400 0.000 1795572309.239 \"\\x16\\x03\\x01\" - -");
        assertFalse(l.isHttpRequest());
    }

    @Test
    void rejectsOtherFormats() {
        assertThrows(IllegalArgumentException.class,
                () -> NginxLog.parse("127.0.0.1 - - [25/Nov/2026:02:05:11 +0000] \"GET / HTTP/1.1\" 200 3"));
    }
}
