package lab.obi.agent.sink.otlp.spans;

import io.opentelemetry.api.common.AttributeKey;
import io.opentelemetry.api.common.Attributes;
import io.opentelemetry.api.trace.SpanContext;
import io.opentelemetry.api.trace.SpanKind;
import io.opentelemetry.api.trace.StatusCode;
import io.opentelemetry.sdk.common.InstrumentationScopeInfo;
import io.opentelemetry.sdk.resources.Resource;
import io.opentelemetry.sdk.trace.data.EventData;
import io.opentelemetry.sdk.trace.data.StatusData;

import java.nio.ByteBuffer;
import java.util.ArrayList;
import java.util.IdentityHashMap;
import java.util.List;
import java.util.Map;

import static lab.obi.agent.sink.otlp.spans.ProtoWriter.FIXED32;
import static lab.obi.agent.sink.otlp.spans.ProtoWriter.FIXED64;
import static lab.obi.agent.sink.otlp.spans.ProtoWriter.VARINT;

/**
 * A batch of spans as an OTLP ExportTraceServiceRequest, in protocol buffers, in one pass: the same
 * bytes the SDK's exporter writes (SpanRequestEncoderTest compares them), for a fraction of its cost.
 * At saturation in the JDK benchmark (a span per request, about 20 attributes each) the SDK's
 * marshaling, which sizes every message in one walk and writes it in another through a generic
 * context, took about half of the agent's CPU. Spans are grouped by resource and scope, as the SDK
 * groups them, by identity: {@code ProcessResources} gives a process one resource instance.
 * Not thread-safe: one per export thread.
 */
final class SpanRequestEncoder {

    /* Field numbers, from opentelemetry/proto/{collector/trace,trace,resource,common}/v1/*.proto */
    private static final int REQUEST_RESOURCE_SPANS = 1;
    private static final int RESOURCE_SPANS_RESOURCE = 1;
    private static final int RESOURCE_SPANS_SCOPE_SPANS = 2;
    private static final int RESOURCE_SPANS_SCHEMA_URL = 3;
    private static final int RESOURCE_ATTRIBUTES = 1;
    private static final int SCOPE_SPANS_SCOPE = 1;
    private static final int SCOPE_SPANS_SPANS = 2;
    private static final int SCOPE_SPANS_SCHEMA_URL = 3;
    private static final int SCOPE_NAME = 1;
    private static final int SCOPE_VERSION = 2;
    private static final int SCOPE_ATTRIBUTES = 3;
    private static final int SPAN_TRACE_ID = 1;
    private static final int SPAN_SPAN_ID = 2;
    private static final int SPAN_PARENT_SPAN_ID = 4;
    private static final int SPAN_NAME = 5;
    private static final int SPAN_KIND = 6;
    private static final int SPAN_START = 7;
    private static final int SPAN_END = 8;
    private static final int SPAN_ATTRIBUTES = 9;
    private static final int SPAN_EVENTS = 11;
    private static final int SPAN_STATUS = 15;
    private static final int SPAN_FLAGS = 16;
    private static final int EVENT_TIME = 1;
    private static final int EVENT_NAME = 2;
    private static final int EVENT_ATTRIBUTES = 3;
    private static final int STATUS_MESSAGE = 2;
    private static final int STATUS_CODE = 3;
    private static final int KEY_VALUE_KEY = 1;
    private static final int KEY_VALUE_VALUE = 2;
    private static final int ANY_STRING = 1;
    private static final int ANY_BOOL = 2;
    private static final int ANY_INT = 3;
    private static final int ANY_DOUBLE = 4;
    private static final int ANY_ARRAY = 5;
    private static final int ARRAY_VALUES = 1;
    /* SpanFlags: the parent's remoteness is known, and whether it is remote */
    private static final int FLAGS_HAS_IS_REMOTE = 0x100;
    private static final int FLAGS_IS_REMOTE = 0x200;

    /** Length bytes reserved: a key-value or an event fits 1 (< 128 bytes), a span 2, a batch 3. */
    private static final int SMALL = 1;
    private static final int SPAN = 2;
    private static final int BATCH = 3;
    private static final int MAX_KEYS = 1024;

    private final ProtoWriter out = new ProtoWriter(64 * 1024);
    /** Each attribute key's field (tag, length, UTF-8), encoded once: keys are the span builders' constants. */
    private final Map<AttributeKey<?>, byte[]> keyFields = new IdentityHashMap<>();
    /** Where each ResourceSpans' content starts in out, and its length. */
    private final List<int[]> resourceSpans = new ArrayList<>();

    /** The request's bytes, as {@link #size()} and {@link #resourceSpans()} tell them, until the next call. */
    void encode(List<ExchangeSpan> spans) {
        out.reset();
        resourceSpans.clear();
        Map<Resource, Map<InstrumentationScopeInfo, List<ExchangeSpan>>> groups = new IdentityHashMap<>();
        List<Resource> order = new ArrayList<>();
        for (ExchangeSpan span : spans) {
            groups.computeIfAbsent(span.getResource(), r -> {
                order.add(r);
                return new IdentityHashMap<>();
            }).computeIfAbsent(span.getInstrumentationScopeInfo(), s -> new ArrayList<>()).add(span);
        }
        for (Resource resource : order) {
            int at = out.begin(REQUEST_RESOURCE_SPANS, BATCH);
            int r = out.begin(RESOURCE_SPANS_RESOURCE, SPAN);
            attributes(RESOURCE_ATTRIBUTES, resource.getAttributes());
            out.end(r, SPAN);
            for (Map.Entry<InstrumentationScopeInfo, List<ExchangeSpan>> scoped : groups.get(resource).entrySet()) {
                scopeSpans(scoped.getKey(), scoped.getValue());
            }
            optionalString(RESOURCE_SPANS_SCHEMA_URL, resource.getSchemaUrl());
            int start = out.end(at, BATCH);
            resourceSpans.add(new int[] {start, out.size() - start});
        }
    }

    /** The request's size in bytes. */
    int size() {
        return out.size();
    }

    /** The content of each ResourceSpans of the request (field 1, after its tag and length), in order. */
    List<ByteBuffer> resourceSpans() {
        List<ByteBuffer> contents = new ArrayList<>(resourceSpans.size());
        for (int[] r : resourceSpans) {
            contents.add(out.slice(r[0], r[1]));
        }
        return contents;
    }

    private void scopeSpans(InstrumentationScopeInfo scope, List<ExchangeSpan> spans) {
        int scopeSpans = out.begin(RESOURCE_SPANS_SCOPE_SPANS, BATCH);
        int s = out.begin(SCOPE_SPANS_SCOPE, SMALL);
        optionalString(SCOPE_NAME, scope.getName());
        optionalString(SCOPE_VERSION, scope.getVersion());
        attributes(SCOPE_ATTRIBUTES, scope.getAttributes());
        out.end(s, SMALL);
        for (ExchangeSpan span : spans) {
            span(span);
        }
        optionalString(SCOPE_SPANS_SCHEMA_URL, scope.getSchemaUrl());
        out.end(scopeSpans, BATCH);
    }

    private void span(ExchangeSpan span) {
        int at = out.begin(SCOPE_SPANS_SPANS, SPAN);
        SpanContext context = span.getSpanContext();
        out.hexBytes(SPAN_TRACE_ID, context.getTraceId());
        out.hexBytes(SPAN_SPAN_ID, context.getSpanId());
        SpanContext parent = span.getParentSpanContext();
        if (parent.isValid()) {
            out.hexBytes(SPAN_PARENT_SPAN_ID, parent.getSpanId());
        }
        optionalString(SPAN_NAME, span.getName());
        int kind = kind(span.getKind());
        if (kind != 0) {
            out.tag(SPAN_KIND, VARINT);
            out.varint32(kind);
        }
        fixed64(SPAN_START, span.getStartEpochNanos());
        fixed64(SPAN_END, span.getEndEpochNanos());
        attributes(SPAN_ATTRIBUTES, span.getAttributes());
        for (EventData event : span.getEvents()) {
            int e = out.begin(SPAN_EVENTS, SMALL);
            fixed64(EVENT_TIME, event.getEpochNanos());
            optionalString(EVENT_NAME, event.getName());
            attributes(EVENT_ATTRIBUTES, event.getAttributes());
            out.end(e, SMALL);
        }
        status(span.getStatus());
        out.tag(SPAN_FLAGS, FIXED32);
        out.fixed32((context.getTraceFlags().asByte() & 0xFF) | FLAGS_HAS_IS_REMOTE
                | (parent.isRemote() ? FLAGS_IS_REMOTE : 0));
        out.end(at, SPAN);
    }

    private void status(StatusData status) {
        int at = out.begin(SPAN_STATUS, SMALL);
        optionalString(STATUS_MESSAGE, status.getDescription());
        int code = status.getStatusCode() == StatusCode.OK ? 1 : status.getStatusCode() == StatusCode.ERROR ? 2 : 0;
        if (code != 0) {
            out.tag(STATUS_CODE, VARINT);
            out.varint32(code);
        }
        out.end(at, SMALL);
    }

    private void attributes(int field, Attributes attributes) {
        attributes.forEach((key, value) -> {
            int at = out.begin(field, SMALL);
            out.raw(keyField(key));
            int v = out.begin(KEY_VALUE_VALUE, SMALL);
            switch (key.getType()) {
                case STRING, BOOLEAN, LONG, DOUBLE -> anyValueContent(value);
                default -> {
                    int array = out.begin(ANY_ARRAY, SMALL);
                    for (Object element : (List<?>) value) {
                        int e = out.begin(ARRAY_VALUES, SMALL);
                        anyValueContent(element);
                        out.end(e, SMALL);
                    }
                    out.end(array, SMALL);
                }
            }
            out.end(v, SMALL);
            out.end(at, SMALL);
        });
    }

    /** A scalar AnyValue's one field: written even when it is the default, as a oneof's member is. */
    private void anyValueContent(Object value) {
        if (value instanceof String s) {
            optionalString(ANY_STRING, s); // the SDK leaves an empty string out
        } else if (value instanceof Boolean b) {
            out.tag(ANY_BOOL, VARINT);
            out.varint32(b ? 1 : 0);
        } else if (value instanceof Long l) {
            out.tag(ANY_INT, VARINT);
            out.varint64(l);
        } else if (value instanceof Double d) {
            out.tag(ANY_DOUBLE, FIXED64);
            out.fixed64(Double.doubleToRawLongBits(d));
        } else {
            throw new IllegalArgumentException("attribute value of " + value.getClass());
        }
    }

    private byte[] keyField(AttributeKey<?> key) {
        byte[] field = keyFields.get(key);
        if (field == null) {
            if (keyFields.size() >= MAX_KEYS) {
                keyFields.clear(); // keys made per span somewhere: do not grow with them
            }
            ProtoWriter w = new ProtoWriter(64);
            if (!key.getKey().isEmpty()) {
                w.string(KEY_VALUE_KEY, key.getKey());
            }
            field = w.toByteArray();
            keyFields.put(key, field);
        }
        return field;
    }

    private void optionalString(int field, String value) {
        if (value != null && !value.isEmpty()) {
            out.string(field, value);
        }
    }

    private void fixed64(int field, long value) {
        if (value != 0) {
            out.tag(field, FIXED64);
            out.fixed64(value);
        }
    }

    /* opentelemetry/proto/trace/v1/trace.proto's Span.SpanKind */
    private static int kind(SpanKind kind) {
        return switch (kind) {
            case INTERNAL -> 1;
            case SERVER -> 2;
            case CLIENT -> 3;
            case PRODUCER -> 4;
            case CONSUMER -> 5;
        };
    }
}
