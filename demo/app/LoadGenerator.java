import java.io.BufferedInputStream;
import java.io.ByteArrayOutputStream;
import java.io.IOException;
import java.io.InputStream;
import java.io.OutputStream;
import java.net.InetSocketAddress;
import java.net.Socket;
import java.net.SocketTimeoutException;
import java.net.URI;
import java.nio.charset.StandardCharsets;
import java.security.GeneralSecurityException;
import java.security.cert.X509Certificate;
import java.util.ArrayList;
import java.util.Collections;
import java.util.List;
import java.util.Map;
import java.util.TreeMap;
import java.util.concurrent.ConcurrentHashMap;
import java.util.concurrent.ThreadLocalRandom;
import java.util.concurrent.atomic.AtomicLong;
import javax.net.ssl.SSLContext;
import javax.net.ssl.SSLSocket;
import javax.net.ssl.TrustManager;
import javax.net.ssl.X509TrustManager;

/**
 * The demo's clients: keep-alive HTTP/1.1 connections to the load balancer, paced to RATE requests
 * per second in all, each client with the timeout of its kind. A client that times out abandons the
 * request and closes its connection, as browsers and mobile apps do: the load balancer logs 499.
 * Mobile clients speak HTTPS and drop the connection hard (RST), the others use HTTP and close it (FIN).
 *
 * Environment: TARGET (http://lb:80), TARGET_TLS (https://lb:443; the load balancer's certificate is
 * self-signed and not checked), RATE (40), CLIENTS (128: enough that the pace holds while some wait
 * for seconds), PATHS (comma-separated, {n} is a random id), PROFILES
 * (name:timeout_ms:share_percent:fin|rst:http|https, comma-separated), DURATION_S (0: run until
 * stopped), REPORT_S (10).
 */
public final class LoadGenerator {

    record Profile(String name, int timeoutMs, double share, boolean reset, boolean https) {
    }

    /** A client's connection: what it speaks through, and the TCP socket under it (the same for HTTP). */
    record Connection(Socket socket, Socket tcp) {
    }

    /** Per cloud, per report interval. */
    static final class Tally {
        final AtomicLong ok = new AtomicLong();
        final AtomicLong serverErrors = new AtomicLong();
        final AtomicLong abandoned = new AtomicLong();
        final AtomicLong failed = new AtomicLong();
        final List<Long> latenciesMs = Collections.synchronizedList(new ArrayList<>());
    }

    private static final String TARGET = env("TARGET", "http://lb:80");
    private static final String TARGET_TLS = env("TARGET_TLS", "https://lb:443");
    private static final double RATE = Double.parseDouble(env("RATE", "40"));
    private static final int CLIENTS = Integer.parseInt(env("CLIENTS", "128"));
    private static final List<String> PATHS = List.of(env("PATHS",
            "/a/api/orders,/a/api/orders/{n},/a/api/checkout,/b/api/orders,/b/api/orders/{n},/b/api/checkout")
            .split(","));
    private static final List<Profile> PROFILES = profiles(env("PROFILES",
            "mobile:1500:30:rst:https,browser:5000:60:fin:http,partner:15000:10:fin:http"));
    private static final long DURATION_S = Long.parseLong(env("DURATION_S", "0"));
    private static final long REPORT_S = Long.parseLong(env("REPORT_S", "10"));

    private static final Map<String, Tally> TALLIES = new ConcurrentHashMap<>();
    private static final AtomicLong NEXT_SLOT_NS = new AtomicLong(System.nanoTime());
    private static final AtomicLong SKIPPED = new AtomicLong();

    public static void main(String[] args) throws Exception {
        URI target = URI.create(TARGET);
        URI tlsTarget = URI.create(TARGET_TLS);
        InetSocketAddress plain = new InetSocketAddress(target.getHost(), target.getPort() < 0 ? 80 : target.getPort());
        InetSocketAddress tls = new InetSocketAddress(tlsTarget.getHost(),
                tlsTarget.getPort() < 0 ? 443 : tlsTarget.getPort());
        System.out.printf("loadgen: %.0f req/s to %s and %s from %d clients, profiles %s%n", RATE, TARGET, TARGET_TLS,
                CLIENTS, PROFILES);
        for (int i = 0; i < CLIENTS; i++) {
            Thread t = new Thread(() -> client(plain, tls, target.getHost()), "client-" + i);
            t.setDaemon(true);
            t.start();
        }
        long end = DURATION_S > 0 ? System.nanoTime() + DURATION_S * 1_000_000_000L : Long.MAX_VALUE;
        while (System.nanoTime() < end) {
            Thread.sleep(Math.min(REPORT_S * 1000, Math.max(1, (end - System.nanoTime()) / 1_000_000)));
            report();
        }
    }

    private static void client(InetSocketAddress plain, InetSocketAddress tls, String host) {
        long intervalNs = (long) (1e9 / RATE);
        Connection connection = null;
        Profile profile = pick();
        while (true) {
            long slot = NEXT_SLOT_NS.getAndAdd(intervalNs);
            long wait = slot - System.nanoTime();
            if (wait < -1_000_000_000L) { // all clients were stuck: start over instead of a burst
                NEXT_SLOT_NS.set(System.nanoTime());
                SKIPPED.incrementAndGet();
                continue;
            }
            sleepNs(wait);
            String path = path();
            Tally tally = TALLIES.computeIfAbsent(cloud(path), c -> new Tally());
            long start = System.nanoTime();
            try {
                if (connection == null) {
                    connection = connect(profile.https() ? tls : plain, profile);
                }
                int status = exchange(connection.socket(), host, path, profile,
                        start + profile.timeoutMs() * 1_000_000L);
                tally.latenciesMs.add((System.nanoTime() - start) / 1_000_000);
                (status >= 500 ? tally.serverErrors : tally.ok).incrementAndGet();
            } catch (SocketTimeoutException gaveUp) {
                tally.abandoned.incrementAndGet();
                connection = abandon(connection, profile);
                profile = pick(); // the next user on this connection slot
            } catch (IOException e) {
                tally.failed.incrementAndGet();
                connection = abandon(connection, profile);
            }
        }
    }

    private static int exchange(Socket socket, String host, String path, Profile profile, long deadlineNs)
            throws IOException {
        OutputStream out = socket.getOutputStream();
        out.write(("GET " + path + " HTTP/1.1\r\nHost: " + host + "\r\nUser-Agent: obi-demo-" + profile.name()
                + "/1.0\r\nAccept: application/json\r\n\r\n").getBytes(StandardCharsets.ISO_8859_1));
        out.flush();
        InputStream in = new BufferedInputStream(socket.getInputStream());
        String head = readHead(socket, in, deadlineNs);
        int status = Integer.parseInt(head.substring(9, 12));
        long length = -1;
        boolean chunked = false;
        for (String line : head.split("\r\n")) {
            String lower = line.toLowerCase();
            if (lower.startsWith("content-length:")) {
                length = Long.parseLong(line.substring(15).trim());
            } else if (lower.startsWith("transfer-encoding:") && lower.contains("chunked")) {
                chunked = true;
            }
        }
        if (chunked) {
            while (true) {
                long size = Long.parseLong(readLine(socket, in, deadlineNs).split(";")[0].trim(), 16);
                skip(socket, in, size + 2, deadlineNs);
                if (size == 0) {
                    break;
                }
            }
        } else if (length > 0) {
            skip(socket, in, length, deadlineNs);
        }
        return status;
    }

    private static String readHead(Socket socket, InputStream in, long deadlineNs) throws IOException {
        StringBuilder head = new StringBuilder();
        while (true) {
            String line = readLine(socket, in, deadlineNs);
            if (line.isEmpty()) {
                return head.toString();
            }
            head.append(line).append("\r\n");
        }
    }

    private static String readLine(Socket socket, InputStream in, long deadlineNs) throws IOException {
        ByteArrayOutputStream line = new ByteArrayOutputStream();
        while (true) {
            int b = read(socket, in, deadlineNs);
            if (b == '\n') {
                String s = line.toString(StandardCharsets.ISO_8859_1);
                return s.endsWith("\r") ? s.substring(0, s.length() - 1) : s;
            }
            line.write(b);
        }
    }

    private static void skip(Socket socket, InputStream in, long bytes, long deadlineNs) throws IOException {
        for (long i = 0; i < bytes; i++) {
            read(socket, in, deadlineNs);
        }
    }

    /** One byte, within the client's patience. */
    private static int read(Socket socket, InputStream in, long deadlineNs) throws IOException {
        long left = (deadlineNs - System.nanoTime()) / 1_000_000;
        if (left <= 0) {
            throw new SocketTimeoutException("client timeout");
        }
        socket.setSoTimeout((int) left);
        int b = in.read();
        if (b < 0) {
            throw new IOException("connection closed by the server");
        }
        return b;
    }

    private static Connection connect(InetSocketAddress address, Profile profile) throws IOException {
        Socket tcp = new Socket();
        tcp.setTcpNoDelay(true);
        tcp.connect(address, profile.timeoutMs());
        if (!profile.https()) {
            return new Connection(tcp, tcp);
        }
        tcp.setSoTimeout(profile.timeoutMs());
        SSLSocket tls = (SSLSocket) TRUST_ALL.getSocketFactory().createSocket(tcp, address.getHostString(),
                address.getPort(), true);
        tls.startHandshake();
        return new Connection(tls, tcp);
    }

    /** The demo's load balancer has a certificate made when the stack starts: nothing to check it against. */
    private static final SSLContext TRUST_ALL = trustAll();

    private static SSLContext trustAll() {
        try {
            SSLContext context = SSLContext.getInstance("TLS");
            context.init(null, new TrustManager[] {new X509TrustManager() {
                @Override
                public void checkClientTrusted(X509Certificate[] chain, String authType) {
                }

                @Override
                public void checkServerTrusted(X509Certificate[] chain, String authType) {
                }

                @Override
                public X509Certificate[] getAcceptedIssuers() {
                    return new X509Certificate[0];
                }
            }}, null);
            return context;
        } catch (GeneralSecurityException e) {
            throw new IllegalStateException(e);
        }
    }

    /** Closes the TCP socket itself: an app that gives up sends no TLS close_notify either. */
    private static Connection abandon(Connection connection, Profile profile) {
        if (connection != null) {
            try {
                if (profile.reset()) {
                    connection.tcp().setSoLinger(true, 0); // close() sends RST, as an app killed mid-request does
                }
                connection.tcp().close();
            } catch (IOException ignored) {
                // closing what is broken anyway
            }
        }
        return null;
    }

    private static void report() {
        StringBuilder line = new StringBuilder("loadgen:");
        new TreeMap<>(TALLIES).forEach((cloud, t) -> {
            List<Long> latencies;
            synchronized (t.latenciesMs) {
                latencies = new ArrayList<>(t.latenciesMs);
                t.latenciesMs.clear();
            }
            Collections.sort(latencies);
            line.append(String.format(" | %s ok=%d 5xx=%d abandoned=%d failed=%d p50=%dms p99=%dms", cloud,
                    t.ok.getAndSet(0), t.serverErrors.getAndSet(0), t.abandoned.getAndSet(0), t.failed.getAndSet(0),
                    percentile(latencies, 0.50), percentile(latencies, 0.99)));
        });
        long skipped = SKIPPED.getAndSet(0);
        if (skipped > 0) {
            line.append(" | pacing restarted ").append(skipped).append("x (every client was waiting)");
        }
        System.out.println(line);
    }

    private static long percentile(List<Long> sorted, double q) {
        return sorted.isEmpty() ? 0 : sorted.get((int) Math.min(sorted.size() - 1, Math.floor(q * sorted.size())));
    }

    private static String path() {
        ThreadLocalRandom random = ThreadLocalRandom.current();
        return PATHS.get(random.nextInt(PATHS.size())).replace("{n}", Integer.toString(random.nextInt(1, 10_000)));
    }

    private static String cloud(String path) {
        return path.startsWith("/a/") ? "cloud-a" : path.startsWith("/b/") ? "cloud-b" : path.split("/")[1];
    }

    private static Profile pick() {
        double total = PROFILES.stream().mapToDouble(Profile::share).sum();
        double r = ThreadLocalRandom.current().nextDouble(total);
        for (Profile p : PROFILES) {
            r -= p.share();
            if (r < 0) {
                return p;
            }
        }
        return PROFILES.get(PROFILES.size() - 1);
    }

    private static List<Profile> profiles(String spec) {
        List<Profile> profiles = new ArrayList<>();
        for (String item : spec.split(",")) {
            String[] f = item.trim().split(":");
            if (f.length != 5 || !(f[3].equals("fin") || f[3].equals("rst")) || !(f[4].equals("http")
                    || f[4].equals("https"))) {
                throw new IllegalArgumentException("PROFILES item '" + item
                        + "' is not name:timeout_ms:share:fin|rst:http|https");
            }
            profiles.add(new Profile(f[0], Integer.parseInt(f[1]), Double.parseDouble(f[2]), f[3].equals("rst"),
                    f[4].equals("https")));
        }
        return profiles;
    }

    private static void sleepNs(long ns) {
        if (ns <= 0) {
            return;
        }
        try {
            Thread.sleep(ns / 1_000_000, (int) (ns % 1_000_000));
        } catch (InterruptedException e) {
            Thread.currentThread().interrupt();
        }
    }

    private static String env(String name, String fallback) {
        String v = System.getenv(name);
        return v == null || v.isBlank() ? fallback : v.trim();
    }
}
