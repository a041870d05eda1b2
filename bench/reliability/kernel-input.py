#!/usr/bin/env python3
"""Hostile input in the kernel: runs HostileInputIT (nginx with the agent running on this kernel) and
turns its figures into a Markdown fragment of docs/reliability.md.

  bench/reliability/kernel-input.py [--out FILE]      (make reliability; needs root, nginx, the agent jar)

The same test runs in `make test` (mvn verify -Dit): this section is its figures, from a run of its own.
"""
import argparse
import subprocess
import sys
from pathlib import Path

REPO = Path(__file__).resolve().parents[2]
AGENT = REPO / "obi-agent"
FIGURES = AGENT / "target/reliability/kernel-input.md"


def main():
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--out", default=str(REPO / "bench/build/reliability/kernel-input.md"))
    out = Path(parser.parse_args().out)
    FIGURES.unlink(missing_ok=True)
    run = subprocess.run(["mvn", "-B", "-q", "verify", "-Dit", "-Dit.test=HostileInputIT", "-Dtest=NONE",
                          "-Dsurefire.failIfNoSpecifiedTests=false"], cwd=AGENT)
    if not FIGURES.exists():
        sys.exit("kernel-input: HostileInputIT wrote no figures (see obi-agent/target/failsafe-reports)")
    text = [
        "## Bad input: the kernel",
        "",
        "`HostileInputIT` (`obi-agent/src/test/resources/integration/hostile_clients.py`): Debian's nginx with the"
        " agent running on this kernel (`uname -r`: " + subprocess.run(["uname", "-r"], capture_output=True,
                                                                      text=True).stdout.strip() + "),"
        " each scenario's clients on ports of their own. nginx's access log is the reference, joined with the"
        " agent's server records by client port and request number: *missed* are requests nginx logged that the"
        " agent did not report, *false* the reverse (bytes that were no request line are no request in either)."
        " The table is the kernel's connection table (`obi_agent_connections_tracked`) while the clients hold"
        " their connections and once they are gone (both ends are observed: the client's side counts too);"
        " RSS is the agent's resident memory after the scenario.",
        "",
        FIGURES.read_text().rstrip(),
        "",
        "The last row runs the agent with `obi.bpf.max-connections=1024` on purpose: the connections the table"
        " cannot hold are refused and counted (`obi_agent_dropped_total{obi_drop_reason=\"conn_table_full\"}`),"
        " and the exchanges missed, server and client side, are exactly as many as the refusals. The line on"
        " skipped programs is checked against `bpftool prog list` (`recursion_misses`): the agent's"
        " `program_skipped` must equal the skips of the programs without a `_nested` twin.",
        "",
        "An entry must not outlive its socket. TCP's `struct sock` is reused as soon as it is freed, and a"
        " close can go unseen (the entry created by a read on one CPU while the close ran on another): before"
        " the fix, 2 of 7 full CI runs left 54 to 97 entries after the 10,000 connections, and then missed 3"
        " requests of new sockets that had been given those addresses. Each entry now keeps the inode of the"
        " socket that owned its `struct sock`; bytes on a socket with another inode finish the old entry"
        " first, and the once-a-second scan finishes an entry whose `struct sock` serves another socket, both"
        " counted as `close_missed`. `KernelStateMachineIT` provokes it with real sockets of the test"
        " process: a request on one, closed unseen, then new sockets until one is given the same `struct"
        " sock`; without the check both of its tests fail (one exchange instead of two; no connection record"
        " from the scan).",
        "" if run.returncode == 0 else "\n**The test failed**: the rows above are those that held.",
    ]
    out.parent.mkdir(parents=True, exist_ok=True)
    out.write_text("\n".join(text) + "\n")
    print(f"kernel-input: report {out}", file=sys.stderr)
    sys.exit(run.returncode)


if __name__ == "__main__":
    main()
