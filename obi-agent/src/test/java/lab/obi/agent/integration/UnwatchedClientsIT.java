package lab.obi.agent.integration;

import org.junit.jupiter.api.AfterAll;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.TestInstance;

import java.nio.file.Path;
import java.util.regex.Matcher;
import java.util.regex.Pattern;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

/**
 * A client the agent does not report (wrk, an excluded executable) on one kept-alive connection to
 * the JDK backend: once its first calls were dropped, the kernel sets its connection aside
 * (bpf/src/unwatched.h), so the rest of its calls never reach the agent, while every request the
 * backend served is still reported.
 */
@TestInstance(TestInstance.Lifecycle.PER_CLASS)
class UnwatchedClientsIT {

    private static final Pattern REQUESTS = Pattern.compile("(\\d+) requests in");
    private static final String BACKEND_REQUESTS =
            "http_server_request_duration_seconds_count\\{[^}]*service_name=\"jdk-backend\"";

    private static final Path PYTHON = Path.of("/usr/bin/python3");
    private static final int BASH_CALLS = 3;

    private Lab lab;

    @BeforeAll
    void backendAndAgent() throws Exception {
        lab = new Lab();
        lab.startBackends();
        lab.startAgent("-Dobi.request-log.enabled=false",
                "-Dobi.watch.exclude-executables=wrk,prometheus," + PYTHON.toRealPath().getFileName());
    }

    @AfterAll
    void stop() throws Exception {
        if (lab != null) {
            lab.close();
        }
    }

    @Test
    void theKernelStopsFollowingAClientThatIsNotWatchedAndTheServerStaysReported() throws Exception {
        double ignoredBefore = lab.agentMetric("obi_agent_ignored_total");
        double servedBefore = lab.agentMetric(BACKEND_REQUESTS);
        String out = Lab.sh("wrk", "-t1", "-c1", "-d3s", "http://127.0.0.1:" + lab.jdkPort + "/fast");
        Matcher m = REQUESTS.matcher(out);
        assertTrue(m.find(), "wrk's output: " + out);
        long calls = Long.parseLong(m.group(1));
        double served = countedSince(BACKEND_REQUESTS, servedBefore, calls, 40);
        double ignored = lab.agentMetric("obi_agent_ignored_total") - ignoredBefore;
        assertTrue(calls >= 1000, "wrk made " + calls + " calls");
        assertTrue(served >= calls && served <= calls + 1, "the backend's requests reported: " + served + " of "
                + calls + " wrk made (one more if wrk left one unanswered)\n" + lab.agentLog());
        assertTrue(ignored >= 1, "wrk's first call reached the agent and was dropped");
        assertTrue(ignored < calls / 4.0, ignored + " of wrk's " + calls + " calls reached the agent");
        assertEquals(0, lab.agentMetric("http_client_request_duration_seconds_count\\{[^}]*service_name=\"wrk\""),
                0.0, "wrk is not reported");
    }

    /**
     * One process, first an excluded executable (python, named to the kernel once its call is dropped),
     * then, by exec, bash making calls of its own (/dev/tcp): same pid, same start time, another
     * program, whose calls are reported. The kernel forgets the name at the exec, and the agent reads
     * the process's identity again (its executable changed) once its revalidation second has passed
     * since python's last record, which can come up to a second after its call (a close found by the
     * expiry scan): python sleeps 4 s. bash stays a while after its calls, not exec'ing sleep (the
     * trailing ':'): a process gone, or exec'd again, when its records are read is named as it was
     * last seen.
     */
    @Test
    void aClientThatExecsAWatchedProgramIsReportedAgain() throws Exception {
        String url = "http://127.0.0.1:" + lab.jdkPort + "/fast";
        double ignoredBefore = lab.agentMetric("obi_agent_ignored_total");
        String bashCalls = "http_client_request_duration_seconds_count\\{[^}]*service_name=\"bash\"";
        double bashBefore = lab.agentMetric(bashCalls);
        String call = "exec 3<>/dev/tcp/127.0.0.1/" + lab.jdkPort
                + "; printf 'GET /fast HTTP/1.1\\r\\nHost: backend\\r\\nConnection: close\\r\\n\\r\\n' >&3"
                + "; read -r -t 5 -d '' answer <&3; exec 3<&-; ";
        Lab.sh(PYTHON.toString(), "-c", "import os, time, urllib.request\n"
                + "urllib.request.urlopen('" + url + "').read()\n"
                + "time.sleep(4)\n"
                + "os.execv('/bin/bash', ['bash', '-c', \"" + call.repeat(BASH_CALLS) + "sleep 2; :\"])");
        double reported = countedSince(bashCalls, bashBefore, BASH_CALLS, 20);
        assertTrue(lab.agentMetric("obi_agent_ignored_total") - ignoredBefore >= 1, "python's call was dropped");
        assertEquals(BASH_CALLS, reported, 0.0, "bash's calls after the exec, reported\n" + lab.agentLog());
    }

    /** How much the metric grew from before, polled every half second until it reached expected, or tries ran out. */
    private double countedSince(String metric, double before, double expected, int tries) throws Exception {
        double counted = 0;
        for (int i = 0; i < tries && counted < expected; i++) {
            Thread.sleep(500);
            counted = lab.agentMetric(metric) - before;
        }
        return counted;
    }
}
