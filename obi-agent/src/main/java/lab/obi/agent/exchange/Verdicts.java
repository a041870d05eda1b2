package lab.obi.agent.exchange;

import static lab.obi.agent.capture.ExchangeRecord.F_LOCAL_CLOSE;
import static lab.obi.agent.capture.ExchangeRecord.F_PEER_FIN;
import static lab.obi.agent.capture.ExchangeRecord.F_RESPONSE_COMPLETE;
import static lab.obi.agent.capture.ExchangeRecord.F_UNTIL_CLOSE;

import java.util.OptionalInt;
import lab.obi.agent.capture.ExchangeRecord;
import lab.obi.agent.capture.ExchangeRecord.Direction;
import lab.obi.agent.http.HttpParser;

/** Decides whether an exchange was abandoned, and by whom, from what the kernel saw. */
public final class Verdicts {

    /** nginx's code for "client closed the request before the server answered". */
    static final int CLIENT_CLOSED_REQUEST = 499;

    private Verdicts() {
    }

    public static Verdict judge(ExchangeRecord r) {
        Integer status = status(r);
        boolean responseStarted = r.responseStartNs() != 0;
        return r.owner().direction() == Direction.CLIENT
                ? judgeClient(r, status, responseStarted)
                : judgeServer(r, status, responseStarted);
    }

    private static Verdict judgeServer(ExchangeRecord r, Integer status, boolean responseStarted) {
        // A response without a length ends when the server closes: closing is how it completes.
        boolean complete = r.has(F_RESPONSE_COMPLETE) || (r.has(F_UNTIL_CLOSE) && r.has(F_LOCAL_CLOSE) && responseStarted);
        if (complete) {
            // A client may half-close once its request is sent; an answer in full is not abandoned.
            return new Verdict(false, null, null, status, false);
        }
        // The first event is the cause; ties go to the peer's FIN or RST, a failed write being their symptom.
        AbortKind first = null;
        long firstNs = 0;
        if (r.finNs() != 0) {
            first = AbortKind.FIN;
            firstNs = r.finNs();
        }
        if (r.rstNs() != 0 && (first == null || r.rstNs() < firstNs)) {
            first = AbortKind.RST;
            firstNs = r.rstNs();
        }
        if (r.writeErrorNs() != 0 && (first == null || r.writeErrorNs() < firstNs)) {
            first = AbortKind.WRITE_ERROR;
            firstNs = r.writeErrorNs();
        }
        if (first == null) {
            // Nobody gave up: an incomplete response was cut short by the server itself.
            return new Verdict(false, null, null, status, responseStarted);
        }
        long timeToAbandonNs = sinceStart(r, firstNs);
        return r.responseBytesAtAbandon() == 0
                ? new Verdict(true, first, timeToAbandonNs, CLIENT_CLOSED_REQUEST, false)
                : new Verdict(true, first, timeToAbandonNs, status, true);
    }

    private static Verdict judgeClient(ExchangeRecord r, Integer status, boolean responseStarted) {
        boolean complete = r.has(F_RESPONSE_COMPLETE) || (r.has(F_UNTIL_CLOSE) && r.has(F_PEER_FIN) && responseStarted);
        if (complete) {
            return new Verdict(false, null, null, status, false);
        }
        if (r.has(F_LOCAL_CLOSE)) {
            return new Verdict(true, AbortKind.CLIENT_CLOSE, sinceStart(r, r.endNs()), status, responseStarted);
        }
        if (r.rstNs() != 0) {
            return new Verdict(true, AbortKind.RST, sinceStart(r, r.rstNs()), status, responseStarted);
        }
        if (r.finNs() != 0) {
            // The server closed without completing its response.
            return new Verdict(true, AbortKind.FIN, sinceStart(r, r.finNs()), status, responseStarted);
        }
        return new Verdict(false, null, null, status, responseStarted);
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
