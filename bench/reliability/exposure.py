#!/usr/bin/env python3
"""What the stack exposes: runs ExposureIT (the agent with every output on, behind Debian's nginx) and
the compose stack's listening-socket check (e2e/run.sh, ComposeE2E), and turns their figures into a
Markdown fragment of docs/reliability.md.

  bench/reliability/exposure.py [--out FILE] [--no-compose]   (make reliability; needs root)

Both run in `make test` too (mvn verify -Dit, e2e/run.sh): this section is their figures, from runs of
their own. --no-compose skips the stack (about 5 minutes) and shows the sockets of its last run, if any.
"""
import argparse
import subprocess
import sys
from pathlib import Path

import itfigures

REPO = Path(__file__).resolve().parents[2]
AGENT = REPO / "obi-agent"
FIGURES = AGENT / "target/reliability/exposure.md"
LISTENING = AGENT / "target/e2e-logs/listening.md"


def say(message):
    print(f"exposure: {message}", file=sys.stderr, flush=True)


def main():
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--out", default=str(REPO / "bench/build/reliability/exposure.md"))
    parser.add_argument("--no-compose", action="store_true", help="skip the stack's listening sockets")
    args = parser.parse_args()
    out = Path(args.out)
    collector, jaeger = itfigures.stack_bins()
    FIGURES.unlink(missing_ok=True)
    say("ExposureIT")
    agent = subprocess.run(["mvn", "-B", "-q", "verify", "-Dit", "-Dit.test=ExposureIT", "-Dtest=NONE",
                            "-Dsurefire.failIfNoSpecifiedTests=false", f"-Dobi.collector.bin={collector}",
                            f"-Dobi.jaeger.bin={jaeger}"], cwd=AGENT).returncode
    if not FIGURES.exists():
        sys.exit("exposure: ExposureIT wrote no figures (see obi-agent/target/failsafe-reports)")
    stack = 0
    if not args.no_compose:
        say("e2e/run.sh (the compose stack; its listening sockets)")
        LISTENING.unlink(missing_ok=True)
        stack = subprocess.run([str(REPO / "e2e/run.sh")], cwd=REPO).returncode
    text = [
        "## Nothing exposed",
        "",
        "`ExposureIT` (`obi-agent/src/test/java/lab/obi/agent/integration/ExposureIT.java`): the agent on this"
        " host with every output on (request log, Prometheus endpoint scraped by Debian's Prometheus, spans and"
        " metrics over OTLP into the lab's Collector, `obi.metrics.peer-addresses=true`) behind Debian's nginx"
        " and the JDK backend. Each request carries a distinctive secret in its query string, `Authorization`,"
        " `Cookie`, an `X-Api-Key` header, its body, and gets one in the response body; every output is then"
        " searched for each. The control switches `obi.routes.keep-query` on: the search finds the query's"
        " secret, so it would find a leak. Then wrk requests 100,000 distinct paths (`distinct-paths.lua`).",
        "",
        FIGURES.read_text().rstrip(),
        "",
    ]
    if args.no_compose and not LISTENING.exists():
        text += ["The compose stack was not run (`--no-compose`): `make e2e` lists its listening sockets.", ""]
    elif LISTENING.exists():
        text += [
            "The compose stack (`e2e/run.sh`, `ComposeE2E`" + (", its last run" if args.no_compose else "")
            + "): after `docker compose up`, every socket listening in"
            " the host's network namespace (`ss -ltunp`) that belongs to the stack (the agent's container, or"
            " Docker's proxy of a port the stack publishes). Nothing may listen beyond loopback and the gateway of"
            " the stack's own network, where Prometheus scrapes the agent:",
            "",
            LISTENING.read_text().rstrip(),
            "",
        ]
    else:
        text += ["**The compose stack did not get as far as listing its sockets** (see `obi-agent/target/e2e-logs/`).", ""]
    if agent != 0 or stack != 0:
        text += ["**A test failed** (" + ", ".join(n for n, c in (("ExposureIT", agent), ("e2e", stack)) if c)
                 + "): the rows above are those that held.", ""]
    out.parent.mkdir(parents=True, exist_ok=True)
    out.write_text("\n".join(text))
    say(f"report {out}")
    sys.exit(1 if agent or stack else 0)


if __name__ == "__main__":
    main()
