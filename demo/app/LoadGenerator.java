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
import java.util.ArrayList;
import java.util.Collections;
import java.util.List;
import java.util.Map;
import java.util.TreeMap;
import java.util.concurrent.ConcurrentHashMap;
import java.util.concurrent.ThreadLocalRandom;
import java.util.concurrent.atomic.AtomicLong;

/**
 * The demo's clients: keep-alive HTTP/1.1 connections to the load balancer, paced to RATE requests
 * per second in all, each client with the timeout of its kind. A client that times out abandons the
 * request and closes its connection, as browsers and mobile apps do: the load balancer logs 499.
 * Mobile clients drop the connection hard (RST), the others close it (FIN).
 *
 * Environment: TARGET (http://lb:80), RATE (40), CLIENTS (128: enough that the pace holds while some wait for seconds), PATHS (comma-separated, {n} is a
 * random id), PROFILES (name:timeout_ms:share_percent:fin|rst, comma-separated), DURATION_S (0: run
 * until stopped), REPORT_S (10).
 */
public final class LoadGenerator {

    record Profile(String name, int timeoutMs, double share, boolean reset) {
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
    private static final double RATE = Double.parseDouble(env("RATE", "40"));
    private static final int CLIENTS = Integer.parseInt(env("CLIENTS", "128"));
    private static final List<String> PATHS = List.of(env("PATHS",
            "/a/api/orders,/a/api/orders/{n},/a/api/checkout,/b/api/orders,/b/api/orders/{n},/b/api/checkout")
            .split(","));
    private static final List<Profile> PROFILES = profiles(env("PROFILES",
            "mobile:1500:30:rst,browser:5000:60:fin,partner:15000:10:fin"));
    private static final long DURATION_S = Long.parseLong(env("DURATION_S", "0"));
    private static final long REPORT_S = Long.parseLong(env("REPORT_S", "10"));

    private static final Map<String, Tally> TALLIES = new ConcurrentHashMap<>();
    private static final AtomicLong NEXT_SLOT_NS = new AtomicLong(System.nanoTime());
    private static final AtomicLong SKIPPED = new AtomicLong();

    public static void main(String[] args) throws Exception {
        URI target = URI.create(TARGET);
        InetSocketAddress address = new InetSocketAddress(target.getHost(), target.getPort() < 0 ? 80 : target.getPort());
        System.out.printf("loadgen: %.0f req/s to %s from %d clients, profiles %s%n", RATE, TARGET, CLIENTS, PROFILES);
        for (int i = 0; i < CLIENTS; i++) {
            Thread t = new Thread(() -> client(address, target.getHost()), "client-" + i);
            t.setDaemon(true);
            t.start();
        }
        long end = DURATION_S > 0 ? System.nanoTime() + DURATION_S * 1_000_000_000L : Long.MAX_VALUE;
        while (System.nanoTime() < end) {
            Thread.sleep(Math.min(REPORT_S * 1000, Math.max(1, (end - System.nanoTime()) / 1_000_000)));
            report();
        }
    }

    private static void client(InetSocketAddress address, String host) {
        long intervalNs = (long) (1e9 / RATE);
        Socket socket = null;
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
                if (socket == null) {
                    socket = new Socket();
                    socket.setTcpNoDelay(true);
                    socket.connect(address, profile.timeoutMs());
                }
                int status = exchange(socket, host, path, profile, start + profile.timeoutMs() * 1_000_000L);
                tally.latenciesMs.add((System.nanoTime() - start) / 1_000_000);
                (status >= 500 ? tally.serverErrors : tally.ok).incrementAndGet();
            } catch (SocketTimeoutException gaveUp) {
                tally.abandoned.incrementAndGet();
                socket = abandon(socket, profile);
                profile = pick(); // the next user on this connection slot
            } catch (IOException e) {
                tally.failed.incrementAndGet();
                socket = abandon(socket, profile);
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

    private static Socket abandon(Socket socket, Profile profile) {
        if (socket != null) {
            try {
                if (profile.reset()) {
                    socket.setSoLinger(true, 0); // close() sends RST, as an app killed mid-request does
                }
                socket.close();
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
            if (f.length != 4 || !(f[3].equals("fin") || f[3].equals("rst"))) {
                throw new IllegalArgumentException("PROFILES item '" + item + "' is not name:timeout_ms:share:fin|rst");
            }
            profiles.add(new Profile(f[0], Integer.parseInt(f[1]), Double.parseDouble(f[2]), f[3].equals("rst")));
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
