#!/usr/bin/env bash
# make bench: each workload side by side, in one run, with the physical limit and peer tools.
#   BENCH_BYTES   size of the benchmark layout (default 1 GiB)
#   BENCH_DIR     where the fixtures are cached (default ${TMPDIR:-/tmp}/gadgetpack-bench)
# Prints the figures and their ratios; exits non-zero only if a command fails, not on a
# missed goal (goals are read, not asserted).
set -euo pipefail
cd "$(dirname "$0")/.."
BENCH_BYTES=${BENCH_BYTES:-1073741824}
BENCH_DIR=${BENCH_DIR:-${TMPDIR:-/tmp}/gadgetpack-bench}
GP=$PWD/gadgetpack
JOBS=$(nproc)
[ -x "$GP" ] || go build -trimpath -o "$GP" .
for t in hyperfine /usr/bin/time python3 sha256sum openssl; do
  command -v "$t" >/dev/null || { echo "bench: $t is needed (apt-get install hyperfine time python3 openssl)"; exit 1; }
done

# make_layout, peak_rss, mean_of, cpu_of
. scripts/benchlib.sh

echo "== fixtures: $(numfmt --to=iec "$BENCH_BYTES") layout in $BENCH_DIR ($JOBS CPUs)"
make_layout "$BENCH_DIR/verify" "$BENCH_BYTES"
L=$BENCH_DIR/verify
mb=$(python3 -c "print($BENCH_BYTES/1048576)")

echo
echo "== verify: gadgetpack verify vs the sha256 limit over the same blob files, warm cache"
echo "   (limit: openssl's SHA-NI sha256 on $JOBS CPUs; coreutils sha256sum, without SHA-NI, for reference)"
hyperfine --style basic --warmup 1 --runs 5 --export-json "$BENCH_DIR/verify.json" \
  -n "sha256 limit (openssl x$JOBS)" "find $L/blobs/sha256 -type f -print0 | xargs -0 -P$JOBS -n4 openssl dgst -sha256 >/dev/null" \
  -n "sha256sum x$JOBS" "find $L/blobs/sha256 -type f -print0 | xargs -0 -P$JOBS -n4 sha256sum >/dev/null" \
  -n 'gadgetpack verify' "$GP verify --quiet $L" >/dev/null
read -r t_limit t_sum t_verify < <(mean_of "$BENCH_DIR/verify.json" | xargs)
rss=$(peak_rss "$GP" verify --quiet "$L")
python3 - "$mb" "$t_limit" "$t_sum" "$t_verify" "$rss" <<'PY'
import sys
mb, lim, sm, ver, rss = float(sys.argv[1]), float(sys.argv[2]), float(sys.argv[3]), float(sys.argv[4]), int(sys.argv[5])
print(f"sha256 limit (openssl) {mb/lim:8.1f} MiB/s  ({lim:.3f} s)")
print(f"sha256sum              {mb/sm:8.1f} MiB/s  ({sm:.3f} s)")
print(f"gadgetpack verify      {mb/ver:8.1f} MiB/s  ({ver:.3f} s)  peak RSS {rss/1024:.1f} MiB")
print(f"ratio verify/limit {lim/ver:.3f}   (goal >= 0.9; peak RSS goal < 64 MiB)")
PY

echo
echo "== verify --public-key: the same layout, signed (legacy), its signature checked in the same pass"
S=$BENCH_DIR/verify-signed
if [ ! -f "$S/.complete-$BENCH_BYTES" ]; then
  rm -rf "$S" && mkdir -p "$S" && cp -al "$L/blobs" "$S/blobs" && cp "$L/oci-layout" "$L/index.json" "$S/"
  COSIGN_PASSWORD=bench "$GP" keygen --output-key-prefix "$S/bench" >/dev/null
  COSIGN_PASSWORD=bench "$GP" sign --layout "$S" --key "$S/bench.key" --all >/dev/null
  touch "$S/.complete-$BENCH_BYTES"
fi
hyperfine --style basic --warmup 1 --runs 5 --export-json "$BENCH_DIR/verify-signed.json" \
  -n "sha256 limit (openssl x$JOBS)" "find $S/blobs/sha256 -type f -print0 | xargs -0 -P$JOBS -n4 openssl dgst -sha256 >/dev/null" \
  -n 'gadgetpack verify --public-key' "$GP verify --quiet --public-key $S/bench.pub $S" >/dev/null
read -r t_limit t_signed < <(mean_of "$BENCH_DIR/verify-signed.json" | xargs)
python3 - "$mb" "$t_limit" "$t_signed" <<'PY'
import sys
mb, lim, ver = float(sys.argv[1]), float(sys.argv[2]), float(sys.argv[3])
print(f"sha256 limit (openssl)         {mb/lim:8.1f} MiB/s  ({lim:.3f} s)")
print(f"gadgetpack verify --public-key {mb/ver:8.1f} MiB/s  ({ver:.3f} s)")
print(f"ratio verify --public-key/limit {lim/ver:.3f}   (goal >= 0.9)")
PY

echo
echo "== go benchmarks (layout): Verify beside ParallelSHA256 in one run"
# Three rounds each: the first round of the first benchmark reads a cold page cache.
GADGETPACK_BENCH_BYTES=$BENCH_BYTES go test -run '^$' -bench 'Verify$|ParallelSHA256' -benchtime 3x -count 3 ./layout/ | grep -E '^(Benchmark|ok|FAIL)'

if [ -x btf/bench.sh ]; then
  echo
  echo "== btfgen"
  ./btf/bench.sh
fi
