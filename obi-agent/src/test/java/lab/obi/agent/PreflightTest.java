package lab.obi.agent;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.util.List;
import java.util.Optional;
import lab.obi.agent.Preflight.Capability;
import org.junit.jupiter.api.Test;

class PreflightTest {

    private static long set(Capability... capabilities) {
        long set = 0;
        for (Capability c : capabilities) {
            set |= 1L << c.number;
        }
        return set;
    }

    @Test
    void bpfAndPerfmonOrSysAdminLoadTheProgramsAndNothingElseIsAsked() {
        assertEquals(Optional.empty(), Preflight.privilegeProblem(set(Capability.BPF, Capability.PERFMON)));
        assertEquals(Optional.empty(), Preflight.privilegeProblem(set(Capability.SYS_ADMIN)));
        assertEquals(Optional.empty(), Preflight.privilegeProblem(-1L), "root");
    }

    @Test
    void theMissingCapabilityIsNamed() {
        String problem = Preflight.privilegeProblem(set(Capability.BPF, Capability.SYS_PTRACE)).orElseThrow();
        assertTrue(problem.startsWith("missing privileges to load BPF programs: no CAP_PERFMON (effective"
                + " capabilities now: 0x8000080000); run as root"), problem);
        assertTrue(Preflight.privilegeProblem(0).orElseThrow().contains(": no CAP_BPF and CAP_PERFMON ("));
    }

    @Test
    void whatNamingOtherUsersProcessesNeedsIsAWarning() {
        assertEquals(List.of(), Preflight.warnings(set(Capability.BPF, Capability.PERFMON, Capability.SYS_PTRACE,
                Capability.DAC_READ_SEARCH)));
        List<String> warnings = Preflight.warnings(set(Capability.BPF, Capability.PERFMON));
        assertEquals(2, warnings.size());
        assertTrue(warnings.get(0).startsWith("no CAP_SYS_PTRACE: "), warnings.get(0));
        assertTrue(warnings.get(1).startsWith("no CAP_DAC_READ_SEARCH: "), warnings.get(1));
    }
}
