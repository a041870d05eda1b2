#!/usr/bin/env bash
# make e2e: brings the real compose.yaml up under a Docker engine of its own and replays the incident.
# Works where no Docker engine runs and no image registry can be reached:
#  1. installs Debian's docker.io, containerd, runc and debootstrap when missing;
#  2. starts dockerd with its own socket, data root (${OBI_CACHE:-~/.cache/obi-lab}/e2e-docker: images
#     and build cache survive for the next run) and exec root;
#  3. builds debian:12 / debian:12-slim from debootstrap (docker import), then every image compose.yaml
#     names under that exact name: ours from their Dockerfiles (docker compose build), and stand-ins for
#     the official ones (e2e/images/: Debian's nginx and Prometheus, the Collector and Jaeger v2 built
#     from Go modules). Grafana cannot be built here: its dashboards are checked through their queries;
#  4. runs ComposeE2E (obi-agent/src/test/.../integration/ComposeE2E.java): compose up, the incident,
#     the assertions, compose down -v;
#  5. stops the engine. Container logs are kept in obi-agent/target/e2e-logs/.
set -euo pipefail
cd "$(dirname "$0")/.."
repo=$(pwd)
cache=${OBI_CACHE:-$HOME/.cache/obi-lab}
run=/run/obi-e2e
export DOCKER_HOST=unix://$run/docker.sock
start=$SECONDS

say() { echo "e2e [$(( SECONDS - start ))s]: $*" >&2; }
die() { say "FAILED: $*"; exit 1; }

[[ $(id -u) -eq 0 ]] || die "run as root: it starts a Docker engine and loads BPF programs"

missing=()
for p in docker.io containerd runc debootstrap iptables; do
  dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "install ok installed" || missing+=("$p")
done
if ((${#missing[@]})); then
  say "installing ${missing[*]}"
  DEBIAN_FRONTEND=noninteractive apt-get update -q >&2
  DEBIAN_FRONTEND=noninteractive apt-get install -y -q --no-install-recommends "${missing[@]}" >&2
fi

say "building the Collector, Jaeger v2 and Compose v2 from Go modules (cached)"
bins=$(.ci/check-stack | tail -2)
collector=$(head -1 <<<"$bins")
jaeger=$(tail -1 <<<"$bins")

stop_engine() {
  local pid
  pid=$(cat "$run/dockerd.pid" 2>/dev/null || true)
  if [[ -n $pid ]] && kill -0 "$pid" 2>/dev/null; then
    say "stopping the engine"
    kill "$pid"
    for _ in $(seq 60); do kill -0 "$pid" 2>/dev/null || break; sleep 0.5; done
  fi
  rm -f obi-agent/extra-ca-certificates/*.crt
}
trap stop_engine EXIT

mkdir -p "$run" "$cache/e2e-docker"
if ! docker info >/dev/null 2>&1; then
  say "starting dockerd (data root $cache/e2e-docker, socket $run/docker.sock)"
  dockerd --data-root "$cache/e2e-docker" --exec-root "$run/exec" --pidfile "$run/dockerd.pid" \
    -H "$DOCKER_HOST" >"$run/dockerd.log" 2>&1 &
  for _ in $(seq 60); do docker info >/dev/null 2>&1 && break; sleep 1; done
  docker info >/dev/null 2>&1 || die "dockerd did not start: $(tail -20 "$run/dockerd.log")"
fi

if ! docker image inspect debian:12 >/dev/null 2>&1; then
  say "debian:12 from debootstrap (bookworm, minbase)"
  rootfs=$(mktemp -d)
  debootstrap --variant=minbase bookworm "$rootfs" http://deb.debian.org/debian >"$run/debootstrap.log" 2>&1 \
    || die "debootstrap failed: $(tail -5 "$run/debootstrap.log")"
  tar -C "$rootfs" -c . | docker import --change 'CMD ["bash"]' - debian:12 >/dev/null
  rm -rf "$rootfs"
fi
docker tag debian:12 debian:12-slim

image_of() { docker compose config --format json | python3 -c "import json,sys; print(json.load(sys.stdin)['services']['$1']['image'])"; }
standin() { # NAME DOCKERFILE [FILE...]: build a stand-in image under the name compose.yaml gives
  local name=$1 dockerfile=$2 context
  shift 2
  context=$(mktemp -d)
  for f in "$@"; do cp "$f" "$context/"; done
  say "stand-in for $name ($dockerfile)"
  docker build -q -t "$name" -f "$dockerfile" "$context" >/dev/null || die "building $name"
  rm -rf "$context"
}
standin "$(image_of lb)" e2e/images/nginx.Dockerfile
standin "$(image_of prometheus)" e2e/images/prometheus.Dockerfile
standin "$(image_of collector)" e2e/images/collector.Dockerfile "$collector"
cp "$jaeger" "$run/jaeger" && standin "$(image_of jaeger)" e2e/images/jaeger.Dockerfile "$run/jaeger"
say "Grafana ($(image_of grafana)) cannot be built here: not started; its dashboards are checked through their queries"

# A network that re-signs TLS: the agent's image build must trust what the host trusts to reach Maven Central.
cp /usr/local/share/ca-certificates/*.crt obi-agent/extra-ca-certificates/ 2>/dev/null || true
say "building our images from their Dockerfiles (docker compose build)"
docker compose build --progress=plain >"$run/build.log" 2>&1 || die "docker compose build: $(tail -30 "$run/build.log")"

say "running ComposeE2E"
make -s bpf >/dev/null
mvn -B -q verify -Dit -Dit.test=ComposeE2E -Dtest=none -Dsurefire.failIfNoSpecifiedTests=false \
  -Dobi.e2e.docker-host="$DOCKER_HOST" || die "ComposeE2E (container logs in obi-agent/target/e2e-logs/)"
say "passed in $(( SECONDS - start )) s"
