package lab.obi.agent.bpf;

import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

import java.nio.file.Files;
import java.nio.file.Path;
import java.util.OptionalLong;
import java.util.regex.Matcher;
import java.util.regex.Pattern;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

/** Function offsets in the host's own files, against what binutils reads of them. */
class ElfFunctionsTest {

    private static final Path LIBSSL = Path.of("/lib/x86_64-linux-gnu/libssl.so.3");

    @TempDir
    Path dir;

    @Test
    void libsslsFunctionsAreWhereTheirSectionsPutThem() throws Exception {
        for (String function : new String[] {"SSL_write", "SSL_read", "SSL_do_handshake"}) {
            assertEquals(OptionalLong.of(binutilsOffset(LIBSSL, function)), ElfFunctions.fileOffset(LIBSSL, function),
                    function);
        }
    }

    @Test
    void aFunctionTheFileDoesNotDefineOrAFileThatIsNoElfHasNone() throws Exception {
        assertEquals(OptionalLong.empty(), ElfFunctions.fileOffset(LIBSSL, "SSL_no_such_function"));
        assertEquals(OptionalLong.empty(), ElfFunctions.fileOffset(LIBSSL, "SSL_writ"), "a prefix is no match");
        Path text = Files.writeString(dir.resolve("not-elf"), "#!/bin/sh\necho SSL_write\n".repeat(10));
        assertEquals(OptionalLong.empty(), ElfFunctions.fileOffset(text, "SSL_write"));
        Path truncated = dir.resolve("truncated.so");
        Files.write(truncated, java.util.Arrays.copyOf(Files.readAllBytes(LIBSSL), 4096));
        assertEquals(OptionalLong.empty(), ElfFunctions.fileOffset(truncated, "SSL_write"));
    }

    /** nm's address of the function, moved by its section's address-to-file-offset difference (readelf -S). */
    private static long binutilsOffset(Path file, String function) throws Exception {
        String nm = run("nm", "-D", "--defined-only", file.toString());
        Matcher symbol = Pattern.compile("(?m)^([0-9a-f]+) T " + function + "(@\\S*)?$").matcher(nm);
        assertTrue(symbol.find(), function + " in nm's output");
        long address = Long.parseUnsignedLong(symbol.group(1), 16);
        Matcher section = Pattern.compile("\\.text\\s+PROGBITS\\s+([0-9a-f]+)\\s+([0-9a-f]+)")
                .matcher(run("readelf", "-SW", file.toString()));
        assertTrue(section.find(), ".text in readelf's output");
        return address - Long.parseUnsignedLong(section.group(1), 16) + Long.parseUnsignedLong(section.group(2), 16);
    }

    private static String run(String... command) throws Exception {
        Process p = new ProcessBuilder(command).redirectErrorStream(true).start();
        String out = new String(p.getInputStream().readAllBytes());
        assertEquals(0, p.waitFor(), String.join(" ", command) + ": " + out);
        return out;
    }
}
