package lab.obi.agent.bpf;

import com.sun.jna.Memory;
import com.sun.jna.Native;
import com.sun.jna.Pointer;
import org.jboss.logging.Logger;

import java.nio.ByteBuffer;
import java.nio.ByteOrder;
import java.util.ArrayList;
import java.util.Comparator;
import java.util.EnumMap;
import java.util.List;
import java.util.Map;
import java.util.Set;
import lab.obi.agent.contract.BpfObject;
import lab.obi.agent.contract.ConfigLayout;
import lab.obi.agent.contract.KernelCounter;

/**
 * The loaded and attached kernel side: opens the BPF object with libbpf, sets the agent's knobs,
 * loads it, attaches every program and detaches them on {@link #close()}.
 */
public final class BpfCapture implements AutoCloseable {

    private static final Logger LOG = Logger.getLogger(BpfCapture.class);
    /**
     * Programs in these sections are not attached by their section: the agent runs the raw_tp one
     * (BPF_PROG_TEST_RUN) and attaches the uprobes to each OpenSSL it finds (OpenSslProbes).
     */
    private static final Set<String> ATTACHED_BY_THE_AGENT = Set.of("raw_tp", "uprobe", "uretprobe");
    private static final String EXPIRY_PROGRAM = BpfObject.PROGRAM_EXPIRE_PEER_FIN_WAITS;
    /**
     * The BTF tracepoints of socket calls (hooks/syscalls.h): raw_syscalls' sys_exit, and
     * tcp_sendmsg_locked, where a write starts. The exit is attached first: a start whose exit is
     * not seen would stay pending.
     */
    private static final String SOCKET_CALL_SECTION_PREFIX = "tp_btf/";
    private static final String SYSCALL_EXIT_SECTION = SOCKET_CALL_SECTION_PREFIX + "sys_exit";
    /** sizeof(struct bpf_test_run_opts) in libbpf 1.x; the fields after sz stay zero. */
    private static final int TEST_RUN_OPTS_SIZE = 80;
    private static final int EPERM = 1;
    private static final int ENOENT = 2;
    private static final int EACCES = 13;

    /** Referenced for as long as libbpf may call it. */
    private static final LibBpf.PrintFn LIBBPF_LOG = BpfCapture::logLibbpf;

    private final LibBpf libbpf;
    private final Pointer object;
    private final List<Pointer> links = new ArrayList<>();
    private final List<String> programNames = new ArrayList<>();
    private Pointer expiryProgram;
    private final Memory testRunOpts = new Memory(TEST_RUN_OPTS_SIZE);
    private boolean closed;
    private boolean uprobeMultiLinks;

    private BpfCapture(LibBpf libbpf, Pointer object) {
        this.libbpf = libbpf;
        this.object = object;
    }

    /**
     * Settings the kernel side reads before load.
     *
     * @param peerFinWaitNs how long an exchange waits, after the peer's FIN, for the server to answer, close or reset
     * @param uprobeMultiLinks attach the OpenSSL probes through multi-uprobe links (UprobeMultiLink): for
     *                         an agent without CAP_SYS_ADMIN, which the uprobe PMU's perf events require
     */
    public record Settings(int agentPid, int requestHeadBytes, long peerFinWaitNs, int ringBufferBytes,
                           int maxConnections, boolean uprobeMultiLinks) {
    }

    public static BpfCapture load(byte[] elf, Settings settings) throws BpfException {
        LibBpf libbpf = loadLibrary();
        libbpf.libbpf_set_print(LIBBPF_LOG);
        Pointer object;
        int openError;
        // libbpf is done with the ELF buffer when open returns (it ends with bpf_object__elf_finish, which
        // drops its reference): holding the buffer for the agent's life would keep its 1-2 MB resident.
        try (Memory bytes = new Memory(elf.length)) {
            bytes.write(0, elf, 0, elf.length);
            object = libbpf.bpf_object__open_mem(bytes, elf.length, null);
            openError = Native.getLastError();
        }
        if (object == null) {
            throw new BpfException("libbpf could not open the BPF object: " + errno(openError)
                    + " (is it a BPF object built by `make -C bpf`?)");
        }
        BpfCapture capture = new BpfCapture(libbpf, object);
        try {
            capture.checkContract();
            capture.configure(settings);
            capture.loadIntoKernel();
            capture.attachAll();
            return capture;
        } catch (BpfException e) {
            capture.close();
            throw e;
        }
    }

    private static LibBpf loadLibrary() throws BpfException {
        try {
            return LibBpf.load();
        } catch (UnsatisfiedLinkError e) {
            throw new BpfException(LibBpf.SONAME + " not found: install libbpf 1.x"
                    + " (Debian/Ubuntu: apt-get install libbpf1; Fedora: dnf install libbpf)");
        }
    }

    /** The object must have the records, flags and counters this agent was built for. */
    private void checkContract() throws BpfException {
        List<String> drift = new ContractCheck(libbpf, libbpf.bpf_object__btf(object)).mismatches();
        if (!drift.isEmpty()) {
            throw new BpfException("the BPF object does not match this agent (build both with `make build`): "
                    + String.join("; ", drift));
        }
    }

    private void configure(Settings settings) throws BpfException {
        Pointer config = map(BpfObject.CONFIG_SECTION);
        Memory value = new Memory(ConfigLayout.SIZE);
        value.clear();
        value.setInt(ConfigLayout.AGENT_TGID, settings.agentPid());
        value.setInt(ConfigLayout.REQ_HEAD_LEN, settings.requestHeadBytes());
        value.setLong(ConfigLayout.PEER_FIN_WAIT_NS, settings.peerFinWaitNs());
        check(libbpf.bpf_map__set_initial_value(config, value, value.size()), "set " + BpfObject.CONFIG_SECTION);
        check(libbpf.bpf_map__set_max_entries(map(BpfObject.MAP_EVENTS), settings.ringBufferBytes()),
                "size the ring buffer");
        check(libbpf.bpf_map__set_max_entries(map(BpfObject.MAP_CONNS), settings.maxConnections()),
                "size the connection table");
        uprobeMultiLinks = settings.uprobeMultiLinks();
        Pointer program = null;
        while (uprobeMultiLinks && (program = libbpf.bpf_object__next_program(object, program)) != null) {
            String section = libbpf.bpf_program__section_name(program);
            if (section.startsWith("uprobe") || section.startsWith("uretprobe")) {
                check(libbpf.bpf_program__set_expected_attach_type(program, UprobeMultiLink.ATTACH_TYPE),
                        "make " + libbpf.bpf_program__name(program) + " a multi-uprobe program");
            }
        }
    }

    private void loadIntoKernel() throws BpfException {
        int rc = libbpf.bpf_object__load(object);
        if (rc == 0) {
            return;
        }
        int err = -rc;
        if (err == EPERM || err == EACCES) {
            throw new BpfException("the kernel refused to load the BPF programs (" + errno(err) + "). Run as root,"
                    + " or grant CAP_BPF and CAP_PERFMON (CAP_SYS_ADMIN on kernels before 5.8 and Docker before 23);"
                    + " in a container also allow the bpf() syscall (seccomp) and mount /sys/kernel/btf."
                    + " The libbpf lines above tell which program the verifier rejected, if any.");
        }
        throw new BpfException("loading the BPF programs failed: " + errno(err)
                + ". The libbpf lines above have the details (a kernel older than 5.17 lacks bpf_loop).");
    }

    /**
     * The programs that end a connection's state (TCP's state changes, resets) go first, the syscall
     * programs that create it last: a connection tracked while the close's program was not attached
     * yet would lose its close (counted as close_missed) at every start under load. Of the syscall
     * programs, the exit goes before the entry: an entry seen without its exit would leave its call
     * pending, and a close on that thread would wait for that call's exit (close_missed again).
     */
    private void attachAll() throws BpfException {
        List<Pointer> socketCallPrograms = new ArrayList<>();
        Pointer program = null;
        while ((program = libbpf.bpf_object__next_program(object, program)) != null) {
            String section = libbpf.bpf_program__section_name(program);
            if (ATTACHED_BY_THE_AGENT.contains(section)) {
                if (EXPIRY_PROGRAM.equals(libbpf.bpf_program__name(program))) {
                    expiryProgram = program;
                }
            } else if (section.startsWith(SOCKET_CALL_SECTION_PREFIX)) {
                socketCallPrograms.add(program);
            } else {
                attach(program);
            }
        }
        socketCallPrograms.sort(Comparator.comparing(p -> !libbpf.bpf_program__section_name(p).equals(SYSCALL_EXIT_SECTION)));
        for (Pointer socketCallProgram : socketCallPrograms) {
            attach(socketCallProgram);
        }
        if (expiryProgram == null) {
            throw new BpfException("the BPF object has no program " + EXPIRY_PROGRAM + ": agent and BPF object do not match");
        }
    }

    private void attach(Pointer program) throws BpfException {
        String name = libbpf.bpf_program__name(program);
        Pointer link = libbpf.bpf_program__attach(program);
        if (link == null) {
            int err = Native.getLastError();
            String hint = err == ENOENT
                    ? " (tracepoint missing: is tracefs mounted at /sys/kernel/tracing?)"
                    : "";
            throw new BpfException("attaching " + name + " failed: " + errno(err) + hint);
        }
        links.add(link);
        programNames.add(name);
    }

    /**
     * Reports the exchanges whose server has not reacted to the peer's FIN within the configured wait
     * (tracepoint programs cannot own timers, so the agent calls this every second).
     */
    public synchronized void expirePeerFinWaits() throws BpfException {
        if (closed) {
            return;
        }
        testRunOpts.clear();
        testRunOpts.setLong(0, TEST_RUN_OPTS_SIZE);
        check(libbpf.bpf_prog_test_run_opts(libbpf.bpf_program__fd(expiryProgram), testRunOpts),
                "run " + EXPIRY_PROGRAM);
    }

    /** Whether the OpenSSL probes' programs were loaded for multi-uprobe links. */
    boolean uprobeMultiLinks() {
        return uprobeMultiLinks;
    }

    public List<String> programNames() {
        return List.copyOf(programNames);
    }

    /** A loaded program of the object, by name: for the probes the agent attaches itself. */
    Pointer program(String name) throws BpfException {
        Pointer program = libbpf.bpf_object__find_program_by_name(object, name);
        if (program == null) {
            throw new BpfException("the BPF object has no program " + name + ": agent and BPF object do not match");
        }
        return program;
    }

    LibBpf libbpf() {
        return libbpf;
    }

    private static final int MAX_EXECS_PER_CALL = 256;

    /** The process ids that exec'd since the last call (the kernel's queue, oldest first; at most 256). */
    synchronized List<Integer> execs() throws BpfException {
        if (closed) {
            return List.of();
        }
        int fd = mapFd(BpfObject.MAP_EXECS);
        Memory value = new Memory(4);
        List<Integer> pids = new ArrayList<>();
        while (pids.size() < MAX_EXECS_PER_CALL && libbpf.bpf_map_lookup_and_delete_elem(fd, null, value) == 0) {
            pids.add(value.getInt(0));
        }
        return pids;
    }

    /**
     * Names a process whose client calls are not reported (map unwatched_clients): the kernel sets
     * its connections aside at their next request, instead of following them to records that are
     * dropped.
     *
     * @param startTicks when it started, as field 22 of /proc/pid/stat: a recycled pid is not named
     */
    public synchronized void unwatchedClient(int pid, long startTicks) throws BpfException {
        if (closed) {
            return;
        }
        Memory key = new Memory(4);
        key.setInt(0, pid);
        Memory value = new Memory(8);
        value.setLong(0, startTicks);
        check(libbpf.bpf_map_update_elem(mapFd(BpfObject.MAP_UNWATCHED_CLIENTS), key, value, 0),
                "name an unwatched client");
    }

    /**
     * Connections in the kernel's table now (map conns), counted key by key: at the pace of a scrape,
     * not per record. Keys deleted meanwhile restart the walk, so it stops at the table's capacity.
     */
    public synchronized long trackedConnections() throws BpfException {
        if (closed) {
            return 0;
        }
        int fd = mapFd(BpfObject.MAP_CONNS);
        int capacity = libbpf.bpf_map__max_entries(map(BpfObject.MAP_CONNS));
        Memory key = new Memory(8);
        Memory next = new Memory(8);
        long count = 0;
        Pointer previous = null;
        while (count < capacity && libbpf.bpf_map_get_next_key(fd, previous, next) == 0) {
            count++;
            key.setLong(0, next.getLong(0));
            previous = key;
        }
        return count;
    }

    public int ringBufferFd() throws BpfException {
        return mapFd(BpfObject.MAP_EVENTS);
    }

    /** The kernel's drop and record counters (enum obi_counter), summed over CPUs. */
    public Map<KernelCounter, Long> readCounters() throws BpfException {
        int fd = mapFd(BpfObject.MAP_COUNTERS);
        int cpus = libbpf.libbpf_num_possible_cpus();
        Memory key = new Memory(4);
        Memory values = new Memory(8L * Math.max(cpus, 1));
        Map<KernelCounter, Long> totals = new EnumMap<>(KernelCounter.class);
        for (KernelCounter counter : KernelCounter.values()) {
            key.setInt(0, counter.index());
            check(libbpf.bpf_map_lookup_elem(fd, key, values), "read counter " + counter);
            ByteBuffer b = values.getByteBuffer(0, values.size()).order(ByteOrder.nativeOrder());
            long total = 0;
            for (int cpu = 0; cpu < cpus; cpu++) {
                total += b.getLong(cpu * 8);
            }
            totals.put(counter, total);
        }
        totals.put(KernelCounter.PROGRAM_SKIPPED, recursionMisses());
        return totals;
    }

    /** offsetof(struct bpf_prog_info, recursion_misses): a UAPI struct, only ever extended (Linux 5.12+). */
    private static final int PROG_INFO_RECURSION_MISSES = 208;

    /** The suffix of a TCP hook's second program, which takes exactly the events its first one is skipped for. */
    private static final String NESTED_SUFFIX = "_nested";

    /**
     * Events the kernel gave none of the object's programs: how often it skipped one because that
     * program was running on the CPU already (bpf_prog_info.recursion_misses, Linux 5.12+). A TCP
     * hook's first program is skipped by design when its event nests in it: its {@code _nested}
     * program takes the event, so only the second one's skips are lost.
     */
    private long recursionMisses() throws BpfException {
        Memory info = new Memory(PROG_INFO_RECURSION_MISSES + 8);
        Memory length = new Memory(4);
        long lost = 0;
        Pointer program = null;
        while ((program = libbpf.bpf_object__next_program(object, program)) != null) {
            int fd = libbpf.bpf_program__fd(program);
            if (fd < 0 || libbpf.bpf_object__find_program_by_name(object,
                    libbpf.bpf_program__name(program) + NESTED_SUFFIX) != null) {
                continue; // not loaded (the kernel lacks what it attaches to), or its twin took those events
            }
            info.clear();
            length.setInt(0, (int) info.size());
            check(libbpf.bpf_obj_get_info_by_fd(fd, info, length), "read program info");
            if (length.getInt(0) >= info.size()) {
                lost += info.getLong(PROG_INFO_RECURSION_MISSES);
            }
        }
        return lost;
    }

    private Pointer map(String name) throws BpfException {
        Pointer map = libbpf.bpf_object__find_map_by_name(object, name);
        if (map == null) {
            throw new BpfException("the BPF object has no map '" + name + "': agent and BPF object do not match");
        }
        return map;
    }

    private int mapFd(String name) throws BpfException {
        int fd = libbpf.bpf_map__fd(map(name));
        if (fd < 0) {
            throw new BpfException("map '" + name + "' is not loaded: " + errno(-fd));
        }
        return fd;
    }

    private static void check(int rc, String what) throws BpfException {
        if (rc < 0) {
            throw new BpfException("could not " + what + ": " + errno(-rc));
        }
    }

    static String errno(int err) {
        return LibBpf.LibC.INSTANCE.strerror(err) + " (errno " + err + ")";
    }

    /** Set while the agent tries something that is expected to fail often: libbpf's warnings are debug lines then. */
    private static final ThreadLocal<Boolean> TRYING = ThreadLocal.withInitial(() -> false);

    /** Runs an attempt whose failure is the common case (probing executables for OpenSSL symbols). */
    static <T> T quietly(java.util.function.Supplier<T> attempt) {
        TRYING.set(true);
        try {
            return attempt.get();
        } finally {
            TRYING.set(false);
        }
    }

    private static int logLibbpf(int level, String format, Pointer args) {
        int effective = level == LibBpf.LIBBPF_WARN && TRYING.get() ? LibBpf.LIBBPF_INFO : level;
        if (effective > LibBpf.LIBBPF_INFO && !LOG.isTraceEnabled()) {
            return 0;
        }
        byte[] line = new byte[4096];
        int n = LibBpf.LibC.INSTANCE.vsnprintf(line, line.length, format, args);
        String text = new String(line, 0, Math.max(0, Math.min(n, line.length - 1))).stripTrailing();
        switch (effective) {
            case LibBpf.LIBBPF_WARN -> LOG.warn("libbpf: " + text);
            case LibBpf.LIBBPF_INFO -> LOG.debug("libbpf: " + text);
            default -> LOG.trace("libbpf: " + text);
        }
        return 0;
    }

    @Override
    public synchronized void close() {
        if (closed) {
            return;
        }
        closed = true;
        Detach.all(links.stream().map(link -> (Runnable) () -> libbpf.bpf_link__destroy(link)).toList());
        links.clear();
        libbpf.bpf_object__close(object);
    }
}
