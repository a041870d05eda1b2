package lab.obi.agent.sink.requestlog;

import com.fasterxml.jackson.core.JsonEncoding;
import com.fasterxml.jackson.core.JsonFactory;
import com.fasterxml.jackson.core.JsonGenerator;
import com.fasterxml.jackson.core.io.SerializedString;
import java.io.IOException;
import java.io.OutputStream;
import java.util.Arrays;
import java.util.Locale;
import lab.obi.agent.process.ObservedSocket;
import lab.obi.agent.report.ConnectionSummary;
import lab.obi.agent.report.HttpExchange;
import lab.obi.agent.report.LateRetransmit;
import lab.obi.agent.report.Phase;
import lab.obi.agent.report.Phases;
import lab.obi.agent.report.ResponseAcked;
import lab.obi.agent.report.SlowCause;
import lab.obi.agent.report.TcpEvidence;

/**
 * Writes the request log: one JSON object per line, UTF-8, absent (null) fields omitted. "record" says
 * what a line is: "exchange" (a request and its response), "connection" (a connection at its close),
 * "late_retransmit" (a segment sent again after an exchange's line: its response's tail),
 * "response_acked" (a response's last byte acknowledged long after the exchange's line).
 * Output is buffered until {@link #flush()}; {@link #close()} closes the stream.
 * Not thread-safe: one writer thread owns an instance.
 */
final class JsonLinesWriter implements AutoCloseable {

    private static final JsonFactory JSON = new JsonFactory();

    private final JsonGenerator json;

    /** Every field of the log, its JSON name escaped once rather than on every line. */
    private enum Field {
        RECORD, START_UNIX_NS, DURATION_NS, CONN_ID, REQUEST_INDEX, METHOD, ROUTE, HOST, USER_AGENT, STATUS,
        TLS, ABORTED, ABORT_KIND, TIME_TO_ABANDON_NS, TRUNCATED, REQUEST_COMPLETE, BYTES_IN, BYTES_OUT, TRACEPARENT, UBER_TRACE_ID,
        PARENT_CONN_ID, PARENT_REQUEST_INDEX, LIFETIME_FROM_ESTABLISHED, REQUESTS, RETRANSMITS, RESET_SENT,
        RESET_RECEIVED, CLOSED_BY, RTT_US, AT_UNIX_NS, DIRECTION, PID, COMM, EXE, SERVICE, CONTAINER_ID,
        LOCAL_ADDRESS, LOCAL_PORT, PEER_ADDRESS, PEER_PORT, FIRST_RETRANSMIT_UNIX_NS, LAST_RETRANSMIT_UNIX_NS,
        RESET_RECEIVED_UNIX_NS, NEW_CONNECTION, CONNECTION_AGE_NS, CONNECT_NS, SYN_RETRANSMITS,
        INTERFACE_OUTAGES, INTERFACE, CAUSE, DOWN_UNIX_NS, PHASES_NS, SLOW_CAUSE, END_UNIX_NS, ACKED_UNIX_NS,
        ACK_WAIT_NS;

        final SerializedString json = new SerializedString(name().toLowerCase(Locale.ROOT));
    }

    private static final Phase[] PHASES = Phase.values();
    private static final SerializedString[] PHASE_NAMES = Arrays.stream(PHASES)
            .map(p -> new SerializedString(p.wireName())).toArray(SerializedString[]::new);


    JsonLinesWriter(OutputStream out) throws IOException {
        this.json = JSON.createGenerator(out, JsonEncoding.UTF8);
        // Lines are separated by the newline written after each object, not by Jackson's default space.
        json.setRootValueSeparator(null);
    }

    /** @param slowCause null unless the exchange was slow */
    void write(HttpExchange e, SlowCause slowCause) throws IOException {
        json.writeStartObject();
        string(Field.RECORD, "exchange");
        number(Field.START_UNIX_NS, e.startUnixNs());
        number(Field.DURATION_NS, e.durationNs());
        observed(e.socket());
        number(Field.CONN_ID, e.connId());
        number(Field.REQUEST_INDEX, e.requestIndex());
        string(Field.METHOD, e.method());
        string(Field.ROUTE, e.route());
        string(Field.HOST, e.host());
        string(Field.USER_AGENT, e.userAgent());
        if (e.status() != null) {
            number(Field.STATUS, e.status());
        }
        if (e.tls()) {
            bool(Field.TLS, true); // written only when it says something
        }
        bool(Field.ABORTED, e.aborted());
        string(Field.ABORT_KIND, e.abortKind() == null ? null : e.abortKind().wireName());
        if (e.timeToAbandonNs() != null) {
            number(Field.TIME_TO_ABANDON_NS, e.timeToAbandonNs());
        }
        bool(Field.TRUNCATED, e.truncated());
        if (!e.requestComplete()) {
            bool(Field.REQUEST_COMPLETE, false); // written only when it says something
        }
        number(Field.BYTES_IN, e.bytesIn());
        number(Field.BYTES_OUT, e.bytesOut());
        string(Field.TRACEPARENT, e.traceparent());
        string(Field.UBER_TRACE_ID, e.uberTraceId());
        writeTcp(e.tcp(), e.onNewConnection());
        writePhases(e.phases());
        string(Field.SLOW_CAUSE, slowCause == null ? null : slowCause.wireName());
        if (e.parentConnId() != null) {
            number(Field.PARENT_CONN_ID, e.parentConnId());
            number(Field.PARENT_REQUEST_INDEX, e.parentRequestIndex());
        }
        json.writeEndObject();
        json.writeRaw('\n');
    }

    void write(ConnectionSummary c) throws IOException {
        json.writeStartObject();
        string(Field.RECORD, "connection");
        number(Field.START_UNIX_NS, c.startUnixNs());
        number(Field.DURATION_NS, c.durationNs());
        bool(Field.LIFETIME_FROM_ESTABLISHED, c.lifetimeFromEstablished());
        observed(c.socket());
        number(Field.CONN_ID, c.connId());
        number(Field.REQUESTS, c.requests());
        number(Field.BYTES_IN, c.bytesIn());
        number(Field.BYTES_OUT, c.bytesOut());
        number(Field.RETRANSMITS, c.retransmits());
        if (c.resetSent()) {
            bool(Field.RESET_SENT, true);
        }
        if (c.resetReceived()) {
            bool(Field.RESET_RECEIVED, true);
        }
        string(Field.CLOSED_BY, c.closedBy());
        optionalNumber(Field.RTT_US, c.rttUs());
        json.writeEndObject();
        json.writeRaw('\n');
    }

    void write(LateRetransmit r) throws IOException {
        json.writeStartObject();
        string(Field.RECORD, "late_retransmit");
        number(Field.AT_UNIX_NS, r.atUnixNs());
        observed(r.socket());
        number(Field.CONN_ID, r.connId());
        number(Field.REQUEST_INDEX, r.requestIndex());
        optionalNumber(Field.RTT_US, r.rttUs());
        json.writeEndObject();
        json.writeRaw('\n');
    }

    /** @param slowCause null unless the wait for the ACK made the request slow */
    void write(ResponseAcked a, SlowCause slowCause) throws IOException {
        json.writeStartObject();
        string(Field.RECORD, "response_acked");
        number(Field.END_UNIX_NS, a.endUnixNs());
        number(Field.ACKED_UNIX_NS, a.ackedUnixNs());
        number(Field.ACK_WAIT_NS, a.ackWaitNs());
        observed(a.socket());
        number(Field.CONN_ID, a.connId());
        number(Field.REQUEST_INDEX, a.requestIndex());
        number(Field.RETRANSMITS, a.retransmits());
        optionalNumber(Field.RTT_US, a.rttUs());
        string(Field.SLOW_CAUSE, slowCause == null ? null : slowCause.wireName());
        json.writeEndObject();
        json.writeRaw('\n');
    }

    private void writePhases(Phases p) throws IOException {
        json.writeFieldName(Field.PHASES_NS.json);
        json.writeStartObject();
        for (Phase phase : PHASES) {
            Long ns = p.ns(phase);
            if (ns != null) {
                json.writeFieldName(PHASE_NAMES[phase.ordinal()]);
                json.writeNumber(ns.longValue());
            }
        }
        json.writeEndObject();
    }

    private void observed(ObservedSocket o) throws IOException {
        string(Field.DIRECTION, o.direction() == null ? null : o.direction().name().toLowerCase(Locale.ROOT));
        number(Field.PID, o.pid());
        string(Field.COMM, o.comm());
        string(Field.EXE, o.exe());
        string(Field.SERVICE, o.service());
        string(Field.CONTAINER_ID, o.containerId());
        string(Field.LOCAL_ADDRESS, o.localAddress());
        number(Field.LOCAL_PORT, o.localPort());
        string(Field.PEER_ADDRESS, o.peerAddress());
        number(Field.PEER_PORT, o.peerPort());
    }

    private void writeTcp(TcpEvidence t, boolean newConnection) throws IOException {
        number(Field.RETRANSMITS, t.retransmits());
        optionalNumber(Field.FIRST_RETRANSMIT_UNIX_NS, t.firstRetransmitUnixNs());
        optionalNumber(Field.LAST_RETRANSMIT_UNIX_NS, t.lastRetransmitUnixNs());
        if (t.resetSent()) {
            bool(Field.RESET_SENT, true);
        }
        if (t.resetReceived()) {
            bool(Field.RESET_RECEIVED, true);
        }
        optionalNumber(Field.RESET_RECEIVED_UNIX_NS, t.resetReceivedUnixNs());
        optionalNumber(Field.RTT_US, t.rttUs());
        bool(Field.NEW_CONNECTION, newConnection);
        optionalNumber(Field.CONNECTION_AGE_NS, t.connectionAgeNs());
        optionalNumber(Field.CONNECT_NS, t.connectNs());
        optionalNumber(Field.SYN_RETRANSMITS, t.synRetransmits());
        if (!t.interfaceOutages().isEmpty()) {
            json.writeFieldName(Field.INTERFACE_OUTAGES.json);
            json.writeStartArray();
            for (TcpEvidence.Outage o : t.interfaceOutages()) {
                json.writeStartObject();
                string(Field.INTERFACE, o.interfaceName());
                string(Field.CAUSE, o.cause());
                number(Field.DOWN_UNIX_NS, o.downUnixNs());
                optionalNumber(Field.DURATION_NS, o.durationNs());
                json.writeEndObject();
            }
            json.writeEndArray();
        }
    }

    private void optionalNumber(Field name, Number value) throws IOException {
        if (value != null) {
            number(name, value.longValue());
        }
    }

    private void number(Field name, long value) throws IOException {
        json.writeFieldName(name.json);
        json.writeNumber(value);
    }

    private void bool(Field name, boolean value) throws IOException {
        json.writeFieldName(name.json);
        json.writeBoolean(value);
    }

    void flush() throws IOException {
        json.flush();
    }

    @Override
    public void close() throws IOException {
        json.close();
    }

    private void string(Field name, String value) throws IOException {
        if (value != null) {
            json.writeFieldName(name.json);
            json.writeString(value);
        }
    }
}
