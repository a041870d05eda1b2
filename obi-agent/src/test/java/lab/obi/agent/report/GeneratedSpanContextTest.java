package lab.obi.agent.report;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertNotEquals;
import static org.junit.jupiter.api.Assertions.assertSame;
import static org.junit.jupiter.api.Assertions.assertTrue;

import io.opentelemetry.api.trace.SpanContext;
import io.opentelemetry.api.trace.SpanId;
import io.opentelemetry.api.trace.TraceId;
import org.junit.jupiter.api.Test;

class GeneratedSpanContextTest {

    @Test
    void aNewTraceHasValidSampledLocalIdsThatReadTheSameEachTime() {
        SpanContext span = GeneratedSpanContext.newTrace();
        assertTrue(TraceId.isValid(span.getTraceId()), span.getTraceId());
        assertTrue(SpanId.isValid(span.getSpanId()), span.getSpanId());
        assertTrue(span.isValid());
        assertTrue(span.isSampled());
        assertFalse(span.isRemote());
        assertSame(span.getTraceId(), span.getTraceId(), "written out once");
        assertEquals(span.getSpanId(), span.getSpanId());
        assertEquals(span.getTraceId(), SpanContext.create(span.getTraceId(), span.getSpanId(), span.getTraceFlags(),
                span.getTraceState()).getTraceId());
    }

    @Test
    void everySpanHasIdsOfItsOwn() {
        SpanContext a = GeneratedSpanContext.newTrace();
        SpanContext b = GeneratedSpanContext.newTrace();
        assertNotEquals(a.getTraceId(), b.getTraceId());
        assertNotEquals(a.getSpanId(), b.getSpanId());
    }

    @Test
    void aSpanInAKnownTraceKeepsItsTraceIdAndAnInvalidOneGivesAnInvalidSpan() {
        SpanContext child = GeneratedSpanContext.inTrace("4bf92f3577b34da6a3ce929d0e0e4736");
        assertEquals("4bf92f3577b34da6a3ce929d0e0e4736", child.getTraceId());
        assertTrue(SpanId.isValid(child.getSpanId()));
        assertFalse(GeneratedSpanContext.inTrace(TraceId.getInvalid()).isValid());
        assertFalse(GeneratedSpanContext.inTrace("not a trace id").isValid());
    }
}
