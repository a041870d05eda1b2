#!/usr/bin/env bash
# Sustained capture rate: wrk (keep-alive) against Debian's nginx, without and with obi-agent.
# Reports requests/s, records/s, drops and agent CPU. Run as root after `make build`.
#   bench/capture-rate.sh [seconds=20] [connections=50]
set -euo pipefail
cd "$(dirname "$0")/.."
DURATION=${1:-20}
CONNECTIONS=${2:-50}
PORT=${BENCH_PORT:-18090}
JAR=obi-agent/target/quarkus-app/quarkus-run.jar
[[ $(id -u) -eq 0 ]] || { echo "run as root (the agent loads BPF programs)" >&2; exit 1; }
[[ -f $JAR ]] || { echo "$JAR missing: run make build" >&2; exit 1; }

work=$(mktemp -d /tmp/obi-bench.XXXXXX)
cleanup() {
  [[ -n ${agent_pid:-} ]] && kill "$agent_pid" 2>/dev/null || true
  [[ -f $work/nginx.pid ]] && kill "$(cat "$work/nginx.pid")" 2>/dev/null || true
}
trap cleanup EXIT
mkdir -p "$work/www" "$work/logs"
printf 'hello from obi-lab\n' > "$work/www/index.html"
cat > "$work/nginx.conf" <<CONF
user root;
worker_processes 1;
pid $work/nginx.pid;
error_log $work/logs/error.log;
events { worker_connections 4096; }
http {
  access_log off;
  keepalive_requests 1000000;
  client_body_temp_path $work/tmp; proxy_temp_path $work/tmp; fastcgi_temp_path $work/tmp;
  uwsgi_temp_path $work/tmp; scgi_temp_path $work/tmp;
  server { listen 127.0.0.1:$PORT; root $work/www; }
}
CONF
nginx -p "$work" -c "$work/nginx.conf"
sleep 0.5

cpu_ticks() { awk '{print $14 + $15}' "/proc/$1/stat"; }
run_wrk() { wrk -t2 -c"$CONNECTIONS" -d"${DURATION}s" "http://127.0.0.1:$PORT/index.html" | awk '/Requests\/sec/ {print $2} /requests in/ {print $1 > "/dev/stderr"}'; }

echo "== baseline: nginx alone (${DURATION}s, $CONNECTIONS connections)"
baseline=$(run_wrk 2>"$work/baseline.count")

java ${BENCH_JAVA_OPTS:-} -Dobi.output.path="$work/requests.jsonl" -jar "$JAR" 2>"$work/agent.log" &
java_pid=$!
agent_pid=$java_pid
for _ in $(seq 1 120); do grep -q "obi-agent capturing" "$work/agent.log" && break; sleep 0.5; done
grep -q "obi-agent capturing" "$work/agent.log" || { cat "$work/agent.log"; exit 1; }

echo "== with obi-agent (after a 5 s warm-up, so JIT compilation is not counted)"
wrk -t2 -c"$CONNECTIONS" -d5s "http://127.0.0.1:$PORT/index.html" >/dev/null
sleep 1
captured_warmup=$(grep -c "\"local_port\":$PORT," "$work/requests.jsonl" || true)
all_warmup=$(wc -l < "$work/requests.jsonl")
ticks_before=$(cpu_ticks "$agent_pid")
with_agent=$(run_wrk 2>"$work/agent.count")
ticks_after=$(cpu_ticks "$agent_pid")
sleep 1
kill -TERM "$agent_pid"; wait "$agent_pid" || true; agent_pid=
hz=$(getconf CLK_TCK)
sent=$(cat "$work/agent.count")
captured=$(( $(grep -c "\"local_port\":$PORT," "$work/requests.jsonl" || true) - captured_warmup ))
all_records=$(( $(wc -l < "$work/requests.jsonl") - all_warmup ))
echo
printf '%-34s %s\n' "nginx req/s without agent" "$baseline"
printf '%-34s %s\n' "nginx req/s with agent" "$with_agent"
printf '%-34s %s\n' "requests sent (with agent)" "$sent"
printf '%-34s %s\n' "server records captured" "$captured"
printf '%-34s %s\n' "records/s (nginx + wrk sides)" "$(awk -v c="$all_records" -v d="$DURATION" 'BEGIN{printf "%.0f", c/d}')"
printf '%-34s %s\n' "agent CPU (% of one core)" "$(awk -v t=$((ticks_after - ticks_before)) -v hz="$hz" -v d="$DURATION" 'BEGIN{printf "%.1f", 100*t/hz/d}')"
echo "agent's final counters: $(grep 'stopped;' "$work/agent.log" | sed 's/.*stopped; //')"
