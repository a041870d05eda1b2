package lab.obi.agent.sink.metrics;

import io.opentelemetry.api.common.AttributeKey;
import io.opentelemetry.api.common.Attributes;
import io.opentelemetry.api.metrics.DoubleCounter;
import io.opentelemetry.api.metrics.DoubleHistogram;
import io.opentelemetry.api.metrics.LongCounter;
import io.opentelemetry.api.metrics.Meter;
import lab.obi.agent.network.HostTcpCounters;
import lab.obi.agent.network.InterfaceOutage;

import java.util.List;
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

    private final LongCounter stateChanges;
    private final DoubleHistogram outageDuration;
    private final DoubleCounter downtime;

    public NetworkMetrics(Meter meter, Supplier<HostTcpCounters.Snapshot> host) {
        stateChanges = meter.counterBuilder("obi.network.interface.state_changes").setUnit("{change}")
                .setDescription("Interfaces that stopped carrying traffic (down, no_carrier) or carried it again (up)")
                .build();
        outageDuration = meter.histogramBuilder("obi.network.interface.outage.duration").setUnit("s")
                .setDescription("How long an interface carried no traffic, recorded when it came back")
                .setExplicitBucketBoundariesAdvice(OUTAGE_BUCKETS).build();
        downtime = meter.counterBuilder("obi.network.interface.downtime").ofDoubles().setUnit("s")
                .setDescription("Time interfaces carried no traffic, added when they came back (starts at 0 per interface)")
                .build();
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
        for (String state : List.of("down", "no_carrier", "up")) {
            stateChanges.add(0, Attributes.of(INTERFACE, interfaceName, STATE, state));
        }
        downtime.add(0, Attributes.of(INTERFACE, interfaceName));
    }

    public void down(InterfaceOutage outage) {
        stateChanges.add(1, Attributes.of(INTERFACE, outage.interfaceName(), STATE, outage.cause()));
    }

    public void up(InterfaceOutage outage) {
        stateChanges.add(1, Attributes.of(INTERFACE, outage.interfaceName(), STATE, "up"));
        outageDuration.record(outage.durationNs() / 1e9,
                Attributes.of(INTERFACE, outage.interfaceName(), INTERFACE_CAUSE, outage.cause()));
        downtime.add(outage.durationNs() / 1e9, Attributes.of(INTERFACE, outage.interfaceName()));
    }
}
