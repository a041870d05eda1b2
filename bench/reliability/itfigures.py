"""What the sections of docs/reliability.md that come from integration tests share: running the
tests with the Collector the lab builds, and turning the rows a test wrote
(obi-agent/target/reliability/<name>.json, see ReliabilityFigures.java) into a Markdown table."""
import json
import subprocess
import sys
from pathlib import Path

REPO = Path(__file__).resolve().parents[2]
AGENT = REPO / "obi-agent"
FIGURES = AGENT / "target/reliability"


def stack_bins():
    """The Collector's and Jaeger's binaries, built (and cached) by .ci/check-stack."""
    out = subprocess.run([str(REPO / ".ci/check-stack")], cwd=REPO, capture_output=True, text=True, check=True)
    collector, jaeger = out.stdout.strip().splitlines()[-2:]
    return collector, jaeger


def run_tests(tests, *properties):
    """mvn verify of these integration tests; returns its exit code (their figures are in FIGURES)."""
    collector, jaeger = stack_bins()
    command = ["mvn", "-B", "-q", "verify", "-Dit", "-Dit.test=" + ",".join(tests), "-Dtest=NONE",
               "-Dsurefire.failIfNoSpecifiedTests=false", f"-Dobi.collector.bin={collector}",
               f"-Dobi.jaeger.bin={jaeger}", *properties]
    return subprocess.run(command, cwd=AGENT).returncode


def rows(name):
    path = FIGURES / f"{name}.json"
    return json.loads(path.read_text()) if path.exists() else []


def table(name):
    """The rows of one test as a table: scenario (once per group), check, measured, bound."""
    lines = ["| scenario | check | measured | bound |", "|---|---|---|---|"]
    previous = None
    for row in rows(name):
        scenario = row["scenario"] if row["scenario"] != previous else ""
        previous = row["scenario"]
        lines.append("| " + " | ".join(cell.replace("|", "\\|") for cell in
                                       (scenario, row["check"], row["measured"], row["bound"] or "-")) + " |")
    return "\n".join(lines)


def kernel():
    return subprocess.run(["uname", "-r"], capture_output=True, text=True).stdout.strip()


def write(out, text, returncode, section):
    if returncode != 0:
        text.append("\n**A test failed**: the rows above are those that held (see obi-agent/target/failsafe-reports).")
    out = Path(out)
    out.parent.mkdir(parents=True, exist_ok=True)
    out.write_text("\n".join(text) + "\n")
    print(f"{section}: report {out}", file=sys.stderr)
