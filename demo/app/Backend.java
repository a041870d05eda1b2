import com.sun.net.httpserver.HttpExchange;
import com.sun.net.httpserver.HttpServer;

import java.io.IOException;
import java.io.OutputStream;
import java.net.InetSocketAddress;
import java.nio.charset.StandardCharsets;
import java.util.concurrent.Executors;
import java.util.concurrent.ThreadLocalRandom;

/**
 * A plain JDK HTTP backend of the demo, no SDK: a shop API with latency knobs (environment):
 * PORT (8080), CLOUD (name in the responses), LATENCY_MS (15), JITTER_MS (10), TAIL_PERCENT (1),
 * TAIL_MS (400), ERROR_PERCENT (0.2). /api/checkout takes three times longer.
 */
public final class Backend {

    private static final int PORT = intEnv("PORT", 8080);
    private static final String CLOUD = System.getenv().getOrDefault("CLOUD", "cloud");
    private static final int LATENCY_MS = intEnv("LATENCY_MS", 15);
    private static final int JITTER_MS = intEnv("JITTER_MS", 10);
    private static final double TAIL_PERCENT = doubleEnv("TAIL_PERCENT", 1);
    private static final int TAIL_MS = intEnv("TAIL_MS", 400);
    private static final double ERROR_PERCENT = doubleEnv("ERROR_PERCENT", 0.2);

    public static void main(String[] args) throws IOException {
        HttpServer server = HttpServer.create(new InetSocketAddress(PORT), 512);
        server.setExecutor(Executors.newFixedThreadPool(64));
        server.createContext("/healthz", e -> respond(e, 200, "ok\n"));
        server.createContext("/api/", Backend::api);
        server.start();
        System.out.printf("backend %s listening on %d (latency %d+-%d ms, %.1f%% at +%d ms, %.1f%% errors)%n", CLOUD,
                PORT, LATENCY_MS, JITTER_MS, TAIL_PERCENT, TAIL_MS, ERROR_PERCENT);
    }

    private static void api(HttpExchange e) throws IOException {
        ThreadLocalRandom random = ThreadLocalRandom.current();
        String path = e.getRequestURI().getPath();
        long ms = LATENCY_MS + (JITTER_MS > 0 ? random.nextInt(JITTER_MS + 1) : 0);
        if (random.nextDouble() * 100 < TAIL_PERCENT) {
            ms += TAIL_MS;
        }
        if (path.startsWith("/api/checkout")) {
            ms *= 3;
        }
        sleep(ms);
        if (random.nextDouble() * 100 < ERROR_PERCENT) {
            respond(e, 503, "{\"error\":\"unavailable\",\"cloud\":\"" + CLOUD + "\"}\n");
            return;
        }
        respond(e, 200, "{\"cloud\":\"" + CLOUD + "\",\"path\":\"" + path + "\",\"ms\":" + ms + "}\n");
    }

    private static void respond(HttpExchange e, int status, String body) throws IOException {
        byte[] bytes = body.getBytes(StandardCharsets.UTF_8);
        e.getResponseHeaders().set("Content-Type", "application/json");
        try (e; OutputStream out = e.getResponseBody()) {
            e.sendResponseHeaders(status, bytes.length);
            out.write(bytes);
        } catch (IOException clientGone) {
            // the load balancer gave up on this request: nothing to answer
        }
    }

    private static void sleep(long ms) {
        try {
            Thread.sleep(ms);
        } catch (InterruptedException interrupted) {
            Thread.currentThread().interrupt();
        }
    }

    private static int intEnv(String name, int fallback) {
        String v = System.getenv(name);
        return v == null || v.isBlank() ? fallback : Integer.parseInt(v.trim());
    }

    private static double doubleEnv(String name, double fallback) {
        String v = System.getenv(name);
        return v == null || v.isBlank() ? fallback : Double.parseDouble(v.trim());
    }
}
