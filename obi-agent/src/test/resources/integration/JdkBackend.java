import com.sun.net.httpserver.HttpExchange;
import com.sun.net.httpserver.HttpServer;

import java.io.IOException;
import java.io.InputStream;
import java.net.URL;
import java.io.OutputStream;
import java.io.PrintStream;
import java.net.InetSocketAddress;
import java.nio.charset.StandardCharsets;
import java.util.HashMap;
import java.util.Map;
import java.util.concurrent.Executors;

/**
 * The JDK backend of the integration tests (plain com.sun.net.httpserver, no SDK).
 * Usage: java JdkBackend.java PORT FAILURE_LOG. Every response write that fails is logged as
 * "write-failed PATH EXCEPTION": what the backend saw when its client gave up.
 */
public class JdkBackend {
    private static PrintStream failures;

    public static void main(String[] args) throws IOException {
        failures = new PrintStream(args[1], StandardCharsets.UTF_8);
        HttpServer server = HttpServer.create(new InetSocketAddress("127.0.0.1", Integer.parseInt(args[0])), 512);
        server.setExecutor(Executors.newFixedThreadPool(64));
        server.createContext("/", JdkBackend::handle);
        server.start();
        System.out.println("listening");
    }

    private static void handle(HttpExchange ex) {
        String path = ex.getRequestURI().getPath();
        Map<String, Integer> q = query(ex.getRequestURI().getRawQuery());
        try (ex) {
            ex.getRequestBody().readAllBytes();
            if (path.equals("/slow")) {
                Thread.sleep(q.getOrDefault("ms", 1000));
                send(ex, 200, "slow\n".getBytes(StandardCharsets.US_ASCII));
            } else if (path.equals("/proxy")) {
                // A downstream call on the handler's own thread, as thread-per-request servers make them.
                URL downstream = new URL("http://127.0.0.1:" + q.get("port") + "/fast");
                try (InputStream in = downstream.openStream()) {
                    send(ex, 200, in.readAllBytes());
                }
            } else if (path.equals("/size")) {
                send(ex, 200, new byte[q.getOrDefault("bytes", 1000)]);
            } else if (path.equals("/chunked")) {
                ex.sendResponseHeaders(200, 0);
                OutputStream body = ex.getResponseBody();
                for (int i = 0; i < q.getOrDefault("chunks", 3); i++) {
                    body.write(("chunk " + i + "\n").getBytes(StandardCharsets.US_ASCII));
                    body.flush();
                }
            } else if (path.equals("/status")) {
                int code = q.getOrDefault("code", 200);
                if (code == 204 || code == 304) {
                    ex.sendResponseHeaders(code, -1);
                } else {
                    send(ex, code, ("status " + code + "\n").getBytes(StandardCharsets.US_ASCII));
                }
            } else {
                send(ex, 200, "ok\n".getBytes(StandardCharsets.US_ASCII));
            }
        } catch (IOException e) {
            synchronized (failures) {
                failures.println("write-failed " + path + " " + e);
                failures.flush();
            }
        } catch (InterruptedException e) {
            Thread.currentThread().interrupt();
        }
    }

    private static void send(HttpExchange ex, int code, byte[] body) throws IOException {
        boolean head = ex.getRequestMethod().equals("HEAD");
        ex.sendResponseHeaders(code, head ? -1 : body.length);
        if (!head) {
            ex.getResponseBody().write(body);
        }
    }

    private static Map<String, Integer> query(String raw) {
        Map<String, Integer> values = new HashMap<>();
        if (raw != null) {
            for (String pair : raw.split("&")) {
                String[] kv = pair.split("=", 2);
                if (kv.length == 2 && kv[1].matches("\\d{1,9}")) {
                    values.put(kv[0], Integer.parseInt(kv[1]));
                }
            }
        }
        return values;
    }
}
