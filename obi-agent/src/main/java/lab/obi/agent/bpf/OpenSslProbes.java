package lab.obi.agent.bpf;

import com.sun.jna.Memory;
import com.sun.jna.Native;
import com.sun.jna.Pointer;
import lab.obi.agent.contract.BpfObject;
import org.jboss.logging.Logger;

import java.io.IOException;
import java.nio.file.DirectoryStream;
import java.nio.file.Files;
import java.nio.file.NoSuchFileException;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.Comparator;
import java.util.HashMap;
import java.util.HashSet;
import java.util.Iterator;
import java.util.List;
import java.util.Map;
import java.util.Optional;
import java.util.OptionalLong;
import java.util.PriorityQueue;
import java.util.Queue;
import java.util.Set;
import java.util.regex.Pattern;
import java.util.stream.Stream;

/**
 * Attaches the OpenSSL uprobes (bpf/src/hooks/openssl.h) to every OpenSSL the host's and the
 * containers' processes use, once per file (device and inode, whatever path reaches it): the
 * libssl.so mapped in /proc/PID/maps, read through /proc/PID/root so that a container's own libssl
 * is its own file; the libssl.so in the standard library directories of each root filesystem a
 * process starts in, so a library loaded later (Python imports ssl lazily) is already probed; and an
 * executable that links OpenSSL statically, found by its symbols. A probed file is released when no
 * process maps it and no process lives in the root filesystem it was found in.
 * One thread calls {@link #scan()} and {@link #started(int)}.
 */
public final class OpenSslProbes implements AutoCloseable {

    private static final Logger LOG = Logger.getLogger(OpenSslProbes.class);
    private static final Pattern LIBSSL = Pattern.compile("libssl\\.so(\\.[0-9]+)*");
    /** Where distributions put libssl, relative to a root filesystem. */
    private static final List<String> LIBRARY_DIRS = List.of("lib", "lib64", "usr/lib", "usr/lib64", "usr/local/lib",
            "usr/local/lib64", "lib/x86_64-linux-gnu", "usr/lib/x86_64-linux-gnu", "lib/aarch64-linux-gnu",
            "usr/lib/aarch64-linux-gnu");
    /** struct bpf_uprobe_opts of libbpf 1.x: sz, ref_ctr_offset, bpf_cookie, retprobe, func_name. */
    private static final int UPROBE_OPTS_SIZE = 40;
    private static final int RETPROBE = 24;
    private static final int FUNC_NAME = 32;
    private static final int ENOENT = 2;
    private static final int EACCES = 13;
    private static final int EINVAL = 22;
    private static final int ENOSYS = 38;
    private static final int EOPNOTSUPP = 95;

    /**
     * A function probed at its entry by {@code entry}, and at its return by the one return program.
     * offset: where it starts in the file, or -1 to look its name up.
     */
    private record Probe(String function, String entry, boolean required, long offset) {
        Probe(String function, String entry, boolean required) {
            this(function, entry, required, -1);
        }
    }

    /** Which socket an SSL * uses, before a first read served from what the handshake received. */
    private static final List<Probe> HANDSHAKE_PROBES = List.of(
            new Probe("SSL_do_handshake", BpfObject.PROGRAM_SSL_HANDSHAKE_ENTER, false),
            new Probe("SSL_accept", BpfObject.PROGRAM_SSL_HANDSHAKE_ENTER, false),
            new Probe("SSL_connect", BpfObject.PROGRAM_SSL_HANDSHAKE_ENTER, false));

    private static final List<Probe> PROBES = Stream.concat(Stream.of(
            new Probe("SSL_write", BpfObject.PROGRAM_SSL_WRITE_ENTER, true),
            new Probe("SSL_read", BpfObject.PROGRAM_SSL_READ_ENTER, true),
            new Probe("SSL_write_ex", BpfObject.PROGRAM_SSL_WRITE_EX_ENTER, false), // OpenSSL >= 1.1.1
            new Probe("SSL_read_ex", BpfObject.PROGRAM_SSL_READ_EX_ENTER, false)), HANDSHAKE_PROBES.stream()).toList();

    private static final long SECOND_LOOK_NS = 1_000_000_000L;
    private static final long THIRD_LOOK_NS = 4_000_000_000L;
    private static final int MAX_LOOKS_PENDING = 4096;

    private record LookAgain(int pid, long atNanos, boolean again) {
    }

    /** A file, by what the kernel's uprobes key on. */
    private record FileId(long device, long inode) {
    }

    /** @param root the root filesystem it was found in (null: mapped, or an executable) */
    private record Library(Path path, FileId root, List<Runnable> detachments) {
    }

    /**
     * Multi-uprobe links (UprobeMultiLink): not used with CAP_SYS_ADMIN, where libbpf's perf events
     * work on every kernel (and are what the benchmarks measure); else whether the kernel makes them,
     * known at the first one made or refused.
     */
    private enum MultiLinks { UNKNOWN, MADE, NOT_USED }

    private final LibBpf libbpf;
    private final BpfCapture capture;
    private final Path proc;
    private final Map<FileId, Library> probed = new HashMap<>();
    /** Files that are no OpenSSL or refused the probes: not tried again. */
    private final Set<FileId> refused = new HashSet<>();
    private final Set<FileId> rootsSearched = new HashSet<>();
    private final Queue<LookAgain> lookAgain = new PriorityQueue<>(Comparator.comparingLong(LookAgain::atNanos));
    private volatile int attachedCount;
    private int lastAttachError;
    private MultiLinks multiLinks;

    public OpenSslProbes(BpfCapture capture, Path proc) {
        this.capture = capture;
        this.libbpf = capture.libbpf();
        this.proc = proc;
        this.multiLinks = capture.uprobeMultiLinks() ? MultiLinks.UNKNOWN : MultiLinks.NOT_USED;
    }

    /** Libraries (and executables) with the probes attached. */
    public int attachedCount() {
        return attachedCount;
    }

    /** Every process: what it maps, where it lives; releases what no process needs any more. */
    public void scan() throws BpfException {
        Set<FileId> mapped = new HashSet<>();
        Set<FileId> liveRoots = new HashSet<>();
        for (int pid : pids()) {
            FileId root = id(processPath(pid, "root"));
            if (root != null) {
                liveRoots.add(root);
                searchRoot(pid, root);
            }
            mapped.addAll(probeMapped(pid));
            FileId exe = id(processPath(pid, "exe"));
            if (exe != null && probed.containsKey(exe)) {
                mapped.add(exe);
            }
        }
        release(mapped, liveRoots);
    }

    /** A process that exec'd: its root filesystem's libraries and its executable, before its first TLS call. */
    public void started(int pid) throws BpfException {
        FileId root = id(processPath(pid, "root"));
        if (root != null) {
            searchRoot(pid, root);
        }
        Path exe = processPath(pid, "exe");
        FileId exeId = id(exe);
        if (exeId != null && !probed.containsKey(exeId) && !refused.contains(exeId)) {
            attach(exeId, exe, shownPath(exe), null, false); // statically linked: found by its symbols, or not
        }
        probeMapped(pid);
    }

    /**
     * Drains the kernel's queue of processes that exec'd, and looks again at the libraries of those
     * that started 1 and 5 s ago: a library loaded after the start (Python imports ssl when asked to)
     * from outside the standard directories is found then, not at the next scan.
     */
    public void startedSinceLastCall() throws BpfException {
        long now = System.nanoTime();
        for (int pid : capture.execs()) {
            started(pid);
            if (lookAgain.size() < MAX_LOOKS_PENDING) { // an exec storm: the periodic scan finds the rest
                lookAgain.add(new LookAgain(pid, now + SECOND_LOOK_NS, true));
            }
        }
        while (!lookAgain.isEmpty() && lookAgain.peek().atNanos() <= now) {
            LookAgain next = lookAgain.poll();
            probeMapped(next.pid());
            if (next.again()) {
                lookAgain.add(new LookAgain(next.pid(), now + THIRD_LOOK_NS, false));
            }
        }
    }

    private void searchRoot(int pid, FileId root) throws BpfException {
        if (!rootsSearched.add(root)) {
            return;
        }
        Path rootPath = processPath(pid, "root");
        for (String dir : LIBRARY_DIRS) {
            try (DirectoryStream<Path> files = Files.newDirectoryStream(rootPath.resolve(dir))) {
                for (Path file : files) {
                    if (LIBSSL.matcher(file.getFileName().toString()).matches()) {
                        FileId id = id(file);
                        if (id != null && !probed.containsKey(id) && !refused.contains(id)) {
                            attach(id, file, Path.of("/").resolve(rootPath.relativize(file)), root, true);
                        }
                    }
                }
            } catch (IOException | SecurityException noSuchDirectory) {
                // most of the directories do not exist in a given root filesystem
            }
        }
    }

    /** The libssl files the process maps, probed if they were not. */
    private Set<FileId> probeMapped(int pid) throws BpfException {
        Set<FileId> ids = new HashSet<>();
        String maps;
        try {
            maps = Files.readString(processPath(pid, "maps"));
        } catch (IOException | SecurityException gone) {
            return ids;
        }
        for (String mappedPath : mappedLibssl(maps)) {
            Path file = processPath(pid, "root").resolve(mappedPath.substring(1));
            FileId id = id(file);
            if (id == null) {
                continue;
            }
            ids.add(id);
            if (!probed.containsKey(id) && !refused.contains(id)) {
                attach(id, file, Path.of(mappedPath), null, true);
            }
        }
        return ids;
    }

    /** The libssl files a /proc/PID/maps names, as absolute paths; files deleted since are left out. */
    static List<String> mappedLibssl(String maps) {
        List<String> paths = new ArrayList<>();
        if (!maps.contains("libssl")) {
            return paths;
        }
        for (String line : maps.split("\n")) {
            int slash = line.indexOf(" /");
            if (slash < 0 || line.endsWith(" (deleted)")) {
                continue;
            }
            String mappedPath = line.substring(slash + 1);
            if (LIBSSL.matcher(mappedPath.substring(mappedPath.lastIndexOf('/') + 1)).matches()) {
                paths.add(mappedPath);
            }
        }
        return paths;
    }

    /**
     * @param shown    the path named in the log
     * @param expected an OpenSSL library: a failure is worth a warning (an executable that has no
     *                 OpenSSL is the common case and says nothing)
     */
    private void attach(FileId id, Path file, Path shown, FileId root, boolean expected) throws BpfException {
        List<Runnable> links = new ArrayList<>();
        Map<String, OptionalLong> offsets = new HashMap<>(); // the entry's and the return's, read once
        List<Probe> probes = internalProbes(file).orElse(PROBES);
        for (Probe probe : probes) {
            Runnable entry = attachOne(probe.entry(), file, probe, false, offsets);
            Runnable exit = entry == null ? null
                    : attachOne(BpfObject.PROGRAM_SSL_CALL_RETURN, file, probe, true, offsets);
            if (entry != null) {
                links.add(entry);
            }
            if (exit != null) {
                links.add(exit);
            }
            if ((entry == null || exit == null) && probe.required()) {
                int err = lastAttachError;
                links.forEach(Runnable::run);
                refused.add(id);
                if (expected || err != ENOENT) {
                    LOG.warnf("OpenSSL in %s cannot be probed: %s at %s (HTTPS of the processes using it is not seen)",
                            shown, BpfCapture.errno(err), probe.function());
                }
                return;
            }
        }
        probed.put(id, new Library(shown, root, links));
        attachedCount = probed.size();
        LOG.infof("HTTPS seen through OpenSSL in %s%s%s", shown, root == null ? "" : " (found under the root of a process)",
                probes == PROBES ? "" : ", probed inside SSL_read_ex and SSL_write_ex");
    }

    /**
     * Reads and writes probed one call inside OpenSSL, where that is cheap. A uprobe on an
     * instruction the kernel cannot emulate runs it out of line, single-stepped under a debug trap:
     * on this project's VM that took 17 us per call, 20 times the call. SSL_read_ex and SSL_write_ex
     * begin with one (a stack adjustment); OpenSSL 1.1.1 to 3.2 then call ssl_read_internal and
     * ssl_write_internal, whose first instruction (a push) the kernel emulates: 0.5 us. Those take
     * SSL_read_ex's and SSL_write_ex's arguments and serve SSL_read and SSL_write too. OpenSSL 3.3 gave
     * ssl_write_internal a flags argument (it exports SSL_write_ex2); there, and wherever the code
     * is not laid out so, the exported functions are probed.
     */
    private static Optional<List<Probe>> internalProbes(Path file) {
        try {
            if (ElfFunctions.fileOffset(file, "SSL_write_ex2").isPresent()) {
                return Optional.empty();
            }
            OptionalLong read = callee(file, "SSL_read_ex");
            OptionalLong write = callee(file, "SSL_write_ex");
            if (read.isEmpty() || write.isEmpty() || read.getAsLong() == write.getAsLong()) {
                return Optional.empty();
            }
            return Optional.of(Stream.concat(Stream.of(
                    new Probe("ssl_write_internal", BpfObject.PROGRAM_SSL_WRITE_EX_ENTER, true, write.getAsLong()),
                    new Probe("ssl_read_internal", BpfObject.PROGRAM_SSL_READ_EX_ENTER, true, read.getAsLong())),
                    HANDSHAKE_PROBES.stream()).toList());
        } catch (IOException | SecurityException e) {
            return Optional.empty(); // the exported functions' attach says what is wrong with the file
        }
    }

    private static OptionalLong callee(Path file, String function) throws IOException {
        OptionalLong offset = ElfFunctions.fileOffset(file, function);
        return offset.isEmpty() ? offset : ElfFunctions.firstCallee(file, offset.getAsLong());
    }

    /**
     * @param offsets the file's function offsets read so far, by function
     * @return what detaches the probe; null when it could not be attached (lastAttachError says why)
     */
    private Runnable attachOne(String programName, Path file, Probe probe, boolean returnProbe,
                               Map<String, OptionalLong> offsets) throws BpfException {
        Pointer program = capture.program(programName);
        String function = probe.function();
        if (multiLinks != MultiLinks.NOT_USED) {
            OptionalLong offset = probe.offset() >= 0 ? OptionalLong.of(probe.offset()) : offsets.get(function);
            if (offset == null) {
                try {
                    offset = ElfFunctions.fileOffset(file, function);
                } catch (IOException | SecurityException e) {
                    lastAttachError = e instanceof NoSuchFileException ? ENOENT : EACCES;
                    return null;
                }
                offsets.put(function, offset);
            }
            if (offset.isEmpty()) {
                lastAttachError = ENOENT;
                return null;
            }
            int fd = UprobeMultiLink.attach(libbpf.bpf_program__fd(program), file.toString(), offset.getAsLong(),
                    returnProbe);
            if (fd >= 0) {
                multiLinks = MultiLinks.MADE;
                return () -> LibBpf.LibC.INSTANCE.close(fd);
            }
            if (multiLinks == MultiLinks.MADE || (-fd != EINVAL && -fd != ENOSYS && -fd != EOPNOTSUPP)) {
                lastAttachError = -fd;
                return null;
            }
            multiLinks = MultiLinks.NOT_USED;
            LOG.infof("this kernel makes no multi-uprobe links (%s, before Linux 6.6): OpenSSL is probed through"
                    + " perf events, which need CAP_SYS_ADMIN", BpfCapture.errno(-fd));
        }
        return attachPerfEvent(program, file, probe, returnProbe);
    }

    /** libbpf's uprobe: a perf event of the uprobe PMU; by name, or at a file offset with no name. */
    private Runnable attachPerfEvent(Pointer program, Path file, Probe probe, boolean returnProbe) {
        String function = probe.function();
        try (Memory opts = new Memory(UPROBE_OPTS_SIZE); Memory name = new Memory(function.length() + 1)) {
            opts.clear();
            opts.setLong(0, UPROBE_OPTS_SIZE);
            opts.setByte(RETPROBE, (byte) (returnProbe ? 1 : 0));
            long offset = Math.max(0, probe.offset());
            if (probe.offset() < 0) {
                name.setString(0, function);
                opts.setPointer(FUNC_NAME, name);
            }
            Pointer link = BpfCapture.quietly(() -> {
                Pointer made = libbpf.bpf_program__attach_uprobe_opts(program, -1, file.toString(), offset, opts);
                lastAttachError = made == null ? Native.getLastError() : 0;
                return made;
            });
            return link == null ? null : () -> libbpf.bpf_link__destroy(link);
        }
    }

    /** Where /proc/PID/exe points, as the process sees it. */
    private static Path shownPath(Path link) {
        try {
            return Files.readSymbolicLink(link);
        } catch (IOException | UnsupportedOperationException | SecurityException e) {
            return link;
        }
    }

    private void release(Set<FileId> mapped, Set<FileId> liveRoots) {
        Iterator<Map.Entry<FileId, Library>> it = probed.entrySet().iterator();
        while (it.hasNext()) {
            Map.Entry<FileId, Library> e = it.next();
            Library library = e.getValue();
            boolean needed = mapped.contains(e.getKey()) || (library.root() != null && liveRoots.contains(library.root()));
            if (!needed) {
                library.detachments().forEach(Runnable::run);
                it.remove();
                LOG.infof("OpenSSL in %s released: no process uses it", library.path());
            }
        }
        rootsSearched.retainAll(liveRoots);
        attachedCount = probed.size();
    }

    private List<Integer> pids() {
        List<Integer> pids = new ArrayList<>();
        try (DirectoryStream<Path> entries = Files.newDirectoryStream(proc)) {
            for (Path entry : entries) {
                String name = entry.getFileName().toString();
                if (!name.isEmpty() && name.chars().allMatch(Character::isDigit)) {
                    pids.add(Integer.parseInt(name));
                }
            }
        } catch (IOException e) {
            LOG.debugf("cannot list %s: %s", proc, e.getMessage());
        }
        return pids;
    }

    private Path processPath(int pid, String entry) {
        return proc.resolve(Integer.toString(pid)).resolve(entry);
    }

    /** The file's device and inode; null if it is gone or cannot be read. */
    private static FileId id(Path file) {
        try {
            Map<String, Object> a = Files.readAttributes(file, "unix:dev,ino");
            return new FileId((Long) a.get("dev"), (Long) a.get("ino"));
        } catch (IOException | UnsupportedOperationException | SecurityException e) {
            return null;
        }
    }

    @Override
    public void close() {
        Detach.all(probed.values().stream().flatMap(library -> library.detachments().stream()).toList());
        probed.clear();
        attachedCount = 0;
    }
}
