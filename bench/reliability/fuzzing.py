#!/usr/bin/env python3
"""Coverage-guided fuzzing of every parser of untrusted bytes (the agent's *FuzzTest classes) with
Jazzer, one target after the other, each for a fixed time; the figures go to a Markdown fragment of
docs/reliability.md.

  bench/reliability/fuzzing.py [--seconds 60] [--out FILE]   (make fuzz FUZZ_SECONDS=600; make reliability)
  bench/reliability/fuzzing.py --smoke                        (make test: 1 s per target, two at once, report in target/)

Each target starts from its checked-in inputs (obi-agent/src/test/resources/.../<Class>Inputs/<method>/:
seeds and the regressions of every crash found, which `mvn test` replays) and grows a corpus of its
own under obi-agent/target/fuzz/. A crash is written there (crash-*), named in the report, and makes
this script exit 1: minimise it, fix the parser and move it beside the test as a regression.
Needs Maven and a JDK; no root.
"""
import argparse
import concurrent.futures
import re
import shutil
import subprocess
import sys
import time
from pathlib import Path

REPO = Path(__file__).resolve().parents[2]
AGENT = REPO / "obi-agent"
WORK = AGENT / "target/fuzz"
HEAP = "-Xmx512m"  # the fuzzed JVM's heap: an input that makes a parser hold more is a finding
RSS_LIMIT_MB = 2048
STATUS = re.compile(r"#(\d+)\s+\w+\s+cov: (\d+) ft: (\d+) corp: (\d+)/\S+.*?exec/s: (\d+) rss: (\d+)Mb")
DONE = re.compile(r"Done (\d+) runs in (\d+) second")


def say(message):
    print(f"fuzzing: {message}", file=sys.stderr, flush=True)


def targets():
    """(class, method) of every @FuzzTest in the agent's tests."""
    found = []
    for source in sorted((AGENT / "src/test/java").rglob("*FuzzTest.java")):
        text = source.read_text()
        package = re.search(r"^package ([\w.]+);", text, re.M).group(1)
        for method in re.findall(r"@FuzzTest\s+void (\w+)\(", text):
            found.append((f"{package}.{source.stem}", method))
    return found


def classpath():
    out = WORK / "test.classpath"
    subprocess.run(["mvn", "-B", "-q", "test-compile", "dependency:build-classpath", f"-Dmdep.outputFile={out}",
                    "-Dmdep.includeScope=test"], cwd=AGENT, check=True)
    return ":".join([str(AGENT / "target/test-classes"), str(AGENT / "target/classes"), out.read_text().strip()])


def inputs_of(test_class, method):
    return AGENT / "src/test/resources" / (test_class.replace(".", "/") + "Inputs") / method


def fuzz(cp, test_class, method, seconds):
    """Runs one target; returns its figures, and the crash files it wrote."""
    name = f"{test_class.rsplit('.', 1)[1]}.{method}"
    corpus = WORK / "corpus" / name
    artifacts = WORK / "findings" / name
    corpus.mkdir(parents=True, exist_ok=True)
    if artifacts.exists():
        shutil.rmtree(artifacts)
    artifacts.mkdir(parents=True)
    seeds = inputs_of(test_class, method)
    if seeds.is_dir():
        for seed in seeds.iterdir():
            shutil.copy(seed, corpus / seed.name)
    command = ["java", HEAP, "-cp", cp, "com.code_intelligence.jazzer.Jazzer", f"--target_class={test_class}",
               f"--target_method={method}", "--hooks=true", "--instrumentation_includes=lab.obi.**",
               f"-max_total_time={seconds}", f"-rss_limit_mb={RSS_LIMIT_MB}", "-timeout=10",
               f"-artifact_prefix={artifacts}/", str(corpus)]
    log = WORK / f"{name}.log"
    started = time.time()
    with open(log, "w") as out:
        code = subprocess.run(command, cwd=WORK, stdout=out, stderr=subprocess.STDOUT).returncode
    text = log.read_text(errors="replace")
    last = STATUS.findall(text)
    done = DONE.search(text)
    crashes = sorted(p.name for p in artifacts.iterdir())
    figures = {
        "target": name,
        "seconds": int(done.group(2)) if done else round(time.time() - started),
        "runs": int(done.group(1)) if done else (int(last[-1][0]) if last else 0),
        "cov": int(last[-1][1]) if last else 0,
        "ft": int(last[-1][2]) if last else 0,
        "corpus": int(last[-1][3]) if last else 0,
        "rss": max((int(s[5]) for s in last), default=0),
        "crashes": crashes,
        "exit": code,
    }
    if code != 0 and not crashes:
        figures["crashes"] = [f"exit {code}, see {log.relative_to(REPO)}"]
    elif not figures["cov"]:
        # libFuzzer prints no coverage when no class of the agent was instrumented: fuzzing blind
        figures["crashes"] = [f"no coverage: the agent's classes were not instrumented, see {log.relative_to(REPO)}"]
    say(f"{name}: {figures['runs']} runs in {figures['seconds']} s, cov {figures['cov']}, ft {figures['ft']}, "
        f"corpus {figures['corpus']}, peak RSS {figures['rss']} MB, findings: {figures['crashes'] or 'none'}")
    return figures


def report(results, seconds, out):
    total_runs = sum(r["runs"] for r in results)
    crashes = [c for r in results for c in r["crashes"]]
    lines = [
        "## Bad input: fuzzing",
        "",
        f"`make fuzz FUZZ_SECONDS={seconds}` (`bench/reliability/fuzzing.py`): Jazzer (coverage-guided, libFuzzer's engine)"
        f" on every parser of untrusted bytes, {seconds} s per target, one after the other, from the checked-in inputs"
        " (`obi-agent/src/test/resources/.../<Class>Inputs/`, replayed by `mvn test`). Executions, edges covered"
        " (cov) and coverage features (ft) as libFuzzer counts them at the end; peak RSS of the fuzzed JVM"
        f" (heap capped at {HEAP[4:]}, RSS limit {RSS_LIMIT_MB} MB: an input that makes a parser hold more"
        " is a finding).",
        "",
        "| target | what it parses | executions | exec/s | cov | ft | corpus | peak RSS | findings |",
        "|---|---|---:|---:|---:|---:|---:|---:|---|",
    ]
    for r in results:
        rate = r["runs"] // max(1, r["seconds"])
        lines.append(f"| `{r['target']}` | {WHAT.get(r['target'], '')} | {r['runs']:,} | {rate:,} | {r['cov']} | {r['ft']} "
                     f"| {r['corpus']} | {r['rss']} MB | {', '.join(r['crashes']) or 'none'} |")
    lines += ["", f"{len(results)} targets, {total_runs:,} executions, "
              + (f"**{len(crashes)} findings**." if crashes else "no finding.")]
    lines += ["", "Crashes found while writing the targets, fixed and kept as regression inputs:", ""]
    lines += [f"- {line}" for line in REGRESSIONS]
    out.parent.mkdir(parents=True, exist_ok=True)
    out.write_text("\n".join(lines) + "\n")
    say(f"report: {out}")


WHAT = {
    "HttpParserFuzzTest.requestHead": "request heads, whole or cut by the capture; pipelined remainders",
    "HttpParserFuzzTest.statusLine": "response status lines",
    "HttpParserFuzzTest.traceHeaders": "`traceparent`, `uber-trace-id`",
    "RouteNormaliserFuzzTest.routes": "request targets into routes, the per-service bound",
    "RecordDecoderFuzzTest.decode": "ring-buffer records",
    "KernelRecordsFuzzTest.records": "sequences of kernel records through assembly and every sink",
    "LinkMessagesFuzzTest.datagram": "rtnetlink datagrams",
    "HostTcpCountersFuzzTest.counterTables": "`/proc/net/netstat`, `/proc/net/snmp`",
    "ProcessResolverFuzzTest.procFiles": "`/proc/PID/{stat,comm,cmdline,environ,cgroup,exe}`",
    "ProcessResolverFuzzTest.namesFromArguments": "service names from arguments, environment, cgroups",
    "OpenSslProbesFuzzTest.maps": "`/proc/PID/maps`",
}

REGRESSIONS = [
    "`LinkMessages`: a message length near 2^31 overflowed the offset into the datagram"
    " (IndexOutOfBoundsException in the link monitor's thread); `LinkMessagesFuzzTestInputs/datagram/`.",
    "`WatchFilter`: a process that named itself \"\" (no `comm`) made the filter throw on the assembly thread,"
    " which then stopped reporting (NullPointerException); `KernelRecordsFuzzTestInputs/records/`.",
]


def main():
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--seconds", type=int, default=60, help="per target")
    parser.add_argument("--out", default=str(REPO / "bench/build/reliability/fuzzing.md"))
    parser.add_argument("--smoke", action="store_true", help="1 s per target, report under obi-agent/target/fuzz")
    args = parser.parse_args()
    seconds = 1 if args.smoke else args.seconds
    out = WORK / "fuzzing.md" if args.smoke else Path(args.out)
    WORK.mkdir(parents=True, exist_ok=True)
    say("building the test classpath")
    cp = classpath()
    # The full run fuzzes one target at a time so that the figures are the machine's; the smoke round
    # only proves the harness, and most of each run is Jazzer instrumenting the JDK at start-up.
    with concurrent.futures.ThreadPoolExecutor(max_workers=2 if args.smoke else 1) as pool:
        results = list(pool.map(lambda target: fuzz(cp, *target, seconds), targets()))
    report(results, seconds, out)
    if any(r["crashes"] for r in results):
        say("FAILED: findings above (crash files under obi-agent/target/fuzz/findings/)")
        sys.exit(1)


if __name__ == "__main__":
    main()
