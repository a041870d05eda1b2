package lab.obi.agent.network;

import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.HashMap;
import java.util.List;
import java.util.Map;

/**
 * Host-wide TCP counters the kernel keeps in /proc/net/netstat and /proc/net/snmp (the agent's
 * network namespace): listen queue overflows and drops, which no per-connection hook sees because
 * the connection never existed, and all retransmitted segments.
 */
public final class HostTcpCounters {

    private final Path proc;

    public HostTcpCounters(Path proc) {
        this.proc = proc;
    }

    /** @param listenOverflows SYNs or ACKs dropped because an accept queue was full (TcpExt ListenOverflows) */
    public record Snapshot(long listenOverflows, long listenDrops, long retransmittedSegments) {
    }

    /** Empty values (-1) where the file or field is missing. */
    public Snapshot read() {
        Map<String, Long> ext = table(proc.resolve("net/netstat"), "TcpExt:");
        Map<String, Long> tcp = table(proc.resolve("net/snmp"), "Tcp:");
        return new Snapshot(ext.getOrDefault("ListenOverflows", -1L), ext.getOrDefault("ListenDrops", -1L),
                tcp.getOrDefault("RetransSegs", -1L));
    }

    /** These files hold pairs of lines: a header line of names, then a line of values, both with the same prefix. */
    static Map<String, Long> table(Path file, String prefix) {
        Map<String, Long> values = new HashMap<>();
        List<String> lines;
        try {
            lines = Files.readAllLines(file);
        } catch (IOException e) {
            return values;
        }
        for (int i = 0; i + 1 < lines.size(); i++) {
            if (lines.get(i).startsWith(prefix) && lines.get(i + 1).startsWith(prefix)) {
                String[] names = lines.get(i).substring(prefix.length()).trim().split("\\s+");
                String[] numbers = lines.get(i + 1).substring(prefix.length()).trim().split("\\s+");
                for (int k = 0; k < Math.min(names.length, numbers.length); k++) {
                    try {
                        values.put(names[k], Long.parseLong(numbers[k]));
                    } catch (NumberFormatException ignored) {
                        // a field that is not a counter (RtoAlgorithm is, MaxConn may be -1): skip it
                    }
                }
                i++;
            }
        }
        return values;
    }
}
