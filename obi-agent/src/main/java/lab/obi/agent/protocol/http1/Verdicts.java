package lab.obi.agent.protocol.http1;

import lab.obi.agent.contract.ExchangeFlags;
import static lab.obi.agent.contract.ExchangeFlags.LOCAL_CLOSE;
import static lab.obi.agent.contract.ExchangeFlags.PEER_FIN;
import static lab.obi.agent.contract.ExchangeFlags.PIPELINED;
import static lab.obi.agent.contract.ExchangeFlags.REQUEST_ENDS_BLANK_LINE;
import static lab.obi.agent.contract.ExchangeFlags.RESPONSE_COMPLETE;
import static lab.obi.agent.contract.ExchangeFlags.UNTIL_CLOSE;

import java.util.OptionalInt;
import lab.obi.agent.capture.ExchangeRecord;
import lab.obi.agent.capture.ExchangeRecord.Direction;
import lab.obi.agent.protocol.AbortKind;
import lab.obi.agent.protocol.Verdict;

/**
 * Decides, from what the kernel saw, the status a server's access log would show and whether the
 * peer gave up. The rule (docs/verdict.md): the status is what the server put on the wire; a
 * server that wrote no status line gets nginx's code for why: 499 (the client left a complete request),
 * 400 (the client left in the middle of its request), 444 (the server closed without answering) or
 * 408 (the server closed on an incomplete request). Whether and when the client gave up is a separate
 * fact, also for requests answered after the client had left.
 */
public final class Verdicts {

    /** nginx: the client left in the middle of its request, which was never complete. */
    static final int BAD_REQUEST = 400;
    /** nginx: the server closed the connection without answering. */
    static final int NO_RESPONSE = 444;
    /** nginx: the server closed the connection on a request that never completed. */
    static final int REQUEST_TIMEOUT = 408;

    private Verdicts() {
    }

    /** @param request the parsed request head; null when its bytes were not captured (pipelining) */
    public static Verdict judge(ExchangeRecord r, HttpRequestHead request) {
        Integer status = status(r);
        boolean responseStarted = r.responseStartNs() != 0;
        boolean requestComplete = requestComplete(r, request);
        return r.owner().direction() == Direction.CLIENT
                ? judgeClient(r, status, responseStarted, requestComplete)
                : judgeServer(r, status, responseStarted, requestComplete);
    }

    private static Verdict judgeServer(ExchangeRecord r, Integer status, boolean responseStarted,
                                       boolean requestComplete) {
        // A response without a length ends when the server closes: closing is how it completes.
        boolean complete = r.has(RESPONSE_COMPLETE) || (r.has(UNTIL_CLOSE) && r.has(LOCAL_CLOSE) && responseStarted);
        Abandon left = complete ? leftBeforeAnswer(r) : firstSignOfLeaving(r);
        // A 100 Continue alone is no answer; bytes that were no status line are an answer we cannot read.
        boolean answered = responseStarted && (status == null || status >= 200);
        Integer reported = answered ? status : noAnswer(requestComplete, left != null);
        boolean truncated = answered && !complete;
        return left == null
                ? new Verdict(false, null, null, reported, truncated, requestComplete)
                : new Verdict(true, left.kind(), sinceStart(r, left.atNs()), reported, truncated, requestComplete);
    }

    /** nginx's code for a request that got no status line. */
    private static Integer noAnswer(boolean requestComplete, boolean clientLeft) {
        if (requestComplete) {
            return clientLeft ? Verdict.CLIENT_CLOSED_REQUEST : NO_RESPONSE;
        }
        return clientLeft ? BAD_REQUEST : REQUEST_TIMEOUT;
    }

    private record Abandon(AbortKind kind, long atNs) {
    }

    /**
     * An incomplete response: the first of the peer's FIN, its reset and a failed write is the cause;
     * ties go to the peer's FIN or RST, a failed write being their symptom.
     */
    private static Abandon firstSignOfLeaving(ExchangeRecord r) {
        Abandon first = r.finNs() != 0 ? new Abandon(AbortKind.FIN, r.finNs()) : null;
        if (r.rstNs() != 0 && (first == null || r.rstNs() < first.atNs())) {
            first = new Abandon(AbortKind.RST, r.rstNs());
        }
        if (r.writeErrorNs() != 0 && (first == null || r.writeErrorNs() < first.atNs())) {
            first = new Abandon(AbortKind.WRITE_ERROR, r.writeErrorNs());
        }
        return first;
    }

    /**
     * A complete response after the peer's FIN: a client that half-closed and waited acknowledges it;
     * one that had left resets the connection (or the write fails). Only the latter gave up, at its FIN.
     */
    private static Abandon leftBeforeAnswer(ExchangeRecord r) {
        boolean finBeforeAnswer = r.has(PEER_FIN) && r.finNs() != 0;
        return finBeforeAnswer && (r.rstNs() != 0 || r.writeErrorNs() != 0) ? new Abandon(AbortKind.FIN, r.finNs())
                : null;
    }

    private static Verdict judgeClient(ExchangeRecord r, Integer status, boolean responseStarted,
                                       boolean requestComplete) {
        boolean complete = r.has(RESPONSE_COMPLETE) || (r.has(UNTIL_CLOSE) && r.has(PEER_FIN) && responseStarted);
        if (complete) {
            return new Verdict(false, null, null, status, false, requestComplete);
        }
        if (r.has(LOCAL_CLOSE)) {
            return new Verdict(true, AbortKind.CLIENT_CLOSE, sinceStart(r, r.endNs()), status, responseStarted,
                    requestComplete);
        }
        if (r.rstNs() != 0) {
            return new Verdict(true, AbortKind.RST, sinceStart(r, r.rstNs()), status, responseStarted, requestComplete);
        }
        if (r.finNs() != 0) {
            // The server closed without completing its response.
            return new Verdict(true, AbortKind.FIN, sinceStart(r, r.finNs()), status, responseStarted, requestComplete);
        }
        return new Verdict(false, null, null, status, responseStarted, requestComplete);
    }

    /**
     * Whether every byte of the request was moved (read by a server, written by a client): its head
     * ended and its body, by Content-Length or as chunks, is all there. A head longer than the
     * captured bytes, or a chunked body, is judged by the kernel's note of how the bytes ended.
     */
    static boolean requestComplete(ExchangeRecord r, HttpRequestHead request) {
        if (request == null || r.has(PIPELINED)) {
            return true; // its bytes came with an earlier request, which was read in full
        }
        long requestBytes = r.owner().direction() == Direction.SERVER ? r.bytesIn() : r.bytesOut();
        boolean endsWithBlankLine = r.has(REQUEST_ENDS_BLANK_LINE);
        if (request.headLength() == null) {
            // Every byte was captured and the head never ended; else only the last bytes can tell.
            return requestBytes > r.requestHead().length && endsWithBlankLine;
        }
        if (request.chunked()) {
            return requestBytes > request.headLength() && endsWithBlankLine;
        }
        return request.completeWithin(requestBytes);
    }

    private static long sinceStart(ExchangeRecord r, long eventNs) {
        return Math.max(0, eventNs - r.startNs());
    }

    private static Integer status(ExchangeRecord r) {
        if (r.status() != 0) {
            return r.status();
        }
        OptionalInt parsed = HttpParser.parseStatusCode(r.responseHead());
        return parsed.isPresent() ? parsed.getAsInt() : null;
    }
}
