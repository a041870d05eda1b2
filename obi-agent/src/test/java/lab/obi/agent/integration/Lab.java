package lab.obi.agent.integration;

import java.io.IOException;
import java.io.InputStream;
import java.net.InetSocketAddress;
import java.net.ServerSocket;
import java.net.Socket;
import java.net.URI;
import java.net.http.HttpClient;
import java.net.http.HttpRequest;
import java.net.http.HttpResponse;
import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Duration;
import java.util.ArrayList;
import java.util.HashSet;
import java.util.List;
import java.util.Map;
import java.util.Random;
import java.util.Set;
import java.util.concurrent.TimeUnit;
import java.util.regex.Matcher;
import java.util.regex.Pattern;

/**
 * The real programs of the integration tests, each in its own process under one work directory:
 * obi-agent, Debian's nginx, the JDK and Python backends. Fails with the program's log when one
 * does not come up.
 */
final class Lab implements AutoCloseable {

    /** The backends' own logs: "CLIENT_PORT TARGET STATUS_WRITTEN OUTCOME" per request (see JdkBackend). */
    static final String JDK_REQUEST_LOG = "jdk-requests.log";
    static final String PY_REQUEST_LOG = "py-requests.log";

    final Path dir;
    final int nginxPort = freePort();
    final int nginxTlsPort = freePort();
    final int jdkPort = freePort();
    final int pythonPort = freePort();
    final int agentMetricsPort = freePort();
    final int agentHealthPort = freePort();
    private final List<Process> processes = new ArrayList<>();
    /** One client for every poll and scrape: one connection the agent sees, not one per call. */
    private final HttpClient http = HttpClient.newBuilder().connectTimeout(Duration.ofSeconds(5)).build();
    private Process agent;

    Lab() throws IOException {
        requireRoot();
        dir = Files.createTempDirectory("obi-it-");
        for (String tool : List.of("nginx", "curl", "wrk", "python3", "openssl")) {
            requireTool(tool);
        }
    }

    Path path(String name) {
        return dir.resolve(name);
    }

    void startBackends() throws Exception {
        Path jdk = copyResource("JdkBackend.java");
        Path python = copyResource("py_backend.py");
        String java = Path.of(System.getProperty("java.home"), "bin", "java").toString();
        // nodelay: without it the JDK writes headers and body apart and waits for nginx's delayed ACK (40 ms)
        startWithEnvironment("jdk-backend", Map.of("OTEL_SERVICE_NAME", "jdk-backend"),
                java, "-Dsun.net.httpserver.nodelay=true", jdk.toString(), Integer.toString(jdkPort),
                path(JDK_REQUEST_LOG).toString());
        startWithEnvironment("py-backend", Map.of("OTEL_SERVICE_NAME", "py-backend", "REQUEST_LOG",
                path(PY_REQUEST_LOG).toString()), "python3", python.toString(), Integer.toString(pythonPort));
        awaitPort(jdkPort, "jdk-backend");
        awaitPort(pythonPort, "py-backend");
    }

    void startNginx() throws Exception {
        Files.createDirectories(path("logs"));
        Files.createDirectories(path("tmp"));
        Files.createDirectories(path("static"));
        Files.write(path("static/file.bin"), new byte[256 * 1024]);
        selfSignedCertificate();
        String conf = resource("nginx.conf")
                .replace("@DIR@", dir.toString())
                .replace("@NGINX_PORT@", Integer.toString(nginxPort))
                .replace("@NGINX_TLS_PORT@", Integer.toString(nginxTlsPort))
                .replace("@JDK_PORT@", Integer.toString(jdkPort))
                .replace("@PY_PORT@", Integer.toString(pythonPort));
        Files.writeString(path("nginx.conf"), conf);
        start("nginx", "nginx", "-p", dir.toString(), "-c", path("nginx.conf").toString(), "-g", "daemon off;");
        awaitPort(nginxPort, "nginx");
    }

    /** tls/cert.pem and tls/key.pem for localhost, valid for a day: made here, never kept. */
    Path selfSignedCertificate() throws Exception {
        Path tls = Files.createDirectories(path("tls"));
        if (!Files.exists(tls.resolve("cert.pem"))) {
            sh("openssl", "req", "-x509", "-newkey", "rsa:2048", "-nodes", "-days", "1", "-subj", "/CN=localhost",
                    "-keyout", tls.resolve("key.pem").toString(), "-out", tls.resolve("cert.pem").toString());
        }
        return tls;
    }

    /** Starts obi-agent and waits until its programs are attached. */
    void startAgent(String... jvmOptions) throws Exception {
        startAgent(Map.of(), jvmOptions);
    }

    void startAgent(Map<String, String> environment, String... jvmOptions) throws Exception {
        launchAgent(List.of(), environment, jvmOptions);
        awaitAgent();
    }

    /**
     * Starts obi-agent without waiting for it, its command after a prefix (setpriv, to run it with
     * fewer privileges); a later -D option overrides the defaults set here (request log, ports).
     */
    Process launchAgent(List<String> prefix, Map<String, String> environment, String... jvmOptions) throws Exception {
        String jar = System.getProperty("obi.agent.jar", "target/quarkus-app/quarkus-run.jar");
        if (!Files.isRegularFile(Path.of(jar))) {
            throw new IllegalStateException("agent jar " + jar + " missing: build it with `make build`");
        }
        String java = Path.of(System.getProperty("java.home"), "bin", "java").toString();
        List<String> command = new ArrayList<>(prefix);
        command.addAll(List.of(java, "@" + Path.of("jvm.options").toAbsolutePath(),
                // Every line: the tests compare each request with what the servers and clients logged.
                "-Dobi.request-log.path=" + path("requests.jsonl"), "-Dobi.request-log.lines=all",
                "-Dobi.metrics.prometheus.port=" + agentMetricsPort, "-Dobi.health.port=" + agentHealthPort));
        command.addAll(List.of(jvmOptions));
        command.addAll(List.of("-jar", Path.of(jar).toAbsolutePath().toString()));
        agent = startWithEnvironment("agent", environment, command.toArray(String[]::new));
        return agent;
    }

    /** Waits until the agent's programs are attached and its readiness says UP. */
    void awaitAgent() throws Exception {
        long deadline = System.nanoTime() + Duration.ofSeconds(60).toNanos();
        while (!Files.readString(log("agent")).contains("obi-agent capturing:")) {
            if (!agent.isAlive() || System.nanoTime() > deadline) {
                throw new IllegalStateException("obi-agent did not start:\n" + Files.readString(log("agent")));
            }
            Thread.sleep(100);
        }
        awaitHttp("http://127.0.0.1:" + agentHealthPort + "/q/health/ready", "agent", deadline);
    }

    /**
     * Polls until the URL answers 200; else fails with its last answer and the end of the process's
     * log. The agent's readiness endpoint says UP once programs are attached and the ring buffer is drained.
     */
    void awaitHttp(String url, String name, long deadlineNanos) throws Exception {
        HttpRequest request = HttpRequest.newBuilder(URI.create(url)).timeout(Duration.ofSeconds(10)).build();
        String last = "";
        while (System.nanoTime() < deadlineNanos) {
            try {
                HttpResponse<String> r = http.send(request, HttpResponse.BodyHandlers.ofString());
                if (r.statusCode() == 200) {
                    return;
                }
                last = r.statusCode() + " " + r.body();
            } catch (IOException notYet) {
                last = notYet.toString();
            }
            Thread.sleep(100);
        }
        throw new IllegalStateException(name + " not ready at " + url + " (" + last + "):\n" + Files.readString(log(name)));
    }

    /** SIGTERM: the agent drains the ring buffer and flushes the request log before it exits. */
    Path stopAgent() throws Exception {
        agent.destroy();
        if (!agent.waitFor(30, TimeUnit.SECONDS)) {
            agent.destroyForcibly();
            throw new IllegalStateException("obi-agent did not stop within 30 s:\n" + Files.readString(log("agent")));
        }
        return path("requests.jsonl");
    }

    long agentPid() {
        return agent.pid();
    }

    /** The agent's Prometheus endpoint, as a scrape reads it. */
    String scrapeAgent() throws Exception {
        return http.send(HttpRequest.newBuilder(URI.create("http://127.0.0.1:" + agentMetricsPort + "/metrics"))
                .timeout(Duration.ofSeconds(10)).build(), HttpResponse.BodyHandlers.ofString()).body();
    }

    Process agentProcess() {
        return agent;
    }

    /** Sends the agent a signal by name (STOP, CONT, KILL). */
    void signalAgent(String signal) throws Exception {
        sh("kill", "-" + signal, Long.toString(agent.pid()));
    }

    /** The agent's resident memory now. */
    long agentRssKiB() throws IOException {
        for (String line : Files.readAllLines(Path.of("/proc/" + agent.pid() + "/status"))) {
            if (line.startsWith("VmRSS:")) {
                return Long.parseLong(line.replaceAll("\\D", ""));
            }
        }
        throw new IllegalStateException("no VmRSS for the agent");
    }

    /** Sum of the agent's own Prometheus samples whose line starts with the pattern (a regex). */
    double agentMetric(String linePattern) throws Exception {
        Matcher m = Pattern.compile("(?m)^" + linePattern + "[^ ]* ([0-9.eE+-]+)$").matcher(scrapeAgent());
        double sum = 0;
        while (m.find()) {
            sum += Double.parseDouble(m.group(1));
        }
        return sum;
    }

    String agentLog() throws IOException {
        return Files.readString(log("agent"));
    }

    Path log(String name) {
        return path(name + ".log");
    }

    Process start(String name, String... command) throws IOException {
        return startWithEnvironment(name, Map.of(), command);
    }

    Process startWithEnvironment(String name, Map<String, String> environment, String... command)
            throws IOException {
        ProcessBuilder builder = new ProcessBuilder(command).directory(dir.toFile())
                .redirectErrorStream(true).redirectOutput(log(name).toFile());
        builder.environment().putAll(environment);
        Process p = builder.start();
        processes.add(p);
        return p;
    }

    /** Runs a client program to completion and returns its exit code. */
    int run(String name, Duration timeout, String... command) throws Exception {
        Process p = new ProcessBuilder(command).directory(dir.toFile())
                .redirectErrorStream(true).redirectOutput(ProcessBuilder.Redirect.appendTo(log(name).toFile())).start();
        if (!p.waitFor(timeout.toMillis(), TimeUnit.MILLISECONDS)) {
            p.destroyForcibly();
            throw new IllegalStateException(name + " did not finish within " + timeout);
        }
        return p.exitValue();
    }

    private void awaitPort(int port, String name) throws Exception {
        long deadline = System.nanoTime() + Duration.ofSeconds(30).toNanos();
        while (System.nanoTime() < deadline) {
            try (Socket ignored = new Socket("127.0.0.1", port)) {
                return;
            } catch (IOException notYet) {
                Thread.sleep(100);
            }
        }
        throw new IllegalStateException(name + " did not listen on " + port + ":\n" + Files.readString(log(name)));
    }

    Path copyResource(String name) throws IOException {
        Path target = path(name);
        Files.writeString(target, resource(name));
        return target;
    }

    private static String resource(String name) throws IOException {
        try (InputStream in = Lab.class.getResourceAsStream("/integration/" + name)) {
            if (in == null) {
                throw new IOException("test resource integration/" + name + " missing");
            }
            return new String(in.readAllBytes(), java.nio.charset.StandardCharsets.UTF_8);
        }
    }

    /** How often a phrase occurs in a text (a log). */
    static int occurrences(String text, String phrase) {
        int count = 0;
        for (int i = text.indexOf(phrase); i >= 0; i = text.indexOf(phrase, i + 1)) {
            count++;
        }
        return count;
    }

    /** Runs a command to completion and returns its output; fails with it when it exits non-zero. */
    static String sh(String... command) throws Exception {
        Process p = new ProcessBuilder(command).redirectErrorStream(true).start();
        String out = new String(p.getInputStream().readAllBytes());
        if (p.waitFor() != 0) {
            throw new IllegalStateException(String.join(" ", command) + " failed: " + out);
        }
        return out;
    }

    /** Best-effort clean-up: whatever the command says or returns. */
    static void shQuiet(String... command) {
        try {
            new ProcessBuilder(command).redirectErrorStream(true).redirectOutput(ProcessBuilder.Redirect.DISCARD)
                    .start().waitFor();
        } catch (Exception ignored) {
            // best-effort clean-up
        }
    }

    /** Whether something accepts connections on the port of loopback within the timeout. */
    static boolean listens(int port, Duration timeout) throws InterruptedException {
        long deadline = System.nanoTime() + timeout.toNanos();
        while (System.nanoTime() < deadline) {
            try (java.net.Socket ignored = new java.net.Socket("127.0.0.1", port)) {
                return true;
            } catch (java.io.IOException notYet) {
                Thread.sleep(50);
            }
        }
        return false;
    }

    /**
     * A port below the kernel's ephemeral range that nothing listens on, never handed out twice in
     * this JVM. Not an ephemeral port: one picked there can become a client's source port (a
     * keep-alive connection, a TIME_WAIT) before the server meant for it binds.
     */
    /** A binary the build made (the Collector, Jaeger), named by a system property; fails saying how to build it. */
    static String requiredBinary(String property, String howToBuild) {
        String binary = System.getProperty(property, "");
        if (binary.isEmpty() || !Files.isExecutable(Path.of(binary))) {
            throw new IllegalStateException("no binary in -D" + property + "='" + binary + "': build it with "
                    + howToBuild + " (`make test` does)");
        }
        return binary;
    }

    /**
     * Jaeger v2 (-Dobi.jaeger.bin) with the stack's jaeger/config.yaml, on loopback: OTLP/gRPC on
     * otlpPort, the query UI and API on uiPort; returns once its API answers.
     */
    Process startJaeger(Path repo, int otlpPort, int uiPort, Map<String, String> environment) throws Exception {
        Process p = startWithEnvironment("jaeger", environment,
                requiredBinary("obi.jaeger.bin", ".ci/build-go-program jaeger ..."),
                "--config", repo.resolve("jaeger/config.yaml").toString(),
                "--set=receivers.otlp.protocols.grpc.endpoint=127.0.0.1:" + otlpPort,
                "--set=receivers.otlp.protocols.http.endpoint=127.0.0.1:" + freePort(),
                "--set=extensions.jaeger_query.http.endpoint=127.0.0.1:" + uiPort,
                "--set=extensions.jaeger_query.grpc.endpoint=127.0.0.1:" + freePort(),
                "--set=extensions.jaeger_query.ui.config_file=" + repo.resolve("jaeger/ui-config.json"),
                "--set=extensions.healthcheckv2.http.endpoint=127.0.0.1:" + freePort());
        awaitHttp("http://127.0.0.1:" + uiPort + "/api/services", "jaeger", System.nanoTime() + 60_000_000_000L);
        return p;
    }

    static synchronized int freePort() {
        int below = ephemeralRangeStart();
        for (int attempt = 0; attempt < 1000; attempt++) {
            int port = 10_000 + RANDOM.nextInt(below - 10_000);
            if (HANDED_OUT.contains(port)) {
                continue;
            }
            try (ServerSocket s = new ServerSocket()) {
                s.setReuseAddress(false);
                s.bind(new InetSocketAddress(port));
                HANDED_OUT.add(port);
                return port;
            } catch (IOException inUse) {
                // try another
            }
        }
        throw new IllegalStateException("no free port between 10000 and " + below);
    }

    private static final Set<Integer> HANDED_OUT = new HashSet<>();
    private static final Random RANDOM = new Random();

    private static int ephemeralRangeStart() {
        try {
            // not readString: an integer sysctl read that way yields its first byte only
            return Integer.parseInt(Files.readAllLines(Path.of("/proc/sys/net/ipv4/ip_local_port_range")).get(0)
                    .split("\\s+")[0]);
        } catch (IOException | RuntimeException e) {
            return 32_768;
        }
    }

    private static void requireRoot() throws IOException {
        for (String line : Files.readAllLines(Path.of("/proc/self/status"))) {
            if (line.startsWith("Uid:") && !line.split("\\s+")[2].equals("0")) {
                throw new IllegalStateException("the integration tests load BPF programs: run them as root (sudo make test)");
            }
        }
    }

    private static void requireTool(String tool) {
        for (String dir : System.getenv().getOrDefault("PATH", "/usr/bin:/usr/sbin").split(":")) {
            if (Files.isExecutable(Path.of(dir, tool))) {
                return;
            }
        }
        if (!Files.isExecutable(Path.of("/usr/sbin", tool))) {
            throw new IllegalStateException(tool + " not found: run `make deps` (or .ci/install-deps) as root");
        }
    }

    @Override
    public void close() throws Exception {
        for (Process p : processes) {
            p.destroy();
        }
        for (Process p : processes) {
            if (!p.waitFor(10, TimeUnit.SECONDS)) {
                p.destroyForcibly();
            }
        }
    }
}
