package lab.obi.agent.network;

/**
 * One interface as an rtnetlink link message describes it.
 *
 * @param adminUp  IFF_UP: the interface is configured up
 * @param running  IFF_RUNNING: operationally up (carrier present)
 * @param deleted  RTM_DELLINK: the interface is gone (a container stopped), not down
 */
public record LinkState(int index, String name, boolean adminUp, boolean running, boolean deleted) {

    /** Why an interface carries no traffic, as the state_changes metric names it. */
    public String stateName() {
        if (running && adminUp) {
            return "up";
        }
        return adminUp ? "no_carrier" : "down";
    }

    public boolean carriesTraffic() {
        return adminUp && running && !deleted;
    }
}
