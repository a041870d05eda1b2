package lab.obi.agent.integration;

import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.ObjectMapper;

import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;

/** The agent's request log, by what each line is ("record": exchange, connection, late_retransmit, response_acked). */
record RequestLog(List<JsonNode> exchanges, List<JsonNode> connections, List<JsonNode> lateRetransmits,
                  List<JsonNode> responseAcks) {

    static RequestLog read(Path file) throws IOException {
        ObjectMapper json = new ObjectMapper();
        RequestLog log = new RequestLog(new ArrayList<>(), new ArrayList<>(), new ArrayList<>(), new ArrayList<>());
        for (String line : Files.readAllLines(file)) {
            JsonNode record = json.readTree(line);
            switch (record.path("record").asText()) {
                case "exchange" -> log.exchanges.add(record);
                case "connection" -> log.connections.add(record);
                case "late_retransmit" -> log.lateRetransmits.add(record);
                case "response_acked" -> log.responseAcks.add(record);
                default -> throw new IllegalStateException("a request-log line of no known kind: " + line);
            }
        }
        return log;
    }
}
