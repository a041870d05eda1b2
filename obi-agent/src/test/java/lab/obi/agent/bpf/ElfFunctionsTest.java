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

    /** Where the uprobes on libssl's reads and writes go when they go inside it (OpenSslProbes). */
    @Test
    void theFirstCallOfSslReadExAndSslWriteExIsTheOneObjdumpShows() throws Exception {
        for (String function : new String[] {"SSL_read_ex", "SSL_write_ex"}) {
            long offset = binutilsOffset(LIBSSL, function);
            String code = run("objdump", "-d", "--start-address=" + (offset + textShift(LIBSSL)),
                    "--stop-address=" + (offset + textShift(LIBSSL) + 16), LIBSSL.toString());
            Matcher call = Pattern.compile("\\scall\\s+([0-9a-f]+)").matcher(code);
            assertTrue(call.find(), function + " calls within its first 16 bytes: " + code);
            long callee = Long.parseUnsignedLong(call.group(1), 16) - textShift(LIBSSL);
            assertEquals(OptionalLong.of(callee), ElfFunctions.firstCallee(LIBSSL, offset), function);
        }
    }

    @Test
    void codeThatDoesMoreBeforeItsFirstCallHasNoCalleeTaken() throws Exception {
        // SSL_read: sub $0x18,%rsp, then mov %fs:0x28,%rax (the stack guard) before any call
        assertEquals(OptionalLong.empty(), ElfFunctions.firstCallee(LIBSSL, binutilsOffset(LIBSSL, "SSL_read")));
        Path text = Files.writeString(dir.resolve("not-elf"), "#!/bin/sh\n".repeat(10));
        assertEquals(OptionalLong.empty(), ElfFunctions.firstCallee(text, 0));
        assertEquals(OptionalLong.empty(), ElfFunctions.firstCallee(LIBSSL, Files.size(LIBSSL) - 4), "past the end");
    }

    /** A 64-bit x86 ELF header, then code at 0x100 that adjusts the stack and calls 0x200: the callee's first bytes decide. */
    @Test
    void aCalleeIsTakenOnlyWhenItBeginsWithAPush() throws Exception {
        assertEquals(OptionalLong.of(0x200), ElfFunctions.firstCallee(codeCalling(dir.resolve("push"), 0x41, 0x55), 0x100));
        assertEquals(OptionalLong.of(0x200), ElfFunctions.firstCallee(codeCalling(dir.resolve("endbr"), 0xf3, 0x0f, 0x1e, 0xfa,
                0x53), 0x100), "endbr64, then push %rbx");
        assertEquals(OptionalLong.empty(), ElfFunctions.firstCallee(codeCalling(dir.resolve("mov"), 0x48, 0x89, 0xe5), 0x100),
                "mov %rsp,%rbp: no function's first instruction, and one the kernel would single-step");
    }

    private static Path codeCalling(Path file, int... calleeBytes) throws Exception {
        byte[] elf = new byte[0x300];
        elf[0] = 0x7f; elf[1] = 'E'; elf[2] = 'L'; elf[3] = 'F';
        elf[4] = 2; // 64-bit
        elf[5] = 1; // little-endian
        elf[0x12] = 62; // EM_X86_64
        byte[] caller = {0x48, (byte) 0x83, (byte) 0xec, 0x08, (byte) 0xe8, 0, 0, 0, 0}; // sub $8,%rsp; call
        System.arraycopy(caller, 0, elf, 0x100, caller.length);
        int rel = 0x200 - (0x100 + 4 + 5);
        elf[0x105] = (byte) rel; elf[0x106] = (byte) (rel >> 8);
        for (int i = 0; i < calleeBytes.length; i++) {
            elf[0x200 + i] = (byte) calleeBytes[i];
        }
        return Files.write(file, elf);
    }

    /** A .text address minus its file offset. */
    private static long textShift(Path file) throws Exception {
        Matcher section = Pattern.compile("\\.text\\s+PROGBITS\\s+([0-9a-f]+)\\s+([0-9a-f]+)")
                .matcher(run("readelf", "-SW", file.toString()));
        assertTrue(section.find(), ".text in readelf's output");
        return Long.parseUnsignedLong(section.group(1), 16) - Long.parseUnsignedLong(section.group(2), 16);
    }

    /** nm's address of the function, moved by its section's address-to-file-offset difference (readelf -S). */
    private static long binutilsOffset(Path file, String function) throws Exception {
        String nm = run("nm", "-D", "--defined-only", file.toString());
        Matcher symbol = Pattern.compile("(?m)^([0-9a-f]+) T " + function + "(@\\S*)?$").matcher(nm);
        assertTrue(symbol.find(), function + " in nm's output");
        return Long.parseUnsignedLong(symbol.group(1), 16) - textShift(file);
    }

    private static String run(String... command) throws Exception {
        Process p = new ProcessBuilder(command).redirectErrorStream(true).start();
        String out = new String(p.getInputStream().readAllBytes());
        assertEquals(0, p.waitFor(), String.join(" ", command) + ": " + out);
        return out;
    }
}
