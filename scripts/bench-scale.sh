#!/usr/bin/env bash
# make bench, scale part (issue 12): many small images. Makes two layouts of N small images
# (index -> manifest -> config + one 1 KiB layer: 4N blobs), at N = SMALL and N = LARGE, and
# times every command at each size (the best of SCALE_RUNS runs): the wall time, the growth ratio from SMALL to LARGE
# (linear is 10x for 10x the images), the peak RSS, the floors (tar xf + sync + parallel sha256
# of the blobs for import; tar cf + sha256 of the tar for export, each timed right after its
# command) and skopeo's copy of one ref beside ours, and the push of one ref to a
# docker-registry on 127.0.0.1 beside skopeo's; verify of the export gzip'ed too (streamed).
#   SCALE_SMALL, SCALE_LARGE  the two sizes (default 2000 and 20000)
#   BENCH_DIR                 where the layouts are cached (default ${TMPDIR:-/tmp}/gadgetpack-bench)
#   SCALE_RUNS                runs of each command; the shortest counts (default 3)
# Prints the figures; exits non-zero only if a command fails, not on a missed goal.
set -euo pipefail
cd "$(dirname "$0")/.."
SMALL=${SCALE_SMALL:-2000}
LARGE=${SCALE_LARGE:-20000}
BENCH_DIR=${BENCH_DIR:-${TMPDIR:-/tmp}/gadgetpack-bench}
RUNS=${SCALE_RUNS:-3}
GP=$PWD/gadgetpack
JOBS=$(nproc)
[ -x "$GP" ] || go build -trimpath -o "$GP" .
for t in /usr/bin/time python3 sha256sum tar gzip skopeo docker-registry; do
  command -v "$t" >/dev/null || { echo "bench: $t is needed (apt-get install time python3 coreutils tar gzip skopeo docker-registry)"; exit 1; }
done
# start_registry
. scripts/benchlib.sh

# make_small N DIR: a layout of N small images, cached.
make_small() {
  local n=$1 dir=$2
  [ -f "$dir/.complete" ] && return 0
  rm -rf "$dir"
  python3 - "$n" "$dir" <<'PY'
import hashlib, json, os, sys
n, root = int(sys.argv[1]), sys.argv[2]
blobs = os.path.join(root, "blobs", "sha256")
os.makedirs(blobs)
def put(data):
    h = hashlib.sha256(data).hexdigest()
    with open(os.path.join(blobs, h), "wb") as f:
        f.write(data)
    return {"digest": "sha256:" + h, "size": len(data)}
entries = []
for i in range(n):
    layer = put(os.urandom(1024))
    config = put(json.dumps({"architecture": "amd64", "os": "linux",
        "rootfs": {"type": "layers", "diff_ids": [layer["digest"]]}}, separators=(",", ":")).encode())
    m = {"schemaVersion": 2, "mediaType": "application/vnd.oci.image.manifest.v1+json",
         "config": dict(mediaType="application/vnd.oci.image.config.v1+json", **config),
         "layers": [dict(mediaType="application/vnd.oci.image.layer.v1.tar", **layer)]}
    md = put(json.dumps(m, separators=(",", ":")).encode())
    idx = {"schemaVersion": 2, "mediaType": "application/vnd.oci.image.index.v1+json",
           "manifests": [dict(mediaType="application/vnd.oci.image.manifest.v1+json",
                              platform={"architecture": "amd64", "os": "linux"}, **md)]}
    xd = put(json.dumps(idx, separators=(",", ":")).encode())
    entries.append(dict(mediaType="application/vnd.oci.image.index.v1+json",
                        annotations={"org.opencontainers.image.ref.name": "example.com/scale/img-%d:v1" % i}, **xd))
with open(os.path.join(root, "oci-layout"), "w") as f:
    f.write('{"imageLayoutVersion":"1.0.0"}')
with open(os.path.join(root, "index.json"), "w") as f:
    json.dump({"schemaVersion": 2, "mediaType": "application/vnd.oci.image.index.v1+json", "manifests": entries}, f, separators=(",", ":"))
PY
  touch "$dir/.complete"
}

# timed NAME CLEAN CMD...: runs CMD RUNS times (each after the shell command CLEAN, untimed,
# and a sync) and records "NAME wall_s rss_kib" with the shortest wall time and the largest
# peak RSS: this machine's page cache and disk make single runs swing by 2x.
timed() {
  local name=$1 clean=$2; shift 2
  local t best="" rss=0 i
  t=$(mktemp)
  for ((i = 0; i < RUNS; i++)); do
    [ -z "$clean" ] || sh -c "$clean"
    sync
    /usr/bin/time -o "$t" -f '%e %M' "$@" >/dev/null 2>&1 || echo "bench: $name exited non-zero" >&2
    read -r wall kib < <(tail -1 "$t")
    if [ -z "$best" ] || awk "BEGIN{exit !($wall < $best)}"; then best=$wall; fi
    [ "$kib" -gt "$rss" ] && rss=$kib
  done
  echo "$name $best $rss" >> "$RESULTS"
  rm -f "$t"
}

RESULTS=$(mktemp)
R=$(mktemp -d)
start_registry "$R"
trap 'kill "$REG_PID" 2>/dev/null; wait "$REG_PID" 2>/dev/null || true; rm -rf "$RESULTS" "$R"' EXIT
for n in "$SMALL" "$LARGE"; do
  L=$BENCH_DIR/scale-$n
  W=$BENCH_DIR/scale-work-$n
  echo "== fixtures: $n small images ($((4 * n)) blobs) in $L"
  make_small "$n" "$L"
  rm -rf "$W" && mkdir -p "$W"
  # Warm the page cache, so that the first command timed is not the one that reads the disk.
  tar -C "$L" -cf - oci-layout blobs index.json | cat >/dev/null
  one=example.com/scale/img-$((n / 2)):v1
  WARM_L="tar -C '$L' -cf - oci-layout blobs index.json | cat >/dev/null"
  timed "verify_dir@$n" "$WARM_L" "$GP" verify --quiet "$L"
  timed "list@$n" "" "$GP" list --layout "$L" --quiet
  timed "gc_dry_run@$n" "" "$GP" gc --dry-run --layout "$L"
  # Each floor runs right after the command it is the floor of, from the same warm input: this
  # VM's page cache drops what was not read for a minute (DAMON), and rm -rf of 80,000 files
  # leaves the disk busy with discards for a while, so two runs minutes apart are not alike.
  timed "export_all@$n" "rm -f '$W/all.tar' '$W/all.tar.sha256'; $WARM_L" "$GP" export --layout "$L" -o "$W/all.tar"
  timed "floor_tar_cf_sha256@$n" "$WARM_L" sh -c "tar -C '$L' -cf - oci-layout blobs index.json | sha256sum"
  timed "verify_tarball@$n" "cat '$W/all.tar' >/dev/null" "$GP" verify --quiet "$W/all.tar"
  # A compressed tarball cannot be read in place: its verify streams it (memory goal).
  gzip -1 -c "$W/all.tar" > "$W/all.tar.gz"
  timed "verify_tarball_gz@$n" "cat '$W/all.tar.gz' >/dev/null" "$GP" verify --quiet "$W/all.tar.gz"
  rm -f "$W/all.tar.gz"
  timed "import_all@$n" "rm -rf '$W/imported'; sync; cat '$W/all.tar' >/dev/null" "$GP" import --quiet --layout "$W/imported" "$W/all.tar"
  timed "floor_tar_xf_sync_sha256@$n" "rm -rf '$W/tarx'; sync; cat '$W/all.tar' >/dev/null" sh -c "mkdir -p '$W/tarx' && tar -C '$W/tarx' -xf '$W/all.tar' && sync && find '$W/tarx/blobs/sha256' -type f -print0 | xargs -0 -P$JOBS -n256 sha256sum >/dev/null"
  # Into a layout that has blobs already, an import renames each staged blob into blobs/sha256
  # (into a new one, the stage folder becomes blobs/sha256 by one rename).
  timed "import_into_existing@$n" "rm -rf '$W/imported'; sync; '$GP' copy --quiet --layout '$L' --to '$W/imported' '$one'; cat '$W/all.tar' >/dev/null" "$GP" import --quiet --layout "$W/imported" "$W/all.tar"
  rm -rf "$W/tarx" "$W/imported"
  timed "copy_all@$n" "rm -rf '$W/copied'; sync; $WARM_L" "$GP" copy --quiet --layout "$L" --to "$W/copied"
  timed "copy_one@$n" "rm -rf '$W/copied-one'" "$GP" copy --quiet --layout "$L" --to "$W/copied-one" "$one"
  timed "export_one@$n" "rm -f '$W/one.tar' '$W/one.tar.sha256'" "$GP" export --layout "$L" -o "$W/one.tar" "$one"
  timed "skopeo_copy_one@$n" "rm -rf '$W/skopeo-one'" skopeo copy --quiet --all "oci:$L:$one" "oci:$W/skopeo-one:$one"
  # Push of one ref to docker-registry on 127.0.0.1, its storage emptied before each run.
  timed "push_one@$n" "rm -rf '$R/storage/docker'" "$GP" push --quiet --layout "$L" --plain-http "$one" "$HOST/scale/one:v1"
  timed "skopeo_push_one@$n" "rm -rf '$R/storage/docker'" skopeo copy --quiet --all --dest-tls-verify=false "oci:$L:$one" "docker://$HOST/scale/one:v1"
  rm -rf "$W"
done

python3 - "$RESULTS" "$SMALL" "$LARGE" <<'PY'
import sys
rows = {}
for line in open(sys.argv[1]):
    parts = line.split()
    if len(parts) < 3:
        continue
    name, n = parts[0].split("@")
    rows.setdefault(name, {})[int(n)] = (float(parts[1]), int(parts[2]) / 1024)
small, large = int(sys.argv[2]), int(sys.argv[3])
print()
print(f"{'command':26} {'N=%d' % small:>10} {'N=%d' % large:>10} {'growth':>7} {'RSS@%d' % large:>11}   (goal: growth <= {1.1 * large / small:.0f}x, RSS < 128 MiB)")
for name, v in rows.items():
    if small in v and large in v:
        (a, _), (b, rss) = v[small], v[large]
        g = b / a if a > 0 else float("nan")
        print(f"{name:26} {a:9.2f}s {b:9.2f}s {g:6.1f}x {rss:9.1f} MiB")
def at(name):
    return rows.get(name, {}).get(large, (float("nan"), 0))[0]
print()
print(f"at N={large}:")
print(f"  import / (tar xf + sync + sha256)      {at('floor_tar_xf_sync_sha256') / at('import_all'):.2f}  (goal >= 0.5)")
print(f"  the same, into a layout with one ref    {at('floor_tar_xf_sync_sha256') / at('import_into_existing'):.2f}")
print(f"  copy all / import                      {at('copy_all') / at('import_all'):.2f}  (goal <= 1.5)")
print(f"  verify tarball / verify layout         {at('verify_tarball') / at('verify_dir'):.2f}  (goal <= 1.5)")
print(f"  export / (tar cf + sha256)             {at('export_all') / at('floor_tar_cf_sha256'):.2f}  (goal <= 1.2)")
print(f"  copy one ref / skopeo copy one ref     {at('copy_one') / at('skopeo_copy_one'):.2f}  (goal <= 1)")
print(f"  push one ref / skopeo push one ref     {at('push_one') / at('skopeo_push_one'):.2f}  (goal <= 1)")
PY
