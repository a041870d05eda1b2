package lab.obi.agent.network;

/**
 * An interface that stopped carrying traffic. Times are CLOCK_MONOTONIC nanoseconds, the clock of
 * the kernel's exchange records.
 *
 * @param cause  {@code down} (configured down, like {@code ip link set down} or netplan apply) or
 *               {@code no_carrier} (the link or the veth peer went away)
 * @param upNs   when it carried traffic again; 0 while the outage lasts
 */
public record InterfaceOutage(String interfaceName, String cause, long downNs, long upNs) {

    public boolean ongoing() {
        return upNs == 0;
    }

    public long durationNs() {
        return upNs - downNs;
    }

    /** Whether the interface was out at some moment within [startNs, endNs]. */
    public boolean overlaps(long startNs, long endNs) {
        return downNs <= endNs && (ongoing() || upNs >= startNs);
    }
}
