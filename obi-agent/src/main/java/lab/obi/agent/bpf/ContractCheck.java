package lab.obi.agent.bpf;

import com.sun.jna.Pointer;
import java.util.ArrayList;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import lab.obi.agent.contract.Contract;

/**
 * Compares the contract this agent was built with (lab.obi.agent.contract, generated from the BPF
 * object's BTF) with the BTF of an object: every struct's size and member offsets, every enum's
 * values. A BPF object built from other headers than the agent's would be decoded wrongly without a
 * word; this names what differs instead.
 */
final class ContractCheck {

    private static final int BTF_KIND_STRUCT = 4;
    private static final int BTF_KIND_ENUM = 6;
    /** struct btf_type: name_off, info, size; then vlen entries. */
    private static final int BTF_TYPE_SIZE = 12;
    private static final int BTF_MEMBER_SIZE = 12;
    private static final int BTF_ENUM_SIZE = 8;

    private final LibBpf libbpf;
    private final Pointer btf;

    /** @param btf a struct btf * from libbpf (an object's, or parsed from a file) */
    ContractCheck(LibBpf libbpf, Pointer btf) {
        this.libbpf = libbpf;
        this.btf = btf;
    }

    /** What differs, one line each; empty when the object is the one the agent was built for. */
    List<String> mismatches() {
        List<String> drift = new ArrayList<>();
        if (btf == null) {
            return List.of("the object has no BTF");
        }
        for (Contract.Struct expected : Contract.STRUCTS) {
            compareStruct(expected, drift);
        }
        for (Contract.Enumeration expected : Contract.ENUMS) {
            compareEnum(expected, drift);
        }
        return drift;
    }

    private void compareStruct(Contract.Struct expected, List<String> drift) {
        int id = libbpf.btf__find_by_name_kind(btf, expected.name(), BTF_KIND_STRUCT);
        if (id < 0) {
            drift.add("struct " + expected.name() + " is missing");
            return;
        }
        Pointer type = libbpf.btf__type_by_id(btf, id);
        int size = type.getInt(8);
        if (size != expected.size()) {
            drift.add("struct " + expected.name() + " has " + size + " bytes, the agent expects " + expected.size());
        }
        Map<String, Integer> offsets = new LinkedHashMap<>();
        int info = type.getInt(4);
        boolean bitfields = info < 0; // kind_flag: offsets carry bit-field sizes in their top byte
        for (int i = 0; i < (info & 0xffff); i++) {
            long at = BTF_TYPE_SIZE + (long) i * BTF_MEMBER_SIZE;
            int bits = type.getInt(at + 8);
            offsets.put(libbpf.btf__name_by_offset(btf, type.getInt(at)), (bitfields ? bits & 0xffffff : bits) / 8);
        }
        for (Contract.Member member : expected.members()) {
            Integer actual = offsets.remove(member.name());
            if (actual == null) {
                drift.add(expected.name() + "." + member.name() + " is missing");
            } else if (actual != member.offset()) {
                drift.add(expected.name() + "." + member.name() + " is at byte " + actual + ", the agent reads it at "
                        + member.offset());
            }
        }
        offsets.keySet().forEach(added -> drift.add(expected.name() + "." + added + " is unknown to the agent"));
    }

    private void compareEnum(Contract.Enumeration expected, List<String> drift) {
        int id = libbpf.btf__find_by_name_kind(btf, expected.name(), BTF_KIND_ENUM);
        if (id < 0) {
            drift.add("enum " + expected.name() + " is missing");
            return;
        }
        Pointer type = libbpf.btf__type_by_id(btf, id);
        Map<String, Long> values = new LinkedHashMap<>();
        int vlen = type.getInt(4) & 0xffff;
        for (int i = 0; i < vlen; i++) {
            long at = BTF_TYPE_SIZE + (long) i * BTF_ENUM_SIZE;
            values.put(libbpf.btf__name_by_offset(btf, type.getInt(at)), (long) type.getInt(at + 4));
        }
        if (!values.equals(expected.values())) {
            drift.add("enum " + expected.name() + " is " + values + ", the agent knows " + expected.values());
        }
    }
}
