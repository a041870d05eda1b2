package lab.obi.agent.bpf;

import com.sun.jna.Memory;
import com.sun.jna.Native;

import java.nio.charset.StandardCharsets;

/**
 * A uprobe for every process on one function of one file, through a BPF_TRACE_UPROBE_MULTI link
 * (Linux 6.6), made by bpf(2) since libbpf 1.1 cannot. libbpf's uprobes are perf events, and the
 * kernel's uprobe PMU takes nothing less than CAP_SYS_ADMIN (EACCES with CAP_BPF and CAP_PERFMON,
 * measured on 6.18); this link asks for CAP_BPF and CAP_PERFMON, the least-privilege set. Used when
 * the agent runs without CAP_SYS_ADMIN (BpfCapture.Settings).
 */
final class UprobeMultiLink {

    /** BPF_TRACE_UPROBE_MULTI: its programs are loaded with it as their expected attach type. */
    static final int ATTACH_TYPE = 48;
    private static final int BPF_LINK_CREATE = 28;
    private static final int BPF_F_UPROBE_MULTI_RETURN = 1;
    /** union bpf_attr's link_create up to uprobe_multi.pid, rounded up; the rest stays zero. */
    private static final int ATTR_SIZE = 64;
    private static final long SYS_BPF = "aarch64".equals(System.getProperty("os.arch")) ? 280 : 321;

    private UprobeMultiLink() {
    }

    /** @return the link's file descriptor (close it to detach), or -errno */
    static int attach(int programFd, String path, long fileOffset, boolean returnProbe) {
        byte[] pathBytes = path.getBytes(StandardCharsets.UTF_8);
        try (Memory attr = new Memory(ATTR_SIZE); Memory file = new Memory(pathBytes.length + 1L);
             Memory offsets = new Memory(Long.BYTES)) {
            attr.clear();
            file.write(0, pathBytes, 0, pathBytes.length);
            file.setByte(pathBytes.length, (byte) 0);
            offsets.setLong(0, fileOffset);
            attr.setInt(0, programFd);
            attr.setInt(8, ATTACH_TYPE);
            attr.setPointer(16, file);
            attr.setPointer(24, offsets);
            attr.setInt(48, 1); // one offset
            attr.setInt(52, returnProbe ? BPF_F_UPROBE_MULTI_RETURN : 0);
            long fd = LibBpf.LibC.INSTANCE.syscall(SYS_BPF, BPF_LINK_CREATE, attr, ATTR_SIZE);
            return fd >= 0 ? (int) fd : -Native.getLastError();
        }
    }
}
