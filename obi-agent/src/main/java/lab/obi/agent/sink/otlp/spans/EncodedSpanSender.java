package lab.obi.agent.sink.otlp.spans;

import io.opentelemetry.exporter.internal.marshal.Marshaler;
import io.opentelemetry.exporter.internal.marshal.ProtoFieldInfo;
import io.opentelemetry.exporter.internal.marshal.Serializer;
import io.opentelemetry.exporter.otlp.http.trace.OtlpHttpSpanExporter;
import io.opentelemetry.exporter.otlp.trace.OtlpGrpcSpanExporter;
import io.opentelemetry.sdk.common.CompletableResultCode;
import io.opentelemetry.sdk.trace.data.SpanData;
import io.opentelemetry.sdk.trace.export.SpanExporter;
import org.jboss.logging.Logger;

import java.io.IOException;
import java.lang.reflect.Field;
import java.lang.reflect.InvocationTargetException;
import java.lang.reflect.Method;
import java.nio.ByteBuffer;
import java.util.Collections;
import java.util.List;
import java.util.Objects;
import java.util.Queue;
import java.util.concurrent.ConcurrentLinkedQueue;
import java.util.function.Function;

/**
 * Sends a batch of spans through an OTLP exporter the SDK built from the environment (endpoint,
 * protocol, headers, TLS, timeout, compression, retries: all its own), with the request's bytes
 * written by {@link SpanRequestEncoder} instead of the SDK's marshaler. The SDK offers no public way
 * to hand its transport an encoded request: the exporter's transport is its private field
 * {@code delegate} (a GrpcExporter or an HttpExporter, both with {@code export(Marshaler, int)}),
 * read once at start. Any other exporter (a test's) is given the spans as they are.
 */
final class EncodedSpanSender {

    private static final Logger LOG = Logger.getLogger(EncodedSpanSender.class);

    private EncodedSpanSender() {
    }

    /** How one export thread sends a batch through the exporter. */
    static Function<List<ExchangeSpan>, CompletableResultCode> of(SpanExporter exporter) {
        Function<List<ExchangeSpan>, CompletableResultCode> asSpanData =
                batch -> exporter.export(Collections.<SpanData>unmodifiableList(batch));
        if (!(exporter instanceof OtlpGrpcSpanExporter) && !(exporter instanceof OtlpHttpSpanExporter)) {
            return asSpanData;
        }
        Object transport;
        Method export;
        try {
            Field delegate = exporter.getClass().getDeclaredField("delegate");
            delegate.setAccessible(true);
            transport = delegate.get(exporter);
            export = transport.getClass().getMethod("export", Marshaler.class, int.class);
        } catch (ReflectiveOperationException | RuntimeException e) {
            LOG.warnf("spans are encoded by the SDK, at a higher CPU cost: its exporter's transport is not where"
                    + " this agent was built to find it (%s)", e.toString());
            return asSpanData;
        }
        Queue<SpanRequestEncoder> idle = new ConcurrentLinkedQueue<>();
        return batch -> {
            SpanRequestEncoder encoder = Objects.requireNonNullElseGet(idle.poll(), SpanRequestEncoder::new);
            encoder.encode(batch);
            CompletableResultCode result;
            try {
                result = (CompletableResultCode) export.invoke(transport, new EncodedRequest(encoder), batch.size());
            } catch (IllegalAccessException | InvocationTargetException e) {
                return CompletableResultCode.ofExceptionalFailure(e instanceof InvocationTargetException t ? t.getCause() : e);
            }
            // a request given up on (timeout) may still be read from its buffer: that encoder is left to the GC
            result.whenComplete(() -> {
                if (result.isSuccess()) {
                    idle.offer(encoder);
                }
            });
            return result;
        };
    }

    /**
     * An encoded request, written from the encoder's buffer without a copy: each ResourceSpans as the
     * request's field 1. The buffers are reused: a request's bytes copied out per batch (hundreds of
     * kilobytes) outlived young collections while in flight and doubled the agent's GC time.
     */
    static final class EncodedRequest extends Marshaler {

        private static final ProtoFieldInfo RESOURCE_SPANS = ProtoFieldInfo.create(1, 10, "resourceSpans");

        private final SpanRequestEncoder encoder;

        EncodedRequest(SpanRequestEncoder encoder) {
            this.encoder = encoder;
        }

        @Override
        public int getBinarySerializedSize() {
            return encoder.size();
        }

        @Override
        protected void writeTo(Serializer output) throws IOException {
            for (ByteBuffer content : encoder.resourceSpans()) {
                output.serializeByteBuffer(RESOURCE_SPANS, content);
            }
        }
    }
}
