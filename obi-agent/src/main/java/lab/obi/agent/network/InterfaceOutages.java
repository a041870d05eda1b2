package lab.obi.agent.network;

import java.util.ArrayDeque;
import java.util.ArrayList;
import java.util.Deque;
import java.util.HashMap;
import java.util.List;
import java.util.Map;

/**
 * Follows link states and turns them into outages: an interface that carried traffic and stopped.
 * Interfaces being created (a container's veth before it is up) or deleted (a container stopped)
 * are not outages. Recent outages are kept for a while so requests can be joined to the ones that
 * overlapped them; the record of a request may arrive after the interface came back.
 */
public final class InterfaceOutages {

    /** What happened, for logs and metrics. */
    public interface Listener {
        /** An interface is known: present when following started, or created since (a container's veth). */
        void appeared(String interfaceName);

        void down(InterfaceOutage outage);

        void up(InterfaceOutage outage);

        /** An interface is gone (deleted, or renamed): what is kept per interface can go too. */
        void removed(String interfaceName);
    }

    private static final long KEEP_NS = 120_000_000_000L;
    private static final int KEEP_MAX = 1024;

    private final Listener listener;
    /** Every interface that exists, by index: its name and whether it carries traffic. */
    private final Map<Integer, LinkState> links = new HashMap<>();
    private final Map<Integer, InterfaceOutage> open = new HashMap<>();
    private final Deque<InterfaceOutage> recent = new ArrayDeque<>();

    public InterfaceOutages(Listener listener) {
        this.listener = listener;
    }

    /** The state of every interface when following starts: no outage is reported for these. */
    public synchronized void baseline(LinkState link) {
        if (!link.deleted()) {
            links.put(link.index(), link);
            listener.appeared(link.name());
        }
    }

    public synchronized void update(LinkState link, long nowNs) {
        if (link.deleted()) {
            LinkState gone = links.remove(link.index());
            open.remove(link.index());
            if (gone != null) {
                listener.removed(gone.name());
            }
            return;
        }
        LinkState before = links.put(link.index(), link);
        if (before != null && !before.name().equals(link.name())) {
            open.remove(link.index()); // a renamed interface starts afresh under its new name
            listener.removed(before.name());
            before = null;
        }
        if (before == null) {
            listener.appeared(link.name());
        }
        boolean wasCarrying = before != null && before.carriesTraffic();
        if (wasCarrying && !link.carriesTraffic()) {
            InterfaceOutage outage = new InterfaceOutage(link.name(), link.stateName(), nowNs, 0);
            open.put(link.index(), outage);
            listener.down(outage);
        } else if (!wasCarrying && link.carriesTraffic()) {
            InterfaceOutage started = open.remove(link.index());
            if (started != null) {
                InterfaceOutage ended = new InterfaceOutage(started.interfaceName(), started.cause(), started.downNs(),
                        nowNs);
                remember(ended, nowNs);
                listener.up(ended);
            }
        }
    }

    /** Outages, ended or not, that overlapped [startNs, endNs], oldest first. */
    public synchronized List<InterfaceOutage> overlapping(long startNs, long endNs) {
        List<InterfaceOutage> found = new ArrayList<>();
        for (InterfaceOutage o : recent) {
            if (o.overlaps(startNs, endNs)) {
                found.add(o);
            }
        }
        for (InterfaceOutage o : open.values()) {
            if (o.overlaps(startNs, endNs)) {
                found.add(o);
            }
        }
        found.sort((a, b) -> Long.compare(a.downNs(), b.downNs()));
        return found;
    }

    private void remember(InterfaceOutage ended, long nowNs) {
        recent.addLast(ended);
        while (!recent.isEmpty() && (recent.size() > KEEP_MAX || nowNs - recent.peekFirst().upNs() > KEEP_NS)) {
            recent.removeFirst();
        }
    }
}
