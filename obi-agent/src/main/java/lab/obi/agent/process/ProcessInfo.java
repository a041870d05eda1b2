package lab.obi.agent.process;

/**
 * Who a process is, as reported next to each of its exchanges.
 *
 * @param pid               the process id (tgid)
 * @param comm              the process name the kernel keeps (at most 15 bytes)
 * @param exe               the path of the executable; null if unreadable
 * @param serviceName       the OpenTelemetry service.name, or the best guess at one; never null
 * @param containerId       the 64-hex id of the container the process runs in; null outside containers
 * @param serviceInstanceId "hostname/pid"
 */
public record ProcessInfo(
        int pid,
        String comm,
        String exe,
        String serviceName,
        String containerId,
        String serviceInstanceId) {
}
