package lab.obi.agent.telemetry;

import io.opentelemetry.api.trace.SpanContext;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.CsvSource;

import java.util.Optional;

import static org.junit.jupiter.api.Assertions.*;

class TraceContextTest {

    @ParameterizedTest
    @CsvSource(nullValues = "null", value = {
            // traceparent, uber-trace-id, expected trace id, expected parent span id, sampled
            "00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01, null, 4bf92f3577b34da6a3ce929d0e0e4736, 00f067aa0ba902b7, true",
            "00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-00, null, 4bf92f3577b34da6a3ce929d0e0e4736, 00f067aa0ba902b7, false",
            "null, abc:def:0:1, 00000000000000000000000000000abc, 0000000000000def, true",
            "null, 4bf92f3577b34da6a3ce929d0e0e4736:00f067aa0ba902b7:0:0, 4bf92f3577b34da6a3ce929d0e0e4736, 00f067aa0ba902b7, false",
            "00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01, abc:def:0:1, 4bf92f3577b34da6a3ce929d0e0e4736, 00f067aa0ba902b7, true",
    })
    void parentFromHeaders(String traceparent, String uber, String traceId, String spanId, boolean sampled) {
        SpanContext parent = TraceContext.parent(traceparent, uber).orElseThrow();
        assertEquals(traceId, parent.getTraceId());
        assertEquals(spanId, parent.getSpanId());
        assertEquals(sampled, parent.isSampled());
        assertTrue(parent.isRemote());
    }

    @ParameterizedTest
    @CsvSource(nullValues = "null", value = {
            "null, null",
            "00-00000000000000000000000000000000-00f067aa0ba902b7-01, null",
            "garbage, null",
            "null, 0:def:0:1",
            "null, abc:def:0",
    })
    void noParentWithoutAValidHeader(String traceparent, String uber) {
        assertEquals(Optional.empty(), TraceContext.parent(traceparent, uber));
    }
}
