#!/usr/bin/env python3
"""Faults: AgentFaultsIT (the agent's own faults against nginx under wrk) and CollectorExportIT (the
Collector down and back); their figures go to a Markdown fragment of docs/reliability.md.

  bench/reliability/faults.py [--out FILE]      (make reliability; needs root, nginx, wrk, bpftool)

The same tests run in `make test`.
"""
import argparse

import itfigures


def main():
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--no-run", action="store_true",
                        help="only render what the tests' last run left in obi-agent/target/reliability")
    parser.add_argument("--out", default=str(itfigures.REPO / "bench/build/reliability/faults.md"))
    args = parser.parse_args()
    returncode = 0
    if not args.no_run:
        for name in ("faults-agent", "faults-collector", "faults-stack"):
            (itfigures.FIGURES / f"{name}.json").unlink(missing_ok=True)
        returncode = itfigures.run_tests(["AgentFaultsIT", "CollectorExportIT", "StackFaultsIT"])
    text = [
        "## Faults",
        "",
        f"`AgentFaultsIT` on this kernel ({itfigures.kernel()}), in the order a bad day brings them: Debian's"
        " nginx under `wrk`, the agent's ring buffer shrunk to 1 MiB and its reader stopped (SIGSTOP) while the"
        " load runs; the agent killed with SIGKILL under load (what stays in the kernel is listed with `bpftool"
        " prog/link/map/perf list`); restarted while keep-alive connections opened before it stay open; its"
        " request log on a 1 MiB tmpfs that fills up; a server that exits and whose pid the next process gets"
        " (`/proc/sys/kernel/ns_last_pid`); SIGTERM with spans and metrics in flight; the request log's disk"
        " turned read-only by an ext4 error, then a disk mounted there again.",
        "",
        itfigures.table("faults-agent"),
        "",
        "`CollectorExportIT`: the Collector stopped while 500 requests pass, then started again.",
        "",
        itfigures.table("faults-collector"),
        "",
        "Prometheus and Jaeger are not the agent's peers: Prometheus pulls `/metrics` (a missed scrape is a"
        " gap in the graph; the counters are cumulative and lose nothing), and spans reach Jaeger through the"
        " Collector, whose exporter queues and retries (`sending_queue`, `retry_on_failure`, the Collector's"
        " defaults). `StackFaultsIT` checks both end to end, the agent running as `compose.yaml` runs it"
        " (spans to the lab's Collector with `collector-config/collector.yaml`, metrics pulled): Jaeger"
        " stopped and started again (its storage is in memory, so what it holds afterwards came after the"
        " restart), then Prometheus stopped and started again on the same storage.",
        "",
        itfigures.table("faults-stack"),
        "",
        "A disk that turns read-only under the running agent is provoked as it happens in"
        " production: ext4 with `errors=remount-ro` (the common default) gets an error"
        " (`/sys/fs/ext4/<dev>/trigger_fs_error`) while the log is open. Writes then fail with `EROFS`: the"
        " lines are counted as `write_failure`, said once. After a failed write the agent opens the log again"
        " at its path before the next one, so a disk that comes back as a new mount there (remounted after a"
        " repair, or replaced) is written again, said once; the old descriptor would never reach it (without"
        " the reopen the test fails: \"written again\" is never said). A log path that cannot be opened at the"
        " start is one line naming the setting (`RequestLogSinkTest`)."
        " Interface series of deleted interfaces (veths of stopped containers) are removed with the interface"
        " (`InterfaceOutagesTest`, `PrometheusSinkTest`, and live in the [soak](#soak): a container network a second,"
        " no series left behind); processes that exit while they are being resolved"
        " keep the name they had (`ProcessResolverTest`).",
    ]
    itfigures.write(args.out, text, returncode, "faults")
    raise SystemExit(returncode)


if __name__ == "__main__":
    main()
