import java.nio.file.Files;
import java.nio.file.Path;
import java.util.concurrent.CountDownLatch;
import lab.obi.agent.bpf.BpfCapture;
import lab.obi.agent.bpf.OpenSslProbes;

/**
 * obi-agent's kernel side alone, for bench/run.py: the BPF programs loaded and attached as the agent
 * attaches them (the tracepoints, and uprobes on the OpenSSL libraries of the running processes),
 * with nobody reading the ring buffer. Once the ring is full a record's reservation fails and is
 * counted; everything else the programs do on each call is done. What this costs the observed
 * processes is the kernel side's share of the agent's cost. Runs until SIGTERM.
 *
 *   java -cp 'obi-agent/target/quarkus-app/app/*:obi-agent/target/quarkus-app/lib/main/*' \
 *       bench/KernelOnly.java bpf/build/obi.bpf.o
 */
public class KernelOnly {

    public static void main(String[] args) throws Exception {
        byte[] object = Files.readAllBytes(Path.of(args[0]));
        // The agent's defaults (obi.capture.*, obi.bpf.*), as root: OpenSSL probed through perf events.
        BpfCapture.Settings settings = new BpfCapture.Settings((int) ProcessHandle.current().pid(), 512,
                60_000_000_000L, 16 << 20, 65536, false);
        BpfCapture capture = BpfCapture.load(object, settings);
        OpenSslProbes openSsl = new OpenSslProbes(capture, Path.of("/proc"));
        openSsl.scan();
        CountDownLatch stopped = new CountDownLatch(1);
        Runtime.getRuntime().addShutdownHook(new Thread(() -> {
            openSsl.close();
            capture.close();
            stopped.countDown();
        }));
        System.out.printf("attached: %d programs, uprobes on %d OpenSSL libraries%n", capture.programNames().size(),
                openSsl.attachedCount());
        System.out.flush();
        stopped.await();
    }
}
