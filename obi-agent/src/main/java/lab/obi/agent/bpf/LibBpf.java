package lab.obi.agent.bpf;

import com.sun.jna.Callback;
import com.sun.jna.Library;
import com.sun.jna.Native;
import com.sun.jna.Pointer;

/**
 * The part of the system libbpf (libbpf.so.1, libbpf 1.x semantics: NULL or a negative errno on error)
 * that obi-agent needs. Pointers to libbpf objects stay opaque.
 */
interface LibBpf extends Library {

    String SONAME = "libbpf.so.1";

    static LibBpf load() {
        return Native.load(SONAME, LibBpf.class);
    }

    /** libbpf_print_fn_t; {@code args} is a va_list, expanded with {@link LibC#vsnprintf}. */
    interface PrintFn extends Callback {
        int invoke(int level, String format, Pointer args);
    }

    int LIBBPF_WARN = 0;
    int LIBBPF_INFO = 1;

    Pointer libbpf_set_print(PrintFn fn);

    Pointer bpf_object__open_mem(Pointer buffer, long size, Pointer opts);

    int bpf_object__load(Pointer object);

    void bpf_object__close(Pointer object);

    Pointer bpf_object__find_map_by_name(Pointer object, String name);

    Pointer bpf_object__next_program(Pointer object, Pointer previous);

    Pointer bpf_object__find_program_by_name(Pointer object, String name);

    /** struct bpf_uprobe_opts: sz, ref_ctr_offset, bpf_cookie, retprobe, func_name. */
    Pointer bpf_program__attach_uprobe_opts(Pointer program, int pid, String binaryPath, long funcOffset,
                                            Pointer opts);

    String bpf_program__name(Pointer program);

    /** Before load: a program for BPF_TRACE_UPROBE_MULTI links must be loaded as one. */
    int bpf_program__set_expected_attach_type(Pointer program, int type);

    String bpf_program__section_name(Pointer program);

    int bpf_program__fd(Pointer program);

    /** struct bpf_test_run_opts: runs a loaded program once, here, with no context. */
    int bpf_prog_test_run_opts(int programFd, Pointer opts);

    Pointer bpf_program__attach(Pointer program);

    int bpf_link__destroy(Pointer link);

    int bpf_map__set_initial_value(Pointer map, Pointer data, long size);

    int bpf_map__set_max_entries(Pointer map, int maxEntries);

    int bpf_map__max_entries(Pointer map);

    int bpf_map__fd(Pointer map);

    int bpf_map_lookup_elem(int fd, Pointer key, Pointer value);

    int bpf_map_update_elem(int fd, Pointer key, Pointer value, long flags);

    /** The key after {@code key} (null: the first); -ENOENT after the last. */
    int bpf_map_get_next_key(int fd, Pointer key, Pointer nextKey);

    /** For queue maps: pops the oldest value (key null); -ENOENT when empty. */
    int bpf_map_lookup_and_delete_elem(int fd, Pointer key, Pointer value);

    /** struct bpf_prog_info of a loaded program; {@code length} in: room, out: what the kernel filled. */
    int bpf_obj_get_info_by_fd(int fd, Pointer info, Pointer length);

    int libbpf_num_possible_cpus();

    /** The object's BTF, owned by the object. */
    Pointer bpf_object__btf(Pointer object);

    /** BTF read from an ELF file; free it with btf__free. */
    Pointer btf__parse_elf(String path, Pointer btfExt);

    void btf__free(Pointer btf);

    int btf__find_by_name_kind(Pointer btf, String name, int kind);

    /** A struct btf_type, followed by its members or enumerators. */
    Pointer btf__type_by_id(Pointer btf, int id);

    String btf__name_by_offset(Pointer btf, int offset);

    interface LibC extends Library {
        LibC INSTANCE = Native.load("c", LibC.class);

        int vsnprintf(byte[] buffer, long size, String format, Pointer args);

        String strerror(int errnum);

        Pointer mmap(Pointer address, long length, int protection, int flags, int fd, long offset);

        int munmap(Pointer address, long length);

        int epoll_create1(int flags);

        int epoll_ctl(int epollFd, int op, int fd, Pointer event);

        int epoll_wait(int epollFd, Pointer events, int maxEvents, int timeoutMs);

        int close(int fd);

        /** syscall(2) with three arguments: bpf(2), for what libbpf 1.1 does not wrap. */
        long syscall(long number, long first, Pointer second, long third);

        int getpagesize();
    }
}
