#!/usr/bin/env bash
# Checks the lab's Prometheus configuration and rules, and runs the rules' unit tests (promtool).
set -euo pipefail
cd "$(dirname "$0")"
command -v promtool >/dev/null || { echo "promtool missing: apt-get install prometheus" >&2; exit 1; }
promtool check config prometheus.yml
promtool check rules rules/*.yml
promtool test rules rules/tests/*.yml
