#!/usr/bin/env bash
# The BPF object built for arm64 (Graviton, Ampere, Docker on Apple silicon), which this x86 host
# cannot run: against the BTF of Debian's arm64 kernel, it must compile (its syscall numbers and
# pt_regs are arm64's) and give the agent the same contract as the native build (records, flags,
# counters), so the one agent jar fits both objects.
#   bpf/test/arm64_build.sh   (from bpf/: make arm64)
# The kernel package is the arm64 twin of the newest amd64 image apt knows (same version, same
# mirror), checked against the mirror's arm64 index, itself checked against the Release file apt
# verified; its BTF is extracted once into ${OBI_CACHE:-~/.cache/obi-lab}/arm64-btf.
set -euo pipefail
cd "$(dirname "$0")/.."
say() { echo "arm64: $*" >&2; }

command -v apt-get >/dev/null || { say "needs apt-get (Debian/Ubuntu) to find Debian's arm64 kernel"; exit 1; }
image=$(apt-cache depends linux-image-amd64 2>/dev/null | awk '/Depends: linux-image-[0-9]/ {print $2; exit}')
[[ -n $image ]] || { say "apt knows no linux-image-amd64 (run apt-get update)"; exit 1; }
uri=$(apt-get download --print-uris "$image-unsigned" 2>/dev/null | awk -F"'" 'NR == 1 {print $2}')
[[ -n $uri ]] || { say "apt knows no $image-unsigned"; exit 1; }
uri=${uri//amd64/arm64}

cache=${OBI_CACHE:-$HOME/.cache/obi-lab}/arm64-btf
btf=$cache/$(basename "$uri" .deb).btf
if [[ ! -s $btf ]]; then
  work=$(mktemp -d)
  trap 'rm -rf "$work"' EXIT
  say "downloading $uri"
  curl -fsSL --retry 3 -o "$work/kernel.deb" "$uri"
  python3 - "$uri" "$work/kernel.deb" <<'PY'
import glob, hashlib, lzma, re, sys, urllib.request
uri, deb = sys.argv[1:3]
base, pool_path = uri.split("/pool/", 1)
component = pool_path.split("/")[-4]  # pool/[updates/]COMPONENT/l/linux/FILE
index = f"{component}/binary-arm64/Packages.xz"
lists = base.split("://", 1)[1].rstrip("/").replace("/", "_") + "_dists_"
for release in glob.glob(f"/var/lib/apt/lists/{lists}*_InRelease"):
    entry = re.search(r"^SHA256:\n(?:^ .*\n)*? (\w{64}) +\d+ " + re.escape(index) + "$", open(release).read(), re.M)
    if not entry:
        continue
    suite = release[len(f"/var/lib/apt/lists/{lists}"):-len("_InRelease")].replace("_", "/")
    packages = urllib.request.urlopen(f"{base}/dists/{suite}/{index}", timeout=60).read()
    if hashlib.sha256(packages).hexdigest() != entry.group(1):
        sys.exit(f"{base}/dists/{suite}/{index} does not match {release}")
    for stanza in lzma.decompress(packages).decode().split("\n\n"):
        if f"\nFilename: pool/{pool_path}\n" in stanza:
            expected = re.search(r"^SHA256: (\w{64})$", stanza, re.M).group(1)
            if hashlib.sha256(open(deb, "rb").read()).hexdigest() != expected:
                sys.exit(f"{uri} does not match the arm64 index of {suite}")
            sys.exit(0)
sys.exit(f"no arm64 index that apt verified lists pool/{pool_path}")
PY
  dpkg-deb -x "$work/kernel.deb" "$work/x"
  mkdir -p "$cache"
  # The image embeds its BTF (CONFIG_DEBUG_INFO_BTF): a raw BTF blob, found by its header.
  python3 - "$work"/x/boot/vmlinuz-* "$btf.tmp" <<'PY'
import gzip, struct, sys
image = open(sys.argv[1], "rb").read()
if image[:2] == b"\x1f\x8b":
    image = gzip.decompress(image)
at = 0
while (at := image.find(b"\x9f\xeb\x01\x00", at)) >= 0:
    header_len, type_off, type_len, str_off, str_len = struct.unpack_from("<5I", image, at + 4)
    if header_len == 24 and type_off == 0 and str_off == type_len and type_len > 1 << 20:
        open(sys.argv[2], "wb").write(image[at:at + header_len + str_off + str_len])
        sys.exit(0)
    at += 1
sys.exit("no BTF in the kernel image")
PY
  mv "$btf.tmp" "$btf"
fi

say "building against $(basename "$btf")"
make -s BUILD=build/arm64 ARCH=arm64 BTF="$btf" build/arm64/obi.bpf.o build/arm64/harness.bpf.o \
  build/arm64/generated-java/.stamp
make -s build/generated-java/.stamp
if ! diff -r build/generated-java build/arm64/generated-java >&2; then
  say "the arm64 object's contract differs from the native one (above): the agent could not read its records"
  exit 1
fi
say "obi.bpf.o builds for arm64, same contract as $(uname -m)"
