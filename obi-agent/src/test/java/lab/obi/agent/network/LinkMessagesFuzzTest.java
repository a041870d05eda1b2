package lab.obi.agent.network;

import static org.junit.jupiter.api.Assertions.assertTrue;

import com.code_intelligence.jazzer.junit.FuzzTest;
import java.util.List;

/** rtnetlink datagrams as the socket returns them: link states or nothing, names within the bytes. */
class LinkMessagesFuzzTest {

    @FuzzTest
    void datagram(byte[] bytes) {
        List<LinkState> links = LinkMessages.decode(bytes, bytes.length);
        assertTrue(links.size() <= bytes.length / (LinkMessages.NLMSG_HDRLEN + LinkMessages.IFINFOMSG_LEN));
        for (LinkState link : links) {
            assertTrue(link.name().length() <= bytes.length, link.name());
        }
        LinkMessages.endsDump(bytes, bytes.length);
    }
}
