package lab.obi.agent.export;

import com.fasterxml.jackson.core.JsonEncoding;
import com.fasterxml.jackson.core.JsonFactory;
import com.fasterxml.jackson.core.JsonGenerator;
import java.io.IOException;
import java.io.OutputStream;
import java.util.Locale;
import lab.obi.agent.exchange.HttpExchange;
import lab.obi.agent.exchange.TcpEvidence;

/**
 * Writes the request log: one JSON object per exchange and per line, UTF-8, absent (null) fields omitted.
 * Output is buffered until {@link #flush()}; {@link #close()} closes the stream.
 * Not thread-safe: one writer thread owns an instance.
 */
public final class JsonLinesWriter implements AutoCloseable {

    private static final JsonFactory JSON = new JsonFactory();

    private final JsonGenerator json;

    public JsonLinesWriter(OutputStream out) throws IOException {
        this.json = JSON.createGenerator(out, JsonEncoding.UTF8);
        // Lines are separated by the newline written after each object, not by Jackson's default space.
        json.setRootValueSeparator(null);
    }

    public void write(HttpExchange e) throws IOException {
        json.writeStartObject();
        json.writeNumberField("start_unix_ns", e.startUnixNs());
        json.writeNumberField("duration_ns", e.durationNs());
        string("direction", e.direction() == null ? null : e.direction().name().toLowerCase(Locale.ROOT));
        json.writeNumberField("pid", e.pid());
        string("comm", e.comm());
        string("exe", e.exe());
        string("service", e.service());
        string("container_id", e.containerId());
        string("local_address", e.localAddress());
        json.writeNumberField("local_port", e.localPort());
        string("peer_address", e.peerAddress());
        json.writeNumberField("peer_port", e.peerPort());
        json.writeNumberField("conn_id", e.connId());
        json.writeNumberField("request_index", e.requestIndex());
        string("method", e.method());
        string("route", e.route());
        string("host", e.host());
        string("user_agent", e.userAgent());
        if (e.status() != null) {
            json.writeNumberField("status", e.status());
        }
        json.writeBooleanField("aborted", e.aborted());
        string("abort_kind", e.abortKind() == null ? null : e.abortKind().wireName());
        if (e.timeToAbandonNs() != null) {
            json.writeNumberField("time_to_abandon_ns", e.timeToAbandonNs());
        }
        json.writeBooleanField("truncated", e.truncated());
        json.writeNumberField("bytes_in", e.bytesIn());
        json.writeNumberField("bytes_out", e.bytesOut());
        string("traceparent", e.traceparent());
        string("uber_trace_id", e.uberTraceId());
        writeTcp(e.tcp(), e.requestIndex());
        if (e.parentConnId() != null) {
            json.writeNumberField("parent_conn_id", e.parentConnId());
            json.writeNumberField("parent_request_index", e.parentRequestIndex());
        }
        json.writeEndObject();
        json.writeRaw('\n');
    }

    private void writeTcp(TcpEvidence t, int requestIndex) throws IOException {
        json.writeNumberField("retransmits", t.retransmits());
        number("first_retransmit_unix_ns", t.firstRetransmitUnixNs());
        number("last_retransmit_unix_ns", t.lastRetransmitUnixNs());
        if (t.resetSent()) {
            json.writeBooleanField("reset_sent", true);
        }
        if (t.resetReceived()) {
            json.writeBooleanField("reset_received", true);
        }
        number("reset_received_unix_ns", t.resetReceivedUnixNs());
        number("rtt_us", t.rttUs());
        json.writeBooleanField("new_connection", requestIndex == 1);
        number("connection_age_ns", t.connectionAgeNs());
        number("connect_ns", t.connectNs());
        number("syn_retransmits", t.synRetransmits());
        if (!t.interfaceOutages().isEmpty()) {
            json.writeArrayFieldStart("interface_outages");
            for (TcpEvidence.Outage o : t.interfaceOutages()) {
                json.writeStartObject();
                string("interface", o.interfaceName());
                string("cause", o.cause());
                json.writeNumberField("down_unix_ns", o.downUnixNs());
                number("duration_ns", o.durationNs());
                json.writeEndObject();
            }
            json.writeEndArray();
        }
    }

    private void number(String name, Number value) throws IOException {
        if (value != null) {
            json.writeNumberField(name, value.longValue());
        }
    }

    public void flush() throws IOException {
        json.flush();
    }

    @Override
    public void close() throws IOException {
        json.close();
    }

    private void string(String name, String value) throws IOException {
        if (value != null) {
            json.writeStringField(name, value);
        }
    }
}
