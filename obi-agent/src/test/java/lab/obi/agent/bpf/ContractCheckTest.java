package lab.obi.agent.bpf;

import com.sun.jna.Pointer;
import lab.obi.agent.contract.ExchangeRecordLayout;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

import java.nio.file.Files;
import java.nio.file.Path;
import java.util.List;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

/**
 * The contract check on real BTF: the object this build made agrees with the generated decoder, and
 * an object whose record gained a field (its header edited, the agent not rebuilt) is refused with
 * the field named. Needs clang and libbpf, as `make` does.
 */
class ContractCheckTest {

    private static final Path BPF = Path.of("..", "bpf").toAbsolutePath().normalize();

    private static List<String> mismatchesOf(Path object) {
        LibBpf libbpf = LibBpf.load();
        Pointer btf = libbpf.btf__parse_elf(object.toString(), null);
        assertTrue(btf != null && Pointer.nativeValue(btf) > 0, "BTF of " + object);
        try {
            return new ContractCheck(libbpf, btf).mismatches();
        } finally {
            libbpf.btf__free(btf);
        }
    }

    @Test
    void theBuiltObjectIsWhatTheDecoderWasGeneratedFrom() {
        assertEquals(List.of(), mismatchesOf(BPF.resolve("build/obi.bpf.o")));
    }

    @Test
    void aFieldAddedToARecordWithoutRegeneratingIsNamed(@TempDir Path dir) throws Exception {
        String header = Files.readString(BPF.resolve("include/obi_record.h"));
        int record = header.indexOf("struct obi_exchange_record {");
        int afterSocket = header.indexOf("struct obi_socket socket;", record) + "struct obi_socket socket;".length();
        Files.writeString(dir.resolve("obi_record.h"),
                header.substring(0, afterSocket) + "\n\t__u64 added_by_a_test;" + header.substring(afterSocket));
        Files.writeString(dir.resolve("drift.bpf.c"), """
                #include "obi_record.h"
                #include "contract_types.h"
                char LICENSE[] __attribute__((section("license"), used)) = "GPL";
                """);
        String arch = System.getProperty("os.arch").equals("aarch64") ? "aarch64" : "x86_64";
        Process clang = new ProcessBuilder("clang", "-g", "-O2", "-target", "bpf", "-I" + dir, "-I" + BPF.resolve("src"),
                "-I/usr/include/" + arch + "-linux-gnu", "-c", dir.resolve("drift.bpf.c").toString(), "-o",
                dir.resolve("drift.o").toString()).redirectErrorStream(true).start();
        String output = new String(clang.getInputStream().readAllBytes());
        assertEquals(0, clang.waitFor(), output);

        List<String> drift = mismatchesOf(dir.resolve("drift.o"));
        assertTrue(drift.contains("obi_exchange_record.added_by_a_test is unknown to the agent"), drift.toString());
        assertTrue(drift.contains("obi_exchange_record.start_ns is at byte 80, the agent reads it at 72"), drift.toString());
        String grown = "struct obi_exchange_record has " + (ExchangeRecordLayout.SIZE + 8) + " bytes";
        assertTrue(drift.stream().anyMatch(d -> d.startsWith(grown)), drift.toString());
    }
}
