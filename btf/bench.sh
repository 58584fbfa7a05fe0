#!/bin/sh
# bench.sh: btfgen speed, ours against bpftool in a parallel shell loop, side by side.
#
# Builds a 30-kernel btfhub-structure archive from btf/testdata/archive (the three real kernels,
# each copied ten times under different release names: same BTF, so the work per kernel is
# real, only the names differ; each copy keeps its original tar entry name inside, which both
# our reader (the single .btf entry) and the loop (tar -O) accept), then times with hyperfine,
# on JOBS cores:
#   - xz -d alone over the archive (the floor for everything else);
#   - bpftool loop (xargs -P, untar + bpftool gen min_core_btf): 1 object, 10 objects into one,
#     10 objects once per object;
#   - ours (the CLI: gadgetpack btfgen -o OUT, and --per-object DIR), the same three.
# Then prints, for each, the mean wall time, the mean user+sys CPU of the whole process tree
# (hyperfine's, xz children included), kernels/s and peak RSS (/usr/bin/time -v).
#
# Usage: btf/bench.sh [COPIES] (default 10, i.e. 30 kernels). Needs bpftool, xz, hyperfine,
# /usr/bin/time, python3, go.
set -eu

here=$(cd "$(dirname "$0")" && pwd)
root=$(cd "$here/.." && pwd)
copies=${1:-10}
jobs=${JOBS:-2}
work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT

for tool in bpftool xz hyperfine python3 go; do
	command -v "$tool" >/dev/null || { echo "bench.sh: $tool is required" >&2; exit 1; }
done
[ -x /usr/bin/time ] || { echo "bench.sh: /usr/bin/time is required (apt-get install time)" >&2; exit 1; }

# the archive
arch="$work/archive"
for f in "$here"/testdata/archive/*/*/*/*.btf.tar.xz; do
	rel=${f#"$here/testdata/archive/"}
	dir=$(dirname "$rel")
	base=$(basename "$rel" .btf.tar.xz)
	mkdir -p "$arch/$dir"
	i=0
	while [ "$i" -lt "$copies" ]; do
		cp "$f" "$arch/$dir/$base-copy$i.btf.tar.xz"
		i=$((i + 1))
	done
done
n=$(find "$arch" -name '*.btf.tar.xz' | wc -l)

# ten objects with distinct names, cycling through the test and gadget objects
mkdir -p "$work/objs"
set -- "$here"/testdata/core_*.bpf.o "$root"/testdata/gadgets/*/amd64.bpf.o
i=0
while [ "$i" -lt 10 ]; do
	for o in "$@"; do
		[ "$i" -lt 10 ] || break
		cp "$o" "$work/objs/obj$i.bpf.o"
		i=$((i + 1))
	done
done
one="$root/testdata/gadgets/trace_exec/amd64.bpf.o"
[ -f "$one" ] || one="$here/testdata/core_fields.bpf.o"
ten=$(ls "$work"/objs/*.bpf.o | tr '\n' ' ')

(cd "$root" && go build -o "$work/gadgetpack" .)

# the bpftool loop: one kernel per xargs slot, untar in memory to a temp file, minimise
cat >"$work/loop.sh" <<'LOOP'
#!/bin/sh
# loop.sh OUTDIR KERNEL.btf.tar.xz OBJ...
set -e
out=$1 k=$2
shift 2
b=$(basename "$k" .btf.tar.xz)
t=$(mktemp -d)
tar -xJOf "$k" >"$t/$b.btf"
bpftool gen min_core_btf "$t/$b.btf" "$out/$b.btf" "$@"
rm -rf "$t"
LOOP
chmod +x "$work/loop.sh"
mkdir -p "$work/out"

kernels() { find "$arch" -name '*.btf.tar.xz' | sort; }
cat >"$work/cmds.sh" <<CMDS
xz_d() { find "$arch" -name '*.btf.tar.xz' | xargs -P$jobs -n1 sh -c 'xz -dc "\$0" >/dev/null'; }
loop_1() { find "$arch" -name '*.btf.tar.xz' | xargs -P$jobs -I{} "$work/loop.sh" "$work/out" {} "$one"; }
loop_10() { find "$arch" -name '*.btf.tar.xz' | xargs -P$jobs -I{} "$work/loop.sh" "$work/out" {} $ten; }
loop_10_per_object() { for o in $ten; do loop_one_of "\$o"; done; }
loop_one_of() { find "$arch" -name '*.btf.tar.xz' | xargs -P$jobs -I{} "$work/loop.sh" "$work/out" {} "\$1"; }
ours_1() { "$work/gadgetpack" btfgen -q --archive "$arch" --jobs $jobs -o "$work/ours1.tar.gz" "$one"; }
ours_10() { "$work/gadgetpack" btfgen -q --archive "$arch" --jobs $jobs -o "$work/ours10.tar.gz" $ten; }
ours_10_per_object() { "$work/gadgetpack" btfgen -q --archive "$arch" --jobs $jobs --per-object "$work/per" $ten; }
CMDS

names="xz_d loop_1 ours_1 loop_10 ours_10 loop_10_per_object ours_10_per_object"
echo "archive: $n kernels ($copies copies of 3 real ones), $jobs jobs, $(nproc) CPUs"
set --
for c in $names; do
	set -- "$@" -n "$c" "sh -c '. $work/cmds.sh; $c'"
done
hyperfine -w 1 -r "${RUNS:-3}" --export-json "$work/h.json" "$@"

echo
echo '(kernels/s counts kernel x object pairs for the per_object rows)'
printf '%-20s %10s %12s %12s %14s\n' command 'mean s' 'user+sys s' 'kernels/s' 'peak RSS MiB'
for c in $names; do
	/usr/bin/time -v -o "$work/time.$c" sh -c ". $work/cmds.sh; $c" >/dev/null 2>&1
done
python3 - "$work" "$n" $names <<'PY'
import json, re, sys
work, n, names = sys.argv[1], int(sys.argv[2]), sys.argv[3:]
results = json.load(open(work + "/h.json"))["results"]
res = {r["command"]: r["mean"] for r in results}
cpu = {r["command"]: r["user"] + r["system"] for r in results}
for c in names:
    rss = re.search(r"Maximum resident set size \(kbytes\): (\d+)", open(f"{work}/time.{c}").read())
    per_obj = c.endswith("per_object")
    print(f"{c:20s} {res[c]:10.2f} {cpu[c]:12.2f} {n * (10 if per_obj else 1) / res[c]:12.1f} {int(rss.group(1)) / 1024 if rss else 0:14.1f}")
x = res["xz_d"]
print()
for a, b in (("loop_1", "ours_1"), ("loop_10", "ours_10"), ("loop_10_per_object", "ours_10_per_object")):
    print(f"{b}: {res[a] / res[b]:.2f}x faster than {a}; {res[b] / x:.2f}x of xz -d alone"
          f" (CPU: {cpu[a] / cpu[b]:.2f}x less than {a}; {cpu[b] / cpu['xz_d']:.2f}x of xz -d alone)")
PY
