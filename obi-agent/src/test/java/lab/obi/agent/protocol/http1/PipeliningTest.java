package lab.obi.agent.protocol.http1;

import static java.nio.charset.StandardCharsets.ISO_8859_1;
import static org.junit.jupiter.api.Assertions.assertNull;

import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.CsvSource;

import static org.junit.jupiter.api.Assertions.assertEquals;

class PipeliningTest {

    @ParameterizedTest
    @CsvSource(delimiter = '|', nullValues = "null", value = {
        "GET /a HTTP/1.1\\r\\n\\r\\nGET /b HTTP/1.1\\r\\n\\r\\n | GET /b HTTP/1.1\\r\\n\\r\\n",
        "POST /a HTTP/1.1\\r\\nContent-Length: 5\\r\\n\\r\\nhelloGET /b HTTP/1.1\\r\\n | GET /b HTTP/1.1\\r\\n",
        "GET /a HTTP/1.1\\r\\n\\r\\nGET /b HTT | GET /b HTT",                 // the next one cut by the capture
        "GET /a HTTP/1.1\\r\\n\\r\\n | null",                                 // nothing follows
        "POST /a HTTP/1.1\\r\\nContent-Length: 50\\r\\n\\r\\nhello | null",   // the body goes beyond the capture
        "GET /a HTTP/1.1\\r\\nHost: cut-of | null",                           // the head's end is not known
    })
    void whatFollowsTheFirstRequest(String head, String expected) {
        byte[] bytes = unescape(head).getBytes(ISO_8859_1);
        byte[] rest = Pipelining.afterFirstRequest(bytes, HttpParser.parseRequest(bytes).orElseThrow());
        if (expected == null) {
            assertNull(rest);
        } else {
            assertEquals(unescape(expected), new String(rest, ISO_8859_1));
        }
    }

    private static String unescape(String s) {
        return s.replace("\\r", "\r").replace("\\n", "\n");
    }
}
