package lab.obi.agent.process;

import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;

/** A process as procfs shows it, written under a test's directory: what {@link ProcessResolver} reads. */
public final class FakeProc {

    private FakeProc() {
    }

    /** Its stat and comm files; returns its directory, for the tests to add the rest. */
    public static Path process(Path proc, int pid, String comm, long startTime) throws IOException {
        Path dir = Files.createDirectories(proc.resolve(Integer.toString(pid)));
        Files.writeString(dir.resolve("stat"), stat(pid, comm, startTime));
        Files.writeString(dir.resolve("comm"), comm + "\n");
        return dir;
    }

    /** /proc/pid/stat, its start time in field 22. */
    public static String stat(int pid, String comm, long startTime) {
        return pid + " (" + comm + ") S 1 " + pid + " " + pid + " 0 -1 4194560 100 0 0 0 5 3 0 0 20 0 12 0 "
                + startTime + " 123456 789 18446744073709551615\n";
    }
}
