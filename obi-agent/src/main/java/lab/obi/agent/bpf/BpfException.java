package lab.obi.agent.bpf;

/** A failure to load or run the BPF side, with a message that says what to do about it. */
public final class BpfException extends Exception {
    public BpfException(String message) {
        super(message);
    }
}
