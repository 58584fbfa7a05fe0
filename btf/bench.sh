#!/bin/sh
# bench.sh: btfgen over a whole archive, ours against the bpftool loop, side by side.
#
# Builds an archive of 7 x COPIES kernels (default COPIES=43: 301 kernels) from the real ones:
# the three of btf/testdata/archive and the four old vendor kernels of ../shared/kernels
# (CentOS 8 4.18 with its hundreds of task_structs, Kylin V10 4.19, Android 12 and 13 GKI),
# each hard-linked (copied across file systems) COPIES times under distinct release names; the
# BTF inside is the real one, so the work per kernel is real. Ten objects: the six CO-RE test
# objects (core_ambiguous.bpf.o among them, refused on every CentOS and Kylin copy, by
# bpftool too) and the four gadget objects. Then runs, once each, on JOBS workers:
#   - xz -d alone over the archive (the floor for everything else);
#   - the bpftool loop once per object: for each object, xargs -P over the kernels of
#     "xz -d, bpftool gen min_core_btf" (a refused pair is counted, not fatal);
#   - ours: gadgetpack btfgen --per-object --keep-going over the ten objects (exit 1: it
#     skips the refused pairs and says so).
# It prints wall time, user+sys CPU (children included), kernels/s, kernel x object pairs/s
# and peak RSS, the ratio to the loop (goal >= 5x) and checks that every pair both wrote is
# byte-identical and that both refused the same pairs.
#
# Usage: btf/bench.sh [COPIES]. Env: JOBS (default 2). Needs bpftool, xz, python3, go,
# /usr/bin/time. Reads ../shared/kernels beside the repository (skips those four without it).
set -eu

here=$(cd "$(dirname "$0")" && pwd)
root=$(cd "$here/.." && pwd)
shared=$(cd "$root/.." && pwd)/shared/kernels
copies=${1:-43}
jobs=${JOBS:-2}
work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT

for tool in bpftool xz python3 go; do
	command -v "$tool" >/dev/null || { echo "bench.sh: $tool is required" >&2; exit 1; }
done
[ -x /usr/bin/time ] || { echo "bench.sh: /usr/bin/time is required (apt-get install time)" >&2; exit 1; }

# the archive: COPIES links of each real kernel, <release>-c<i>.btf.tar.xz
arch="$work/archive"
add_copies() { # add_copies SRCROOT
	for f in "$1"/*/*/*/*.btf.tar.xz; do
		[ -f "$f" ] || continue
		rel=${f#"$1/"}
		dir=$(dirname "$rel")
		base=$(basename "$rel" .btf.tar.xz)
		mkdir -p "$arch/$dir"
		i=0
		while [ "$i" -lt "$copies" ]; do
			ln "$f" "$arch/$dir/$base-c$i.btf.tar.xz" 2>/dev/null || cp "$f" "$arch/$dir/$base-c$i.btf.tar.xz"
			i=$((i + 1))
		done
	done
}
add_copies "$here/testdata/archive"
if [ -d "$shared" ]; then
	add_copies "$shared"
else
	echo "bench.sh: $shared not found: the old vendor kernels are left out" >&2
fi
find "$arch" -name '*.btf.tar.xz' | sort >"$work/kernels"
n=$(wc -l <"$work/kernels")

# ten objects with distinct names
mkdir -p "$work/objs"
for o in "$here"/testdata/core_*.bpf.o; do cp "$o" "$work/objs/"; done
for o in "$root"/testdata/gadgets/*/*.bpf.o; do
	g=$(basename "$(dirname "$o")")
	cp "$o" "$work/objs/$g-$(basename "$o")"
done
objs=$(ls "$work"/objs/*.bpf.o)
nobj=$(echo "$objs" | wc -l)

(cd "$root" && go build -o "$work/gadgetpack" .)

# the bpftool loop for one object: one kernel per xargs slot, decompressed to a temp file,
# minimised into out/<object>/<ID>_<VERSION_ID>_<arch>_<release>.btf; a refusal is recorded.
cat >"$work/loop.sh" <<'LOOP'
#!/bin/sh
# loop.sh ARCHIVE OUTDIR OBJ KERNEL.btf.tar.xz
a=$1 out=$2 obj=$3 k=$4
rel=${k#"$a/"}
name=$(echo "${rel%.btf.tar.xz}" | tr / _)
t=$(mktemp -d)
xz -dc "$k" | tar -xO >"$t/k.btf"
if ! bpftool gen min_core_btf "$t/k.btf" "$out/$name.btf" "$obj" 2>"$t/err"; then
	echo "$rel" >>"$out.refused"
fi
rm -rf "$t"
LOOP
chmod +x "$work/loop.sh"

cat >"$work/cmds.sh" <<CMDS
xz_d() { xargs -P$jobs -n1 sh -c 'xz -dc "\$0" >/dev/null' <"$work/kernels"; }
loop_per_object() {
	rm -rf "$work/loop" && mkdir -p "$work/loop"
	for o in $(echo $objs); do
		b=\$(basename "\$o" .o)
		mkdir -p "$work/loop/\$b"
		xargs -P$jobs -I{} "$work/loop.sh" "$arch" "$work/loop/\$b" "\$o" {} <"$work/kernels"
	done
}
ours_per_object() {
	rm -rf "$work/ours"
	"$work/gadgetpack" btfgen -q --archive "$arch" --jobs $jobs --keep-going --json --per-object "$work/ours" $(echo $objs) >"$work/ours.json" 2>"$work/ours.err"
	test \$? -le 1
}
CMDS

echo "archive: $n kernels ($copies copies of $((n / copies)) real ones), $nobj objects, $jobs jobs, $(nproc) CPUs, load $(cut -d' ' -f1-3 /proc/loadavg)"
for c in xz_d ours_per_object loop_per_object; do
	/usr/bin/time -f "%e %U %S %M" -o "$work/time.$c" sh -c ". $work/cmds.sh; $c"
done

python3 - "$work" "$n" "$nobj" <<'PY'
import glob, gzip, io, json, os, sys, tarfile
work, n, nobj = sys.argv[1], int(sys.argv[2]), int(sys.argv[3])
t = {}
for c in ("xz_d", "ours_per_object", "loop_per_object"):
    wall, user, sys_, rss = open(f"{work}/time.{c}").read().split()[-4:]
    t[c] = (float(wall), float(user) + float(sys_), int(rss) / 1024)
pairs = n * nobj
print(f"{'command':20s} {'wall s':>9s} {'user+sys s':>11s} {'kernels/s':>10s} {'pairs/s':>9s} {'peak RSS MiB':>13s}")
for c, (wall, cpu, rss) in t.items():
    p = pairs / wall if c != "xz_d" else float("nan")
    print(f"{c:20s} {wall:9.2f} {cpu:11.2f} {n / wall:10.1f} {p:9.1f} {rss:13.1f}")
print("(peak RSS: the largest single process: gadgetpack itself; for the loop and xz, one bpftool or xz)")
ours, loop, xz = t["ours_per_object"][0], t["loop_per_object"][0], t["xz_d"][0]
print(f"\nours_per_object: {loop / ours:.1f}x faster than the bpftool loop once per object (goal >= 5x); "
      f"{ours / xz:.2f}x the time of xz -d alone; peak RSS {t['ours_per_object'][2]:.1f} MiB (goal < 128 MiB)")

# correctness: every pair both wrote is byte-identical; both refused the same pairs
rep = json.load(open(f"{work}/ours.json"))
ours_refused = {(s["kernel"], os.path.basename(s["object"])[:-2]) for s in rep["skipped"]}
loop_refused = set()
for f in glob.glob(f"{work}/loop/*.refused"):
    obj = os.path.basename(f)[:-len(".refused")]
    loop_refused |= {(l.strip(), obj) for l in open(f) if l.strip()}
same = diff = 0
for out in rep["outputs"]:
    obj = os.path.basename(out["path"])[:-len(".tar.gz")]
    with tarfile.open(out["path"], "r:gz") as tf:
        for m in tf.getmembers():
            idv, ver, folder, rel = m.name.split("/")
            if folder == "aarch64":
                continue
            name = f"{idv}_{ver}_{folder}_{rel[:-len('.btf')]}"
            p = f"{work}/loop/{obj}/{name}.btf"
            if not os.path.exists(p) and folder == "arm64":
                p = f"{work}/loop/{obj}/{idv}_{ver}_aarch64_{rel[:-len('.btf')]}.btf"
            if os.path.exists(p) and open(p, "rb").read() == tf.extractfile(m).read():
                same += 1
            else:
                diff += 1
print(f"pairs written by both and byte-identical: {same}; differing or missing in the loop: {diff}; "
      f"refused: ours {len(ours_refused)}, bpftool {len(loop_refused)}, "
      f"{'the same pairs' if ours_refused == loop_refused else 'NOT the same pairs'}")
if diff or ours_refused != loop_refused or rep["pairsWritten"] + len(rep["skipped"]) != pairs:
    sys.exit("bench.sh: ours and the bpftool loop disagree")
PY
