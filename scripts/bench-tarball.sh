#!/usr/bin/env bash
# make bench, tarball part: export and import of a 1 GiB layout side by side, in one run, with
# tar (the physical limit of moving the bytes) and skopeo (the peer tool).
#   BENCH_BYTES   size of the benchmark layout (default 1 GiB)
#   BENCH_DIR     where the fixtures are cached (default ${TMPDIR:-/tmp}/gadgetpack-bench); the
#                 layout is the one scripts/bench.sh makes (same recipe, same cache)
#   BENCH_RUNS    hyperfine runs per command (default 5)
# Prints the figures and their ratios; exits non-zero only if a command fails, not on a missed
# goal (goals are read, not asserted).
set -euo pipefail
cd "$(dirname "$0")/.."
BENCH_BYTES=${BENCH_BYTES:-1073741824}
BENCH_DIR=${BENCH_DIR:-${TMPDIR:-/tmp}/gadgetpack-bench}
RUNS=${BENCH_RUNS:-5}
GP=$PWD/gadgetpack
JOBS=$(nproc)
[ -x "$GP" ] || go build -trimpath -o "$GP" .
for t in hyperfine /usr/bin/time python3 sha256sum openssl tar skopeo; do
  command -v "$t" >/dev/null || { echo "bench: $t is needed (apt-get install hyperfine time python3 openssl tar skopeo)"; exit 1; }
done

# make_layout, peak_rss, mean_of, cpu_of
. scripts/benchlib.sh

echo "== fixtures: $(numfmt --to=iec "$BENCH_BYTES") layout in $BENCH_DIR ($JOBS CPUs)"
make_layout "$BENCH_DIR/verify" "$BENCH_BYTES"
L=$BENCH_DIR/verify
REF=example.com/bench/data:latest
W=$BENCH_DIR/tarball     # outputs, on the same file system as the layout
rm -rf "$W" && mkdir -p "$W"
mb=$(python3 -c "print($BENCH_BYTES/1048576)")
FILES="oci-layout blobs/sha256 index.json"

echo
echo "== export: gadgetpack export vs tar cf of the same files vs skopeo copy oci: -> oci-archive:"
echo "   (warm cache; every output is removed and the disk synced before each run. gadgetpack"
echo "   -o FILE verifies each blob as it reads it, hashes its output for FILE.sha256 and fsyncs"
echo "   it; so tar cf is also shown with a final fsync, with the sha256 of the tar, and that"
echo "   sha256 alone: one SHA-256 stream over the bytes, which no export that writes FILE.sha256"
echo "   can beat; gadgetpack -o - > FILE is shown without an fsync)"
tar cf "$W/ref.tar" -C "$L" $FILES   # the bytes, for their sha256 alone
hyperfine --style basic --warmup 1 --runs "$RUNS" --export-json "$W/export.json" \
  --prepare "rm -rf $W/out* $W/.out*; sync" \
  -n 'tar cf' "tar cf $W/out.tar -C $L $FILES" \
  -n 'tar cf + fsync' "tar cf $W/out.tar -C $L $FILES && sync $W/out.tar" \
  -n 'tar cf + sha256 + fsync' "tar cf $W/out.tar -C $L $FILES && openssl dgst -sha256 $W/out.tar >/dev/null && sync $W/out.tar" \
  -n 'sha256 of the tar alone' "openssl dgst -sha256 $W/ref.tar >/dev/null" \
  -n 'gadgetpack export -o FILE' "$GP export --quiet --layout $L -o $W/out.tar" \
  -n 'gadgetpack export -o - > FILE' "$GP export --quiet --layout $L -o - > $W/out.tar 2>/dev/null" \
  -n 'skopeo copy oci: oci-archive:' "skopeo copy --quiet oci:$L:$REF oci-archive:$W/out.tar:$REF" >/dev/null
read -r t_tar t_tarsync t_tarsum t_sum t_gp t_gpstd t_skopeo < <(mean_of "$W/export.json" | xargs)
read -r c_tar c_tarsync c_tarsum c_sum c_gp c_gpstd c_skopeo < <(cpu_of "$W/export.json" | xargs)
read -r m_tar m_tarsync m_tarsum m_sum m_gp m_gpstd m_skopeo < <(min_of "$W/export.json" | xargs)
rm -rf "$W"/out* "$W/ref.tar"
rss_export=$(peak_rss "$GP" export --quiet --layout "$L" -o "$W/bundle.tar")
python3 - "$mb" "$t_tar" "$t_tarsync" "$t_tarsum" "$t_sum" "$t_gp" "$t_gpstd" "$t_skopeo" "$rss_export" "$c_tar" "$c_tarsync" "$c_tarsum" "$c_sum" "$c_gp" "$c_gpstd" "$c_skopeo" "$m_tar" "$m_sum" "$m_gp" "$m_gpstd" <<'PY'
import sys
mb, tar, tarsync, tarsum, sha, gp, gpstd, sk, rss = map(float, sys.argv[1:10])
cpu = list(map(float, sys.argv[10:17]))
mtar, msha, mgp, mgpstd = map(float, sys.argv[17:])
for (name, t), c in zip([("tar cf", tar), ("tar cf + fsync", tarsync), ("tar cf + sha256 + fsync", tarsum),
                ("sha256 of the tar alone", sha), ("gadgetpack export -o FILE", gp),
                ("gadgetpack export -o - > FILE", gpstd), ("skopeo copy oci: oci-archive:", sk)], cpu):
    print(f"{name:30s} {mb/t:8.1f} MiB/s  ({t:.3f} s wall, {c:.3f} s user+sys)")
print(f"peak RSS gadgetpack export {rss/1024:.1f} MiB (goal < 64 MiB)")
print(f"ratio export/tar cf {tar/gp:.3f}, -o - vs tar cf {tar/gpstd:.3f}, vs tar cf + fsync {tarsync/gp:.3f}   (goal >= 0.9)")
print(f"ceiling of any export that writes FILE.sha256: tar cf / sha256 of the tar alone {tar/sha:.3f}")
print(f"fastest runs (noise only adds time): tar cf {mtar:.3f} s, sha256 alone {msha:.3f} s, export {mgp:.3f} s, -o - {mgpstd:.3f} s:"
      f" export/tar cf {mtar/mgp:.3f}, -o - {mtar/mgpstd:.3f}, ceiling {mtar/msha:.3f}")
print(f"ratio export/(tar cf + sha256 + fsync), the same work {tarsum/gp:.3f}")
print(f"ratio export/skopeo {sk/gp:.3f}   (goal > 1: faster than skopeo)")
PY

if [ -w /proc/sys/vm/drop_caches ]; then
  echo
  echo "== export from a cold cache (the page cache dropped before each run: a layout read from disk)"
  hyperfine --style basic --runs "$RUNS" --export-json "$W/export-cold.json" \
    --prepare "rm -rf $W/out* $W/.out*; sync; echo 3 > /proc/sys/vm/drop_caches" \
    -n 'tar cf' "tar cf $W/out.tar -C $L $FILES" \
    -n 'tar cf + fsync' "tar cf $W/out.tar -C $L $FILES && sync $W/out.tar" \
    -n 'gadgetpack export -o FILE' "$GP export --quiet --layout $L -o $W/out.tar" \
    -n 'gadgetpack export -o - > FILE' "$GP export --quiet --layout $L -o - > $W/out.tar 2>/dev/null" >/dev/null
  read -r t_tar t_tarsync t_gp t_gpstd < <(mean_of "$W/export-cold.json" | xargs)
  rm -rf "$W"/out*
  python3 - "$mb" "$t_tar" "$t_tarsync" "$t_gp" "$t_gpstd" <<'PY'
import sys
mb, tar, tarsync, gp, gpstd = map(float, sys.argv[1:])
for name, t in [("tar cf", tar), ("tar cf + fsync", tarsync), ("gadgetpack export -o FILE", gp), ("gadgetpack export -o - > FILE", gpstd)]:
    print(f"{name:30s} {mb/t:8.1f} MiB/s  ({t:.3f} s wall)")
print(f"cold ratio export/tar cf {tar/gp:.3f}, -o - vs tar cf {tar/gpstd:.3f}, vs tar cf + fsync {tarsync/gp:.3f}   (goal >= 0.9)")
PY
else
  echo
  echo "== export from a cold cache: skipped (dropping the page cache needs root)"
fi

echo
if ! "$GP" import --help >/dev/null 2>&1; then
  echo "== import: skipped (this gadgetpack has no import command)"
else
echo "== import: gadgetpack import vs tar xf then a parallel sha256 of the blobs vs skopeo copy oci-archive: -> oci:"
echo "   (limit: tar xf, then openssl's SHA-NI sha256 of the blob files on $JOBS CPUs)"
hyperfine --style basic --warmup 1 --runs "$RUNS" --export-json "$W/import.json" \
  --prepare "rm -rf $W/in; sync" \
  -n "tar xf + sha256 x$JOBS" "mkdir $W/in && tar xf $W/bundle.tar -C $W/in && find $W/in/blobs/sha256 -type f -print0 | xargs -0 -P$JOBS -n4 openssl dgst -sha256 >/dev/null" \
  -n 'gadgetpack import' "$GP import --quiet --layout $W/in $W/bundle.tar" \
  -n 'skopeo copy oci-archive: oci:' "skopeo copy --quiet oci-archive:$W/bundle.tar:$REF oci:$W/in:$REF" >/dev/null
read -r t_xf t_imp t_skimp < <(mean_of "$W/import.json" | xargs)
read -r c_xf c_imp c_skimp < <(cpu_of "$W/import.json" | xargs)
rm -rf "$W/in"
rss_import=$(peak_rss "$GP" import --quiet --layout "$W/in" "$W/bundle.tar")
python3 - "$mb" "$t_xf" "$t_imp" "$t_skimp" "$rss_import" "$c_xf" "$c_imp" "$c_skimp" <<'PY'
import sys
mb, xf, imp, sk, rss = map(float, sys.argv[1:6])
cpu = list(map(float, sys.argv[6:]))
for (name, t), c in zip([("tar xf + parallel sha256", xf), ("gadgetpack import", imp), ("skopeo copy oci-archive: oci:", sk)], cpu):
    print(f"{name:30s} {mb/t:8.1f} MiB/s  ({t:.3f} s wall, {c:.3f} s user+sys)")
print(f"peak RSS gadgetpack import {rss/1024:.1f} MiB (goal < 64 MiB)")
print(f"ratio import/(tar xf + sha256) {xf/imp:.3f}   (goal >= 0.8)")
print(f"ratio import/skopeo {sk/imp:.3f}   (goal > 1: faster than skopeo)")
PY
fi
rm -rf "$W"

echo
echo "== go benchmarks (tarball)"
GADGETPACK_BENCH_BYTES=$BENCH_BYTES go test -run '^$' -bench . -benchtime 3x ./tarball/ | grep -E '^(Benchmark|ok|FAIL)'
