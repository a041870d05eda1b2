package lab.obi.agent.bpf;

import java.io.IOException;
import java.nio.ByteOrder;
import java.nio.MappedByteBuffer;
import java.nio.channels.FileChannel;
import java.nio.charset.StandardCharsets;
import java.nio.file.Path;
import java.nio.file.StandardOpenOption;
import java.util.OptionalLong;
import java.util.function.Function;

/**
 * Where a function's code starts in an ELF file, as a uprobe takes it: the symbol's address in its
 * section, from the section's start in the file. The dynamic symbols first (a shared library's
 * exports), then the full table (an executable that links OpenSSL statically). 64-bit
 * little-endian files only, the agent's platforms.
 */
final class ElfFunctions {

    private static final int SHT_SYMTAB = 2;
    private static final int SHT_DYNSYM = 11;
    private static final int STT_FUNC = 2;
    private static final int SECTION_HEADER = 64;
    private static final int SYMBOL = 24;
    private static final short EM_X86_64 = 62;
    /** f3 0f 1e fa, read as a little-endian int. */
    private static final int ENDBR64 = 0xfa1e0ff3;
    /** 48 83 ec: sub $imm8, %rsp (the immediate follows). */
    private static final int SUB_IMM8_FROM_RSP = 0xec8348;
    private static final int CALL_REL32 = 0xe8;
    private static final int PUSH_REGISTER = 0x50;
    private static final int REX_B = 0x41;

    private ElfFunctions() {
    }

    /** The function's file offset; empty if the file is no such ELF or does not define it. */
    static OptionalLong fileOffset(Path file, String function) throws IOException {
        byte[] name = function.getBytes(StandardCharsets.US_ASCII);
        return inElf(file, elf -> {
            for (int type : new int[] {SHT_DYNSYM, SHT_SYMTAB}) {
                OptionalLong offset = find(elf, type, name);
                if (offset.isPresent()) {
                    return offset;
                }
            }
            return OptionalLong.empty();
        });
    }

    /**
     * x86-64: where the function the code at functionOffset calls first starts, when nothing comes
     * before that call but {@code endbr64} and {@code sub $n, %rsp}, which leave the argument
     * registers as they were, and the callee begins as a function does, with a push (after an
     * {@code endbr64}). Empty for any other code, or another machine.
     */
    static OptionalLong firstCallee(Path file, long functionOffset) throws IOException {
        return inElf(file, elf -> {
            if (elf.getShort(0x12) != EM_X86_64) {
                return OptionalLong.empty();
            }
            int at = Math.toIntExact(functionOffset);
            if (elf.getInt(at) == ENDBR64) {
                at += 4;
            }
            if ((elf.getInt(at) & 0xffffff) == SUB_IMM8_FROM_RSP) {
                at += 4;
            }
            if (Byte.toUnsignedInt(elf.get(at)) != CALL_REL32) {
                return OptionalLong.empty();
            }
            long callee = at + 5L + elf.getInt(at + 1); // within one segment, file offsets move as addresses do
            int first = Math.toIntExact(callee);
            if (elf.getInt(first) == ENDBR64) {
                first += 4;
            }
            return pushesARegister(elf, first) ? OptionalLong.of(callee) : OptionalLong.empty();
        });
    }

    /**
     * What read finds in the file, mapped, if it is a 64-bit little-endian ELF; empty otherwise. A
     * read past the end of a truncated file, or at a negative offset, finds nothing.
     */
    private static OptionalLong inElf(Path file, Function<MappedByteBuffer, OptionalLong> read) throws IOException {
        try (FileChannel channel = FileChannel.open(file, StandardOpenOption.READ)) {
            if (channel.size() < 64) {
                return OptionalLong.empty();
            }
            MappedByteBuffer elf = channel.map(FileChannel.MapMode.READ_ONLY, 0, channel.size());
            elf.order(ByteOrder.LITTLE_ENDIAN);
            if (elf.getInt(0) != 0x464c457f || elf.get(4) != 2 || elf.get(5) != 1) {
                return OptionalLong.empty(); // not ELF, or not 64-bit little-endian
            }
            return read.apply(elf);
        } catch (IndexOutOfBoundsException | IllegalArgumentException | ArithmeticException truncatedOrHuge) {
            return OptionalLong.empty();
        }
    }

    /** push %reg: 50+r, or 41 50+r for r8 to r15. */
    private static boolean pushesARegister(MappedByteBuffer elf, int at) {
        int op = Byte.toUnsignedInt(elf.get(at));
        if (op == REX_B) {
            op = Byte.toUnsignedInt(elf.get(at + 1));
        }
        return op >= PUSH_REGISTER && op < PUSH_REGISTER + 8;
    }

    private static OptionalLong find(MappedByteBuffer elf, int tableType, byte[] name) {
        long sectionHeaders = elf.getLong(0x28);
        int sections = Short.toUnsignedInt(elf.getShort(0x3c));
        for (int i = 0; i < sections; i++) {
            int table = Math.toIntExact(sectionHeaders + (long) i * SECTION_HEADER);
            if (elf.getInt(table + 4) != tableType) {
                continue;
            }
            int strings = Math.toIntExact(sectionHeaders + (long) elf.getInt(table + 40) * SECTION_HEADER);
            int stringsAt = Math.toIntExact(elf.getLong(strings + 24));
            int symbolsAt = Math.toIntExact(elf.getLong(table + 24));
            long count = elf.getLong(table + 32) / SYMBOL;
            for (long s = 0; s < count; s++) {
                int symbol = Math.toIntExact(symbolsAt + s * SYMBOL);
                int section = Short.toUnsignedInt(elf.getShort(symbol + 6));
                if ((elf.get(symbol + 4) & 0xf) != STT_FUNC || section == 0 || section >= sections
                        || !named(elf, stringsAt + elf.getInt(symbol), name)) {
                    continue;
                }
                int header = Math.toIntExact(sectionHeaders + (long) section * SECTION_HEADER);
                long value = elf.getLong(symbol + 8);
                return OptionalLong.of(value - elf.getLong(header + 16) + elf.getLong(header + 24));
            }
        }
        return OptionalLong.empty();
    }

    private static boolean named(MappedByteBuffer elf, int at, byte[] name) {
        for (int i = 0; i < name.length; i++) {
            if (elf.get(at + i) != name[i]) {
                return false;
            }
        }
        return elf.get(at + name.length) == 0;
    }
}
