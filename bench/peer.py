#!/usr/bin/env python3
"""Coroot's node-agent and obi-agent side by side on this host: the peer issue 17 names (tracepoints
and OpenSSL uprobes, like obi-agent; written in Go). nginx (1 worker, the small static file, access
log off) on loopback, wrk -t2 -c50, interleaved rounds (baseline, Coroot, obi-agent; obi-agent,
Coroot, baseline; ...), obi-agent run as bench/run.py runs it. Coroot is built by the user (its
repository, `go build`) and given by path; it runs standalone: its Prometheus endpoint, no server.
  bench/peer.py --coroot PATH [--rounds 3] [--seconds 12] [--out docs]    (make bench-peer COROOT=PATH)
Writes benchmarks-peer.md and .json; bench/run.py's report takes the comparison from the .json.

Coroot follows a process only inside a container's cgroup: nginx runs in a cgroup of its own
(system/nginx, which Coroot names /talos/nginx and needs no runtime for), wrk and the agents in
user.slice/bench, a user session's (Coroot leaves those alone, as on any host). The cgroups are
created for the run in the cgroup-v2 hierarchy, with no controller enabled: nothing is limited.
Coroot reads the host through /proc/1; where PID 1 cannot be read (a VM's init, a container), it
runs in a mount namespace of its own where /proc/1 is its own /proc/<pid>.
"""
import argparse
import json
import os
import re
import statistics
import subprocess
import sys
import tempfile
import time
import urllib.request
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))
import run  # noqa: E402  (wrk, measured, Agent: obi-agent exactly as make bench runs it)

COROOT_FLAGS = ["--min-container-age=0s"]  # it hides containers younger than 30 s otherwise
NGINX_CONTAINER = "/talos/nginx"


def cgroup2_root():
    """The cgroup-v2 hierarchy: /sys/fs/cgroup on a unified host, its unified/ part on a hybrid one."""
    for root in (Path("/sys/fs/cgroup"), Path("/sys/fs/cgroup/unified")):
        if (root / "cgroup.controllers").exists():
            return root
    raise SystemExit("peer: no cgroup-v2 hierarchy mounted (Coroot needs one to follow nginx)")


def join_cgroup(cgroup, pid=None):
    (cgroup / "cgroup.procs").write_text(f"{pid or os.getpid()}\n")


def metric_total(port, name, label):
    """The sum of a Prometheus endpoint's series of one metric that carry the label (name="value")."""
    text = urllib.request.urlopen(f"http://127.0.0.1:{port}/metrics", timeout=10).read().decode()
    return sum(float(v) for v in re.findall(
        "^" + re.escape(name) + "{[^}]*" + re.escape(label) + r'[^}]*} ([\d.e+-]+)$', text, re.M))


class Coroot:
    """Coroot's node-agent with no server: L7 capture on, its metrics on 127.0.0.1. Started for each of its rounds."""

    def __init__(self, lab, binary):
        self.lab = lab
        self.metrics_port = run.free_port()
        command = [str(binary), f"--listen=127.0.0.1:{self.metrics_port}", *COROOT_FLAGS]
        if not os.access("/proc/1/ns/uts", os.R_OK):
            command = ["unshare", "--mount", "--propagation", "private", "sh", "-c",
                       'mount --bind /proc/$$ /proc/1 && exec "$0" "$@"', *command]
        launched = time.monotonic()
        self.process = lab.spawn("coroot", command)
        run.wait_http(f"http://127.0.0.1:{self.metrics_port}/metrics", process=self.process)
        # started once it counts nginx's requests
        deadline = time.monotonic() + 60
        self.startup_s = None
        while self.startup_s is None:
            if time.monotonic() > deadline or self.process.poll() is not None:
                raise SystemExit(f"peer: Coroot never counted nginx's requests (see {lab.work}/coroot.log)")
            urllib.request.urlopen(f"http://127.0.0.1:{lab.nginx_port}/index.html", timeout=2).read()
            if self.counters()["records"] > 0:
                self.startup_s = time.monotonic() - launched
            time.sleep(0.05)

    def counters(self):
        """As run.measured reads an agent's: nginx's requests it counted (it drops none it would tell of)."""
        counted = metric_total(self.metrics_port, "container_http_inbound_requests_total",
                               f'container_id="{NGINX_CONTAINER}"')
        return {"records": counted, "dropped": {}}

    def stop(self):
        self.lab.stop(self.process)


def nginx_requests_counted(agent, lab):
    """The requests to nginx an agent's own metrics counted: Coroot's inbound counter, obi-agent's server histogram."""
    if isinstance(agent, Coroot):
        return agent.counters()["records"]
    return metric_total(agent.metrics_port, "http_server_request_duration_seconds_count",
                        f'server_port="{lab.nginx_port}"')


def rounds(lab, binary, count, seconds, jit_warmup):
    url = f"http://127.0.0.1:{lab.nginx_port}/index.html"
    variants = [("baseline", lambda: None), ("Coroot", lambda: Coroot(lab, binary)), ("obi-agent", lambda: run.Agent(lab))]
    results = {label: [] for label, _ in variants}
    for r in range(count):
        for label, start in variants if r % 2 == 0 else variants[::-1]:
            agent = start()
            subprocess.run(run.WRK + [f"-d{jit_warmup if isinstance(agent, run.Agent) else 3}s", url], capture_output=True)
            before = nginx_requests_counted(agent, lab) if agent else 0
            result = run.measured(lab, url, seconds, agent)
            if agent:
                time.sleep(1)  # what the agent still had in its buffers
                result["counted_share"] = (nginx_requests_counted(agent, lab) - before) / result["requests"]
                result["startup_s"] = agent.startup_s
                agent.stop()
            results[label].append(result)
            run.say(f"round {r + 1}/{count} {label}: {result['rps']:,.0f} requests/s"
                    + (f", {100 * result['agent_cpu']:.1f}% of a core, {result['rss_mib']:.0f} MiB, "
                       f"counted {100 * result['counted_share']:.1f}% of the requests" if agent else ""))
    return results


def summary(results):
    out = {}
    for label in ("Coroot", "obi-agent"):
        rows = [{"ratio": a["rps"] / b["rps"], "cpu": 100 * a["agent_cpu"], "cpu_per_10k": 100 * a["agent_cpu"] / (a["rps"] / 1e4),
                 "rss_mib": a["rss_mib"], "counted_share": a["counted_share"], "p99_ms": a["p99"], "startup_s": a["startup_s"]}
                for b, a in zip(results["baseline"], results[label])]
        out[label] = {k: {"median": statistics.median(r[k] for r in rows), "min": min(r[k] for r in rows),
                          "max": max(r[k] for r in rows)} for k in rows[0] if rows[0][k] is not None}
    return out


def report(out, binary, args, results, elapsed):
    out.mkdir(parents=True, exist_ok=True)
    s = summary(results)
    printed = subprocess.run([str(binary), "--version"], capture_output=True, text=True).stdout.split()
    version = printed[-1] if printed else "unknown"  # "Version: v1.35.6"
    commit = subprocess.run(["git", "-C", str(run.REPO), "rev-parse", "--short", "HEAD"], capture_output=True,
                            text=True).stdout.strip()
    doc = {"date": time.strftime("%Y-%m-%d"), "machine": run.machine(), "coroot_version": version,
           "obi_agent_commit": commit, "rounds": args.rounds, "seconds": args.seconds, "summary": s, "results": results}
    (out / "benchmarks-peer.json").write_text(json.dumps(doc, indent=1))

    def cell(label, key, fmt):
        v = s[label][key]
        return f"{fmt.format(v['median'])} ({fmt.format(v['min'])}-{fmt.format(v['max'])})"
    rows = "\n".join(
        f"| {label} | {cell(label, 'ratio', '{:.2f}')} | {cell(label, 'cpu', '{:.1f}')} | {cell(label, 'cpu_per_10k', '{:.1f}')} "
        f"| {cell(label, 'rss_mib', '{:.0f}')} | {cell(label, 'p99_ms', '{:.2f}')} | {cell(label, 'counted_share', '{:.1%}')} "
        f"| {cell(label, 'startup_s', '{:.1f}')} |" for label in ("Coroot", "obi-agent"))
    base = [b["rps"] for b in results["baseline"]]
    (out / "benchmarks-peer.md").write_text(f"""# obi-agent and Coroot's node-agent, side by side

Measured by `bench/peer.py` on {doc['date']}, {elapsed / 60:.0f} minutes: Coroot's node-agent {version}, obi-agent at
{commit}. Machine: {doc['machine']}.
nginx serving its small static file on loopback (baseline {statistics.median(base):,.0f} requests/s,
{min(base):,.0f}-{max(base):,.0f}), wrk -t2 -c50, {args.rounds} interleaved rounds of {args.seconds} s (baseline,
Coroot, obi-agent; then the reverse order), each agent started for each of its rounds; median
(min-max) of the rounds. Coroot runs standalone (`{' '.join(COROOT_FLAGS)}`, its Prometheus endpoint, no
Coroot server to export to); obi-agent as `make bench` runs it (request log's tail, Prometheus).
"counted": the share of wrk's requests the agent's own metrics counted, a second after the window
(Coroot's `container_http_inbound_requests_total` for nginx, obi-agent's
`http_server_request_duration_seconds_count` on nginx's port).

| agent | throughput vs baseline | % of a core | % of a core per 10k requests/s | resident MiB, peak | p99 ms | counted | start to first counted request, s |
|---|---|---|---|---|---|---|---|
{rows}

Coroot has to be built where it runs; on a host like the lab's (no kprobes, a Go module proxy only)
that took: its generated eBPF object built from its sources (`ebpftracer/ebpf/`), three modules the
proxy refused replaced by their commits (or an older `logparser`), and its `kprobe/path_get` made
optional, which it cannot attach without kprobes: on a kernel with kprobes it runs one more hook.
Raw rounds: benchmarks-peer.json.
""")


def main():
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--coroot", required=True, type=Path, help="Coroot's node-agent binary")
    parser.add_argument("--rounds", type=int, default=3)
    parser.add_argument("--seconds", type=int, default=12)
    parser.add_argument("--jit-warmup", type=int, default=10)
    parser.add_argument("--out", type=Path, default=run.REPO / "docs")
    args = parser.parse_args()
    if os.geteuid() != 0:
        raise SystemExit("peer: run as root (both agents load BPF programs)")
    if not os.access(args.coroot, os.X_OK):
        raise SystemExit(f"peer: {args.coroot} is not an executable (build Coroot's node-agent, give its path)")
    if not run.JAR.exists():
        raise SystemExit(f"peer: {run.JAR} missing: make build")
    root = cgroup2_root()
    nginx_cgroup, bench_cgroup = root / "system/nginx", root / "user.slice/bench"
    created = [c for c in (root / "system", nginx_cgroup, root / "user.slice", bench_cgroup) if not c.exists()]
    for c in created:
        c.mkdir()
    started = time.time()
    with tempfile.TemporaryDirectory(prefix="obi-peer-") as work:
        lab = run.Lab(Path(work))
        join_cgroup(bench_cgroup)  # wrk and both agents inherit it
        try:
            lab.start_nginx(f"  server {{ listen 127.0.0.1:{lab.nginx_port}; root {work}/www; }}",
                            preexec_fn=lambda: join_cgroup(nginx_cgroup))
            results = rounds(lab, args.coroot, args.rounds, args.seconds, args.jit_warmup)
        finally:
            lab.close()
            join_cgroup(root)
            for c in reversed(created):
                c.rmdir()
    report(args.out, args.coroot, args, results, time.time() - started)
    run.say(f"report: {args.out / 'benchmarks-peer.md'}")


if __name__ == "__main__":
    main()
