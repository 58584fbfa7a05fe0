#!/usr/bin/env bash
# make bench, registry part: push and pull of a 1 GiB layout to and from a local docker-registry
# (Debian's, plain HTTP on 127.0.0.1, storage on the same disk), side by side with oras cp and
# skopeo copy, in one run. Each tool with its own default concurrency (gadgetpack 8, oras 3).
#   BENCH_BYTES   size of the benchmark layout (default 1 GiB)
#   BENCH_DIR     where the fixtures are cached (default ${TMPDIR:-/tmp}/gadgetpack-bench); the
#                 layout is the one scripts/bench.sh makes (same recipe, same cache)
#   BENCH_RUNS    runs per command (default 3)
#   BENCH_TIMER   "loop" times with a shell loop even when hyperfine is installed
#   ORAS          the oras binary (default: oras in PATH, else oras $ORAS_VERSION installed
#                 with go install into $BENCH_DIR/bin)
# Uses hyperfine when it is installed, a timing loop otherwise. Prints seconds and MiB/s of each
# tool and the ratio to the faster peer; exits non-zero only if a command fails, not on a
# missed goal (goals are read, not asserted).
set -euo pipefail
cd "$(dirname "$0")/.."
BENCH_BYTES=${BENCH_BYTES:-1073741824}
BENCH_DIR=${BENCH_DIR:-${TMPDIR:-/tmp}/gadgetpack-bench}
RUNS=${BENCH_RUNS:-3}
ORAS_VERSION=v1.3.6
GP=$PWD/gadgetpack
[ -x "$GP" ] || go build -trimpath -o "$GP" .
for t in docker-registry skopeo python3 sha256sum; do
  command -v "$t" >/dev/null || { echo "bench: $t is needed (apt-get install docker-registry skopeo python3 coreutils)"; exit 1; }
done
ORAS=${ORAS:-$(command -v oras || true)}
if [ -z "$ORAS" ]; then
  ORAS=$BENCH_DIR/bin/oras
  if [ ! -x "$ORAS" ]; then
    echo "== installing oras $ORAS_VERSION into $BENCH_DIR/bin"
    GOBIN=$BENCH_DIR/bin GOFLAGS= go install "oras.land/oras/cmd/oras@$ORAS_VERSION"
  fi
fi

# make_layout, peak_rss, mean_of, cpu_of
. scripts/benchlib.sh

echo "== fixtures: $(numfmt --to=iec "$BENCH_BYTES") layout in $BENCH_DIR ($(nproc) CPUs)"
make_layout "$BENCH_DIR/verify" "$BENCH_BYTES"
L=$BENCH_DIR/verify
REF=example.com/bench/data:latest
# oras cannot name a layout ref that has a host and a colon: it takes the manifest's digest.
DIGEST=$(python3 -c 'import json,sys; print(json.load(open(sys.argv[1]))["manifests"][0]["digest"])' "$L/index.json")
W=$BENCH_DIR/registry     # registry storage and pull outputs, on the same file system
rm -rf "$W" && mkdir -p "$W/storage"
mb=$(python3 -c "print($BENCH_BYTES/1048576)")

# The registry: a free port, no blob descriptor cache (its storage is emptied between runs).
start_registry "$W"
trap 'kill "$REG_PID" 2>/dev/null; wait "$REG_PID" 2>/dev/null || true; rm -rf "$W"' EXIT
echo "   docker-registry $(docker-registry --version | awk '{print $NF}') on $HOST (pid $REG_PID); $("$ORAS" version | head -1); $(skopeo --version)"

# timed JSON PREPARE NAME CMD...: mean seconds of each command over RUNS runs (PREPARE before
# each run, untimed), into JSON in hyperfine's export format; with hyperfine when installed.
timed() {
  local json=$1 prepare=$2; shift 2
  if [ "${BENCH_TIMER:-}" != loop ] && command -v hyperfine >/dev/null; then
    local args=()
    while [ $# -gt 0 ]; do args+=(-n "$1" "$2"); shift 2; done
    hyperfine --style basic --runs "$RUNS" --prepare "$prepare" --export-json "$json" "${args[@]}" >/dev/null
    return
  fi
  local out="" name cmd
  while [ $# -gt 0 ]; do
    name=$1 cmd=$2; shift 2
    local times=""
    for _ in $(seq "$RUNS"); do
      bash -c "$prepare"
      local t0 t1; t0=$(date +%s.%N)
      bash -c "$cmd" >/dev/null 2>&1
      t1=$(date +%s.%N)
      times+="${times:+,}$(python3 -c "print($t1 - $t0)")"
    done
    out+="${out:+,}$(python3 -c "import json,statistics as s; t=[$times]; print(json.dumps({'command': '$name', 'mean': s.mean(t), 'stddev': s.stdev(t) if len(t) > 1 else 0, 'min': min(t), 'max': max(t)}))")"
  done
  echo "{\"results\":[$out]}" > "$json"
}

# report WHAT JSON: seconds and MiB/s of each command, and ours against the faster peer.
report() {
  python3 - "$1" "$2" "$mb" <<'PY'
import json, sys
what, path, mb = sys.argv[1], sys.argv[2], float(sys.argv[3])
rows = json.load(open(path))["results"]
res = [(r["command"], r["mean"]) for r in rows]
for r in rows:
    t = r["mean"]
    print(f"{r['command']:34s} {t:7.3f} s ± {r.get('stddev') or 0:5.3f} (min {r['min']:.3f}, max {r['max']:.3f})  {mb/t:8.1f} MiB/s")
ours = dict(res)["gadgetpack " + what]
peer, best = min(((n, t) for n, t in res if not n.startswith("gadgetpack")), key=lambda x: x[1])
print(f"ratio {what}: faster peer ({peer}) time / gadgetpack time = {best/ours:.3f}   (goal >= 1: at least as fast)")
PY
}

echo
echo "== push: $RUNS runs each, registry storage emptied before each run, layout in the page cache"
timed "$W/push.json" "rm -rf $W/storage/docker; sync" \
  'gadgetpack push' "$GP push --quiet --layout $L --plain-http $REF $HOST/gadgetpack:bench" \
  'oras cp (oci-layout -> registry)' "$ORAS cp --from-oci-layout $L@$DIGEST --to-plain-http $HOST/oras:bench" \
  'skopeo copy (oci: -> docker://)' "skopeo copy --quiet --dest-tls-verify=false oci:$L:$REF docker://$HOST/skopeo:bench"
report push "$W/push.json"

echo
echo "== pull: $RUNS runs each into a new layout, the output removed and the disk synced before each run"
"$GP" push --quiet --layout "$L" --plain-http "$REF" "$HOST/src:bench" >/dev/null
timed "$W/pull.json" "rm -rf $W/pull; sync" \
  'gadgetpack pull' "$GP pull --quiet --layout $W/pull --plain-http $HOST/src:bench" \
  'oras cp (registry -> oci-layout)' "$ORAS cp --from-plain-http $HOST/src:bench --to-oci-layout $W/pull:bench" \
  'skopeo copy (docker:// -> oci:)' "skopeo copy --quiet --src-tls-verify=false docker://$HOST/src:bench oci:$W/pull:bench"
report pull "$W/pull.json"
rm -rf "$W/pull"

echo
echo "== go benchmarks (registry)"
GADGETPACK_BENCH_BYTES=$((BENCH_BYTES / 4)) go test -run '^$' -bench . -benchtime 3x ./registry/ | grep -E '^(Benchmark|ok|FAIL)'
