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

# A layout of BENCH_BYTES of random blobs (sizes from 256 KiB to 32 MiB) under one image manifest.
make_layout() {
  local dir=$1 bytes=$2
  [ -f "$dir/.complete-$bytes" ] && return 0
  rm -rf "$dir" && mkdir -p "$dir/blobs/sha256"
  printf '{"imageLayoutVersion":"1.0.0"}' > "$dir/oci-layout"
  local total=0 i=0 layers="" sizes=(262144 1048576 4194304 33554432 8388608 524288 16777216 2097152)
  while [ "$total" -lt "$bytes" ]; do
    local size=${sizes[$((i % ${#sizes[@]}))]}
    [ $((total + size)) -gt "$bytes" ] && size=$((bytes - total))
    head -c "$size" /dev/urandom > "$dir/blobs/tmp"
    local hex; hex=$(sha256sum "$dir/blobs/tmp" | cut -d' ' -f1)
    mv "$dir/blobs/tmp" "$dir/blobs/sha256/$hex"
    layers+="${layers:+,}{\"mediaType\":\"application/vnd.oci.image.layer.v1.tar\",\"digest\":\"sha256:$hex\",\"size\":$size}"
    total=$((total + size)); i=$((i + 1))
  done
  printf '{}' > "$dir/blobs/tmp"; local chex; chex=$(sha256sum "$dir/blobs/tmp" | cut -d' ' -f1); mv "$dir/blobs/tmp" "$dir/blobs/sha256/$chex"
  printf '{"schemaVersion":2,"mediaType":"application/vnd.oci.image.manifest.v1+json","config":{"mediaType":"application/vnd.oci.empty.v1+json","digest":"sha256:%s","size":2},"layers":[%s]}' "$chex" "$layers" > "$dir/blobs/tmp"
  local mhex msize; mhex=$(sha256sum "$dir/blobs/tmp" | cut -d' ' -f1); msize=$(stat -c %s "$dir/blobs/tmp")
  mv "$dir/blobs/tmp" "$dir/blobs/sha256/$mhex"
  printf '{"schemaVersion":2,"mediaType":"application/vnd.oci.image.index.v1+json","manifests":[{"mediaType":"application/vnd.oci.image.manifest.v1+json","digest":"sha256:%s","size":%s,"annotations":{"org.opencontainers.image.ref.name":"example.com/bench/data:latest"}}]}' "$mhex" "$msize" > "$dir/index.json"
  touch "$dir/.complete-$bytes"
}

# peak_rss CMD...: the maximum resident set size of CMD in KiB.
peak_rss() { /usr/bin/time -f '%M' "$@" 2>&1 >/dev/null | tail -1; }

# mean_of JSON: the mean time of each command in a hyperfine export, one per line.
mean_of() { python3 -c 'import json,sys; [print("%.4f" % r["mean"]) for r in json.load(open(sys.argv[1]))["results"]]' "$1"; }

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
echo "== go benchmarks (layout): Verify beside ParallelSHA256 in one run"
# Three rounds each: the first round of the first benchmark reads a cold page cache.
GADGETPACK_BENCH_BYTES=$BENCH_BYTES go test -run '^$' -bench 'Verify$|ParallelSHA256' -benchtime 3x -count 3 ./layout/ | grep -E '^(Benchmark|ok|FAIL)'

if [ -x btf/bench.sh ]; then
  echo
  echo "== btfgen"
  ./btf/bench.sh
fi
