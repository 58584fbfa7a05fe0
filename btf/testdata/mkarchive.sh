#!/bin/sh
# mkarchive.sh: rebuild btf/testdata/archive from real Debian kernels and this machine's BTF.
#
# Usage: btf/testdata/mkarchive.sh [WORKDIR]
# Needs: apt-get (Debian bookworm sources), dpkg-deb, python3, lz4, zstd, objcopy, xz, tar.
# The packages' versions and the resulting sha256 are recorded in README.md.
set -eu

here=$(cd "$(dirname "$0")" && pwd)
work=${1:-$(mktemp -d)}
out="$here/archive"
mkdir -p "$work" "$out"

pkgs="linux-image-6.1.0-56-cloud-amd64-unsigned linux-image-6.12.117+deb12-cloud-amd64-unsigned"

cd "$work"
apt-get download $pkgs
for deb in ./*.deb; do
	dir="x/$(basename "$deb" .deb)"
	mkdir -p "$dir"
	dpkg-deb -x "$deb" "$dir"
done

# The compressed vmlinux sits after the bzImage setup code: LZ4 (legacy frame) for the 6.1
# cloud kernels, zstd for 6.12. Find the magic, decompress until an ELF comes out.
python3 - <<'PY'
import glob, subprocess
for v in sorted(glob.glob('x/*/boot/vmlinuz-*')):
    rel = v.split('vmlinuz-', 1)[1]
    data = open(v, 'rb').read()
    for magic, cmd in ((b'\x02\x21\x4c\x18', ['lz4', '-dc']), (b'\x28\xb5\x2f\xfd', ['zstd', '-dc'])):
        i = data.find(magic)
        while i >= 0:
            p = subprocess.run(cmd, input=data[i:], capture_output=True)
            if p.stdout[:4] == b'\x7fELF':
                open('vmlinux-' + rel, 'wb').write(p.stdout)
                break
            i = data.find(magic, i + 1)
        else:
            continue
        break
    else:
        raise SystemExit('no vmlinux found in ' + v)
PY

pack() { # pack <release> <btf file> <ID> <VERSION_ID>
	dir="$out/$3/$4/x86_64"
	mkdir -p "$dir" "$work/t"
	cp "$2" "$work/t/$1.btf"
	chmod 0644 "$work/t/$1.btf"
	tar -C "$work/t" -c --sort=name --mtime=@0 --owner=0 --group=0 --numeric-owner \
		"$1.btf" | xz -9 -T1 >"$dir/$1.btf.tar.xz"
	rm "$work/t/$1.btf"
}

for v in vmlinux-*; do
	rel=${v#vmlinux-}
	objcopy -O binary --only-section=.BTF "$v" "$rel.btf"
	pack "$rel" "$rel.btf" debian 12
done

# This machine's own kernel BTF (a Debian 12 guest, per its /etc/os-release).
if [ -r /sys/kernel/btf/vmlinux ] && [ -n "${WITH_HOST:-}" ]; then
	. /etc/os-release
	pack "$(uname -r)" /sys/kernel/btf/vmlinux "$ID" "$VERSION_ID"
fi

cd "$out" && find . -name '*.btf.tar.xz' | sort | xargs sha256sum
