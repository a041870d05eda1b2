package lab.obi.agent.capture;

import java.nio.ByteBuffer;
import static org.junit.jupiter.api.Assertions.assertTrue;

import com.code_intelligence.jazzer.junit.FuzzTest;
import java.util.Optional;
import lab.obi.agent.contract.ExchangeRecordLayout;

/** Ring-buffer bytes of any length and content: a record or nothing, its heads within the bytes. */
class RecordDecoderFuzzTest {

    @FuzzTest
    void decode(byte[] bytes) {
        Optional<KernelRecord> record = RecordDecoder.decode(ByteBuffer.wrap(bytes));
        if (record.orElse(null) instanceof ExchangeRecord exchange) {
            assertTrue(exchange.requestHead().length <= bytes.length - ExchangeRecordLayout.REQ_HEAD);
            assertTrue(exchange.responseHead().length <= ExchangeRecordLayout.RESP_HEAD_LENGTH);
            assertTrue(exchange.owner().comm().length() <= 16);
        }
    }
}
