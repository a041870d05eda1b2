package lab.obi.agent.integration;

import com.fasterxml.jackson.databind.ObjectMapper;
import com.fasterxml.jackson.databind.SerializationFeature;

import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;

/**
 * What a reliability test measured, for docs/reliability.md: each test writes its rows to
 * target/reliability/&lt;test&gt;.json as it goes, and bench/reliability/ turns them into the report's
 * tables. A row is written once its assertion passed, so the report shows only what held.
 */
final class ReliabilityFigures {

    /** One check: the scenario, what was checked, the figure measured and the bound it was held to. */
    record Row(String scenario, String check, String measured, String bound) {
    }

    private static final ObjectMapper JSON = new ObjectMapper().enable(SerializationFeature.INDENT_OUTPUT);

    private final Path file;
    private final List<Row> rows = new ArrayList<>();

    ReliabilityFigures(String test) {
        this.file = Path.of(System.getProperty("obi.reliability.dir", "target/reliability")).resolve(test + ".json");
    }

    /** Adds a row and rewrites the file, so a later failure keeps what was shown before it. */
    synchronized void add(String scenario, String check, String measured, String bound) throws IOException {
        rows.add(new Row(scenario, check, measured, bound));
        Files.createDirectories(file.getParent());
        JSON.writeValue(file.toFile(), rows);
    }

    /** Starts the file afresh: the figures of an earlier run are not this run's. */
    void clear() throws IOException {
        rows.clear();
        Files.deleteIfExists(file);
    }
}
