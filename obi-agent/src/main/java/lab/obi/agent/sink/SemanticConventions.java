package lab.obi.agent.sink;

import io.opentelemetry.api.common.AttributeKey;
import lab.obi.agent.process.ObservedSocket.Direction;
import lab.obi.agent.report.HttpExchange;

/**
 * What metrics and spans name alike: OpenTelemetry semantic-convention keys, obi.* ones where the
 * conventions have none, and the conventions' rule for error.type.
 */
public final class SemanticConventions {

    public static final AttributeKey<String> METHOD = AttributeKey.stringKey("http.request.method");
    public static final AttributeKey<Long> STATUS = AttributeKey.longKey("http.response.status_code");
    public static final AttributeKey<String> ROUTE = AttributeKey.stringKey("http.route");
    public static final AttributeKey<String> SERVER_ADDRESS = AttributeKey.stringKey("server.address");
    public static final AttributeKey<Long> SERVER_PORT = AttributeKey.longKey("server.port");
    public static final AttributeKey<String> CLIENT_ADDRESS = AttributeKey.stringKey("client.address");
    public static final AttributeKey<String> ERROR_TYPE = AttributeKey.stringKey("error.type");
    public static final AttributeKey<String> URL_SCHEME = AttributeKey.stringKey("url.scheme");
    public static final AttributeKey<String> PROTOCOL_VERSION = AttributeKey.stringKey("network.protocol.version");
    public static final AttributeKey<String> ABORT_KIND = AttributeKey.stringKey("obi.abort.kind");
    public static final AttributeKey<String> INTERFACE = AttributeKey.stringKey("network.interface.name");
    public static final AttributeKey<String> INTERFACE_CAUSE = AttributeKey.stringKey("obi.network.interface.cause");

    private SemanticConventions() {
    }

    /** https for an exchange read through OpenSSL, else http. */
    public static String scheme(HttpExchange e) {
        return e.tls() ? "https" : "http";
    }

    /** The abort kind for abandoned requests; else, as the conventions say, the 5xx (server) or 4xx/5xx (client) code. */
    public static String errorType(HttpExchange e) {
        if (e.aborted() && e.abortKind() != null) {
            return e.abortKind().wireName();
        }
        boolean server = e.socket().direction() == Direction.SERVER;
        if (e.status() != null && (e.status() >= 500 || (!server && e.status() >= 400))) {
            return Integer.toString(e.status());
        }
        return null;
    }
}
