#!/usr/bin/env bash
# Where obi-agent's CPU goes at saturation: nginx serving a small file to wrk (as in bench/run.py's
# first scenario) with the agent under Java Flight Recorder, then the hottest frames (top of stack)
# and the kernel/user split of the agent's CPU. Run as root after `make build`.
#   bench/profile.sh [seconds=20]
set -euo pipefail
cd "$(dirname "$0")/.."
seconds=${1:-20}
jar=obi-agent/target/quarkus-app/quarkus-run.jar
[[ $(id -u) -eq 0 ]] || { echo "run as root" >&2; exit 1; }
[[ -f $jar ]] || { echo "$jar missing: make build" >&2; exit 1; }
work=$(mktemp -d /tmp/obi-profile.XXXXXX)
free_port() { python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1])'; }
port=$(free_port)
metrics_port=$(free_port) # the endpoint on, as in the bench: recording the metrics is part of the cost
cleanup() { kill "${agent:-}" 2>/dev/null || true; [[ -f $work/nginx.pid ]] && kill "$(cat "$work/nginx.pid")" 2>/dev/null || true; }
trap cleanup EXIT
mkdir -p "$work/www" "$work/tmp" && echo "hello from obi-lab" >"$work/www/index.html"
cat >"$work/nginx.conf" <<CONF
user root; worker_processes 1; pid $work/nginx.pid; error_log $work/error.log;
events { worker_connections 4096; }
http { access_log off; keepalive_requests 1000000; client_body_temp_path $work/tmp; proxy_temp_path $work/tmp;
  fastcgi_temp_path $work/tmp; uwsgi_temp_path $work/tmp; scgi_temp_path $work/tmp;
  server { listen 127.0.0.1:$port; root $work/www; } }
CONF
nginx -p "$work" -c "$work/nginx.conf"
java @obi-agent/jvm.options -XX:StartFlightRecording=filename="$work/agent.jfr",settings=profile \
  -Dobi.request-log.path="$work/requests.jsonl" -Dobi.metrics.prometheus.port="$metrics_port" \
  -Dobi.health.port=0 -Dobi.stats-interval=0 -jar "$jar" 2>"$work/agent.log" &
agent=$!
until grep -q "obi-agent capturing" "$work/agent.log"; do sleep 0.2; done
wrk -t2 -c50 -d5s "http://127.0.0.1:$port/index.html" >/dev/null # warm-up
read -r u0 s0 < <(awk '{print $14, $15}' "/proc/$agent/stat")
wrk -t2 -c50 -d"${seconds}s" "http://127.0.0.1:$port/index.html" | grep -E "Requests/sec"
read -r u1 s1 < <(awk '{print $14, $15}' "/proc/$agent/stat")
tck=$(getconf CLK_TCK)
echo "agent CPU: user $(( (u1 - u0) * 100 / tck / seconds ))% + system $(( (s1 - s0) * 100 / tck / seconds ))% of one core"
kill "$agent"; wait "$agent" 2>/dev/null || true; agent=
echo "hottest frames (top of stack, share of samples):"
jfr print --events jdk.ExecutionSample "$work/agent.jfr" \
  | awk '/stackTrace = \[/ { getline; sub(/^[ \t]+/, ""); sub(/line:.*/, ""); n[$0]++; total++ }
         END { for (f in n) printf "%5.1f%%  %s\n", 100 * n[f] / total, f }' | sort -rn | head -15
echo "by package (any frame of the stack, share of samples):"
jfr print --events jdk.ExecutionSample "$work/agent.jfr" \
  | awk '/jdk.ExecutionSample/ { if (total++) for (p in seen) c[p]++; delete seen }
         /^[ \t]+[a-z].*\(/ && !/ = / { f = $1; sub(/\.[^.]*\(.*/, "", f); sub(/\.[A-Z][^.]*$/, "", f); seen[f] = 1 }
         END { for (p in seen) c[p]++; for (p in c) printf "%5.1f%%  %s\n", 100 * c[p] / total, p }' | sort -rn | head -12
