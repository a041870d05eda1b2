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
        for name in ("faults-agent", "faults-collector"):
            (itfigures.FIGURES / f"{name}.json").unlink(missing_ok=True)
        returncode = itfigures.run_tests(["AgentFaultsIT", "CollectorExportIT"])
    text = [
        "## Faults",
        "",
        f"`AgentFaultsIT` on this kernel ({itfigures.kernel()}), in the order a bad day brings them: Debian's"
        " nginx under `wrk`, the agent's ring buffer shrunk to 1 MiB and its reader stopped (SIGSTOP) while the"
        " load runs; the agent killed with SIGKILL under load (what stays in the kernel is listed with `bpftool"
        " prog/link/map/perf list`); restarted while keep-alive connections opened before it stay open; its"
        " request log on a 1 MiB tmpfs that fills up; a server that exits and whose pid the next process gets"
        " (`/proc/sys/kernel/ns_last_pid`); SIGTERM with spans and metrics in flight.",
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
        " defaults). A read-only filesystem was not tried under a running agent (a tmpfs with the log open"
        " cannot be remounted read-only): any write error takes the full disk's path above (lines counted as"
        " `write_failure`, one log line per state change), and a log path that cannot be opened at the start"
        " is one line naming the setting (`RequestLogSinkTest`)."
        " Interface series of deleted interfaces (veths of stopped containers) are removed with the interface"
        " (`InterfaceOutagesTest`, `PrometheusSinkTest`, and live in the [soak](#soak): a container network a second,"
        " no series left behind); processes that exit while they are being resolved"
        " keep the name they had (`ProcessResolverTest`).",
    ]
    itfigures.write(args.out, text, returncode, "faults")
    raise SystemExit(returncode)


if __name__ == "__main__":
    main()
