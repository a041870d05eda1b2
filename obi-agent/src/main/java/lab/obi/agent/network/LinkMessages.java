package lab.obi.agent.network;

import java.nio.ByteBuffer;
import java.nio.ByteOrder;
import java.nio.charset.StandardCharsets;
import java.util.ArrayList;
import java.util.List;

/**
 * Decodes rtnetlink messages (linux/netlink.h, linux/rtnetlink.h, linux/if_link.h): the link
 * messages among them become {@link LinkState}s, everything else is skipped.
 */
public final class LinkMessages {

    static final int NLMSG_HDRLEN = 16;
    static final int NLMSG_DONE = 3;
    static final int NLMSG_ERROR = 2;
    static final int RTM_NEWLINK = 16;
    static final int RTM_DELLINK = 17;
    static final int RTM_GETLINK = 18;
    static final int IFINFOMSG_LEN = 16;
    static final int IFLA_IFNAME = 3;
    static final int IFF_UP = 0x1;
    static final int IFF_RUNNING = 0x40;
    static final int NLM_F_REQUEST = 0x1;
    static final int NLM_F_DUMP = 0x300;

    private LinkMessages() {
    }

    /** The link states in one datagram, in order; a truncated trailing message is ignored. */
    public static List<LinkState> decode(byte[] datagram, int length) {
        ByteBuffer b = ByteBuffer.wrap(datagram, 0, length).order(ByteOrder.nativeOrder());
        List<LinkState> links = new ArrayList<>();
        int offset = 0;
        while (offset + NLMSG_HDRLEN <= length) {
            int messageLength = b.getInt(offset);
            int type = b.getShort(offset + 4) & 0xffff;
            if (messageLength < NLMSG_HDRLEN || messageLength > length - offset) {
                break;
            }
            if ((type == RTM_NEWLINK || type == RTM_DELLINK) && messageLength >= NLMSG_HDRLEN + IFINFOMSG_LEN) {
                links.add(link(b, offset + NLMSG_HDRLEN, offset + messageLength, type == RTM_DELLINK));
            }
            offset += align(messageLength);
        }
        return links;
    }

    /** True when the datagram ends a dump (NLMSG_DONE) or reports an error. */
    public static boolean endsDump(byte[] datagram, int length) {
        ByteBuffer b = ByteBuffer.wrap(datagram, 0, length).order(ByteOrder.nativeOrder());
        int offset = 0;
        while (offset + NLMSG_HDRLEN <= length) {
            int messageLength = b.getInt(offset);
            int type = b.getShort(offset + 4) & 0xffff;
            if (type == NLMSG_DONE || type == NLMSG_ERROR) {
                return true;
            }
            if (messageLength < NLMSG_HDRLEN || messageLength > length - offset) {
                return true; // nothing after it can be read
            }
            offset += align(messageLength);
        }
        return false;
    }

    /** RTM_GETLINK with NLM_F_DUMP: the kernel answers with every interface of the namespace. */
    public static byte[] dumpRequest(int sequence) {
        ByteBuffer b = ByteBuffer.allocate(NLMSG_HDRLEN + IFINFOMSG_LEN).order(ByteOrder.nativeOrder());
        b.putInt(NLMSG_HDRLEN + IFINFOMSG_LEN).putShort((short) RTM_GETLINK)
                .putShort((short) (NLM_F_REQUEST | NLM_F_DUMP)).putInt(sequence).putInt(0);
        return b.array(); // ifinfomsg all zero: AF_UNSPEC, every interface
    }

    private static LinkState link(ByteBuffer b, int ifinfo, int end, boolean deleted) {
        int index = b.getInt(ifinfo + 4);
        int flags = b.getInt(ifinfo + 8);
        String name = "if" + index;
        int attribute = ifinfo + IFINFOMSG_LEN;
        while (attribute + 4 <= end) {
            int attributeLength = b.getShort(attribute) & 0xffff;
            int attributeType = b.getShort(attribute + 2) & 0x3fff; // without NLA_F_NESTED/NET_BYTEORDER
            if (attributeLength < 4 || attributeLength > end - attribute) {
                break;
            }
            if (attributeType == IFLA_IFNAME) {
                name = cString(b.array(), attribute + 4, attributeLength - 4);
            }
            attribute += align(attributeLength);
        }
        return new LinkState(index, name, (flags & IFF_UP) != 0, (flags & IFF_RUNNING) != 0, deleted);
    }

    private static String cString(byte[] bytes, int offset, int max) {
        int end = offset;
        while (end < offset + max && bytes[end] != 0) {
            end++;
        }
        return new String(bytes, offset, end - offset, StandardCharsets.UTF_8);
    }

    private static int align(int length) {
        return (length + 3) & ~3;
    }
}
