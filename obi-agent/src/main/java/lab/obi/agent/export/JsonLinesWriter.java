package lab.obi.agent.export;

import com.fasterxml.jackson.core.JsonEncoding;
import com.fasterxml.jackson.core.JsonFactory;
import com.fasterxml.jackson.core.JsonGenerator;
import java.io.IOException;
import java.io.OutputStream;
import java.util.Locale;
import lab.obi.agent.exchange.ConnectionSummary;
import lab.obi.agent.exchange.HttpExchange;
import lab.obi.agent.exchange.LateRetransmit;
import lab.obi.agent.exchange.Observed;
import lab.obi.agent.exchange.TcpEvidence;

/**
 * Writes the request log: one JSON object per line, UTF-8, absent (null) fields omitted. "record" says
 * what a line is: "exchange" (a request and its response), "connection" (a connection at its close),
 * "late_retransmit" (a segment sent again after an exchange's line: its response's tail).
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
        json.writeStringField("record", "exchange");
        json.writeNumberField("start_unix_ns", e.startUnixNs());
        json.writeNumberField("duration_ns", e.durationNs());
        observed(e);
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

    public void write(ConnectionSummary c) throws IOException {
        json.writeStartObject();
        json.writeStringField("record", "connection");
        json.writeNumberField("start_unix_ns", c.startUnixNs());
        json.writeNumberField("duration_ns", c.durationNs());
        json.writeBooleanField("lifetime_from_established", c.lifetimeFromEstablished());
        observed(c);
        json.writeNumberField("conn_id", c.connId());
        json.writeNumberField("requests", c.requests());
        json.writeNumberField("bytes_in", c.bytesIn());
        json.writeNumberField("bytes_out", c.bytesOut());
        json.writeNumberField("retransmits", c.retransmits());
        if (c.resetSent()) {
            json.writeBooleanField("reset_sent", true);
        }
        if (c.resetReceived()) {
            json.writeBooleanField("reset_received", true);
        }
        string("closed_by", c.closedBy());
        number("rtt_us", c.rttUs());
        json.writeEndObject();
        json.writeRaw('\n');
    }

    public void write(LateRetransmit r) throws IOException {
        json.writeStartObject();
        json.writeStringField("record", "late_retransmit");
        json.writeNumberField("at_unix_ns", r.atUnixNs());
        observed(r);
        json.writeNumberField("conn_id", r.connId());
        json.writeNumberField("request_index", r.requestIndex());
        number("rtt_us", r.rttUs());
        json.writeEndObject();
        json.writeRaw('\n');
    }

    private void observed(Observed o) throws IOException {
        string("direction", o.direction() == null ? null : o.direction().name().toLowerCase(Locale.ROOT));
        json.writeNumberField("pid", o.pid());
        string("comm", o.comm());
        string("exe", o.exe());
        string("service", o.service());
        string("container_id", o.containerId());
        string("local_address", o.localAddress());
        json.writeNumberField("local_port", o.localPort());
        string("peer_address", o.peerAddress());
        json.writeNumberField("peer_port", o.peerPort());
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
