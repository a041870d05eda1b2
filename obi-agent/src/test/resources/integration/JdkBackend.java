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
 * Usage: java JdkBackend.java PORT REQUEST_LOG. Every request is logged when it ends, as
 * "CLIENT_PORT TARGET STATUS OUTCOME": STATUS is the status line this server wrote ("-" if it wrote
 * none), OUTCOME "ok", "read-failed" (the request never arrived in full) or "write-failed EXCEPTION"
 * (what the backend saw when its client gave up).
 */
public class JdkBackend {
    /** Exchange attributes are shared with the whole context: the handler's thread remembers instead. */
    private static final ThreadLocal<Integer> STATUS_WRITTEN = new ThreadLocal<>();
    private static PrintStream requests;

    public static void main(String[] args) throws IOException {
        requests = new PrintStream(args[1], StandardCharsets.UTF_8);
        HttpServer server = HttpServer.create(new InetSocketAddress("127.0.0.1", Integer.parseInt(args[0])), 512);
        server.setExecutor(Executors.newFixedThreadPool(64));
        server.createContext("/", JdkBackend::handle);
        server.start();
        System.out.println("listening");
    }

    private static void handle(HttpExchange ex) {
        String path = ex.getRequestURI().getPath();
        Map<String, Integer> q = query(ex.getRequestURI().getRawQuery());
        STATUS_WRITTEN.remove();
        try (ex) {
            try {
                ex.getRequestBody().readAllBytes();
            } catch (IOException e) {
                log(ex, "read-failed");
                return;
            }
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
                sendHeaders(ex, 200, 0);
                OutputStream body = ex.getResponseBody();
                for (int i = 0; i < q.getOrDefault("chunks", 3); i++) {
                    body.write(("chunk " + i + "\n").getBytes(StandardCharsets.US_ASCII));
                    body.flush();
                }
            } else if (path.equals("/status")) {
                int code = q.getOrDefault("code", 200);
                if (code == 204 || code == 304) {
                    sendHeaders(ex, code, -1);
                } else {
                    send(ex, code, ("status " + code + "\n").getBytes(StandardCharsets.US_ASCII));
                }
            } else {
                send(ex, 200, "ok\n".getBytes(StandardCharsets.US_ASCII));
            }
            log(ex, "ok");
        } catch (IOException e) {
            log(ex, "write-failed " + e);
        } catch (InterruptedException e) {
            Thread.currentThread().interrupt();
        }
    }

    /** The status line and headers, flushed: once this returns, the status is on the wire. */
    private static void sendHeaders(HttpExchange ex, int code, long length) throws IOException {
        ex.sendResponseHeaders(code, length);
        STATUS_WRITTEN.set(code);
    }

    private static void log(HttpExchange ex, String outcome) {
        Integer status = STATUS_WRITTEN.get();
        synchronized (requests) {
            requests.println(ex.getRemoteAddress().getPort() + " " + ex.getRequestURI() + " "
                    + (status == null ? "-" : status) + " " + outcome);
            requests.flush();
        }
    }

    private static void send(HttpExchange ex, int code, byte[] body) throws IOException {
        boolean head = ex.getRequestMethod().equals("HEAD");
        sendHeaders(ex, code, head ? -1 : body.length);
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
