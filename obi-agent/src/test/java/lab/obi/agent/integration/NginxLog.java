package lab.obi.agent.integration;

import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;
import java.util.regex.Matcher;
import java.util.regex.Pattern;

/**
 * nginx's access log in the tests' format:
 * {@code $remote_port $connection $connection_requests $status $request_time $msec "$request" $upstream_addr $upstream_response_time}.
 */
final class NginxLog {

    record Line(int remotePort, long connection, int connectionRequests, int status, double requestTimeSeconds,
                double msec, String request, String upstreamAddress) {

        long endUnixNs() {
            return Math.round(msec * 1e9);
        }

        /** nginx also logs bytes that were no request at all (status 400, request "-" or garbage). */
        boolean isHttpRequest() {
            return request.matches("[A-Z]+ \\S+ HTTP/1\\.[01]");
        }

        String path() {
            String[] parts = request.split(" ");
            return parts.length > 1 ? parts[1] : "";
        }
    }

    private static final Pattern LINE = Pattern.compile(
            "(\\d+) (\\d+) (\\d+) (\\d{3}) (\\d+\\.\\d{3}) (\\d+\\.\\d{3}) \"(.*)\" (\\S+) (\\S+)");

    private NginxLog() {
    }

    static Line parse(String text) {
        Matcher m = LINE.matcher(text);
        if (!m.matches()) {
            throw new IllegalArgumentException("not an access log line of the obi format: " + text);
        }
        return new Line(Integer.parseInt(m.group(1)), Long.parseLong(m.group(2)), Integer.parseInt(m.group(3)),
                Integer.parseInt(m.group(4)), Double.parseDouble(m.group(5)), Double.parseDouble(m.group(6)),
                m.group(7), m.group(8));
    }

    static List<Line> read(Path file) throws IOException {
        List<Line> lines = new ArrayList<>();
        for (String text : Files.readAllLines(file)) {
            if (!text.isBlank()) {
                lines.add(parse(text));
            }
        }
        return lines;
    }
}
