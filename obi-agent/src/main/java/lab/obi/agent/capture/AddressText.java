package lab.obi.agent.capture;

/** Addresses as people write them: "127.0.0.1" for IPv4 (also when IPv4-mapped), "2001:db8::1" for IPv6 (RFC 5952). */
public final class AddressText {

    private AddressText() {
    }

    /** @param b an IPv4 (4 bytes) or IPv6 (16 bytes) address in network order */
    public static String of(byte[] b) {
        if (b.length == 4) {
            return ipv4(b, 0);
        }
        if (isIpv4Mapped(b)) {
            return ipv4(b, 12);
        }
        return compressedIpv6(b);
    }

    private static String ipv4(byte[] b, int at) {
        return (b[at] & 0xff) + "." + (b[at + 1] & 0xff) + "." + (b[at + 2] & 0xff) + "." + (b[at + 3] & 0xff);
    }

    private static boolean isIpv4Mapped(byte[] b) {
        for (int i = 0; i < 10; i++) {
            if (b[i] != 0) {
                return false;
            }
        }
        return (b[10] & 0xff) == 0xff && (b[11] & 0xff) == 0xff;
    }

    private static String compressedIpv6(byte[] b) {
        int[] groups = new int[8];
        for (int i = 0; i < 8; i++) {
            groups[i] = ((b[2 * i] & 0xff) << 8) | (b[2 * i + 1] & 0xff);
        }
        // The longest run of at least two zero groups becomes "::"; the first one wins a tie.
        int bestStart = -1;
        int bestLength = 1;
        for (int i = 0; i < 8; i++) {
            int runEnd = i;
            while (runEnd < 8 && groups[runEnd] == 0) {
                runEnd++;
            }
            if (runEnd - i > bestLength) {
                bestStart = i;
                bestLength = runEnd - i;
            }
            i = Math.max(i, runEnd);
        }
        StringBuilder text = new StringBuilder();
        for (int i = 0; i < 8; i++) {
            if (i == bestStart) {
                text.append("::");
                i += bestLength - 1;
                continue;
            }
            if (text.length() > 0 && text.charAt(text.length() - 1) != ':') {
                text.append(':');
            }
            text.append(Integer.toHexString(groups[i]));
        }
        return text.toString();
    }
}
