#!/usr/bin/env bash
# Builds the lab's OpenTelemetry Collector (otelcol-obi) from Go modules with the official builder
# (ocb) and the manifest beside this script, and caches it: a binary built from an identical manifest
# (and builder version) is reused without touching the network.
#
#   collector-config/build.sh            # from any directory; progress on stderr
#   bin=$(collector-config/build.sh | tail -1)
#
# Last line on stdout: the binary's path, ${OBI_CACHE:-~/.cache/obi-lab}/otelcol-obi/otelcol-obi.
# Needs Go >= 1.21 (it fetches the go1.26 toolchain the modules ask for by itself) and a Go module
# proxy (GOPROXY, default proxy.golang.org). OBI_COLLECTOR_REBUILD=1 forces a rebuild.
set -euo pipefail

BUILDER_VERSION=v0.161.0 # = the core version in builder-config.yaml (the builder checks it)

here=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
manifest=$here/builder-config.yaml
cache=${OBI_CACHE:-$HOME/.cache/obi-lab}
out=$cache/otelcol-obi
binary=$out/otelcol-obi
stamp=$out/manifest.sha256

say() { echo "build.sh: $*" >&2; }
die() { say "error: $*"; exit 1; }

[[ -f $manifest ]] || die "no manifest at $manifest"

# Go: on PATH, else the tarball's usual place.
if ! command -v go >/dev/null 2>&1; then
  if [[ -x /usr/local/go/bin/go ]]; then
    export PATH=$PATH:/usr/local/go/bin
  else
    die "Go is missing. Install it (>= 1.21): 'apt-get install golang-go' if your distribution's is recent
  enough (Debian 12's 1.19 is not: use bookworm-backports), or the tarball from https://go.dev/dl
  unpacked into /usr/local/go (then /usr/local/go/bin/go is found by itself)."
  fi
fi
gover=$(go env GOVERSION 2>/dev/null || true) # go1.26.8, or devel ...
if [[ $gover =~ ^go1\.([0-9]+) ]] && (( BASH_REMATCH[1] < 21 )); then
  die "$(command -v go) is $gover: Go >= 1.21 is needed (see https://go.dev/dl, /usr/local/go)"
fi

sum=$( { cat "$manifest"; echo "builder $BUILDER_VERSION"; } | sha256sum | cut -d' ' -f1)
up_to_date() { [[ -x $binary && -f $stamp && $(cat "$stamp") == "$sum" && ${OBI_COLLECTOR_REBUILD:-0} != 1 ]]; }

if up_to_date; then
  say "Collector up to date (manifest sha256 ${sum:0:12}): $binary"
  echo "$binary"
  exit 0
fi

mkdir -p "$cache/bin" "$out"
# One build at a time per cache (parallel `make` runs, test runs); the winner's binary serves the rest.
if command -v flock >/dev/null 2>&1; then
  exec 9>"$out/.lock"
  flock 9
  if up_to_date; then
    say "Collector up to date (built meanwhile): $binary"
    echo "$binary"
    exit 0
  fi
fi

builder=$cache/bin/builder
if [[ ! -x $builder ]] || [[ $("$builder" version 2>/dev/null) != *"$BUILDER_VERSION"* ]]; then
  say "installing the builder go.opentelemetry.io/collector/cmd/builder@$BUILDER_VERSION into $cache/bin"
  GOBIN=$cache/bin go install "go.opentelemetry.io/collector/cmd/builder@$BUILDER_VERSION" >&2 \
    || die "could not install the builder (is the Go module proxy reachable? GOPROXY=$(go env GOPROXY))"
fi

say "building the Collector from Go modules (first time: several minutes)..."
start=$SECONDS
rm -rf "$out/src" "$out"/build.* # earlier builds' leftovers
work=$(mktemp -d "$out/build.XXXXXX")
trap 'rm -rf "$work"' EXIT
# The manifest with the output path set: the builder writes the sources, go.mod and binary there.
awk -v path="$work/src" '{ print } /^dist:[[:space:]]*$/ { print "  output_path: \"" path "\"" }' \
  "$manifest" > "$work/builder-config.yaml"
"$builder" --config "$work/builder-config.yaml" 2>&1 | tee "$work/builder.log" >&2 \
  || die "the builder failed (its log above)"
[[ -x $work/src/otelcol-obi ]] || die "the builder wrote no binary at $work/src/otelcol-obi"

# Into place atomically, the stamp last: an interrupted build is never taken for a finished one.
rm -f "$stamp"
mv -f "$work/src/otelcol-obi" "$binary.new"
mv -f "$binary.new" "$binary"
cp "$work/src/go.mod" "$work/src/go.sum" "$out/" # what it was built from, for the curious
echo "$sum" > "$stamp"
say "built $("$binary" --version 2>/dev/null || echo otelcol-obi) in $(( SECONDS - start )) s: $binary"
echo "$binary"
