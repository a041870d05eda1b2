package lab.obi.agent.bpf;

/** Slots of the kernel's per-CPU counter map, in the order of enum obi_counter (bpf/include/obi_record.h). */
public enum KernelCounter {
    RECORDS("records emitted"),
    RINGBUF_FULL("records lost, ring buffer full"),
    CONN_TABLE_FULL("connections not tracked, connection table full"),
    ARGS_TABLE_FULL("syscalls missed, in-flight table full"),
    READ_FAULT("user buffers that could not be read"),
    PEER_FIN_WAIT_EXPIRED("exchanges reported without the server's reaction to the peer's FIN");

    private final String meaning;

    KernelCounter(String meaning) {
        this.meaning = meaning;
    }

    public String meaning() {
        return meaning;
    }
}
