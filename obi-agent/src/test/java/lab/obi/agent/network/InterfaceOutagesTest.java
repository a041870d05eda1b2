package lab.obi.agent.network;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.util.ArrayList;
import java.util.List;
import org.junit.jupiter.api.Test;

class InterfaceOutagesTest {

    private final List<String> heard = new ArrayList<>();
    private final List<String> known = new ArrayList<>();
    private final List<String> gone = new ArrayList<>();
    private final InterfaceOutages outages = new InterfaceOutages(new InterfaceOutages.Listener() {
        @Override
        public void appeared(String name) {
            known.add(name);
        }

        @Override
        public void down(InterfaceOutage o) {
            heard.add("down " + o.interfaceName() + " " + o.cause() + " at " + o.downNs());
        }

        @Override
        public void up(InterfaceOutage o) {
            heard.add("up " + o.interfaceName() + " after " + o.durationNs());
        }

        @Override
        public void removed(String name) {
            gone.add(name);
        }
    });

    private static LinkState up(int index, String name) {
        return new LinkState(index, name, true, true, false);
    }

    private static LinkState down(int index, String name) {
        return new LinkState(index, name, false, false, false);
    }

    @Test
    void aFlapIsOneOutageWithItsDuration() {
        outages.baseline(up(2, "eth0"));
        outages.update(down(2, "eth0"), 1_000);
        outages.update(down(2, "eth0"), 1_100); // repeated notifications while down
        outages.update(up(2, "eth0"), 301_000);
        assertEquals(List.of("down eth0 down at 1000", "up eth0 after 300000"), heard);
        assertEquals(List.of(new InterfaceOutage("eth0", "down", 1_000, 301_000)), outages.overlapping(0, 2_000));
    }

    @Test
    void lostCarrierIsAnOutageToo() {
        outages.baseline(up(4, "veth1"));
        outages.update(new LinkState(4, "veth1", true, false, false), 10);
        outages.update(up(4, "veth1"), 20);
        assertEquals(List.of("down veth1 no_carrier at 10", "up veth1 after 10"), heard);
    }

    @Test
    void newAndDeletedInterfacesAreNotOutages() {
        outages.update(down(9, "vethnew"), 5); // a container's veth being created
        outages.update(up(9, "vethnew"), 6);
        outages.baseline(up(3, "vethold"));
        outages.update(new LinkState(3, "vethold", false, false, true), 7); // its container stopped
        outages.update(up(3, "vethold"), 8); // index reused
        assertTrue(heard.isEmpty(), heard.toString());
        assertEquals(List.of("vethnew", "vethold", "vethold"), known, "each appearance, for metrics that start at 0");
        assertEquals(List.of("vethold"), gone, "each deletion, for metrics to forget the interface");
    }

    @Test
    void aDeletedInterfaceIsForgottenWithItsOngoingOutage() {
        outages.baseline(up(3, "veth9"));
        outages.update(new LinkState(3, "veth9", true, false, false), 10); // its container stops: carrier first
        outages.update(new LinkState(3, "veth9", false, false, true), 11);
        outages.update(new LinkState(3, "veth9", false, false, true), 12); // a second notification of the same
        outages.update(new LinkState(44, "vethunknown", false, false, true), 13);
        assertEquals(List.of("veth9"), gone, "once, and only what was known");
        assertEquals(List.of(), outages.overlapping(0, 100), "no outage of an interface that is gone");
    }

    @Test
    void aRenamedInterfaceStartsAfreshUnderItsNewName() {
        outages.baseline(up(5, "eth0"));
        outages.update(down(5, "eth0"), 10);
        outages.update(up(5, "lan0"), 20); // renamed while down: not the end of eth0's outage
        assertEquals(List.of("eth0", "lan0"), known);
        assertEquals(List.of("eth0"), gone);
        assertEquals(List.of("down eth0 down at 10"), heard);
    }

    @Test
    void joinsOutagesToTheRequestsTheyOverlap() {
        outages.baseline(up(2, "eth0"));
        outages.baseline(up(5, "eth1"));
        outages.update(down(2, "eth0"), 1_000);
        outages.update(up(2, "eth0"), 2_000);
        outages.update(down(5, "eth1"), 5_000); // still down

        assertEquals(List.of(), outages.overlapping(0, 999), "ended before the outage");
        assertEquals(List.of(), outages.overlapping(2_001, 4_999), "between the two");
        assertEquals(List.of("eth0"), names(outages.overlapping(1_500, 1_600)), "inside");
        assertEquals(List.of("eth0", "eth1"), names(outages.overlapping(500, 6_000)));
        InterfaceOutage ongoing = outages.overlapping(9_000, 9_500).get(0);
        assertTrue(ongoing.ongoing());
        assertEquals("eth1", ongoing.interfaceName());
    }

    private static List<String> names(List<InterfaceOutage> found) {
        return found.stream().map(InterfaceOutage::interfaceName).toList();
    }
}
