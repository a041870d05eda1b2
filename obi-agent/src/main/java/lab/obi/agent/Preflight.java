package lab.obi.agent;

import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;
import java.util.Optional;
import java.util.concurrent.TimeUnit;
import java.util.stream.Collectors;
import java.util.stream.Stream;

/** Checks what the kernel side needs before touching libbpf, so failures read as instructions. */
final class Preflight {

    static final int MIN_MAJOR = 5;
    static final int MIN_MINOR = 17; // bpf_loop, used to scan request and response heads

    private static final Path BTF = Path.of("/sys/kernel/btf/vmlinux");
    private static final Path TRACEFS = Path.of("/sys/kernel/tracing");
    private static final Path DEBUGFS_TRACING = Path.of("/sys/kernel/debug/tracing");

    /** The capabilities the agent uses, by their number in linux/capability.h. */
    enum Capability {
        /** read /proc/<pid>/environ of other users' processes (mode 0400): their OTEL_SERVICE_NAME */
        DAC_READ_SEARCH(2),
        /** the ptrace access check of /proc/<pid>/exe, maps and root, for processes with privileges the agent lacks */
        SYS_PTRACE(19),
        /** BPF and PERFMON in one, for engines that do not know those two */
        SYS_ADMIN(21),
        /** attach to tracepoints and uprobes, read kernel memory from BPF */
        PERFMON(38),
        /** load programs, create maps */
        BPF(39);

        final int number;

        Capability(int number) {
            this.number = number;
        }

        boolean in(long capabilities) {
            return (capabilities & (1L << number)) != 0;
        }

        @Override
        public String toString() {
            return "CAP_" + name();
        }
    }

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
        Optional<String> privileges = privilegeProblem(effectiveCapabilities());
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

    static Optional<String> privilegeProblem(long effective) {
        if (Capability.SYS_ADMIN.in(effective) || (Capability.BPF.in(effective) && Capability.PERFMON.in(effective))) {
            return Optional.empty();
        }
        String missing = Stream.of(Capability.BPF, Capability.PERFMON).filter(c -> !c.in(effective))
                .map(Capability::toString).collect(Collectors.joining(" and "));
        return Optional.of("missing privileges to load BPF programs: no " + missing + " (effective capabilities now: 0x"
                + Long.toHexString(effective) + "); run as root (sudo), or grant CAP_BPF and CAP_PERFMON, or"
                + " CAP_SYS_ADMIN where Docker is older than 23 and does not know those two (plus CAP_SYS_PTRACE and"
                + " CAP_DAC_READ_SEARCH to name other users' processes), e.g. docker `--cap-add BPF --cap-add PERFMON`");
    }

    /** What the agent does without, and what that costs: said at start, not fatal. */
    static List<String> warnings() {
        return warnings(effectiveCapabilities());
    }

    static List<String> warnings(long effective) {
        List<String> warnings = new ArrayList<>();
        if (!Capability.SYS_PTRACE.in(effective)) {
            warnings.add("no CAP_SYS_PTRACE: the executable, libraries and files of other users' processes (and of"
                    + " root's with more capabilities than the agent) cannot be read: no process.executable.*, no"
                    + " HTTPS capture of their OpenSSL; without OTEL_SERVICE_NAME they are named from their command"
                    + " line or kernel name");
        }
        if (!Capability.DAC_READ_SEARCH.in(effective)) {
            warnings.add("no CAP_DAC_READ_SEARCH: the environment of other users' processes cannot be read; they are"
                    + " named without their OTEL_SERVICE_NAME or OTEL_RESOURCE_ATTRIBUTES");
        }
        return warnings;
    }

    /** Whether the agent holds CAP_SYS_ADMIN (compose.yaml's stand-in for BPF and PERFMON). */
    static boolean sysAdmin() {
        return Capability.SYS_ADMIN.in(effectiveCapabilities());
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
