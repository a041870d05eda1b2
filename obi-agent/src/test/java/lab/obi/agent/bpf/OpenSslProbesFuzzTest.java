package lab.obi.agent.bpf;

import static org.junit.jupiter.api.Assertions.assertTrue;

import com.code_intelligence.jazzer.junit.FuzzTest;
import java.nio.charset.StandardCharsets;

/** /proc/PID/maps: a process names its own files and anonymous mappings; only libssl paths come out. */
class OpenSslProbesFuzzTest {

    @FuzzTest
    void maps(byte[] maps) {
        for (String path : OpenSslProbes.mappedLibssl(new String(maps, StandardCharsets.UTF_8))) {
            assertTrue(path.startsWith("/") && path.contains("libssl.so"), path);
        }
    }
}
