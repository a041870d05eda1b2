package lab.obi.agent.integration;

import java.util.ArrayList;
import java.util.List;

/**
 * A network namespace joined to the host by a veth pair, each side with an address and up: a
 * "remote" host whose link the tests can lose, flap or filter.
 */
final class VethNamespace {

    private final String name;

    private VethNamespace(String name) {
        this.name = name;
    }

    /** @param hostCidr the host side's address, e.g. 10.213.0.1/30; nsCidr the namespace side's */
    static VethNamespace create(String name, String hostSide, String nsSide, String hostCidr, String nsCidr)
            throws Exception {
        VethNamespace veth = new VethNamespace(name);
        Lab.sh("ip", "netns", "add", name);
        Lab.sh("ip", "link", "add", hostSide, "type", "veth", "peer", "name", nsSide, "netns", name);
        Lab.sh("ip", "addr", "add", hostCidr, "dev", hostSide);
        Lab.sh("ip", "link", "set", hostSide, "up");
        veth.exec("ip", "addr", "add", nsCidr, "dev", nsSide);
        veth.exec("ip", "link", "set", nsSide, "up");
        veth.exec("ip", "link", "set", "lo", "up");
        return veth;
    }

    /** Runs a command inside the namespace; fails with its output when it exits non-zero. */
    void exec(String... command) throws Exception {
        List<String> full = new ArrayList<>(List.of("ip", "netns", "exec", name));
        full.addAll(List.of(command));
        Lab.sh(full.toArray(String[]::new));
    }

    /** Best effort: the pair and the namespace, with whatever iptables rules it holds. */
    static void remove(String name, String hostSide) {
        Lab.shQuiet("ip", "link", "del", hostSide);
        Lab.shQuiet("ip", "netns", "del", name);
    }
}
