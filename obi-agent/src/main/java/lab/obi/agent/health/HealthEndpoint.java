package lab.obi.agent.health;

import com.sun.net.httpserver.HttpExchange;
import com.sun.net.httpserver.HttpServer;

import java.io.IOException;
import java.io.OutputStream;
import java.net.BindException;
import java.net.InetSocketAddress;
import java.nio.charset.StandardCharsets;

/**
 * /q/health/ready and /q/health/live, in the MicroProfile Health format, served by the JDK's HTTP
 * server (the Prometheus endpoint's too): a web stack of its own for two answers would cost the
 * agent thousands of classes and its threads.
 */
public final class HealthEndpoint implements AutoCloseable {

    private final HttpServer server;

    private HealthEndpoint(HttpServer server) {
        this.server = server;
    }

    /** Listens at once; a busy port is a {@link BindException} naming it. */
    public static HealthEndpoint start(String host, int port, CaptureReadiness readiness) throws IOException {
        HttpServer server;
        try {
            server = HttpServer.create(new InetSocketAddress(host, port), 8);
        } catch (BindException e) {
            throw new BindException("the health endpoint cannot listen on " + host + ":" + port + ", it is in use"
                    + " (set obi.health.port)");
        }
        server.createContext("/q/health/live", exchange -> answer(exchange, 200, "{\"status\":\"UP\",\"checks\":[]}"));
        server.createContext("/q/health/ready", exchange -> ready(exchange, readiness.status()));
        server.start();
        return new HealthEndpoint(server);
    }

    private static void ready(HttpExchange exchange, CaptureReadiness.Status status) throws IOException {
        String state = status.up() ? "UP" : "DOWN";
        answer(exchange, status.up() ? 200 : 503, "{\"status\":\"" + state + "\",\"checks\":[{\"name\":\"capture\","
                + "\"status\":\"" + state + "\",\"data\":{\"programs_attached\":" + status.programsAttached()
                + ",\"ring_buffer_drained\":" + status.ringBufferDrained() + "}}]}");
    }

    private static void answer(HttpExchange exchange, int code, String json) throws IOException {
        byte[] body = json.getBytes(StandardCharsets.US_ASCII);
        exchange.getResponseHeaders().set("Content-Type", "application/json");
        exchange.sendResponseHeaders(code, body.length);
        try (OutputStream out = exchange.getResponseBody()) {
            out.write(body);
        }
    }

    @Override
    public void close() {
        server.stop(0);
    }
}
