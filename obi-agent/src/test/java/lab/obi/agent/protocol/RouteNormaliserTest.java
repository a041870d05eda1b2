package lab.obi.agent.protocol;

import static org.junit.jupiter.api.Assertions.assertEquals;

import java.util.ArrayList;
import java.util.List;
import java.util.Set;
import java.util.concurrent.ConcurrentHashMap;
import java.util.concurrent.CountDownLatch;
import java.util.concurrent.ExecutorService;
import java.util.concurrent.Executors;
import java.util.concurrent.Future;
import java.util.concurrent.TimeUnit;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.CsvSource;
import org.junit.jupiter.params.provider.NullAndEmptySource;

class RouteNormaliserTest {

    @ParameterizedTest
    @CsvSource(delimiter = '|', quoteCharacter = '`', value = {
        "/ | /",
        "/health | /health",
        "/api/v1/users | /api/v1/users",
        "/api/users/ | /api/users",
        "//api///users | /api/users",
        "/users/42 | /users/{id}",
        "/users/42/orders/7 | /users/{id}/orders/{id}",
        "/users/0 | /users/{id}",
        "/items/550e8400-e29b-41d4-a716-446655440000 | /items/{id}",
        "/items/550E8400-E29B-41D4-A716-446655440000 | /items/{id}",
        "/items/12345678-1234-1234-1234-123456789012 | /items/{id}",
        "/blobs/a1b2c3d4 | /blobs/{id}",
        "/blobs/0123abcdef | /blobs/{id}",
        "/blobs/deadbeef | /blobs/deadbeef",          // hex, but no digit: a word
        "/blobs/a1b2c3d | /blobs/a1b2c3d",            // hex with a digit, but short
        "/orders/ord2024x99zz00001 | /orders/{id}",   // 16+ mixing letters and digits
        "/orders/ord2024x99zz001 | /orders/ord2024x99zz001",     // 15 characters
        "/s/AbCdEfGhIjKlMnOpQrSt | /s/{id}",          // base64url, both cases
        "/s/abc_DEF-ghi_JKL-mnopq | /s/{id}",
        "/s/eyJhbGciOiJIUzI1NiJ9 | /s/{id}",
        "/docs/getting-started-with-routes | /docs/getting-started-with-routes",
        "/docs/AbCdEfGhIjKlMnOpQrS | /docs/AbCdEfGhIjKlMnOpQrS",
        "/v2 | /v2",
        "/users/42?page=2 | /users/{id}",
        "/users/42#top | /users/{id}",
        "/users/42?page=2#top | /users/{id}",
        "/? | /",
        "/a/b/c/d/e/f/g/h | /a/b/c/d/e/f/g/h",
        "/a/b/c/d/e/f/g/h/i | /a/b/c/d/e/f/g/h/{...}",
        "/1/2/3/4/5/6/7/8/9/10 | /{id}/{id}/{id}/{id}/{id}/{id}/{id}/{id}/{...}",
        "http://example.com/users/42?x=1 | /users/{id}",
        "HTTPS://example.com:8443/a | /a",
        "http://example.com | /",
        "http://example.com?x=1 | /",
        "http://user@example.com/x | /x",
        "* | *",
        "example.com:443 | /",
        "garbage | /",
        "/caf%C3%A9/%2F | /caf%C3%A9/%2F",
    })
    void withoutQuery(String target, String route) {
        assertEquals(route, new RouteNormaliser(1000).normalise("svc", target, false));
    }

    @ParameterizedTest
    @CsvSource(delimiter = '|', value = {
        "/users/42?page=2 | /users/{id}?page=2",
        "/users/42?page=2#top | /users/{id}?page=2",
        "/search?q=a%20b&x | /search?q=a%20b&x",
        "/search? | /search?",
        "/search | /search",
        "http://example.com?x=1 | /?x=1",
        "/users/42#frag?notquery | /users/{id}",
    })
    void withQuery(String target, String route) {
        assertEquals(route, new RouteNormaliser(1000).normalise("svc", target, true));
    }

    @ParameterizedTest
    @NullAndEmptySource
    void nothingIsTheRoot(String target) {
        assertEquals("/", new RouteNormaliser(1).normalise("svc", target, false));
    }

    @Test
    void routesBeyondTheBoundOverflowPerService() {
        RouteNormaliser routes = new RouteNormaliser(2);
        assertEquals("/a", routes.normalise("svc", "/a", false));
        assertEquals("/b", routes.normalise("svc", "/b", false));
        assertEquals("/{overflow}", routes.normalise("svc", "/c", false));
        assertEquals("/a", routes.normalise("svc", "/a", false), "known routes stay");
        assertEquals("/c", routes.normalise("other", "/c", false), "each service has its own bound");
        assertEquals("/x", routes.normalise(null, "/x", false));
        assertEquals(1, routes.overflowCount());
        assertEquals("/{overflow}", routes.normalise("svc", "/c", false), "a target seen before, as it was");
        assertEquals("/{overflow}", routes.normalise("svc", "/c?q=1", true));
        assertEquals(3, routes.overflowCount(), "each request past the bound is counted");
    }

    /** A target's route, as the service got it, whatever the targets in between and the query kept or not. */
    @Test
    void aRepeatedTargetGetsTheSameRoute() {
        RouteNormaliser routes = new RouteNormaliser(2);
        for (int round = 0; round < 3; round++) {
            assertEquals("/orders/{id}", routes.normalise("svc", "/orders/1234?page=2", false));
            assertEquals("/orders/{id}?page=2", routes.normalise("svc", "/orders/1234?page=2", true));
            assertEquals("/{overflow}", routes.normalise("svc", "/cart#top", false));
            assertEquals("/cart", routes.normalise("other", "/cart#top", false));
            for (int id = 0; id < 300; id++) {
                assertEquals("/users/{id}", routes.normalise("other", "/users/" + id, false)); // beyond the cache
            }
        }
        assertEquals(3, routes.overflowCount());
    }

    @Test
    void identifiersDoNotUseUpTheBound() {
        RouteNormaliser routes = new RouteNormaliser(1);
        for (int id = 0; id < 1000; id++) {
            assertEquals("/users/{id}", routes.normalise("svc", "/users/" + id, false));
        }
        assertEquals(0, routes.overflowCount());
    }

    @Test
    void concurrentServiceNeverExceedsItsBound() throws Exception {
        int bound = 50;
        int threads = 8;
        int routesPerThread = 200;
        RouteNormaliser routes = new RouteNormaliser(bound);
        Set<String> admitted = ConcurrentHashMap.newKeySet();
        CountDownLatch start = new CountDownLatch(1);
        ExecutorService pool = Executors.newFixedThreadPool(threads);
        try {
            List<Future<?>> done = new ArrayList<>();
            for (int t = 0; t < threads; t++) {
                int thread = t;
                done.add(pool.submit(() -> {
                    start.await();
                    for (int i = 0; i < routesPerThread; i++) {
                        admitted.add(routes.normalise("svc", "/r" + ((i * threads + thread) % 300) + "x", false));
                    }
                    return null;
                }));
            }
            start.countDown();
            for (Future<?> f : done) {
                f.get(30, TimeUnit.SECONDS);
            }
        } finally {
            pool.shutdownNow();
        }
        admitted.remove("/{overflow}");
        assertEquals(bound, admitted.size());
    }
}
