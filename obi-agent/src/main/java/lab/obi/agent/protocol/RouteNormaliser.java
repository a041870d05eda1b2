package lab.obi.agent.protocol;

import java.util.Set;
import java.util.Map;
import java.util.concurrent.ConcurrentHashMap;
import java.util.concurrent.ConcurrentMap;
import java.util.concurrent.atomic.LongAdder;
import java.util.regex.Pattern;

/**
 * Turns request targets into routes: paths whose identifier segments are replaced by {@value #ID},
 * so that requests for different users, orders or sessions share one route. Routes label logs and
 * metrics, so each service gets at most a fixed number of them; later ones become {@value #OVERFLOW}.
 * Thread-safe.
 */
public final class RouteNormaliser {

    static final String ID = "{id}";
    static final String OVERFLOW = "/{overflow}";
    static final String ELIDED = "/{...}";
    static final int MAX_SEGMENTS = 8;

    private static final Pattern UUID =
            Pattern.compile("\\p{XDigit}{8}-\\p{XDigit}{4}-\\p{XDigit}{4}-\\p{XDigit}{4}-\\p{XDigit}{12}");
    private static final int UUID_LENGTH = 36;
    private static final int MAX_CACHED_PATHS = 4096;
    /** Per service: the targets a service's clients repeat are a few; the rest carry ids. */
    private static final int MAX_CACHED_TARGETS = 256;
    /** Longer targets are looked at each time: a hostile client's 8 KiB targets are not kept. */
    private static final int MAX_CACHED_TARGET_LENGTH = 256;
    /** The same few paths come again and again; normalising one splits it and inspects every segment. */
    private static final Map<String, String> NORMALISED_PATHS = new ConcurrentHashMap<>();
    private static final String HEX_DIGITS = "0123456789abcdefABCDEF";
    private static final String BASE64URL_ALPHABET =
            "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_=";

    private final int maxRoutesPerService;
    private final ConcurrentMap<String, ServiceRoutes> routesByService = new ConcurrentHashMap<>();
    private final LongAdder overflows = new LongAdder();

    /** A target's route as a service got it: admitted, or {@value #OVERFLOW} past the service's bound. */
    private record Admission(String route, boolean overflow) {
    }

    private static final Admission OVERFLOWED = new Admission(OVERFLOW, true);

    /** A service's admitted routes and, for targets whose query is not kept, what each one got. */
    private static final class ServiceRoutes {
        final Set<String> admitted = ConcurrentHashMap.newKeySet();
        /**
         * Requests repeat their targets: found by it, a request skips its target's parsing and the
         * admission (10% of the agent's samples at saturation went to them). Exact, as an admission
         * never changes: admitted routes stay, and a service that reached its bound stays there.
         */
        final Map<String, Admission> byTarget = new ConcurrentHashMap<>();
    }

    public RouteNormaliser(int maxRoutesPerService) {
        if (maxRoutesPerService < 1) {
            throw new IllegalArgumentException("maxRoutesPerService must be positive: " + maxRoutesPerService);
        }
        this.maxRoutesPerService = maxRoutesPerService;
    }

    /**
     * The route of an origin-form or absolute-form target; "*" stays "*", any other form has no path and gives "/".
     * With keepQuery the query is appended unchanged; the fragment is always dropped.
     */
    public String normalise(String service, String target, boolean keepQuery) {
        String key = service == null ? "" : service;
        ServiceRoutes routes = routesByService.get(key);
        if (routes == null) {
            routes = routesByService.computeIfAbsent(key, s -> new ServiceRoutes());
        }
        // a kept query makes most targets unique
        boolean cached = !keepQuery && target != null && target.length() <= MAX_CACHED_TARGET_LENGTH;
        Admission admission = cached ? routes.byTarget.get(target) : null;
        if (admission == null) {
            String route = route(target, keepQuery);
            admission = admit(routes.admitted, route) ? new Admission(route, false) : OVERFLOWED;
            if (cached) {
                if (routes.byTarget.size() >= MAX_CACHED_TARGETS) {
                    routes.byTarget.clear(); // targets full of ids never repeat: start over rather than grow
                }
                routes.byTarget.put(target, admission);
            }
        }
        if (admission.overflow()) {
            overflows.increment();
        }
        return admission.route();
    }

    /** How many times a route was replaced by {@value #OVERFLOW}. */
    public long overflowCount() {
        return overflows.sum();
    }

    private boolean admit(Set<String> routes, String route) {
        if (routes.contains(route)) {
            return true;
        }
        // Checking the size and adding must be one step, or racing threads would overshoot the bound.
        synchronized (routes) {
            if (routes.contains(route)) {
                return true;
            }
            if (routes.size() >= maxRoutesPerService) {
                return false;
            }
            routes.add(route);
            return true;
        }
    }

    static String route(String target, boolean keepQuery) {
        if (target == null || target.isEmpty()) {
            return "/";
        }
        if (target.equals("*")) {
            return "*";
        }
        String pathAndQuery = withoutSchemeAndAuthority(target);
        int fragment = pathAndQuery.indexOf('#');
        if (fragment >= 0) {
            pathAndQuery = pathAndQuery.substring(0, fragment);
        }
        int query = pathAndQuery.indexOf('?');
        String path = query < 0 ? pathAndQuery : pathAndQuery.substring(0, query);
        String route = NORMALISED_PATHS.get(path);
        if (route == null) {
            route = normalisedPath(path);
            if (NORMALISED_PATHS.size() >= MAX_CACHED_PATHS) {
                NORMALISED_PATHS.clear(); // paths full of ids never repeat: start over rather than grow
            }
            NORMALISED_PATHS.put(path, route);
        }
        return keepQuery && query >= 0 ? route + pathAndQuery.substring(query) : route;
    }

    private static String withoutSchemeAndAuthority(String target) {
        if (target.startsWith("/")) {
            return target;
        }
        int authorityStart;
        if (target.regionMatches(true, 0, "http://", 0, 7)) {
            authorityStart = 7;
        } else if (target.regionMatches(true, 0, "https://", 0, 8)) {
            authorityStart = 8;
        } else {
            return "";
        }
        for (int i = authorityStart; i < target.length(); i++) {
            if ("/?#".indexOf(target.charAt(i)) >= 0) {
                return target.substring(i);
            }
        }
        return "";
    }

    /** Empty segments are dropped, so "/a//b/" and "/a/b" share a route. */
    private static String normalisedPath(String path) {
        StringBuilder route = new StringBuilder();
        int segments = 0;
        for (String segment : path.split("/")) {
            if (segment.isEmpty()) {
                continue;
            }
            if (++segments > MAX_SEGMENTS) {
                return route.append(ELIDED).toString();
            }
            route.append('/').append(isIdentifier(segment) ? ID : segment);
        }
        return segments == 0 ? "/" : route.toString();
    }

    static boolean isIdentifier(String segment) {
        int length = segment.length();
        int digits = 0;
        boolean lowerCase = false;
        boolean upperCase = false;
        boolean hex = true;
        boolean base64url = true;
        for (int i = 0; i < length; i++) {
            char c = segment.charAt(i);
            digits += c >= '0' && c <= '9' ? 1 : 0;
            lowerCase |= c >= 'a' && c <= 'z';
            upperCase |= c >= 'A' && c <= 'Z';
            hex &= HEX_DIGITS.indexOf(c) >= 0;
            base64url &= BASE64URL_ALPHABET.indexOf(c) >= 0;
        }
        boolean letters = lowerCase || upperCase;
        return digits == length
                || (hex && length >= 8 && digits > 0)
                || (length >= 16 && letters && digits > 0)
                // Long kebab-case words are names, not tokens: a token needs a digit or both cases.
                || (base64url && length >= 20 && (digits > 0 || (lowerCase && upperCase)))
                || (length == UUID_LENGTH && UUID.matcher(segment).matches());
    }
}
