package lab.obi.agent.protocol.http1;

import java.util.Arrays;

/**
 * Pipelined requests arrive in one read, so the kernel copies them all into the first exchange's
 * request head and starts the later exchanges from their responses, with no request bytes of their
 * own. What follows the first request in such a head is the next exchange's request.
 */
public final class Pipelining {

    private Pipelining() {
    }

    /**
     * The bytes after {@code first} (its head and declared body) in the head it was parsed from; null
     * when nothing follows or where the first request ends is not known.
     */
    public static byte[] afterFirstRequest(byte[] head, HttpRequestHead first) {
        if (first.headLength() == null) {
            return null;
        }
        long next = first.headLength() + (first.contentLength() == null ? 0 : first.contentLength());
        return next >= head.length ? null : Arrays.copyOfRange(head, (int) next, head.length);
    }
}
