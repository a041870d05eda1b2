package lab.obi.agent.process;

import lab.obi.agent.process.ObservedSocket.Direction;
import lab.obi.agent.process.ObservedSocket;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.CsvSource;

import java.util.Arrays;
import java.util.Set;
import java.util.stream.Collectors;

import static org.junit.jupiter.api.Assertions.assertEquals;

class WatchFilterTest {

    private static Set<String> strings(String list) {
        return list.isEmpty() ? Set.of() : Set.of(list.split(";"));
    }

    private static Set<Integer> ports(String list) {
        return list.isEmpty() ? Set.of()
                : Arrays.stream(list.split(";")).map(Integer::valueOf).collect(Collectors.toSet());
    }

    @ParameterizedTest
    @CsvSource(nullValues = "null", value = {
            // comm, exe, service, local port, peer port, excluded, services, ports, watched
            "nginx, /usr/sbin/nginx, nginx, 80, 5000, prometheus, '', '', true",
            "prometheus, /usr/bin/prometheus, prometheus, 5000, 9464, prometheus, '', '', false",
            "otelcol-con, /usr/bin/otelcol-contrib, otelcol-contrib, 5000, 80, otelcol-contrib, '', '', false",
            "java, /usr/bin/java, orders, 8080, 5000, prometheus, orders;cart, '', true",
            "java, /usr/bin/java, billing, 8080, 5000, prometheus, orders;cart, '', false",
            "curl, null, curl, 5000, 8080, prometheus, '', 8080, true",
            "curl, null, curl, 5000, 9090, prometheus, '', 8080, false",
            // a process that named itself "" (prctl PR_SET_NAME) and exited: no comm, no executable
            "null, null, unknown_service, 8080, 5000, prometheus, '', '', true",
    })
    void watched(String comm, String exe, String service, int localPort, int peerPort, String excluded,
                 String services, String portList, boolean expected) {
        ObservedSocket socket = new ObservedSocket(Direction.SERVER, 1, comm, exe, service, null, "127.0.0.1",
                localPort, "127.0.0.1", peerPort);
        assertEquals(expected, new WatchFilter(strings(excluded), strings(services), ports(portList)).watched(socket));
    }
}
