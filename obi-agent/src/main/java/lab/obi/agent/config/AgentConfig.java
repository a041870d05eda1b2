package lab.obi.agent.config;

import io.smallrye.config.ConfigMapping;
import io.smallrye.config.WithDefault;
import io.smallrye.config.WithName;
import jakarta.validation.constraints.DecimalMax;
import jakarta.validation.constraints.DecimalMin;
import jakarta.validation.constraints.Max;
import jakarta.validation.constraints.Min;
import jakarta.validation.constraints.Positive;

import java.nio.file.Path;
import java.time.Duration;
import java.util.Optional;
import java.util.Set;

/**
 * Every knob of obi-agent (prefix {@code obi.}), validated at start-up: a value out of range stops
 * the agent with one line that names the property. The defaults observe every process on the host.
 */
@ConfigMapping(prefix = "obi")
public interface AgentConfig {

    @WithName("request-log") // the name a validation error gives
    RequestLog requestLog();

    Capture capture();

    Bpf bpf();

    Routes routes();

    Metrics metrics();

    Traces traces();

    Network network();

    Watch watch();

    Health health();

    /** How often drop and throughput counters are logged; 0 turns the summary off. */
    @WithName("stats-interval")
    @WithDefault("10s")
    Duration statsInterval();

    /** The request log: one JSON object per exchange, connection close and late retransmit. */
    interface RequestLog {
        /** Write the request log at all. */
        @WithDefault("true")
        boolean enabled();

        /** A file the log is appended to; without one, the log goes to stdout. */
        Optional<Path> path();

        /** Which exchanges and connections get a line; the metrics count every one either way. */
        @WithDefault("tail")
        Lines lines();

        /** In the tail: this fraction of the other exchanges, chosen by trace id (a trace is in or out whole). */
        @WithName("sample-ratio")
        @WithDefault("0.01")
        @DecimalMin("0")
        @DecimalMax("1")
        double sampleRatio();

        enum Lines {
            /** What went wrong or was slow, and a sample of the rest. */
            TAIL,
            /** Every exchange and every connection. */
            ALL
        }
    }

    interface Capture {
        /** Bytes of each request head copied by the kernel (method, target, headers). */
        @WithName("request-head-bytes")
        @WithDefault("512")
        @Min(64)
        @Max(1024)
        int requestHeadBytes();

        /**
         * How long an exchange whose client sent FIN (or reset it unanswered) waits for the server to
         * react (answer, close, reset) before it is reported without that reaction (and counted): a
         * server that never closes (CLOSE_WAIT) must not hold its record back forever.
         */
        @WithName("peer-fin-wait")
        @WithDefault("60s")
        @Positive
        Duration peerFinWait();

        /** Records waiting between the ring buffer and the sinks; beyond, records are dropped and counted. */
        @WithName("queue-capacity")
        @WithDefault("65536")
        @Positive
        int queueCapacity();
    }

    interface Bpf {
        /** A BPF object to load instead of the one inside the agent (bpf/build/obi.bpf.o). */
        @WithName("object-path")
        Optional<String> objectPath();

        /**
         * Kernel-to-agent ring buffer size in MiB. All of it is resident in the agent's memory; 4 MiB holds
         * about 12k records of a small request (256 bytes and the request head): a burst of 10,000
         * connections answered at once, both sides recorded (HostileInputIT), passes without a drop.
         */
        @WithName("ringbuf-size-mb")
        @WithDefault("4")
        @Min(1)
        @Max(256)
        @PowerOfTwo
        int ringbufSizeMb();

        /** Connections tracked at once; beyond, new connections are not observed and are counted. */
        @WithName("max-connections")
        @WithDefault("65536")
        @Min(1024)
        int maxConnections();
    }

    interface Routes {
        /** Keep query strings in http.route; off by default because they carry ids and secrets. */
        @WithName("keep-query")
        @WithDefault("false")
        boolean keepQuery();

        /** Distinct routes per service before new ones collapse into /{overflow}. */
        @WithName("max-per-service")
        @WithDefault("500")
        @Positive
        int maxPerService();
    }

    /** Request, TCP, network and agent metrics: on a Prometheus scrape endpoint, pushed over OTLP, or both. */
    interface Metrics {

        Prometheus prometheus();

        Otlp otlp();

        /** Label server-side request metrics with the client's address (cardinality grows with clients). */
        @WithName("peer-addresses")
        @WithDefault("false")
        boolean peerAddresses();

        /** Base-2 exponential histograms (Prometheus native histograms) instead of fixed buckets. */
        @WithName("exponential-histograms")
        @WithDefault("false")
        boolean exponentialHistograms();

        /** The scrape endpoint, http://host:port/metrics. */
        interface Prometheus {
            /** Serve the endpoint at all. */
            @WithDefault("true")
            boolean enabled();

            /**
             * The address the endpoint listens on: loopback by default, since the metrics name peers and
             * routes; the address of the network the scraping Prometheus is on otherwise.
             */
            @WithDefault("127.0.0.1")
            String host();

            @WithDefault("9464")
            @Min(1)
            @Max(65535)
            int port();
        }

        interface Otlp {
            /** Push metrics over OTLP when OTEL_EXPORTER_OTLP_(METRICS_)ENDPOINT is set. */
            @WithDefault("true")
            boolean enabled();
        }
    }

    /** /q/health/ready (programs attached, ring buffer drained) and /q/health/live. */
    interface Health {
        /** Loopback by default: the agent runs in the host's network namespace, and a probe runs on the host. */
        @WithDefault("127.0.0.1")
        String host();

        /** Not 8080, which observed apps often use; 0 takes any free port (tests). */
        @WithDefault("9465")
        @Min(0)
        @Max(65535)
        int port();
    }

    /** One span per request. */
    interface Traces {

        Otlp otlp();

        interface Otlp {
            /** Push spans over OTLP when OTEL_EXPORTER_OTLP_(TRACES_)ENDPOINT is set. */
            @WithDefault("true")
            boolean enabled();

            /**
             * Spans waiting for export; beyond, spans are dropped and counted (a slow Collector never grows memory).
             * A second of spans at 16k requests/s: in its first seconds under load the agent's exporter runs
             * before the JIT compiled it, and a JDK backend at saturation queued up to ~14k spans then.
             */
            @WithName("queue-capacity")
            @WithDefault("16384")
            @Positive
            int queueCapacity();

            /** Which spans carry every attribute; the others carry the request's own (method, route, status, peers). */
            @WithDefault("tail")
            Detail detail();

            enum Detail {
                /** The spans of exchanges that went wrong or were slow. */
                TAIL,
                /** Every span. */
                ALL
            }
        }
    }

    interface Network {
        /**
         * Follow the link state of the host's interfaces (rtnetlink): outages become metrics, log lines
         * and evidence on the requests they overlapped.
         */
        @WithName("interface-events")
        @WithDefault("true")
        boolean interfaceEvents();
    }

    Tls tls();

    Slow slow();

    /** What counts as a slow request, whose cause is told (obi.slow.cause). */
    interface Slow {
        /**
         * A request whose time in the host (its duration, and the queues or the connect before it)
         * reaches this is slow; the default is the Collector's tail-sampling latency policy.
         */
        @WithDefault("500ms")
        @Positive
        Duration threshold();
    }

    interface Tls {
        /**
         * See HTTPS through OpenSSL: uprobes on every libssl the host's and the containers' processes
         * use (SSL_read, SSL_write and their _ex forms).
         */
        @WithDefault("true")
        boolean enabled();
    }

    interface Watch {
        /** Executables never reported: the observability stack itself. */
        @WithName("exclude-executables")
        @WithDefault("otelcol,otelcol-contrib,otelcol-obi,prometheus,jaeger,jaeger-linux,grafana,grafana-server")
        Set<String> excludeExecutables();

        /** Only these service names (empty: all). */
        Optional<Set<String>> services();

        /** Only exchanges with one of these ports, local or peer (empty: all). */
        Optional<Set<Integer>> ports();
    }
}
