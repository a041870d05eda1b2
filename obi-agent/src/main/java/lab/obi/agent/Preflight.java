package lab.obi.agent;

import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;
import java.util.Optional;
import java.util.concurrent.TimeUnit;

/** Checks what the kernel side needs before touching libbpf, so failures read as instructions. */
final class Preflight {

    static final int MIN_MAJOR = 5;
    static final int MIN_MINOR = 17; // bpf_loop, used to scan request and response heads

    private static final Path BTF = Path.of("/sys/kernel/btf/vmlinux");
    private static final Path TRACEFS = Path.of("/sys/kernel/tracing");
    private static final Path DEBUGFS_TRACING = Path.of("/sys/kernel/debug/tracing");
    private static final int CAP_SYS_ADMIN = 21;
    private static final int CAP_PERFMON = 38;
    private static final int CAP_BPF = 39;

    private Preflight() {
    }

    /** Problems that prevent capture, each with what to do; empty when the host is ready. */
    static List<String> problems() {
        List<String> problems = new ArrayList<>();
        if (!System.getProperty("os.name", "").equals("Linux")) {
            problems.add("obi-agent runs on Linux only (found " + System.getProperty("os.name") + ")");
            return problems;
        }
        kernelVersionProblem().ifPresent(problems::add);
        if (!Files.isReadable(BTF)) {
            problems.add("no kernel BTF at " + BTF + ": the kernel needs CONFIG_DEBUG_INFO_BTF=y"
                    + " (most distribution kernels since 2021 have it); in a container, mount /sys/kernel/btf read-only");
        }
        Optional<String> privileges = privilegeProblem();
        privileges.ifPresent(problems::add);
        if (privileges.isEmpty()) { // without privileges tracefs is unreadable anyway
            tracefsProblem().ifPresent(problems::add);
        }
        return problems;
    }

    private static Optional<String> kernelVersionProblem() {
        String release = read(Path.of("/proc/sys/kernel/osrelease")).trim();
        String[] parts = release.split("[.-]");
        try {
            int major = Integer.parseInt(parts[0]);
            int minor = Integer.parseInt(parts[1]);
            if (major < MIN_MAJOR || (major == MIN_MAJOR && minor < MIN_MINOR)) {
                return Optional.of("kernel " + release + " is too old: obi-agent needs Linux "
                        + MIN_MAJOR + "." + MIN_MINOR + " or newer (ring buffer, bpf_loop, BTF task access)");
            }
        } catch (RuntimeException unparsable) {
            // An unknown version format: let the kernel decide at load time.
        }
        return Optional.empty();
    }

    private static Optional<String> privilegeProblem() {
        long effective = effectiveCapabilities();
        boolean admin = has(effective, CAP_SYS_ADMIN);
        boolean bpfAndPerfmon = has(effective, CAP_BPF) && has(effective, CAP_PERFMON);
        if (admin || bpfAndPerfmon) {
            return Optional.empty();
        }
        return Optional.of("missing privileges to load BPF programs: run as root (sudo), or grant"
                + " CAP_BPF and CAP_PERFMON, or CAP_SYS_ADMIN where Docker is older than 23 and does not know"
                + " those two (plus CAP_SYS_PTRACE to read other processes' /proc entries), e.g. `setcap` or"
                + " docker `--cap-add BPF --cap-add PERFMON`"
                + " (effective capabilities now: 0x" + Long.toHexString(effective) + ")");
    }

    private static boolean has(long capabilities, int capability) {
        return (capabilities & (1L << capability)) != 0;
    }

    private static long effectiveCapabilities() {
        for (String line : read(Path.of("/proc/self/status")).split("\n")) {
            if (line.startsWith("CapEff:")) {
                return Long.parseUnsignedLong(line.substring("CapEff:".length()).trim(), 16);
            }
        }
        return 0;
    }

    /** libbpf resolves tracepoint ids through tracefs; mount it when it is missing, as root can. */
    private static Optional<String> tracefsProblem() {
        if (tracefsReady()) {
            return Optional.empty();
        }
        try {
            Process mount = new ProcessBuilder("mount", "-t", "tracefs", "tracefs", TRACEFS.toString())
                    .redirectErrorStream(true).redirectOutput(ProcessBuilder.Redirect.DISCARD).start();
            if (mount.waitFor(10, TimeUnit.SECONDS) && tracefsReady()) {
                return Optional.empty();
            }
        } catch (IOException | InterruptedException cannotMount) {
            // reported below
        }
        return Optional.of("tracefs is not mounted and could not be mounted: run"
                + " `mount -t tracefs tracefs /sys/kernel/tracing` (in a container, bind-mount /sys/kernel/tracing)");
    }

    private static boolean tracefsReady() {
        return Files.isDirectory(TRACEFS.resolve("events/syscalls"))
                || Files.isDirectory(DEBUGFS_TRACING.resolve("events/syscalls"));
    }

    private static String read(Path path) {
        try {
            return Files.readString(path);
        } catch (IOException e) {
            return "";
        }
    }
}
