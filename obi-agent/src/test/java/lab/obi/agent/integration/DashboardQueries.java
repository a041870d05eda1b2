package lab.obi.agent.integration;

import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.ObjectMapper;
import com.fasterxml.jackson.dataformat.yaml.YAMLMapper;

import java.io.IOException;
import java.net.URI;
import java.net.URLEncoder;
import java.net.http.HttpClient;
import java.net.http.HttpRequest;
import java.net.http.HttpResponse;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Duration;
import java.util.ArrayList;
import java.util.List;
import java.util.Map;
import java.util.Set;
import java.util.TreeMap;
import java.util.TreeSet;
import java.util.stream.Stream;

/**
 * Runs every query of the Grafana dashboards in grafana/dashboards against a Prometheus, the way
 * Grafana would fill in its variables: Grafana itself cannot be installed here, its queries can run.
 */
final class DashboardQueries {

    /** What came back empty, one line per query naming dashboard and panel, and how many queries ran. */
    record Result(List<String> empty, int queries) {
    }

    private final Path dashboards;
    private final String prometheus;
    private final int scrapeSeconds;
    private final HttpClient http = HttpClient.newHttpClient();
    private final ObjectMapper json = new ObjectMapper();

    /** @param prometheus base URL, e.g. http://127.0.0.1:9090 */
    DashboardQueries(Path repo, String prometheus, int scrapeSeconds) {
        this.dashboards = repo.resolve("grafana/dashboards");
        this.prometheus = prometheus;
        this.scrapeSeconds = scrapeSeconds;
    }

    List<Path> files() throws IOException {
        try (Stream<Path> files = Files.list(dashboards)) {
            return files.filter(f -> f.toString().endsWith(".json")).sorted().toList();
        }
    }

    /**
     * Datasource uids the dashboards use that grafana/provisioning does not define, per dashboard file;
     * empty when every reference resolves.
     */
    List<String> unprovisionedDatasources() throws IOException {
        JsonNode provisioning = new YAMLMapper().readTree(dashboards.resolveSibling("provisioning/datasources/obi.yaml")
                .toFile());
        Set<String> provisioned = new TreeSet<>();
        provisioning.path("datasources").forEach(d -> provisioned.add(d.path("uid").asText()));
        List<String> missing = new ArrayList<>();
        provisioning.path("datasources").forEach(d -> d.path("jsonData").path("exemplarTraceIdDestinations")
                .forEach(e -> {
                    if (!provisioned.contains(e.path("datasourceUid").asText())) {
                        missing.add("provisioning: exemplar link to " + e.path("datasourceUid").asText());
                    }
                }));
        for (Path file : files()) {
            Set<String> used = new TreeSet<>();
            collectUids(json.readTree(file.toFile()), used);
            used.remove("-- Grafana --");
            used.removeAll(provisioned);
            used.forEach(uid -> missing.add(file.getFileName() + ": datasource uid " + uid + " (provisioned: "
                    + provisioned + ")"));
        }
        return missing;
    }

    private static void collectUids(JsonNode node, Set<String> uids) {
        if (node.isObject()) {
            JsonNode datasource = node.path("datasource");
            if (datasource.isObject() && datasource.has("uid")) {
                uids.add(datasource.path("uid").asText());
            }
            node.forEach(child -> collectUids(child, uids));
        } else if (node.isArray()) {
            node.forEach(child -> collectUids(child, uids));
        }
    }

    /** Every panel target and every annotation query, over [startSeconds, endSeconds]. */
    Result run(long startSeconds, long endSeconds) throws Exception {
        List<String> empty = new ArrayList<>();
        int queries = 0;
        for (Path file : files()) {
            JsonNode dashboard = json.readTree(file.toFile());
            String name = dashboard.path("title").asText();
            for (JsonNode panel : dashboard.path("panels")) {
                for (JsonNode target : panel.path("targets")) {
                    queries++;
                    String expr = target.path("expr").asText();
                    if (rangeQuery(expr, startSeconds, endSeconds).isEmpty()) {
                        empty.add(name + " / " + panel.path("title").asText() + " [" + target.path("refId").asText()
                                + "]: " + expr);
                    }
                }
            }
            for (JsonNode annotation : dashboard.path("annotations").path("list")) {
                if (annotation.has("expr")) {
                    queries++;
                    if (rangeQuery(annotation.path("expr").asText(), startSeconds, endSeconds).isEmpty()) {
                        empty.add(name + " / annotation " + annotation.path("name").asText() + ": "
                                + annotation.path("expr").asText());
                    }
                }
            }
        }
        return new Result(empty, queries);
    }

    /** The series a panel would get, with Grafana's variables as it fills them in ($service: All). */
    JsonNode rangeQuery(String expr, long startSeconds, long endSeconds) throws Exception {
        String query = expr.replace("$__rate_interval", (4 * scrapeSeconds) + "s")
                .replace("$__range", (endSeconds - startSeconds) + "s")
                .replace("$__interval", scrapeSeconds + "s")
                .replace("$service", ".*");
        HttpResponse<String> response = get("/api/v1/query_range?query=" + URLEncoder.encode(query, StandardCharsets.UTF_8)
                + "&start=" + startSeconds + "&end=" + endSeconds + "&step=" + scrapeSeconds);
        JsonNode body = json.readTree(response.body());
        if (!"success".equals(body.path("status").asText())) {
            throw new IllegalStateException(query + " -> " + response.body());
        }
        return body.path("data").path("result");
    }

    /** The first query of the panel whose title starts with {@code titlePrefix}, in any dashboard. */
    String panelQuery(String titlePrefix) throws IOException {
        for (Path file : files()) {
            for (JsonNode panel : json.readTree(file.toFile()).path("panels")) {
                if (panel.path("title").asText().startsWith(titlePrefix)) {
                    return panel.path("targets").get(0).path("expr").asText();
                }
            }
        }
        throw new IllegalArgumentException("no panel titled " + titlePrefix + "... in " + dashboards);
    }

    /** A table panel's rows: its first query, instant, with Grafana's variables filled in ($service: All). */
    List<SlowRow> slowRequests(double atSeconds) throws Exception {
        String promql = panelQuery("Slowest requests of the last 15 minutes").replace("$service", ".*");
        JsonNode result = json.readTree(get("/api/v1/query?query=" + URLEncoder.encode(promql, StandardCharsets.UTF_8)
                + "&time=" + atSeconds).body()).path("data").path("result");
        List<SlowRow> rows = new ArrayList<>();
        result.forEach(r -> rows.add(new SlowRow(r.path("metric").path("service_name").asText(),
                r.path("metric").path("http_route").asText(), r.path("metric").path("obi_slow_cause").asText(),
                Double.parseDouble(r.path("value").get(1).asText()))));
        return rows;
    }

    /** A row of the table "Slowest requests of the last 15 minutes and why". */
    record SlowRow(String service, String route, String cause, double requests) {
    }

    /** Slow requests by cause, of the rows that {@code which} keeps. */
    static Map<String, Double> byCause(List<SlowRow> rows, java.util.function.Predicate<SlowRow> which) {
        Map<String, Double> causes = new TreeMap<>();
        rows.stream().filter(which).forEach(r -> causes.merge(r.cause(), r.requests(), Double::sum));
        return causes;
    }

    /** An instant query's samples by the value of one label. */
    Map<String, Double> byLabel(String promql, double atSeconds, String label) throws Exception {
        JsonNode result = json.readTree(get("/api/v1/query?query=" + URLEncoder.encode(promql, StandardCharsets.UTF_8)
                + "&time=" + atSeconds).body()).path("data").path("result");
        Map<String, Double> values = new TreeMap<>();
        result.forEach(r -> values.put(r.path("metric").path(label).asText(),
                Double.parseDouble(r.path("value").get(1).asText())));
        return values;
    }

    /** By the value of one label: the query's value at {@code to} less its value at {@code from} (0 if absent). */
    Map<String, Double> difference(String promql, double from, double to, String label) throws Exception {
        Map<String, Double> before = byLabel(promql, from, label);
        Map<String, Double> after = byLabel(promql, to, label);
        Map<String, Double> difference = new TreeMap<>();
        after.forEach((key, value) -> difference.put(key, value - before.getOrDefault(key, 0.0)));
        return difference;
    }

    /** When a series was sampled (its scrapes), in the {@code rangeSeconds} up to {@code atSeconds}, oldest first. */
    List<Double> sampleTimes(String selector, long atSeconds, long rangeSeconds) throws Exception {
        JsonNode result = json.readTree(get("/api/v1/query?query=" + URLEncoder.encode(selector + "[" + rangeSeconds
                + "s]", StandardCharsets.UTF_8) + "&time=" + atSeconds).body()).path("data").path("result");
        List<Double> times = new ArrayList<>();
        result.get(0).path("values").forEach(v -> times.add(v.get(0).asDouble()));
        return times;
    }

    /** The value of an instant query that sums to one sample; 0 when it returns nothing. */
    double value(String promql, long atSeconds) throws Exception {
        JsonNode result = json.readTree(get("/api/v1/query?query=" + URLEncoder.encode(promql, StandardCharsets.UTF_8)
                + "&time=" + atSeconds).body()).path("data").path("result");
        return result.isEmpty() ? 0 : Double.parseDouble(result.get(0).path("value").get(1).asText());
    }

    private HttpResponse<String> get(String pathAndQuery) throws Exception {
        return http.send(HttpRequest.newBuilder(URI.create(prometheus + pathAndQuery)).timeout(Duration.ofSeconds(20))
                .build(), HttpResponse.BodyHandlers.ofString());
    }
}
