#!/usr/bin/env python3
"""A soak: SoakIT for an hour (by default) at a steady mixed load with connection and process churn,
the agent's resident memory, kernel table occupancy and metric series sampled every minute; the
per-minute table and the bounds it was held to go to a Markdown fragment of docs/reliability.md.

  bench/reliability/soak.py [--minutes 60] [--sample-seconds 60] [--out FILE]   (make soak SOAK_MINUTES=60)

`make test` runs the same test for one minute, sampled every 15 s. Needs root, nginx, curl, the
Collector (collector-config/build.sh); run it on a quiet machine: nothing else should load BPF programs.
"""
import argparse
import json

import itfigures


def main():
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--minutes", type=int, default=60)
    parser.add_argument("--sample-seconds", type=int, default=60)
    parser.add_argument("--no-run", action="store_true",
                        help="only render what the tests' last run left in obi-agent/target/reliability")
    parser.add_argument("--out", default=str(itfigures.REPO / "bench/build/reliability/soak.md"))
    args = parser.parse_args()
    samples_file = itfigures.FIGURES / "soak-samples.json"
    returncode = 0
    if not args.no_run:
        samples_file.unlink(missing_ok=True)
        returncode = itfigures.run_tests(["SoakIT"], f"-Dobi.soak.minutes={args.minutes}",
                                         f"-Dobi.soak.sample-seconds={args.sample_seconds}")
    samples = json.loads(samples_file.read_text()) if samples_file.exists() else []
    tables = sorted({name for s in samples for name in s["kernelTables"]})
    minutes = [
        "| minute | agent RSS MiB | " + " | ".join(f"`{t}` entries" for t in tables)
        + " | series on /metrics | of deleted veths | requests sent | failed | requests reported | dropped |",
        "|" + "---|" * (8 + len(tables)),
    ]
    for s in samples:
        minutes.append(f"| {s['minute']:.2f} | {s['rssMiB']} | "
                       + "".join(f"{s['kernelTables'].get(t, 0)} | " for t in tables)
                       + f"{s['series']} | {s['deletedInterfaceSeries']} | {s['sent']} | {s['failed']} | {s['reported']}"
                       f" | {s['dropped']} |")
    minutes_run = round(samples[-1]["minute"]) if samples else args.minutes
    text = [
        "## Soak",
        "",
        f"`SoakIT` for {minutes_run} min on this kernel ({itfigures.kernel()}), `make soak SOAK_MINUTES={minutes_run}`:"
        " nginx (with a JDK and a Python backend behind it) at a steady 100 keep-alive requests/s over five"
        " paths (one 404) and 50 requests/s on a connection each, a `curl` process a second, and a Python server"
        " that starts on the same port, answers two requests and exits every 5 s, and a container's network (a namespace"
        " and a veth pair) made and removed every second; the agent exports spans and metrics (every"
        " 15 s) to a Collector and writes its request log. *requests reported* counts both sides of every"
        " exchange the agent saw (client and server), so it is about twice the requests sent plus nginx's"
        " upstream calls. Kernel tables are the agent's hash maps (`bpftool map dump`): `conns` the connection"
        " table, `handshakes` and `ssl_sockets` the TLS ones; the series are the non-comment lines of the"
        " agent's `/metrics`.",
        "",
        itfigures.table("soak"),
        "",
        "The agent's RSS includes its heap (`-Xmx128m` in obi-agent/jvm.options, SerialGC), which grows toward its maximum before the"
        " old generation is collected: in a run of minutes a rise of a few MiB a minute cannot be told from a"
        " leak; the hour of `make soak` (or the heap after a full GC) tells them apart.",
        "",
        "Every sample:",
        "",
        *minutes,
    ]
    itfigures.write(args.out, text, returncode, "soak")
    raise SystemExit(returncode)


if __name__ == "__main__":
    main()
