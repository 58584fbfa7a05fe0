#!/bin/sh
# mkkernels.sh: redo the extraction of the kernel BTF files under testdata/kernels/.
#
#   arm64/<release>.btf   raw BTF cut out of a Debian arm64 cloud kernel image
#   x86_64/<release>.btf  copy of /sys/kernel/btf/vmlinux of the machine (only with --host)
#
# Usage: sh kernels/mkkernels.sh [--host] [OUTDIR]     (OUTDIR defaults to this script's folder)
#
# The arm64 kernel is pinned by package name, version and sha256 (see README.md); override
# with ARM64_PKG, ARM64_VERSION and ARM64_SHA256 to pick another one. Needs: apt-get (with the
# arm64 architecture added: dpkg --add-architecture arm64 && apt-get update), dpkg-deb,
# python3, sha256sum, bpftool (to check the result).
set -eu

ARM64_PKG=${ARM64_PKG:-linux-image-6.1.0-56-cloud-arm64-unsigned}
ARM64_VERSION=${ARM64_VERSION:-6.1.192-2}
ARM64_SHA256=${ARM64_SHA256:-aa99a19d216dfc10a3e37fcc65209e9717f04a2581ac2cad5956a1e42bfdb377}

host=0
if [ "${1:-}" = "--host" ]; then host=1; shift; fi
here=$(cd "$(dirname "$0")" && pwd)
out=${1:-$here}
mkdir -p "$out/arm64"

work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT INT TERM

if ! dpkg --print-foreign-architectures | grep -qx arm64; then
	echo "mkkernels.sh: arm64 is not a dpkg architecture here; run:" >&2
	echo "  dpkg --add-architecture arm64 && apt-get update" >&2
	exit 1
fi

# Download the pinned package and check it is the one recorded in README.md.
(cd "$work" && apt-get download -q "$ARM64_PKG:arm64=$ARM64_VERSION" 2>/dev/null)
deb=$(ls "$work"/*.deb)
got=$(sha256sum "$deb" | cut -d' ' -f1)
if [ "$got" != "$ARM64_SHA256" ]; then
	echo "mkkernels.sh: $deb: sha256 $got, want $ARM64_SHA256" >&2
	exit 1
fi
dpkg-deb -x "$deb" "$work/x"
image=$(ls "$work"/x/boot/vmlinuz-*)
release=${image##*/vmlinuz-}

# Debian's arm64 vmlinuz is a raw arm64 Image (EFI stub), gzip-compressed in some releases.
if [ "$(head -c 2 "$image" | od -An -tx1 | tr -d ' ')" = "1f8b" ]; then
	gzip -dc "$image" >"$work/Image"
else
	cp "$image" "$work/Image"
fi

# Scan the Image for the BTF header: magic 0xeB9F (bytes 9f eb), version 1, flags 0,
# hdr_len 24, type section at 0, string section right after it, both strings sections
# starting and ending with NUL. Cut out header + types + strings; keep the largest match.
python3 - "$work/Image" "$out/arm64/$release.btf" <<'EOF'
import struct, sys
data = open(sys.argv[1], "rb").read()
best = None
i = data.find(b"\x9f\xeb\x01\x00")
while i >= 0:
    if i + 24 <= len(data):
        hdr_len, type_off, type_len, str_off, str_len = struct.unpack_from("<5I", data, i + 4)
        total = hdr_len + str_off + str_len
        if (hdr_len == 24 and type_off == 0 and type_len > 0 and str_off == type_len
                and str_len > 0 and i + total <= len(data)):
            strs = data[i + hdr_len + str_off:i + total]
            if strs[:1] == b"\0" and strs[-1:] == b"\0" and (best is None or total > best[1]):
                best = (i, total)
    i = data.find(b"\x9f\xeb\x01\x00", i + 1)
if best is None:
    sys.exit("mkkernels.sh: no BTF header found in " + sys.argv[1])
off, n = best
open(sys.argv[2], "wb").write(data[off:off + n])
print("arm64: BTF at offset %d, %d bytes" % (off, n), file=sys.stderr)
EOF

# The blob must parse as BTF and name the task_struct the gadgets read.
bpftool btf dump file "$out/arm64/$release.btf" | grep -q "STRUCT 'task_struct'"
echo "$out/arm64/$release.btf"

if [ "$host" = 1 ]; then
	mkdir -p "$out/x86_64"
	cp /sys/kernel/btf/vmlinux "$out/x86_64/$(uname -r).btf"
	chmod 0644 "$out/x86_64/$(uname -r).btf"
	echo "$out/x86_64/$(uname -r).btf"
fi
