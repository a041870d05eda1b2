package lab.obi.agent.network;

import com.code_intelligence.jazzer.junit.FuzzTest;
import java.io.IOException;
import java.io.UncheckedIOException;
import java.nio.file.Files;
import java.nio.file.Path;

/** /proc/net/netstat and /proc/net/snmp, whatever a kernel (or a stand-in procfs) writes there. */
class HostTcpCountersFuzzTest {

    private static final Path FILE = file();

    @FuzzTest
    void counterTables(byte[] bytes) throws IOException {
        Files.write(FILE, bytes);
        HostTcpCounters.table(FILE, "TcpExt:");
        HostTcpCounters.table(FILE, "Tcp:");
    }

    private static Path file() {
        try {
            Path file = Files.createTempFile("obi-fuzz-netstat-", "");
            file.toFile().deleteOnExit();
            return file;
        } catch (IOException e) {
            throw new UncheckedIOException(e);
        }
    }
}
