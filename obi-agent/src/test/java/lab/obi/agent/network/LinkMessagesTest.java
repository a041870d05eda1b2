package lab.obi.agent.network;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.nio.ByteBuffer;
import java.nio.ByteOrder;
import java.nio.charset.StandardCharsets;
import java.util.List;
import org.junit.jupiter.api.Test;

class LinkMessagesTest {

    /** An RTM_NEWLINK/RTM_DELLINK message as the kernel writes it: header, ifinfomsg, attributes. */
    static byte[] link(int type, int index, int flags, String name) {
        byte[] nameBytes = (name + "\0").getBytes(StandardCharsets.US_ASCII);
        int mtuAttribute = 8;
        int nameAttribute = 4 + nameBytes.length;
        int length = 16 + 16 + mtuAttribute + ((nameAttribute + 3) & ~3);
        ByteBuffer b = ByteBuffer.allocate(length).order(ByteOrder.nativeOrder());
        b.putInt(length).putShort((short) type).putShort((short) 0).putInt(0).putInt(0);
        b.put((byte) 0).put((byte) 0).putShort((short) 1).putInt(index).putInt(flags).putInt(0xffffffff);
        b.putShort((short) 8).putShort((short) 4).putInt(1500); // IFLA_MTU first: the name is not always first
        b.putShort((short) nameAttribute).putShort((short) 3).put(nameBytes);
        return b.array();
    }

    static byte[] concat(byte[]... parts) {
        ByteBuffer b = ByteBuffer.allocate(java.util.Arrays.stream(parts).mapToInt(p -> p.length).sum());
        for (byte[] p : parts) {
            b.put(p);
        }
        return b.array();
    }

    @Test
    void decodesIndexNameAndState() {
        byte[] datagram = concat(link(16, 7, 0x1 | 0x40 | 0x10000, "veth0"), link(16, 8, 0x1, "eth1"),
                link(17, 9, 0, "vethdead"));
        List<LinkState> links = LinkMessages.decode(datagram, datagram.length);
        assertEquals(List.of(new LinkState(7, "veth0", true, true, false), new LinkState(8, "eth1", true, false, false),
                new LinkState(9, "vethdead", false, false, true)), links);
        assertEquals("up", links.get(0).stateName());
        assertEquals("no_carrier", links.get(1).stateName());
        assertEquals("down", links.get(2).stateName());
    }

    @Test
    void ignoresOtherMessagesAndTruncatedTails() {
        byte[] address = new byte[24];
        ByteBuffer.wrap(address).order(ByteOrder.nativeOrder()).putInt(24).putShort((short) 20); // RTM_NEWADDR
        byte[] whole = link(16, 3, 0x41, "lo");
        byte[] datagram = concat(address, whole, new byte[] {64, 0, 0, 0, 16, 0});
        assertEquals(List.of(new LinkState(3, "lo", true, true, false)),
                LinkMessages.decode(datagram, datagram.length));
        assertEquals(List.of(), LinkMessages.decode(whole, 20), "cut inside the message");
    }

    @Test
    void knowsTheEndOfADump() {
        byte[] done = new byte[20];
        ByteBuffer.wrap(done).order(ByteOrder.nativeOrder()).putInt(20).putShort((short) 3);
        assertTrue(LinkMessages.endsDump(done, done.length));
        byte[] more = link(16, 1, 0x41, "lo");
        assertFalse(LinkMessages.endsDump(more, more.length));
    }

    @Test
    void dumpRequestAsksForEveryLink() {
        ByteBuffer b = ByteBuffer.wrap(LinkMessages.dumpRequest(5)).order(ByteOrder.nativeOrder());
        assertEquals(32, b.getInt(0));
        assertEquals(18, b.getShort(4));
        assertEquals(0x301, b.getShort(6));
        assertEquals(5, b.getInt(8));
    }
}
