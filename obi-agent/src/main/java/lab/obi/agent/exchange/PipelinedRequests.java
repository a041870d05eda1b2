package lab.obi.agent.exchange;

import java.util.Arrays;
import java.util.LinkedHashMap;
import java.util.Map;

/**
 * Pipelined requests arrive in one read, so the kernel copies them all into the first exchange's
 * request head and starts the later exchanges from their responses, with no request bytes. This
 * keeps, per connection, the request bytes after the first request so the later exchanges get
 * their own request line. Bounded; used by the single assembler thread only.
 */
final class PipelinedRequests {

    private static final int MAX_CONNECTIONS = 1024;
    private static final byte[] HEAD_END = {'\r', '\n', '\r', '\n'};

    private final Map<Long, byte[]> remainders = new LinkedHashMap<>(16, 0.75f, true) {
        @Override
        protected boolean removeEldestEntry(Map.Entry<Long, byte[]> eldest) {
            return size() > MAX_CONNECTIONS;
        }
    };

    /** The request bytes left over on the connection, or an empty array. */
    byte[] take(long connId) {
        byte[] remainder = remainders.isEmpty() ? null : remainders.remove(connId);
        return remainder == null ? new byte[0] : remainder;
    }

    /** Keeps what follows the first request in {@code head} (its head and declared body). */
    void rememberAfterFirstRequest(long connId, byte[] head, Long contentLength) {
        int headEnd = indexOf(head, HEAD_END);
        long next = headEnd + (long) HEAD_END.length + (contentLength == null ? 0 : contentLength);
        if (headEnd < 0 || next >= head.length) {
            forget(connId);
            return;
        }
        remainders.put(connId, Arrays.copyOfRange(head, (int) next, head.length));
    }

    void forget(long connId) {
        if (!remainders.isEmpty()) { // the common case: no pipelining anywhere, no boxing
            remainders.remove(connId);
        }
    }

    private static int indexOf(byte[] haystack, byte[] needle) {
        outer:
        for (int i = 0; i + needle.length <= haystack.length; i++) {
            for (int j = 0; j < needle.length; j++) {
                if (haystack[i + j] != needle[j]) {
                    continue outer;
                }
            }
            return i;
        }
        return -1;
    }
}
