package lab.obi.agent.sink.otlp;

import io.opentelemetry.api.common.AttributeKey;
import io.opentelemetry.api.common.Attributes;
import io.opentelemetry.api.common.AttributesBuilder;
import io.opentelemetry.sdk.resources.Resource;
import lab.obi.agent.process.ObservedSocket;

import java.util.LinkedHashMap;
import java.util.Map;

/** The OpenTelemetry resource of an observed process, cached; used by spans and by OTLP metrics. */
public final class ProcessResources {

    private static final int MAX_RESOURCES = 4096;

    private final String hostName;
    private final Map<Key, Resource> resources = new LinkedHashMap<>(16, 0.75f, true) {
        @Override
        protected boolean removeEldestEntry(Map.Entry<Key, Resource> eldest) {
            return size() > MAX_RESOURCES;
        }
    };

    public ProcessResources(String hostName) {
        this.hostName = hostName;
    }

    /**
     * Processes are told apart by pid, service and executable: a reused pid gets its own resource. A
     * record, not a joined string: it is looked up for every exchange, and its strings are the
     * process's own, their hashes computed once.
     */
    public record Key(int pid, String service, String exe) {
    }

    public static Key key(ObservedSocket e) {
        return new Key(e.pid(), e.service(), e.exe());
    }

    public Resource of(ObservedSocket e) {
        return resources.computeIfAbsent(key(e), k -> {
            AttributesBuilder a = Attributes.builder()
                    .put("service.name", e.service())
                    .put("service.instance.id", hostName + "/" + e.pid())
                    .put("process.pid", (long) e.pid())
                    .put("host.name", hostName)
                    .put("telemetry.distro.name", "obi-agent");
            if (e.comm() != null) {
                a.put(AttributeKey.stringKey("process.executable.name"), e.comm());
            }
            if (e.exe() != null) {
                a.put(AttributeKey.stringKey("process.executable.path"), e.exe());
            }
            if (e.containerId() != null) {
                a.put(AttributeKey.stringKey("container.id"), e.containerId());
            }
            return Resource.create(a.build());
        });
    }
}
