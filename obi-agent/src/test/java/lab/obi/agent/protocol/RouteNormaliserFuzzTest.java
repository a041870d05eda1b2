package lab.obi.agent.protocol;

import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertTrue;

import com.code_intelligence.jazzer.api.FuzzedDataProvider;
import com.code_intelligence.jazzer.junit.FuzzTest;
import java.util.HashMap;
import java.util.HashSet;
import java.util.Map;
import java.util.Set;

/** Routes label metrics: whatever the targets, a route is short, path-shaped and one of a bounded few. */
class RouteNormaliserFuzzTest {

    private static final int BOUND = 4;

    @FuzzTest
    void routes(FuzzedDataProvider data) {
        RouteNormaliser normaliser = new RouteNormaliser(BOUND);
        Map<String, Set<String>> admitted = new HashMap<>();
        while (data.remainingBytes() > 0) {
            String service = data.pickValue(new String[] {"nginx", "cloud-a", "", null});
            boolean keepQuery = data.consumeBoolean();
            String target = data.consumeString(300);
            String route = normaliser.normalise(service, target, keepQuery);
            String path = keepQuery && route.indexOf('?') >= 0 ? route.substring(0, route.indexOf('?')) : route;
            assertTrue(path.equals("*") || path.startsWith("/"), route);
            assertFalse(path.contains("?") || route.contains("#"), route);
            assertTrue(path.chars().filter(c -> c == '/').count() <= RouteNormaliser.MAX_SEGMENTS + 1, route);
            assertTrue(route.length() <= 3 * target.length() + RouteNormaliser.OVERFLOW.length(), route);
            if (!route.equals(RouteNormaliser.OVERFLOW)) {
                admitted.computeIfAbsent(String.valueOf(service), s -> new HashSet<>()).add(route);
            }
        }
        admitted.forEach((service, routes) -> assertTrue(routes.size() <= BOUND, service + ": " + routes));
    }
}
