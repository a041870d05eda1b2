package lab.obi.agent.integration;

import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.ObjectMapper;
import lab.obi.agent.contract.KernelCounter;

import java.util.HashSet;
import java.util.Map;
import java.util.Set;
import java.util.TreeMap;

/**
 * What the kernel holds for one agent process, as bpftool lists it: the perf events it opened (a
 * tracepoint, raw tracepoint, uprobe or uretprobe each), the programs attached through them, the
 * maps those programs use, the other programs that use those maps (those of multi-uprobe links,
 * which are no perf events), and their links. bpftool here knows no process for programs and maps
 * (no pid iterator): the perf events name the process, and the rest follows from them.
 */
record AgentBpf(Set<Long> programs, Set<Long> links, Set<Long> maps, int tracepoints, int uprobes) {

    private static final ObjectMapper JSON = new ObjectMapper();
    /** BPF_LINK_TYPE_UPROBE_MULTI, as a bpftool older than the link type prints it */
    private static final int UPROBE_MULTI_LINK = 12;

    static AgentBpf of(long pid) throws Exception {
        Set<Long> programs = new HashSet<>();
        int tracepoints = 0;
        int uprobes = 0;
        for (JsonNode event : bpftool("perf", "list")) {
            if (event.path("pid").asLong() == pid) {
                programs.add(event.path("prog_id").asLong());
                String type = event.path("fd_type").asText();
                if (type.equals("tracepoint") || type.equals("raw_tracepoint")) {
                    tracepoints++;
                } else if (type.startsWith("uprobe") || type.startsWith("uretprobe")) {
                    uprobes++;
                }
            }
        }
        Set<Long> maps = new HashSet<>();
        JsonNode loaded = bpftool("prog", "list");
        for (JsonNode program : loaded) {
            if (programs.contains(program.path("id").asLong())) {
                program.path("map_ids").forEach(id -> maps.add(id.asLong()));
            }
        }
        for (JsonNode program : loaded) {
            for (JsonNode map : program.path("map_ids")) {
                if (maps.contains(map.asLong())) {
                    programs.add(program.path("id").asLong());
                }
            }
        }
        Set<Long> links = new HashSet<>();
        for (JsonNode link : bpftool("link", "list")) {
            if (programs.contains(link.path("prog_id").asLong())) {
                links.add(link.path("id").asLong());
                JsonNode type = link.path("type");
                if (type.asText().equals("uprobe_multi") || type.asInt(-1) == UPROBE_MULTI_LINK) {
                    uprobes++;
                }
            }
        }
        return new AgentBpf(programs, links, maps, tracepoints, uprobes);
    }

    /**
     * The kernel's skips of these programs (recursion_misses): those of a TCP hook's first program,
     * whose "_nested" twin takes the event, and the others, whose events nobody saw (bpftool gives
     * the programs' whole names, from their BTF).
     */
    record Skips(long takenByTwins, long lost) {
    }

    Skips skips() throws Exception {
        Map<String, Long> misses = new TreeMap<>();
        for (JsonNode program : bpftool("prog", "list")) {
            if (programs.contains(program.path("id").asLong())) {
                misses.merge(program.path("name").asText(), program.path("recursion_misses").asLong(0), Long::sum);
            }
        }
        long takenByTwins = 0;
        long lost = 0;
        for (Map.Entry<String, Long> m : misses.entrySet()) {
            if (misses.containsKey(m.getKey() + "_nested")) {
                takenByTwins += m.getValue();
            } else {
                lost += m.getValue();
            }
        }
        return new Skips(takenByTwins, lost);
    }

    /** Which of these objects the kernel still has, by kind; empty when all are gone. */
    String stillThere(long pid) throws Exception {
        StringBuilder left = new StringBuilder();
        left(left, "programs", programs, ids(bpftool("prog", "list"), "id"));
        left(left, "links", links, ids(bpftool("link", "list"), "id"));
        left(left, "maps", maps, ids(bpftool("map", "list"), "id"));
        long events = 0;
        for (JsonNode event : bpftool("perf", "list")) {
            if (event.path("pid").asLong() == pid) {
                events++;
            }
        }
        if (events > 0) {
            left.append(events).append(" perf events of the process ");
        }
        return left.toString().trim();
    }

    /** Entries in each of the agent's hash tables (connections, handshakes, OpenSSL sockets), by map name. */
    Map<String, Integer> entries() throws Exception {
        Map<String, Integer> entries = new TreeMap<>();
        for (JsonNode map : bpftool("map", "list")) {
            if (maps.contains(map.path("id").asLong()) && map.path("type").asText().endsWith("hash")) {
                entries.put(map.path("name").asText(), bpftool("map", "dump", "id", map.path("id").asText()).size());
            }
        }
        return entries;
    }

    /** Sum over the CPUs of one of the agent's per-CPU kernel counters. */
    long counter(KernelCounter counter) throws Exception {
        int slot = counter.index();
        for (JsonNode map : bpftool("map", "list")) {
            if (maps.contains(map.path("id").asLong()) && map.path("name").asText().equals("counters")) {
                for (JsonNode dumped : bpftool("map", "dump", "id", map.path("id").asText())) {
                    JsonNode entry = dumped.path("formatted"); // with BTF: numbers rather than bytes
                    if (entry.path("key").asInt() == slot) {
                        long sum = 0;
                        for (JsonNode cpu : entry.path("values")) {
                            sum += cpu.path("value").asLong();
                        }
                        return sum;
                    }
                }
                throw new IllegalStateException("no slot " + slot + " in the counters map");
            }
        }
        throw new IllegalStateException("no counters map among the agent's maps " + maps);
    }

    private static void left(StringBuilder out, String kind, Set<Long> ours, Set<Long> now) {
        Set<Long> left = new HashSet<>(ours);
        left.retainAll(now);
        if (!left.isEmpty()) {
            out.append(left.size()).append(' ').append(kind).append(' ').append(left).append(' ');
        }
    }

    private static Set<Long> ids(JsonNode list, String field) {
        Set<Long> ids = new HashSet<>();
        list.forEach(n -> ids.add(n.path(field).asLong()));
        return ids;
    }

    private static JsonNode bpftool(String... command) throws Exception {
        String[] full = new String[command.length + 2];
        full[0] = "bpftool";
        full[1] = "-j";
        System.arraycopy(command, 0, full, 2, command.length);
        Process p = new ProcessBuilder(full).redirectError(ProcessBuilder.Redirect.DISCARD).start();
        byte[] out = p.getInputStream().readAllBytes();
        if (p.waitFor() != 0) {
            throw new IllegalStateException(String.join(" ", full) + " failed");
        }
        return JSON.readTree(out);
    }
}
