package lab.obi.agent.process;

import java.util.Set;
import java.util.concurrent.ConcurrentHashMap;

/**
 * Which exchanges (and connections) the agent reports. By default every process except the observability
 * infrastructure itself (its own traffic would otherwise feed back into what it reports).
 */
public final class WatchFilter {

    private final Set<String> excludedExecutables;
    private final Set<String> services;
    private final Set<Integer> ports;
    /**
     * Whether an executable path is excluded, by path: asked for every exchange, while taking the
     * basename and hashing it cost more than the rest of the filter. A few paths make up a host.
     */
    private final ConcurrentHashMap<String, Boolean> excludedPaths = new ConcurrentHashMap<>();
    private static final int MAX_CACHED_PATHS = 1024;

    /**
     * @param excludedExecutables executable names (comm or basename of exe) never reported
     * @param services            if not empty, only these service names are reported
     * @param ports               if not empty, only exchanges with one of these ports on either side
     */
    public WatchFilter(Set<String> excludedExecutables, Set<String> services, Set<Integer> ports) {
        this.excludedExecutables = Set.copyOf(excludedExecutables);
        this.services = Set.copyOf(services);
        this.ports = Set.copyOf(ports);
    }

    public boolean watched(ObservedSocket e) {
        return processWatched(e) && (ports.isEmpty() || ports.contains(e.localPort()) || ports.contains(e.peerPort()));
    }

    /** Whether the process is reported at all, whatever the ports: none of its sockets is when it is not. */
    public boolean processWatched(ObservedSocket e) {
        // a process may name itself "" (prctl PR_SET_NAME): no comm then
        if ((e.comm() != null && excludedExecutables.contains(e.comm()))
                || (e.exe() != null && excludedPath(e.exe()))) {
            return false;
        }
        return services.isEmpty() || services.contains(e.service());
    }

    private boolean excludedPath(String exe) {
        Boolean excluded = excludedPaths.get(exe);
        if (excluded == null) {
            excluded = excludedExecutables.contains(basename(exe));
            if (excludedPaths.size() >= MAX_CACHED_PATHS) {
                excludedPaths.clear(); // paths that never repeat: start over rather than grow
            }
            excludedPaths.put(exe, excluded);
        }
        return excluded;
    }

    private static String basename(String path) {
        return path.substring(path.lastIndexOf('/') + 1);
    }
}
