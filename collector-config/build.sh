#!/usr/bin/env bash
# Builds the lab's OpenTelemetry Collector from Go modules with the builder (ocb) and the manifest
# beside this script; skips the build when a binary of the same manifest exists.
# Prints the binary's path as the last line.  Cache: ${OBI_CACHE:-~/.cache/obi-lab}
set -euo pipefail
here=$(cd "$(dirname "$0")" && pwd)
BUILDER_VERSION=v0.155.0
cache=${OBI_CACHE:-$HOME/.cache/obi-lab}
out=$cache/otelcol-obi
binary=$out/otelcol-obi
manifest=$here/builder-config.yaml

export PATH=$PATH:/usr/local/go/bin
command -v go >/dev/null || { echo "build.sh: Go is missing: install Go >= 1.24 (https://go.dev/dl, or /usr/local/go)" >&2; exit 1; }

sum=$( (cat "$manifest"; echo "$BUILDER_VERSION") | sha256sum | cut -d' ' -f1)
if [[ -x $binary && -f $out/manifest.sha256 && $(cat "$out/manifest.sha256") == "$sum" ]]; then
  echo "build.sh: Collector up to date ($binary)" >&2
  echo "$binary"
  exit 0
fi

mkdir -p "$cache/bin" "$out"
if [[ ! -x $cache/bin/builder ]] || ! "$cache/bin/builder" version 2>/dev/null | grep -q "${BUILDER_VERSION#v}"; then
  echo "build.sh: installing the builder $BUILDER_VERSION" >&2
  GOBIN=$cache/bin go install "go.opentelemetry.io/collector/cmd/builder@$BUILDER_VERSION" >&2
fi
echo "build.sh: building the Collector from Go modules (first time: several minutes)..." >&2
start=$(date +%s)
# The builder's own `go mod tidy` also resolves the components' test-only imports, and the module
# proxy lacks some of those; tidy with -e (what the binary imports must still resolve), then build.
"$cache/bin/builder" --config "$manifest" --output-path "$out/src" --skip-get-modules --skip-compilation >&2
(
  cd "$out/src"
  rm -f go.mod go.sum
  go mod init otelcol-obi >&2
  go get "go.opentelemetry.io/collector/otelcol@$BUILDER_VERSION" $(awk '/gomod:/ {print $3 "@" $4}' "$manifest") >&2
  go mod tidy -e >&2
  CGO_ENABLED=0 go build -trimpath -ldflags="-s -w" -o "$binary" . >&2
)
echo "$sum" > "$out/manifest.sha256"
echo "build.sh: built $binary in $(( $(date +%s) - start )) s" >&2
echo "$binary"
