#!/usr/bin/env python3
"""obi-lab benchmarks: what obi-agent costs, side by side with no agent and with the OpenTelemetry
Java agent, measured in one run. Every scenario runs as interleaved rounds (baseline, variant;
variant, baseline; ...) so that the machine's noise hits every side alike, and its drift within a
round favours no side; every figure is a ratio to the baseline of the same run, with the spread of
the rounds.

  bench/run.py [--rounds 5] [--seconds 12] [--jit-warmup 10] [--out docs]     (make bench)
  bench/run.py --smoke                                       (CI: 1 round of 2 s, report in target/)

Scenarios: (1) nginx serving a small static file: no agent, the agent's kernel side alone (its
programs attached, nobody reading: bench/KernelOnly.java), the agent; (2) the same over HTTPS
(keep-alive): no agent, the agent; (3) nginx proxying to a JDK backend; (4) the JDK backend bare,
under obi-agent, under the OpenTelemetry Java agent (both exporting to a local Collector). Then the
cost of each BPF program per request (kernel.bpf_stats_enabled, HTTP and HTTPS), what an OpenSSL
uprobe costs per call, capacity, CPU, memory, start-up, and the agent's CPU profile.
Needs root, nginx, wrk, openssl, gnuplot, bpftool, the agent jar (make build), the Collector
(collector-config/build.sh) and Maven (fetches io.opentelemetry.javaagent). Run on a quiet machine:
the figures are the machine's.
"""
import argparse
import json
import os
import platform
import re
import shutil
import signal
import socket
import statistics
import subprocess
import sys
import tempfile
import threading
import time
import urllib.request
from pathlib import Path

REPO = Path(__file__).resolve().parent.parent
JAR = REPO / "obi-agent/target/quarkus-app/quarkus-run.jar"
AGENT_CLASSPATH = ":".join(str(REPO / "obi-agent/target/quarkus-app" / d / "*") for d in ("app", "lib/main", "lib/boot"))
BPF_OBJECT = REPO / "bpf/build/obi.bpf.o"
JVM_OPTIONS = REPO / "obi-agent/jvm.options"  # the agent's JVM as shipped
OTEL_JAVAAGENT = ("io.opentelemetry.javaagent", "opentelemetry-javaagent", "2.22.0")
WRK = ["wrk", "-t2", "-c50", "--latency"]
# A baseline that moves more than this between the rounds of a scenario makes the run a noisy one.
NOISY_BASELINE = 0.15
CLK_TCK = os.sysconf("SC_CLK_TCK")
BPF_STATS = Path("/proc/sys/kernel/bpf_stats_enabled")
# Quoted from obi-lab issue 17: Coroot's node-agent (tracepoints and OpenSSL uprobes, like obi-agent),
# measured side by side with obi-agent on the lab's previous host (Intel), 3 interleaved rounds, nginx
# small file, its L7 capture on. bench/peer.py measures it on this host (make bench-peer), when given its binary.
PEER = {"name": "Coroot node-agent", "throughput": (0.54, 0.57), "cpu_per_10k": (11, 15), "rss_mib": (123, 127)}


def say(message):
    print(f"bench: {message}", file=sys.stderr, flush=True)


def free_port():
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def wait_http(url, timeout=60, process=None):
    deadline = time.time() + timeout
    while time.time() < deadline:
        try:
            with urllib.request.urlopen(url, timeout=2) as r:
                if r.status == 200:
                    return
        except OSError:
            pass
        if process is not None and process.poll() is not None:
            raise SystemExit(f"bench: {process.args[0]} exited while starting ({url})")
        time.sleep(0.1)
    raise SystemExit(f"bench: {url} not ready after {timeout} s")


def cpu_seconds(pid):
    fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / CLK_TCK


def jit_cpu_seconds(pid):
    """CPU of the JVM's JIT compiler threads: compilation, which ends once the agent's code is hot."""
    total = 0.0
    for task in Path(f"/proc/{pid}/task").iterdir():
        try:
            if task.joinpath("comm").read_text().startswith(("C1 CompilerThre", "C2 CompilerThre")):
                total += cpu_seconds(f"{pid}/task/{task.name}")
        except OSError:
            pass  # a thread that ended meanwhile
    return total


def peak_rss_mib(pid):
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith("VmHWM:"):
            return int(line.split()[1]) / 1024
    return 0.0


def to_ms(value):
    number, unit = re.match(r"([\d.]+)(\w+)", value).groups()
    return float(number) * {"us": 0.001, "ms": 1.0, "s": 1000.0}[unit]


def wrk(url, seconds):
    out = subprocess.run(WRK + [f"-d{seconds}s", url], check=True, capture_output=True, text=True).stdout
    latency = dict(re.findall(r"^\s+(50|99)%\s+(\S+)$", out, re.M))
    errors = re.search(r"Non-2xx or 3xx responses: (\d+)", out)
    socket_errors = re.search(r"Socket errors: (.*)", out)
    return {
        "rps": float(re.search(r"Requests/sec:\s+([\d.]+)", out).group(1)),
        "requests": int(re.search(r"(\d+) requests in", out).group(1)),
        "p50": to_ms(latency["50"]),
        "p99": to_ms(latency["99"]),
        "errors": int(errors.group(1)) if errors else 0,
        "socket_errors": socket_errors.group(1) if socket_errors else "",
    }


class Lab:
    """nginx (static file over HTTP and HTTPS, and a proxy), the JDK backend, the Collector: started once for the whole run."""

    def __init__(self, work):
        self.work = work
        self.processes = []
        self.nginx_port = free_port()
        self.tls_port = free_port()
        self.backend_port = free_port()
        self.collector_grpc = free_port()

    def spawn(self, name, command, env=None, preexec_fn=None):
        log = open(self.work / f"{name}.log", "w")
        p = subprocess.Popen(command, stdout=log, stderr=subprocess.STDOUT, env={**os.environ, **(env or {})},
                             cwd=self.work, preexec_fn=preexec_fn)
        self.processes.append(p)
        return p

    def start_nginx(self, http, preexec_fn=None):
        """nginx with its small static file (1 worker, no access log, endless keep-alive) and the http block's
        own lines; returns once it serves the file. preexec_fn: run in nginx's process before it starts."""
        (self.work / "www").mkdir()
        (self.work / "tmp").mkdir()
        (self.work / "www/index.html").write_text("hello from obi-lab\n")
        (self.work / "nginx.conf").write_text(f"""
user root;
worker_processes 1;
pid {self.work}/nginx.pid;
error_log {self.work}/nginx-error.log;
events {{ worker_connections 4096; }}
http {{
  access_log off;
  keepalive_requests 1000000;
  client_body_temp_path {self.work}/tmp; proxy_temp_path {self.work}/tmp; fastcgi_temp_path {self.work}/tmp;
  uwsgi_temp_path {self.work}/tmp; scgi_temp_path {self.work}/tmp;
{http}
}}
""")
        self.spawn("nginx", ["nginx", "-p", str(self.work), "-c", str(self.work / "nginx.conf"), "-g", "daemon off;"],
                   preexec_fn=preexec_fn)
        wait_http(f"http://127.0.0.1:{self.nginx_port}/index.html")

    def start(self, collector):
        # A certificate made for this run, never kept.
        subprocess.run(["openssl", "req", "-x509", "-newkey", "rsa:2048", "-nodes", "-days", "1", "-subj", "/CN=localhost",
                        "-keyout", str(self.work / "key.pem"), "-out", str(self.work / "cert.pem")],
                       check=True, capture_output=True)
        self.start_nginx(f"""  upstream jdk {{ server 127.0.0.1:{self.backend_port}; keepalive 64; }}
  server {{
    listen 127.0.0.1:{self.nginx_port};
    listen 127.0.0.1:{self.tls_port} ssl;
    ssl_certificate {self.work}/cert.pem;
    ssl_certificate_key {self.work}/key.pem;
    root {self.work}/www;
    location /jdk/ {{ proxy_pass http://jdk/; proxy_http_version 1.1; proxy_set_header Connection ""; }}
  }}""")
        classes = self.work / "classes"
        subprocess.run(["javac", "-encoding", "UTF-8", "-d", str(classes), str(REPO / "demo/app/Backend.java")],
                       check=True)
        self.backend_classes = classes
        (self.work / "collector.yaml").write_text(f"""
receivers:
  otlp:
    protocols:
      grpc:
        endpoint: 127.0.0.1:{self.collector_grpc}
processors:
  batch: {{}}
exporters:
  debug:
    verbosity: basic
    sampling_initial: 1
    sampling_thereafter: 1000
service:
  telemetry:
    metrics:
      level: none
  pipelines:
    traces: {{receivers: [otlp], processors: [batch], exporters: [debug]}}
    metrics: {{receivers: [otlp], processors: [batch], exporters: [debug]}}
    logs: {{receivers: [otlp], processors: [batch], exporters: [debug]}}
""")
        self.spawn("collector", [collector, "--config", str(self.work / "collector.yaml")])

    def backend(self, name, java_options=(), env=None):
        """The demo's JDK backend with no added latency; returns its process once it answers."""
        p = self.spawn(name, ["java", "-XX:+UseSerialGC", "-Xmx256m", "-Dsun.net.httpserver.nodelay=true",
                              *java_options, "-cp", str(self.backend_classes), "Backend"],
                       env={"PORT": str(self.backend_port), "LATENCY_MS": "0", "JITTER_MS": "0",
                            "TAIL_PERCENT": "0", "ERROR_PERCENT": "0", "OTEL_SERVICE_NAME": "bench-backend",
                            **(env or {})})
        wait_http(f"http://127.0.0.1:{self.backend_port}/healthz", process=p)
        # JIT warm-up, outside the measurement
        subprocess.run(WRK + ["-d3s", f"http://127.0.0.1:{self.backend_port}/api/orders"], capture_output=True)
        return p

    def stop(self, p):
        p.send_signal(signal.SIGTERM)
        try:
            p.wait(timeout=30)
        except subprocess.TimeoutExpired:
            p.kill()
            p.wait()
        if p in self.processes:
            self.processes.remove(p)

    def close(self):
        for p in reversed(self.processes):
            self.stop(p)


class Agent:
    """obi-agent as docs/configuration.md runs it; started for each measured round, its start-up timed."""

    def __init__(self, lab, otlp=False, services=None):
        self.lab = lab
        self.metrics_port = free_port()
        health = free_port()
        self.log = lab.work / "requests.jsonl"
        self.log.unlink(missing_ok=True)
        options = [f"-Dobi.metrics.prometheus.port={self.metrics_port}", f"-Dobi.health.port={health}",
                   "-Dobi.stats-interval=0"]
        options.append("-Dobi.request-log.enabled=false" if otlp else f"-Dobi.request-log.path={self.log}")
        if services:
            options.append(f"-Dobi.watch.services={services}")
        env = {"OTEL_EXPORTER_OTLP_ENDPOINT": f"http://127.0.0.1:{lab.collector_grpc}",
               "OTEL_METRIC_EXPORT_INTERVAL": "10000"} if otlp else {}
        # A 404, in the log's default tail as the client's error (the prober's side of the exchange).
        probe_url = f"http://127.0.0.1:{lab.nginx_port}/startup-probe"
        stop_probe = threading.Event()
        launched = time.monotonic()
        self.process = lab.spawn("agent", ["java", f"@{JVM_OPTIONS}", *options, "-jar", str(JAR)], env=env)
        self.startup_s = None
        if not otlp:
            threading.Thread(target=self._probe, args=(probe_url, stop_probe), daemon=True).start()
            deadline = time.monotonic() + 60
            while time.monotonic() < deadline and self.startup_s is None:
                if self.log.exists() and "startup-probe" in self.log.read_text(errors="replace"):
                    self.startup_s = time.monotonic() - launched
                time.sleep(0.01)
            stop_probe.set()
        wait_http(f"http://127.0.0.1:{health}/q/health/ready", process=self.process)

    @staticmethod
    def _probe(url, stop):
        while not stop.is_set():
            try:
                urllib.request.urlopen(url, timeout=1).read()
            except OSError:
                pass
            time.sleep(0.01)

    def counters(self):
        text = urllib.request.urlopen(f"http://127.0.0.1:{self.metrics_port}/metrics", timeout=5).read().decode()
        records = sum(float(v) for v in re.findall(r"^obi_agent_records_total(?:{[^}]*})? ([\d.e+-]+)$", text, re.M))
        dropped = {}
        for reason, v in re.findall(r'^obi_agent_dropped_total{[^}]*obi_drop_reason="([^"]+)"[^}]*} ([\d.e+-]+)$', text, re.M):
            dropped[reason] = dropped.get(reason, 0) + float(v)
        return {"records": records, "dropped": dropped}

    def stop(self):
        self.lab.stop(self.process)
        self.log.unlink(missing_ok=True)


class KernelOnly:
    """The agent's BPF programs attached as it attaches them, nobody reading (bench/KernelOnly.java)."""

    def __init__(self, lab):
        self.lab = lab
        log = lab.work / "kernel-only.log"
        self.process = lab.spawn("kernel-only", ["java", "-cp", AGENT_CLASSPATH, str(REPO / "bench/KernelOnly.java"),
                                                 str(BPF_OBJECT)])
        deadline = time.monotonic() + 60
        while "attached:" not in log.read_text(errors="replace"):
            if self.process.poll() is not None or time.monotonic() > deadline:
                raise SystemExit(f"bench: bench/KernelOnly.java did not attach:\n{log.read_text(errors='replace')}")
            time.sleep(0.05)

    def stop(self):
        self.lab.stop(self.process)


def measured(lab, url, seconds, agent=None):
    """One wrk run; with an agent, its CPU, records and drops over the same window."""
    before = (cpu_seconds(agent.process.pid), jit_cpu_seconds(agent.process.pid), agent.counters()) if agent else None
    start = time.monotonic()
    result = wrk(url, seconds)
    elapsed = time.monotonic() - start
    if agent:
        cpu_before, jit_before, counters_before = before
        counters = agent.counters()
        result["agent_cpu"] = (cpu_seconds(agent.process.pid) - cpu_before) / elapsed
        result["agent_jit_cpu"] = (jit_cpu_seconds(agent.process.pid) - jit_before) / elapsed
        result["records_per_s"] = (counters["records"] - counters_before["records"]) / elapsed
        by_reason = {k: v - counters_before["dropped"].get(k, 0) for k, v in counters["dropped"].items()}
        result["dropped_by_reason"] = {k: v for k, v in by_reason.items() if v}
        result["dropped"] = sum(by_reason.values())
        result["rss_mib"] = peak_rss_mib(agent.process.pid)
    return result


def interleaved(lab, name, variants, rounds, seconds, jit_warmup, java_everywhere=False):
    """variants: [(label, start() -> context or None, url, stop(context))]; rounds of each, interleaved,
    every other round in reverse order: a host whose speed drifts during a round (this one's nginx
    baseline moved by 42% within a run) would otherwise favour the side that always goes first. Each
    window comes after a warm-up under load: jit_warmup seconds where a JVM is measured (the agent,
    started for each of its rounds; with java_everywhere, every side, for a Java backend), 3 s
    otherwise. An agent's endpoint is scraped once before it, for the same reason."""
    results = {label: [] for label, *_ in variants}
    for r in range(rounds):
        for label, start, url, stop in (variants if r % 2 == 0 else variants[::-1]):
            context = start()
            agent = context if isinstance(context, Agent) else None
            if agent:
                agent.counters()
            warmup = jit_warmup if agent or java_everywhere else 3
            jit_before = jit_cpu_seconds(agent.process.pid) if agent else 0
            warmup_start = time.monotonic()
            subprocess.run(WRK + [f"-d{warmup}s", url], capture_output=True)
            warmup_jit = (jit_cpu_seconds(agent.process.pid) - jit_before) / (time.monotonic() - warmup_start) \
                if agent else 0
            result = measured(lab, url, seconds, agent)
            if agent:
                result["agent_jit_cpu_warmup"] = warmup_jit
            if agent and agent.startup_s is not None:
                result["startup_s"] = agent.startup_s
            results[label].append(result)
            stop(context)
            say(f"{name} round {r + 1}/{rounds} {label}: {result['rps']:.0f} req/s, p50 {result['p50']:.3f} ms, "
                f"p99 {result['p99']:.3f} ms" + (f", agent {100 * result['agent_cpu']:.0f}% CPU, "
                                                 f"{result['records_per_s']:.0f} records/s, {result['dropped']:.0f} dropped, "
                                                 f"{result['rss_mib']:.0f} MiB"
                                                 if agent else ""))
    return results


def bpf_programs():
    """{id: (name, run_time_ns, run_cnt)} of every loaded BPF program (the counts need bpf_stats_enabled)."""
    out = subprocess.run(["bpftool", "prog", "show", "-j"], check=True, capture_output=True, text=True).stdout
    return {p["id"]: (p.get("name", "?"), p.get("run_time_ns", 0), p.get("run_cnt", 0)) for p in json.loads(out)}


# The first group whose prefix matches (bpftool shows names cut to 15 characters). The phase hooks
# (issue 19: accept's return, tcp_probe for arrivals) are told apart from the rest to show their cost.
PROGRAM_GROUPS = (("phase hooks: accept exit", ("exit_accept",)), ("phase hooks: tcp_probe", ("on_tcp_segment",)),
                  ("syscall tracepoints", ("exit_socket", "start_socket")), ("TCP tracepoints", ("on_tcp_",)),
                  ("OpenSSL uprobes", ("ssl_",)))


def program_group(name):
    return next((group for group, prefixes in PROGRAM_GROUPS if name.startswith(prefixes)), "other")


def program_costs(lab, urls, seconds):
    """Per request: how often each BPF program of the agent ran and how long, at saturation, by kernel.bpf_stats_enabled."""
    earlier = set(bpf_programs())
    agent = Agent(lab)
    costs = {}
    try:
        BPF_STATS.write_text("1")
        for name, url in urls:
            subprocess.run(WRK + ["-d3s", url], capture_output=True)
            before = {k: v for k, v in bpf_programs().items() if k not in earlier}
            result = wrk(url, seconds)
            after = bpf_programs()
            by_group = {}
            for prog_id, (prog, ns0, runs0) in before.items():
                _, ns1, runs1 = after.get(prog_id, (prog, ns0, runs0))
                group = by_group.setdefault(program_group(prog), {"runs": 0, "ns": 0})
                group["runs"] += runs1 - runs0
                group["ns"] += ns1 - ns0
            costs[name] = {"requests": result["requests"], "rps": result["rps"], "groups": by_group}
            say(f"BPF programs, {name}: " + ", ".join(
                f"{g} {v['ns'] / max(1, result['requests']):.0f} ns/request" for g, v in by_group.items() if v["runs"]))
    finally:
        BPF_STATS.write_text("0")
        agent.stop()
    return costs


TLS_LOOP = r"""
import ssl, sys, time
calls, cert, key = int(sys.argv[1]), sys.argv[2], sys.argv[3]
server_context = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
server_context.load_cert_chain(cert, key)
client_context = ssl.SSLContext(ssl.PROTOCOL_TLS_CLIENT)
client_context.check_hostname, client_context.verify_mode = False, ssl.CERT_NONE
to_server, to_client = ssl.MemoryBIO(), ssl.MemoryBIO()
server_out, client_out = ssl.MemoryBIO(), ssl.MemoryBIO()
server = server_context.wrap_bio(to_server, server_out, server_side=True)
client = client_context.wrap_bio(to_client, client_out, server_hostname="localhost")
def pump():
    to_server.write(client_out.read())
    to_client.write(server_out.read())
for side in (client, server) * 4:
    try:
        side.do_handshake()
    except ssl.SSLWantReadError:
        pass
    pump()
message = b"GET / HTTP/1.1\r\n\r\n"
start = time.perf_counter_ns()
for _ in range(calls):
    client.write(message)  # SSL_write_ex
    to_server.write(client_out.read())
    server.read(64)  # SSL_read_ex
print((time.perf_counter_ns() - start) / (2 * calls))
"""


def uprobe_cost(lab, rounds, calls):
    """ns per SSL_read_ex/SSL_write_ex call without and with the agent's uprobes attached: memory BIOs, no
    socket, so the programs take their shortest path; what is measured is mostly the trap itself."""
    script = lab.work / "tls_loop.py"
    script.write_text(TLS_LOOP)
    loop = ["python3", str(script), str(calls), str(lab.work / "cert.pem"), str(lab.work / "key.pem")]
    results = {"without": [], "with": []}
    for _ in range(rounds):
        results["without"].append(float(subprocess.run(loop, check=True, capture_output=True, text=True).stdout))
        kernel = KernelOnly(lab)
        try:
            results["with"].append(float(subprocess.run(loop, check=True, capture_output=True, text=True).stdout))
        finally:
            kernel.stop()
    per_call = [w - wo for w, wo in zip(results["with"], results["without"])]
    say(f"OpenSSL uprobes: {statistics.median(per_call):.0f} ns per call (entry and return)")
    return {**results, "per_call_ns": per_call}


def ratio_stats(results, label, baseline, key):
    """Per-round ratio to the baseline of the same round: median, min, max."""
    ratios = [v[key] / b[key] for v, b in zip(results[label], results[baseline]) if b[key]]
    return statistics.median(ratios), min(ratios), max(ratios)


def median(results, label, key):
    values = [r[key] for r in results[label] if key in r]
    return statistics.median(values) if values else float("nan")


def main():
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--rounds", type=int, default=5)
    parser.add_argument("--seconds", type=int, default=12)
    # A JVM's JIT compiles its hot code in the first seconds under load (about a third of the agent's CPU
    # in a window starting 3 s after it), a cost paid once: the windows of JVM sides come after it.
    parser.add_argument("--jit-warmup", type=int, default=10, help="seconds of load before a JVM side's window")
    parser.add_argument("--out", default=str(REPO / "docs"))
    parser.add_argument("--smoke", action="store_true", help="1 round of 2 s, report under obi-agent/target/bench")
    args = parser.parse_args()
    if args.smoke:
        args.rounds, args.seconds, args.jit_warmup, args.out = 1, 2, 2, str(REPO / "obi-agent/target/bench")
    if os.geteuid() != 0:
        raise SystemExit("bench: run as root (the agent loads BPF programs)")
    for tool in ("nginx", "wrk", "java", "javac", "gnuplot", "mvn", "openssl", "bpftool"):
        if not shutil.which(tool):
            raise SystemExit(f"bench: {tool} missing (make deps installs it)")
    if not JAR.exists() or not BPF_OBJECT.exists():
        raise SystemExit(f"bench: {JAR} or {BPF_OBJECT} missing: make build")
    collector = subprocess.run([str(REPO / "collector-config/build.sh")], check=True, capture_output=True,
                               text=True).stdout.strip().splitlines()[-1]
    group, artifact, version = OTEL_JAVAAGENT
    subprocess.run(["mvn", "-B", "-q", "dependency:get", f"-Dartifact={group}:{artifact}:{version}",
                    "-Dtransitive=false"], check=True, cwd=tempfile.gettempdir())
    javaagent = Path.home() / ".m2/repository" / group.replace(".", "/") / artifact / version / f"{artifact}-{version}.jar"

    work = Path(tempfile.mkdtemp(prefix="obi-bench-"))
    lab = Lab(work)
    started = time.time()
    runs = {}
    try:
        lab.start(collector)
        static = f"http://127.0.0.1:{lab.nginx_port}/index.html"
        static_tls = f"https://127.0.0.1:{lab.tls_port}/index.html"
        proxied = f"http://127.0.0.1:{lab.nginx_port}/jdk/api/orders"
        direct = f"http://127.0.0.1:{lab.backend_port}/api/orders"
        none = (lambda: None, lambda _: None)
        with_agent = (lambda: Agent(lab), lambda a: a.stop())
        kernel_only = (lambda: KernelOnly(lab), lambda k: k.stop())

        say(f"1/4 nginx static file: {args.rounds} rounds of {args.seconds} s, without obi-agent, its kernel side"
            " alone, with it")
        runs["nginx"] = interleaved(lab, "nginx", [("baseline", none[0], static, none[1]),
                                                   ("kernel-only", kernel_only[0], static, kernel_only[1]),
                                                   ("obi-agent", with_agent[0], static, with_agent[1])],
                                    args.rounds, args.seconds, args.jit_warmup)

        say("2/4 nginx static file over HTTPS (keep-alive)")
        runs["https"] = interleaved(lab, "https", [("baseline", none[0], static_tls, none[1]),
                                                   ("obi-agent", with_agent[0], static_tls, with_agent[1])],
                                    args.rounds, args.seconds, args.jit_warmup)

        say("3/4 nginx proxying to the JDK backend")
        backend = lab.backend("backend")
        runs["proxy"] = interleaved(lab, "proxy", [("baseline", none[0], proxied, none[1]),
                                                   ("obi-agent", with_agent[0], proxied, with_agent[1])],
                                    args.rounds, args.seconds, args.jit_warmup, java_everywhere=True)
        lab.stop(backend)

        say("4/4 the JDK backend bare, under obi-agent, under the OpenTelemetry Java agent")
        holder = {}
        def bare():
            holder["backend"] = lab.backend("backend")
        def obi():
            holder["backend"] = lab.backend("backend")
            # Like the Java agent, report the backend only (the kernel sets wrk's connections aside).
            return Agent(lab, otlp=True, services="bench-backend")
        def otel():
            holder["backend"] = lab.backend("backend-otel", [f"-javaagent:{javaagent}"], {
                "OTEL_EXPORTER_OTLP_ENDPOINT": f"http://127.0.0.1:{lab.collector_grpc}",
                "OTEL_EXPORTER_OTLP_PROTOCOL": "grpc", "OTEL_LOGS_EXPORTER": "none",
                "OTEL_METRIC_EXPORT_INTERVAL": "10000"})
        def stop(context):
            if isinstance(context, Agent):
                context.stop()
            lab.stop(holder.pop("backend"))
        runs["jdk"] = interleaved(lab, "jdk", [("baseline", bare, direct, stop), ("obi-agent", obi, direct, stop),
                                               ("otel-javaagent", otel, direct, stop)], args.rounds, args.seconds,
                                    args.jit_warmup, java_everywhere=True)

        say("the cost of each BPF program per request (kernel.bpf_stats_enabled)")
        runs["programs"] = program_costs(lab, [("HTTP", static), ("HTTPS", static_tls)], max(2, args.seconds * 2 // 3))
        say("what an OpenSSL uprobe costs per call")
        runs["uprobe"] = uprobe_cost(lab, 3, 20_000 if args.smoke else 200_000)
    finally:
        lab.close()
    say("where the agent's CPU goes: bench/profile.sh (Java Flight Recorder)")
    profile = subprocess.run([str(REPO / "bench/profile.sh"), str(max(3, args.seconds))], capture_output=True,
                             text=True).stdout
    profile = "\n".join(l for l in profile.splitlines() if not l.startswith("["))
    elapsed = time.time() - started
    report(Path(args.out), args, runs, elapsed, version, profile)
    if not args.smoke:
        shutil.rmtree(work, ignore_errors=True)


def machine():
    cpu = next((l.split(":", 1)[1].strip() for l in Path("/proc/cpuinfo").read_text().splitlines()
                if l.startswith("model name")), platform.processor())
    mem = int(next(l.split()[1] for l in Path("/proc/meminfo").read_text().splitlines() if l.startswith("MemTotal")))
    java = subprocess.run(["java", "-version"], capture_output=True, text=True).stderr.splitlines()[0]
    nginx = subprocess.run(["nginx", "-v"], capture_output=True, text=True).stderr.strip()
    return (f"Linux {platform.release()}, {os.cpu_count()} CPUs ({cpu}), {mem / 1024 / 1024:.0f} GiB; {java}; {nginx}; "
            f"wrk {' '.join(WRK[1:])}, loopback, keep-alive")


def fmt_ratio(stats):
    med, low, high = stats
    return f"{100 * med:.1f}% ({100 * low:.1f}-{100 * high:.1f})"


def spread(values, digits=1):
    return (f"{statistics.median(values):.{digits}f} ({min(values):.{digits}f}-{max(values):.{digits}f})"
            if values else "n/a")


def peer_run(out):
    """bench/peer.py's side-by-side run with Coroot on this host, if one was made (None otherwise)."""
    path = out / "benchmarks-peer.json"
    return json.loads(path.read_text()) if path.exists() else None


def peer_target(peer, tput, cpu_with_jit, nginx_rss, target):
    """Ahead of the peer: from bench/peer.py's side-by-side rounds (peer_run) where there are some, else issue 17's quote."""
    quoted = (f"nginx static file kept {PEER['throughput'][0]:.2f}-{PEER['throughput'][1]:.2f}, "
              f"{PEER['cpu_per_10k'][0]}-{PEER['cpu_per_10k'][1]}% of a core per 10k requests/s, "
              f"{PEER['rss_mib'][0]}-{PEER['rss_mib'][1]} MiB")
    if not peer:
        return target(tput > PEER["throughput"][1] and cpu_with_jit < PEER["cpu_per_10k"][0] and nginx_rss < PEER["rss_mib"][0],
                      f"ahead of {PEER['name']} on all three, in the scenario it was measured in (quoted: {quoted}): "
                      f"obi-agent {tput:.2f}, {cpu_with_jit:.1f}% (JIT compilation included), {nginx_rss:.0f} MiB peak")
    theirs, ours = (peer["summary"][k] for k in ("Coroot", "obi-agent"))
    keys = ("ratio", "cpu_per_10k", "rss_mib")
    t, o = ({k: side[k]["median"] for k in keys} for side in (theirs, ours))
    # within 5% of each other, the rounds' noise decides: said, not counted as ahead
    ties = [name for name, key in (("throughput", "ratio"), ("CPU", "cpu_per_10k"), ("memory", "rss_mib"))
            if abs(o[key] - t[key]) <= 0.05 * t[key]]
    ahead = o["ratio"] > t["ratio"] and o["cpu_per_10k"] < t["cpu_per_10k"] and o["rss_mib"] < t["rss_mib"]
    text = (f"ahead of {PEER['name']} on all three, side by side on this host ([benchmarks-peer.md](benchmarks-peer.md), "
            f"{peer['date']}, obi-agent at {peer['obi_agent_commit']}): nginx static file kept {o['ratio']:.2f} vs "
            f"{t['ratio']:.2f}, {o['cpu_per_10k']:.1f}% vs {t['cpu_per_10k']:.1f}% of a core per 10k requests/s, "
            f"{o['rss_mib']:.0f} vs {t['rss_mib']:.0f} MiB (issue 17's figures, from the lab's previous host: {quoted})")
    if ahead and ties:
        return f"| {text} | not settled: even (within 5%) on {' and '.join(ties)} |"
    return target(ahead, text)


def peer_note(peer):
    if peer:
        return (f"The peer's figures come from `make bench-peer` ({peer['date']}, Coroot {peer['coroot_version']}), "
                f"its own interleaved rounds with obi-agent on this host, not from this run.")
    return ("The peer's figures are quoted from obi-lab issue 17 (measured side by side with obi-agent in an\n"
            "earlier run, on the lab's previous host, an Intel VM; not by this script); ours are this run's.\n"
            "`make bench-peer COROOT=...` measures them here.")


def report(out, args, runs, elapsed, otel_version, profile):
    out.mkdir(parents=True, exist_ok=True)
    command = "sudo make bench" if (args.rounds, args.seconds, args.jit_warmup) == (5, 12, 10) else \
        f"sudo bench/run.py --rounds {args.rounds} --seconds {args.seconds} --jit-warmup {args.jit_warmup}"
    nginx, https, proxy, jdk = runs["nginx"], runs["https"], runs["proxy"], runs["jdk"]
    scenarios = (("nginx static file", nginx), ("nginx static file, HTTPS", https), ("nginx -> JDK backend", proxy),
                 ("JDK backend", jdk))
    rows = []
    for name, results in scenarios:
        rows.append(f"| {name} | baseline | {median(results, 'baseline', 'rps'):,.0f} | 100% | "
                    f"{median(results, 'baseline', 'p50'):.3f} | {median(results, 'baseline', 'p99'):.3f} | 100% |")
        for v in (k for k in results if k != "baseline"):
            rows.append(f"| | {v} | {median(results, v, 'rps'):,.0f} | {fmt_ratio(ratio_stats(results, v, 'baseline', 'rps'))} | "
                        f"{median(results, v, 'p50'):.3f} | {median(results, v, 'p99'):.3f} | "
                        f"{fmt_ratio(ratio_stats(results, v, 'baseline', 'p99'))} |")
        assert len(results["baseline"]) == args.rounds

    # The host's own noise: how far the baseline moved between the rounds of one scenario. A ratio is per
    # round, against the baseline next to it, but a verdict within this much of its target is not settled.
    spreads = {name: (min(r["rps"] for r in results["baseline"]), max(r["rps"] for r in results["baseline"]),
                      median(results, "baseline", "rps"))
               for name, results in scenarios}
    widest = max((hi - lo) / mid for lo, hi, mid in spreads.values())
    noise = ("The baseline itself moved between rounds (min-max requests/s): " + "; ".join(
        f"{name} {lo:,.0f}-{hi:,.0f}" for name, (lo, hi, _) in spreads.items()) + ".")
    if widest > NOISY_BASELINE:
        noise += (f" **A noisy run**: a baseline moved by {100 * widest:.0f}% of its median (more than"
                  f" {100 * NOISY_BASELINE:.0f}%); a verdict within a few points of its target is not settled by it.")

    def cpu_per_10k(rounds, jit=True):
        """The JIT compiler's threads aside (jit=False), what the agent costs once its code is compiled: they
        run at start only (after 10 s under load, about a tenth of a core for 10 s more, then none)."""
        return [100 * (r["agent_cpu"] - (0 if jit else r["agent_jit_cpu"])) / (r["rps"] / 10_000) for r in rounds]
    cpu_rows = []
    for name, rounds in (("nginx static file", nginx["obi-agent"]), ("nginx static file, HTTPS", https["obi-agent"]),
                         ("nginx -> JDK backend", proxy["obi-agent"]),
                         ("JDK backend (spans and metrics over OTLP)", jdk["obi-agent"])):
        cpu_rows.append(f"| {name} | {spread([100 * r['agent_cpu'] for r in rounds])} | "
                        f"{spread([100 * r['agent_cpu'] / os.cpu_count() for r in rounds])} | "
                        f"{spread([100 * r['agent_jit_cpu'] for r in rounds])} | "
                        f"{spread(cpu_per_10k(rounds))} | {spread(cpu_per_10k(rounds, jit=False))} | "
                        f"{spread([r['rss_mib'] for r in rounds], 0)} |")
    capture_rounds = nginx["obi-agent"] + https["obi-agent"] + proxy["obi-agent"]
    zero_drop = [r["records_per_s"] for r in capture_rounds if r["dropped"] == 0]
    startups = [r["startup_s"] for r in capture_rounds if "startup_s" in r]
    rss = max(r["rss_mib"] for r in capture_rounds + jdk["obi-agent"])
    nginx_rss = max(r["rss_mib"] for r in nginx["obi-agent"])
    drops = sum(r["dropped"] for r in capture_rounds)
    export_drops = {}
    for r in jdk["obi-agent"]:
        for reason, n in r.get("dropped_by_reason", {}).items():
            export_drops[reason] = export_drops.get(reason, 0) + n

    tput = ratio_stats(nginx, "obi-agent", "baseline", "rps")[0]
    tput_kernel = ratio_stats(nginx, "kernel-only", "baseline", "rps")[0]
    cpu = statistics.median(cpu_per_10k(nginx["obi-agent"], jit=False))
    cpu_with_jit = statistics.median(cpu_per_10k(nginx["obi-agent"]))
    obi_cost = 1 - ratio_stats(jdk, "obi-agent", "baseline", "rps")[0]
    otel_cost = 1 - ratio_stats(jdk, "otel-javaagent", "baseline", "rps")[0]
    obi_p99 = ratio_stats(jdk, "obi-agent", "baseline", "p99")[0] - 1
    otel_p99 = ratio_stats(jdk, "otel-javaagent", "baseline", "p99")[0] - 1

    def per_request_ns(traffic, group=None):
        cost = runs["programs"][traffic]
        return sum(v["ns"] for g, v in cost["groups"].items() if group in (None, g)) / max(1, cost["requests"])
    kernel_says = (f"the kernel side alone keeps {100 * tput_kernel:.0f}%: its programs run "
                   f"{per_request_ns('HTTP'):,.0f} ns per request (both sides), {per_request_ns('HTTP', 'syscall tracepoints'):,.0f}"
                   f" of it on the socket-call hooks (sys_exit, tcp_sendmsg_locked); sys_exit's dispatch on every syscall"
                   f" costs more on top")

    def target(ok, text, distance=None):
        return f"| {text} | {'met' if ok else 'missed' + (' by ' + distance if distance else '')} |"
    peer = peer_run(out)
    targets = [
        target(tput >= 0.75, f"nginx static file keeps >= 75% of its throughput with obi-agent: {100 * tput:.1f}%",
               f"{100 * (0.75 - tput):.1f} points; {kernel_says}; the agent's process takes "
               f"{100 * median(nginx, 'obi-agent', 'agent_cpu'):.0f}% of a core from the same cores"),
        target(tput_kernel >= 0.80, f"... >= 80% with its programs attached and nobody reading: {100 * tput_kernel:.1f}%",
               f"{100 * (0.80 - tput_kernel):.1f} points: {kernel_says}"),
        target(cpu <= 3, f"agent CPU <= 3% of a core per 10k requests/s (nginx static file), its JIT compilation "
               f"aside: {cpu:.1f}% ({cpu_with_jit:.1f}% with it: the JIT compiler still took "
               f"{100 * median(nginx, 'obi-agent', 'agent_jit_cpu'):.1f}% of a core, a cost of the first half-minute)",
               f"{cpu - 3:.1f} points: the profile below says where"),
        target(rss <= 150, f"resident memory <= 150 MiB at saturation (JVM as shipped): peak {rss:.1f} MiB",
               f"{rss - 150:.1f} MiB"),
        target(obi_cost < otel_cost and obi_p99 < otel_p99,
               f"JDK backend: throughput cost and p99 increase below the OpenTelemetry Java agent's: obi-agent "
               f"{100 * obi_cost:.1f}% and {100 * obi_p99:+.0f}% vs {100 * otel_cost:.1f}% and {100 * otel_p99:+.0f}%"),
        peer_target(peer, tput, cpu_with_jit, nginx_rss, target),
        target(bool(zero_drop) and max(zero_drop) >= 50_000 and drops == 0,
               f"zero drops at 50k records/s: up to {max(zero_drop, default=0):,.0f} records/s with {drops:.0f} dropped "
               f"in all capture rounds"),
        target(bool(startups) and statistics.median(startups) <= 3,
               f"start to first captured request <= 3 s: median {statistics.median(startups) if startups else float('nan'):.2f} s "
               f"({min(startups, default=0):.2f}-{max(startups, default=0):.2f}, {len(startups)} starts)"),
    ]

    program_rows = []
    for name, cost in runs["programs"].items():
        for group, v in sorted(cost["groups"].items(), key=lambda kv: -kv[1]["ns"]):
            if v["runs"]:
                program_rows.append(f"| {name} | {group} | {v['runs'] / cost['requests']:.1f} | "
                                    f"{v['ns'] / v['runs']:.0f} | {v['ns'] / cost['requests']:,.0f} |")
        total = sum(v["ns"] for v in cost["groups"].values())
        program_rows.append(f"| {name} | all | | | **{total / cost['requests']:,.0f}** |")
    uprobe = runs["uprobe"]
    https_uprobes = runs["programs"].get("HTTPS", {}).get("groups", {}).get("OpenSSL uprobes", {"runs": 0, "ns": 0})
    uprobe_program_ns = https_uprobes["ns"] / https_uprobes["runs"] if https_uprobes["runs"] else float("nan")
    # An entry and a return program per call; both sides of each request call OpenSSL.
    uprobe_calls = https_uprobes["runs"] / 2 / runs["programs"]["HTTPS"]["requests"] if https_uprobes["runs"] else 0

    (out / "benchmarks.json").write_text(json.dumps(runs, indent=1))
    plot(out, runs)
    (out / "benchmarks.md").write_text(f"""# obi-agent benchmarks

Measured by `{command}` (bench/run.py) on {time.strftime('%Y-%m-%d')}, {elapsed / 60:.0f} minutes.
Machine: {machine()}.
Each scenario ran {args.rounds} interleaved rounds of {args.seconds} s (baseline, variant; variant, baseline; ...),
each after {args.jit_warmup} s of load where a JVM is measured (the agent is started for each of its rounds, and
its JIT compiles the hot code in those seconds; in the JDK scenarios, on every side), 3 s otherwise;
ratios are per round against the baseline of the same round: median (min-max). Latency in ms, as wrk
reports it (with `--latency`). The agent runs as shipped (obi-agent/jvm.options) with its defaults
(the request log's tail to a file, the Prometheus endpoint) in the nginx scenarios, and exports
spans and metrics over OTLP to a local Collector in the JDK backend's, like the OpenTelemetry Java
agent {otel_version} (traces and metrics, logs off) next to it; there it reports the backend only
(`obi.watch.services`), as the Java agent does: wrk's first requests are captured and dropped,
then the kernel sets its connections aside. `kernel-only` is the agent's BPF programs attached as the agent attaches
them, nobody reading the ring buffer (bench/KernelOnly.java): what the kernel side alone costs.
nginx, wrk, the backend and the agent share the machine's CPUs: on {os.cpu_count()} cores, what the
agent uses is taken from the others.

![throughput and p99 relative to the baseline](benchmarks.png)

## Throughput and latency

| scenario | variant | requests/s | throughput vs baseline | p50 ms | p99 ms | p99 vs baseline |
|---|---|---|---|---|---|---|
{chr(10).join(rows)}

## Against the targets

{noise}

| target | |
|---|---|
{chr(10).join(targets)}

{peer_note(peer)}

## Where the cost is: the kernel side

Every BPF program of the agent, timed by the kernel (`kernel.bpf_stats_enabled`) at saturation
while the agent ran ({max(2, args.seconds * 2 // 3)} s each, nginx static file). Both sides of each request are observed:
nginx's and wrk's. Program time only: entering a tracepoint or an uprobe costs more on top.

| traffic | programs | runs per request | ns per run | ns per request |
|---|---|---|---|---|
{chr(10).join(program_rows)}

An OpenSSL call under the agent's uprobes (entry and return, on the functions `SSL_read_ex` and
`SSL_write_ex` call: [HTTPS](tls.md#what-it-costs)) costs
{spread([v / 1000 for v in uprobe['per_call_ns']], 2)} µs per call in all: Python's `ssl` module on memory
BIOs, {len(uprobe['per_call_ns'])} rounds with and without the probes attached, a call taking
{spread([v / 1000 for v in uprobe['without']], 2)} µs without them. In the HTTPS scenario the uprobe
programs themselves ran {uprobe_program_ns:.0f} ns per call (entry and return), {uprobe_calls:.1f} calls per
request (both sides).

## Where the cost is: the agent's process

| scenario | agent CPU, % of a core | % of the machine | of which JIT compilation, % of a core | % of a core per 10k requests/s | the same, JIT compilation aside | resident MiB, peak |
|---|---|---|---|---|---|---|
{chr(10).join(cpu_rows)}

The JIT compiler's threads compile the agent's hot code once, in its first seconds under load (nginx
static file: {100 * median(nginx, 'obi-agent', 'agent_jit_cpu_warmup'):.0f}% of a core in the first {args.jit_warmup} s,
{100 * median(nginx, 'obi-agent', 'agent_jit_cpu'):.0f}% in the window after them; next to none after half a minute in a
longer run), so the CPU target is judged with them aside.

| figure | value |
|---|---|
| records/s kept up with at zero drops (both sides of each request are records) | {max(zero_drop, default=0):,.0f} (highest round) |
| records dropped, all rounds (ring buffer, tables, queue) | {drops:.0f} |
| JDK backend (every request a span over OTLP): dropped by reason | {", ".join(f"{k} {v:.0f}" for k, v in export_drops.items()) or "none"} |
| agent resident memory, peak of all rounds | {rss:.0f} MiB |
| start to first captured request | {statistics.median(startups) if startups else float('nan'):.2f} s median ({len(startups)} starts) |

`bench/profile.sh` (nginx static file at saturation, the agent under Java Flight Recorder) printed:

```
{profile}
```

Raw rounds: benchmarks.json.
""")
    say(f"report: {out / 'benchmarks.md'}")


def plot(out, runs):
    data = out / "benchmarks.dat"
    lines = []
    bars = (("nginx kernel side", "nginx", "kernel-only"), ("nginx", "nginx", "obi-agent"),
            ("nginx HTTPS", "https", "obi-agent"), ("nginx-to-JDK", "proxy", "obi-agent"),
            ("JDK obi-agent", "jdk", "obi-agent"), ("JDK OTel agent", "jdk", "otel-javaagent"))
    for i, (name, scenario, variant) in enumerate(bars):
        t = ratio_stats(runs[scenario], variant, "baseline", "rps")
        p = ratio_stats(runs[scenario], variant, "baseline", "p99")
        lines.append(f'{i} "{name}" {100 * t[0]:.2f} {100 * t[1]:.2f} {100 * t[2]:.2f} {100 * p[0]:.2f} {100 * p[1]:.2f} {100 * p[2]:.2f}')
    data.write_text("\n".join(lines) + "\n")
    subprocess.run(["gnuplot"], input=f"""
set terminal pngcairo size 1000,450 noenhanced font ",10"
set output "{out / 'benchmarks.png'}"
set title "relative to the baseline of the same rounds (median, min-max)"
set style data histograms
set style histogram errorbars gap 2 lw 1
set style fill solid 0.6 border -1
set ylabel "% of baseline"
set yrange [0:*]
set grid ytics
set key top left
plot "{data}" using 3:4:5:xtic(2) title "throughput", "" using 6:7:8 title "p99 latency", 100 with lines lc "black" dt 2 notitle
""", text=True, check=True)
    data.unlink()


if __name__ == "__main__":
    main()
