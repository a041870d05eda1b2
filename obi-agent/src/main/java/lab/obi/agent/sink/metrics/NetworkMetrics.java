package lab.obi.agent.sink.metrics;

import io.opentelemetry.api.common.AttributeKey;
import io.opentelemetry.api.common.Attributes;
import io.opentelemetry.api.metrics.DoubleHistogram;
import io.opentelemetry.api.metrics.Meter;
import lab.obi.agent.network.HostTcpCounters;
import lab.obi.agent.network.InterfaceOutage;

import java.util.List;
import java.util.Map;
import java.util.concurrent.ConcurrentHashMap;
import java.util.concurrent.atomic.DoubleAdder;
import java.util.concurrent.atomic.LongAdder;
import java.util.function.Supplier;

import static lab.obi.agent.sink.SemanticConventions.INTERFACE;
import static lab.obi.agent.sink.SemanticConventions.INTERFACE_CAUSE;

/**
 * The host's network, next to the requests: interface outages (what `netplan apply` does to the
 * links) and the host-wide TCP counters that per-connection hooks cannot see.
 */
public final class NetworkMetrics {

    private static final AttributeKey<String> STATE = AttributeKey.stringKey("obi.network.interface.state");

    /** From a blip to a minute: netplan apply takes a few hundred milliseconds to a few seconds. */
    private static final List<Double> OUTAGE_BUCKETS = List.of(0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0, 30.0, 60.0);

    private static final List<String> STATES = List.of("down", "no_carrier", "up");

    private final DoubleHistogram outageDuration;
    /**
     * Per interface that exists: observed at each collection, so the series of a deleted interface
     * (a stopped container's veth) go away with it instead of piling up for the agent's lifetime.
     */
    private final Map<String, InterfaceCounts> interfaces = new ConcurrentHashMap<>();

    /** One interface's counters and its series' attributes, built once. */
    private static final class InterfaceCounts {
        final Attributes name;
        final Attributes[] byState = new Attributes[STATES.size()];
        final LongAdder[] changes = new LongAdder[STATES.size()];
        final DoubleAdder downtimeSeconds = new DoubleAdder();

        InterfaceCounts(String interfaceName) {
            name = Attributes.of(INTERFACE, interfaceName);
            for (int i = 0; i < byState.length; i++) {
                byState[i] = Attributes.of(INTERFACE, interfaceName, STATE, STATES.get(i));
                changes[i] = new LongAdder();
            }
        }
    }

    public NetworkMetrics(Meter meter, Supplier<HostTcpCounters.Snapshot> host) {
        meter.counterBuilder("obi.network.interface.state_changes").setUnit("{change}")
                .setDescription("Interfaces that stopped carrying traffic (down, no_carrier) or carried it again (up)")
                .buildWithCallback(m -> interfaces.values().forEach(counts -> {
                    for (int i = 0; i < counts.byState.length; i++) {
                        m.record(counts.changes[i].sum(), counts.byState[i]);
                    }
                }));
        outageDuration = meter.histogramBuilder("obi.network.interface.outage.duration").setUnit("s")
                .setDescription("How long an interface carried no traffic, recorded when it came back")
                .setExplicitBucketBoundariesAdvice(OUTAGE_BUCKETS).build();
        meter.counterBuilder("obi.network.interface.downtime").ofDoubles().setUnit("s")
                .setDescription("Time interfaces carried no traffic, added when they came back (starts at 0 per interface)")
                .buildWithCallback(m -> interfaces.values().forEach(
                        counts -> m.record(counts.downtimeSeconds.sum(), counts.name)));
        meter.counterBuilder("obi.tcp.listen.overflows").setUnit("{segment}")
                .setDescription("Handshakes dropped because a listener's accept queue was full (host-wide)")
                .buildWithCallback(m -> observe(m::record, host.get().listenOverflows()));
        meter.counterBuilder("obi.tcp.listen.drops").setUnit("{segment}")
                .setDescription("Handshakes dropped by listeners for any reason, overflows included (host-wide)")
                .buildWithCallback(m -> observe(m::record, host.get().listenDrops()));
        meter.counterBuilder("obi.host.tcp.retransmits").setUnit("{segment}")
                .setDescription("TCP segments retransmitted by the host, on any connection")
                .buildWithCallback(m -> observe(m::record, host.get().retransmittedSegments()));
    }

    private static void observe(java.util.function.LongConsumer sink, long value) {
        if (value >= 0) {
            sink.accept(value);
        }
    }

    /** Its counters start at 0: the first outage of an interface must show in increase(). */
    public void appeared(String interfaceName) {
        counts(interfaceName);
    }

    public void down(InterfaceOutage outage) {
        counts(outage.interfaceName()).changes[STATES.indexOf(outage.cause())].increment();
    }

    public void up(InterfaceOutage outage) {
        InterfaceCounts counts = counts(outage.interfaceName());
        counts.changes[STATES.indexOf("up")].increment();
        outageDuration.record(outage.durationNs() / 1e9,
                Attributes.of(INTERFACE, outage.interfaceName(), INTERFACE_CAUSE, outage.cause()));
        counts.downtimeSeconds.add(outage.durationNs() / 1e9);
    }

    /**
     * A deleted interface's counters go. Its outage-duration histogram, when it had an outage, stays:
     * the SDK cannot forget a series of a synchronous instrument.
     */
    public void removed(String interfaceName) {
        interfaces.remove(interfaceName);
    }

    private InterfaceCounts counts(String interfaceName) {
        return interfaces.computeIfAbsent(interfaceName, InterfaceCounts::new);
    }
}
