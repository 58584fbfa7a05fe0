# Shared by the make bench scripts (sourced, not run): the cached benchmark layout and the
# helpers that read figures.

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
# min_of JSON: the fastest run of each command, one per line (noise only adds time).
min_of() { python3 -c 'import json,sys; [print("%.4f" % r["min"]) for r in json.load(open(sys.argv[1]))["results"]]' "$1"; }
# cpu_of JSON: the mean user+system CPU time of each command, one per line (steadier than wall
# time on a busy machine).
cpu_of() { python3 -c 'import json,sys; [print("%.4f" % (r["user"] + r["system"])) for r in json.load(open(sys.argv[1]))["results"]]' "$1"; }


# start_registry DIR: starts docker-registry (plain HTTP on a free port of 127.0.0.1, storage in
# DIR/storage, no blob descriptor cache) in the background, waits until it answers, and sets
# HOST (host:port) and REG_PID. The caller stops it (kill "$REG_PID").
start_registry() {
  local dir=$1 port
  mkdir -p "$dir/storage"
  port=$(python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1])')
  HOST=127.0.0.1:$port
  cat > "$dir/config.yml" <<EOF
version: 0.1
log:
  level: error
  accesslog:
    disabled: true
storage:
  filesystem:
    rootdirectory: $dir/storage
  delete:
    enabled: true
http:
  addr: $HOST
  secret: gadgetpack-bench
EOF
  docker-registry serve "$dir/config.yml" > "$dir/registry.log" 2>&1 &
  REG_PID=$!
  python3 - "$HOST" <<'PY'
import sys, time, urllib.request
for _ in range(300):
    try:
        urllib.request.urlopen("http://%s/v2/" % sys.argv[1], timeout=1); sys.exit(0)
    except Exception:
        time.sleep(0.05)
sys.exit("docker-registry did not start")
PY
}
