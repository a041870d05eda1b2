package lab.obi.agent.capture;

import static org.junit.jupiter.api.Assertions.assertEquals;

import org.junit.jupiter.api.Test;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.CsvSource;

class AddressTextTest {

    @ParameterizedTest
    @CsvSource({
        "127.0.0.1, 127.0.0.1",
        "10.1.2.3, 10.1.2.3",
        "::ffff:192.168.1.20, 192.168.1.20",
        "::1, ::1",
        "::, ::",
        "2001:db8:0:0:0:0:0:1, 2001:db8::1",
        "2001:DB8:0:0:1:0:0:1, 2001:db8::1:0:0:1",
        "2001:db8:0:1:1:1:1:1, 2001:db8:0:1:1:1:1:1",
        "fe80:0:0:0:0:0:0:0, fe80::",
        "2001:0:0:1:0:0:0:1, 2001:0:0:1::1",
        "1:2:3:4:5:6:7:8, 1:2:3:4:5:6:7:8",
        "::fffe:0:1, ::fffe:0:1",
    })
    void formats(String literal, String expected) {
        assertEquals(expected, AddressText.of(RecordBuilder.address(literal).getAddress()));
    }

    @Test
    void ipv4MappedIsShownAsIpv4() {
        byte[] mapped = {0, 0, 0, 0, 0, 0, 0, 0, 0, 0, (byte) 0xff, (byte) 0xff, 127, 0, 0, 1};
        assertEquals("127.0.0.1", AddressText.of(mapped));
    }
}
