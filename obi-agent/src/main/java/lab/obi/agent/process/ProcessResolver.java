package lab.obi.agent.process;

import java.io.IOException;
import java.io.InputStream;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.Objects;
import java.util.OptionalLong;
import java.util.Set;
import java.util.regex.Matcher;
import java.util.regex.Pattern;

/**
 * Reads the identity of a process from procfs. Results are cached per pid and start time, so a
 * recycled pid is read afresh; the start time itself is re-read at most once per revalidation period
 * (a second), because reading procfs for every request would cap the agent's throughput: a pid
 * reused within that second keeps its previous owner's name until then, and so does a process that
 * exec'd another executable (the revalidation reads the executable's link too). A process that has exited
 * keeps the name it was last seen with; one that exits before it was ever read, or while it is read,
 * is described by the name the kernel reported with its record. Never throws. Thread-safe.
 */
public final class ProcessResolver {

    static final String UNKNOWN_SERVICE = "unknown_service";

    private static final int DEFAULT_CACHE_CAPACITY = 4096;
    private static final long DEFAULT_REVALIDATE_NS = 1_000_000_000L;
    private static final int RECENT_SLOTS = 256;
    private static final int SMALL_FILE_LIMIT = 64 * 1024;
    /** Room for real JVM command lines and environments, and a bound for hostile ones. */
    private static final int ARGUMENTS_FILE_LIMIT = 256 * 1024;
    /** Field 22 of /proc/pid/stat, counted from the state field (3) that follows the command name. */
    private static final int START_TIME_AFTER_NAME = 22 - 3;
    private static final String DELETED_SUFFIX = " (deleted)";
    private static final Pattern CONTAINER_ID =
            Pattern.compile("(?:docker-|/docker/|cri-containerd-|crio-|libpod-)([0-9a-f]{64})(?![0-9a-f])");
    /** java launcher options whose value is the next argument, so that value is not the main class. */
    private static final Set<String> JAVA_OPTIONS_WITH_VALUE = Set.of(
            "-cp", "-classpath", "--class-path", "-p", "--module-path", "--upgrade-module-path",
            "--add-modules", "--add-opens", "--add-exports", "--add-reads", "--patch-module",
            "--limit-modules", "--enable-native-access", "--source");

    private final Path procRoot;
    private final String hostname;
    private final Map<Integer, Cached> cache;
    /**
     * The latest answer for each pid slot, read without the lock: resolve runs for every record, and
     * the access-ordered map under its lock was 3% of the agent's samples at saturation (a boxed pid,
     * a relinked entry). Records publish their final fields safely; pids that share a slot only miss.
     */
    private final Cached[] recent = new Cached[RECENT_SLOTS];

    private final long revalidateAfterNs;

    /** The start time of a process that was gone before it could be read: no live process has it. */
    private static final long NEVER_READ = -1;

    private record Cached(long startTime, ProcessInfo info, long checkedAtNs) {
    }

    public ProcessResolver(Path procRoot) {
        this(procRoot, DEFAULT_CACHE_CAPACITY, DEFAULT_REVALIDATE_NS);
    }

    ProcessResolver(Path procRoot, int cacheCapacity, long revalidateAfterNs) {
        this.procRoot = procRoot;
        this.revalidateAfterNs = revalidateAfterNs;
        this.hostname = firstNonBlank(readTrimmed(procRoot.resolve("sys/kernel/hostname")), "localhost");
        this.cache = new LinkedHashMap<>(16, 0.75f, true) {
            @Override
            protected boolean removeEldestEntry(Map.Entry<Integer, Cached> eldest) {
                return size() > cacheCapacity;
            }
        };
    }

    public ProcessInfo resolve(int pid, String commFallback) {
        long now = System.nanoTime();
        Cached last = recent[slot(pid)];
        if (last != null && last.info().pid() == pid && now - last.checkedAtNs() < revalidateAfterNs) {
            return last.info();
        }
        synchronized (cache) {
            Cached cached = cache.get(pid);
            if (cached != null && now - cached.checkedAtNs() < revalidateAfterNs) {
                recent[slot(pid)] = cached;
                return cached.info();
            }
        }
        OptionalLong startTime = pid > 0 ? startTime(pid) : OptionalLong.empty();
        if (startTime.isEmpty()) {
            return gone(pid, commFallback, now);
        }
        Cached known;
        synchronized (cache) {
            known = cache.get(pid);
        }
        // exec keeps the pid and its start time: a new executable is a new identity
        if (known != null && known.startTime() == startTime.getAsLong()
                && Objects.equals(known.info().exe(), exe(processDir(pid)))) {
            synchronized (cache) {
                remember(pid, new Cached(known.startTime(), known.info(), now));
            }
            return known.info();
        }
        // Read outside the lock: procfs reads are slow, and two threads reading the same pid is harmless.
        ProcessInfo info = read(pid, commFallback);
        if (!startTime.equals(startTime(pid))) {
            // It exited, or its pid went to another process, while its files were read: some of what
            // was read may be missing or another's. Its name from the kernel is all that is sure.
            return kernelNamed(pid, commFallback);
        }
        synchronized (cache) {
            remember(pid, new Cached(startTime.getAsLong(), info, now));
        }
        return info;
    }

    /**
     * When the process whose identity {@link #resolve} last gave for this pid started, in clock ticks
     * since boot (field 22 of /proc/pid/stat); empty if it was never read.
     */
    public OptionalLong knownStartTime(int pid) {
        synchronized (cache) {
            Cached cached = cache.get(pid);
            return cached == null || cached.startTime() == NEVER_READ ? OptionalLong.empty()
                    : OptionalLong.of(cached.startTime());
        }
    }

    private ProcessInfo read(int pid, String commFallback) {
        Path dir = processDir(pid);
        String comm = firstNonBlank(readTrimmed(dir.resolve("comm")), commFallback);
        String exe = exe(dir);
        List<String> environ = nulSeparated(dir.resolve("environ"));
        String service = firstNonBlank(
                environment(environ, "OTEL_SERVICE_NAME"),
                resourceServiceName(environment(environ, "OTEL_RESOURCE_ATTRIBUTES")),
                javaServiceName(nulSeparated(dir.resolve("cmdline")), exe),
                exe == null ? null : basename(exe),
                comm,
                UNKNOWN_SERVICE);
        String cgroup = read(dir.resolve("cgroup"), SMALL_FILE_LIMIT);
        return new ProcessInfo(pid, comm, exe, service, cgroup == null ? null : containerId(cgroup), instanceId(pid));
    }

    /**
     * A process that exited (its last records often come after it) keeps the identity read while it
     * ran; one never read is described by the kernel's name. Either way it is remembered until the
     * next revalidation: a stream of records from exited processes must not read procfs for each.
     */
    private ProcessInfo gone(int pid, String commFallback, long now) {
        synchronized (cache) {
            Cached cached = cache.get(pid);
            ProcessInfo info = cached != null ? cached.info() : kernelNamed(pid, commFallback);
            remember(pid, new Cached(cached != null ? cached.startTime() : NEVER_READ, info, now));
            return info;
        }
    }

    private static int slot(int pid) {
        return pid & (RECENT_SLOTS - 1);
    }

    /** Under the cache's lock. */
    private void remember(int pid, Cached cached) {
        cache.put(pid, cached);
        recent[slot(pid)] = cached;
    }

    private ProcessInfo kernelNamed(int pid, String commFallback) {
        return new ProcessInfo(pid, firstNonBlank(commFallback), null, firstNonBlank(commFallback, UNKNOWN_SERVICE),
                null, instanceId(pid));
    }

    private String instanceId(int pid) {
        return hostname + "/" + pid;
    }

    private Path processDir(int pid) {
        return procRoot.resolve(Integer.toString(pid));
    }

    private OptionalLong startTime(int pid) {
        String stat = read(processDir(pid).resolve("stat"), SMALL_FILE_LIMIT);
        // The command name in field 2 may hold spaces and parentheses; only the last ')' ends it.
        int nameEnd = stat == null ? -1 : stat.lastIndexOf(')');
        if (nameEnd < 0) {
            return OptionalLong.empty();
        }
        String[] fields = stat.substring(nameEnd + 1).trim().split(" ");
        if (fields.length <= START_TIME_AFTER_NAME) {
            return OptionalLong.empty();
        }
        try {
            return OptionalLong.of(Long.parseLong(fields[START_TIME_AFTER_NAME]));
        } catch (NumberFormatException e) {
            return OptionalLong.empty();
        }
    }

    private static String exe(Path dir) {
        try {
            String target = Files.readSymbolicLink(dir.resolve("exe")).toString();
            // A binary replaced on disk (an upgrade) is still the same service.
            return target.endsWith(DELETED_SUFFIX) ? target.substring(0, target.length() - DELETED_SUFFIX.length()) : target;
        } catch (IOException | UnsupportedOperationException e) {
            return null;
        }
    }

    private static String environment(List<String> environ, String name) {
        String prefix = name + "=";
        for (String entry : environ) {
            if (entry.startsWith(prefix)) {
                return entry.substring(prefix.length()).trim();
            }
        }
        return null;
    }

    /** service.name from OTEL_RESOURCE_ATTRIBUTES, a list of key=value pairs separated by commas. */
    static String resourceServiceName(String attributes) {
        if (attributes == null) {
            return null;
        }
        for (String pair : attributes.split(",")) {
            int equals = pair.indexOf('=');
            if (equals > 0 && pair.substring(0, equals).trim().equals("service.name")) {
                return pair.substring(equals + 1).trim();
            }
        }
        return null;
    }

    /** The jar name of "java -jar app.jar", or the simple name of the main class. */
    static String javaServiceName(List<String> argv, String exe) {
        boolean java = !argv.isEmpty() && (basename(argv.get(0)).equals("java") || (exe != null && basename(exe).equals("java")));
        if (!java) {
            return null;
        }
        for (int i = 1; i < argv.size(); i++) {
            String arg = argv.get(i);
            if (arg.equals("-jar")) {
                return i + 1 < argv.size() ? withoutSuffix(basename(argv.get(i + 1)), ".jar") : null;
            }
            if (arg.equals("-m") || arg.equals("--module")) {
                return i + 1 < argv.size() ? moduleMainName(argv.get(i + 1)) : null;
            }
            if (arg.startsWith("--module=")) {
                return moduleMainName(arg.substring("--module=".length()));
            }
            if (JAVA_OPTIONS_WITH_VALUE.contains(arg)) {
                i++;
            } else if (!arg.startsWith("-") && !arg.startsWith("@")) {
                return simpleClassName(withoutSuffix(basename(arg), ".java"));
            }
        }
        return null;
    }

    /** "module/main.Class" names its main class; a bare module name is the best name there is. */
    private static String moduleMainName(String module) {
        int slash = module.indexOf('/');
        return slash < 0 ? module : simpleClassName(module.substring(slash + 1));
    }

    private static String simpleClassName(String className) {
        return className.substring(className.lastIndexOf('.') + 1);
    }

    static String containerId(String cgroup) {
        Matcher matcher = CONTAINER_ID.matcher(cgroup);
        return matcher.find() ? matcher.group(1) : null;
    }

    private static String basename(String path) {
        return path.substring(path.lastIndexOf('/') + 1);
    }

    private static String withoutSuffix(String s, String suffix) {
        return s.endsWith(suffix) ? s.substring(0, s.length() - suffix.length()) : s;
    }

    private static String firstNonBlank(String... candidates) {
        for (String candidate : candidates) {
            if (candidate != null && !candidate.isBlank()) {
                return candidate;
            }
        }
        return null;
    }

    private static List<String> nulSeparated(Path file) {
        byte[] bytes = readBytes(file, ARGUMENTS_FILE_LIMIT);
        List<String> entries = new ArrayList<>();
        if (bytes == null) {
            return entries;
        }
        int length = bytes.length;
        if (length > ARGUMENTS_FILE_LIMIT) {
            // The last entry was cut off: a partial value would be a wrong value.
            length = ARGUMENTS_FILE_LIMIT;
            while (length > 0 && bytes[length - 1] != 0) {
                length--;
            }
        }
        int start = 0;
        for (int i = 0; i <= length; i++) {
            if (i == length || bytes[i] == 0) {
                if (i > start) {
                    entries.add(new String(bytes, start, i - start, StandardCharsets.UTF_8));
                }
                start = i + 1;
            }
        }
        return entries;
    }

    private static String readTrimmed(Path file) {
        String text = read(file, SMALL_FILE_LIMIT);
        return text == null ? null : text.trim();
    }

    private static String read(Path file, int limit) {
        byte[] bytes = readBytes(file, limit);
        return bytes == null ? null : new String(bytes, 0, Math.min(bytes.length, limit), StandardCharsets.UTF_8);
    }

    /** Up to limit + 1 bytes, so callers can tell a file that was cut off; procfs reports no sizes to check first. */
    private static byte[] readBytes(Path file, int limit) {
        try (InputStream in = Files.newInputStream(file)) {
            return in.readNBytes(limit + 1);
        } catch (IOException e) {
            return null;
        }
    }
}
