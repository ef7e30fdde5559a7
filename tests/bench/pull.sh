#!/usr/bin/env bash
# Pull benchmark: a 3-layer image of about 130 MB of incompressible (random) data plus 3,000
# small files, in a local docker-registry, pulled from an empty store RUNS times by
#   - berthctl pull (a release berthd on a fresh temporary root each run: download + unpack),
#   - skopeo copy docker://… dir: (download only),
#   - docker pull, when Docker is installed (its own dockerd on temporary directories).
# Prints every run, the medians, the ratios berth/skopeo (target ≤ 1.5×) and berth/docker
# (target ≤ 0.5×), and throughput in MB/s of compressed image bytes.
#
# Every run of every tool pulls into a fresh store directory, and nothing is deleted until the
# end: ext4 skips recently freed inodes when it allocates new ones (`recently_deleted`), so
# creating the 3,000 files right after deleting the previous run's copy costs about twice as
# much, for whichever tool deleted last. A fresh, untouched store is the "empty store" case.
#
# Needs root, docker-registry, skopeo, busybox-static, python3 (a free port). Environment:
#   RUNS           runs per tool (default 5)
#   NO_DOCKER=1    skip Docker even if it is installed
set -euo pipefail

root_dir=$(cd "$(dirname "$0")/../.." && pwd)
cd "$root_dir"
runs=${RUNS:-5}

for tool in docker-registry skopeo python3 sha256sum gzip; do
    command -v "$tool" >/dev/null || { echo "pull.sh: install $tool" >&2; exit 1; }
done
[[ $(id -u) == 0 ]] || { echo "pull.sh: run as root" >&2; exit 1; }

cargo build --release --quiet -p berthd -p berth-shim -p berthctl
bin=${CARGO_TARGET_DIR:-$root_dir/target}/release

work=$(mktemp -d /tmp/bbp.XXXXXX)
sock=$work/run/berthd.sock
ctl() { "$bin/berthctl" -H "unix://$sock" "$@"; }
dsock=$work/docker.sock
dctl() { docker -H "unix://$dsock" "$@"; }
registry_pid=
berthd_pid=
started_dockerd=
started_containerd=
stop_berthd() {
    if [[ -n $berthd_pid ]]; then
        kill "$berthd_pid" 2>/dev/null && wait "$berthd_pid" 2>/dev/null || true
        berthd_pid=
    fi
}
cleanup() {
    stop_berthd
    [[ -n $registry_pid ]] && kill "$registry_pid" 2>/dev/null
    stop_dockerd
    [[ -n $started_containerd ]] && kill "$started_containerd" 2>/dev/null
    umount "$work"/docker-root.*/overlay2 2>/dev/null || true
    rm -rf "$work"
}
trap cleanup EXIT

free_port() {
    python3 -c 'import socket; s = socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1])'
}
now_ms() { echo $(($(date +%s%N) / 1000000)); }
median() { sort -n | awk '{a[NR]=$1} END {print (NR%2 ? a[(NR+1)/2] : (a[NR/2]+a[NR/2+1])/2)}'; }

echo "== building the image (3 layers, ~130 MB random + 3,000 small files) =="
layout=$work/layout
mkdir -p "$layout/blobs/sha256" "$work/layers"
layer_dir() { mkdir -p "$work/layers/$1" && echo "$work/layers/$1"; }

# Layer 1: a busybox userland (so the image runs) and 3,000 small random files.
l1=$(layer_dir 1)
mkdir -p "$l1"/{bin,etc,proc,sys,dev,tmp}
cp /bin/busybox "$l1/bin/busybox"
for applet in $(/bin/busybox --list); do
    [[ $applet == busybox ]] || ln -s busybox "$l1/bin/$applet"
done
for d in $(seq -w 0 29); do
    mkdir -p "$l1/data/small/$d"
    for f in $(seq -w 0 99); do
        head -c $((RANDOM % 4000 + 100)) /dev/urandom >"$l1/data/small/$d/$f"
    done
done
# Layers 2 and 3: large random files.
l2=$(layer_dir 2)
mkdir -p "$l2/data"
head -c 60M /dev/urandom >"$l2/data/blob-a"
l3=$(layer_dir 3)
mkdir -p "$l3/data"
head -c 64M /dev/urandom >"$l3/data/blob-b"

blob() { # blob FILE: moves FILE into the layout, prints its sha256 hex
    local hex
    hex=$(sha256sum "$1" | cut -d' ' -f1)
    mv "$1" "$layout/blobs/sha256/$hex"
    echo "$hex"
}
diff_ids=()
layer_descs=()
image_bytes=0
for n in 1 2 3; do
    tar -C "$work/layers/$n" --numeric-owner -cf "$work/layer.tar" .
    diff_ids+=("\"sha256:$(sha256sum "$work/layer.tar" | cut -d' ' -f1)\"")
    gzip -1 -n -c "$work/layer.tar" >"$work/layer.tar.gz"
    size=$(stat -c %s "$work/layer.tar.gz")
    image_bytes=$((image_bytes + size))
    hex=$(blob "$work/layer.tar.gz")
    layer_descs+=("{\"mediaType\":\"application/vnd.oci.image.layer.v1.tar+gzip\",\"digest\":\"sha256:$hex\",\"size\":$size}")
    rm -f "$work/layer.tar"
done
rm -rf "$work/layers"
join() { local IFS=,; echo "$*"; }
printf '{"architecture":"amd64","os":"linux","config":{"Cmd":["sh"],"Env":["PATH=/bin"]},"rootfs":{"type":"layers","diff_ids":[%s]}}' \
    "$(join "${diff_ids[@]}")" >"$work/config.json"
config_size=$(stat -c %s "$work/config.json")
config_hex=$(blob "$work/config.json")
printf '{"schemaVersion":2,"mediaType":"application/vnd.oci.image.manifest.v1+json","config":{"mediaType":"application/vnd.oci.image.config.v1+json","digest":"sha256:%s","size":%s},"layers":[%s]}' \
    "$config_hex" "$config_size" "$(join "${layer_descs[@]}")" >"$work/manifest.json"
manifest_size=$(stat -c %s "$work/manifest.json")
manifest_hex=$(blob "$work/manifest.json")
echo '{"imageLayoutVersion":"1.0.0"}' >"$layout/oci-layout"
printf '{"schemaVersion":2,"manifests":[{"mediaType":"application/vnd.oci.image.manifest.v1+json","digest":"sha256:%s","size":%s,"annotations":{"org.opencontainers.image.ref.name":"bench"}}]}' \
    "$manifest_hex" "$manifest_size" >"$layout/index.json"
image_mb=$(awk -v b="$image_bytes" 'BEGIN {printf "%.1f", b / 1e6}')
echo "compressed layers: $image_mb MB; image ID sha256:$config_hex"

echo "== starting docker-registry and seeding it with skopeo =="
port=$(free_port)
cat >"$work/registry.yml" <<EOF
version: 0.1
log:
  level: warn
  accesslog:
    disabled: true
storage:
  filesystem:
    rootdirectory: $work/registry
http:
  addr: 127.0.0.1:$port
EOF
docker-registry serve "$work/registry.yml" >"$work/registry.log" 2>&1 &
registry_pid=$!
for _ in $(seq 100); do
    python3 -c "import urllib.request; urllib.request.urlopen('http://127.0.0.1:$port/v2/')" 2>/dev/null && break
    sleep 0.1
done
image=127.0.0.1:$port/bench/pull:latest
skopeo --insecure-policy copy -q --dest-tls-verify=false "oci:$layout:bench" "docker://$image"
rm -rf "$layout"

start_berthd() { # start_berthd RUN
    rm -rf "$work/run"
    "$bin/berthd" --root "$work/root.$1" --exec-root "$work/run" -H "unix://$sock" \
        --log-level warn >>"$work/berthd.log" 2>&1 &
    berthd_pid=$!
    for _ in $(seq 100); do ctl version >/dev/null 2>&1 && break; sleep 0.1; done
}

start_dockerd() { # start_dockerd RUN: a dockerd on a fresh data root
    dockerd --iptables=false --bridge=none --insecure-registry "127.0.0.1:$port" \
        --data-root "$work/docker-root.$1" --exec-root "$work/docker-run" \
        --pidfile "$work/docker.pid" -H "unix://$dsock" >>"$work/dockerd.log" 2>&1 &
    started_dockerd=$!
    for _ in $(seq 150); do dctl info >/dev/null 2>&1 && return 0; sleep 0.2; done
    return 1
}
stop_dockerd() {
    if [[ -n $started_dockerd ]]; then
        kill "$started_dockerd" 2>/dev/null && wait "$started_dockerd" 2>/dev/null || true
        started_dockerd=
    fi
}

docker_ready=
if [[ -z ${NO_DOCKER:-} ]] && command -v dockerd >/dev/null; then
    if ! pgrep -x containerd >/dev/null; then
        containerd >"$work/containerd.log" 2>&1 &
        started_containerd=$!
        sleep 2
    fi
    if start_dockerd 0; then
        docker_ready=1
    else
        echo "docker is installed but dockerd did not start; skipping it" >&2
    fi
    stop_dockerd
fi

declare -A times
echo "== $runs runs each, from an empty store =="
for run in $(seq "$runs"); do
    start_berthd "$run"
    t0=$(now_ms)
    ctl pull "$image" >/dev/null
    t1=$(now_ms)
    times[berth]+="$((t1 - t0)) "
    if ((run == 1)); then
        count=$(ctl run --rm "$image" sh -c 'ls /data/small/*/* | wc -l')
        [[ $count == 3000 ]] || { echo "pulled image has $count small files, not 3000" >&2; exit 1; }
    fi
    stop_berthd

    t0=$(now_ms)
    skopeo --insecure-policy copy -q --src-tls-verify=false "docker://$image" "dir:$work/skopeo-dir.$run"
    t1=$(now_ms)
    times[skopeo]+="$((t1 - t0)) "

    if [[ -n $docker_ready ]]; then
        start_dockerd "$run"
        t0=$(now_ms)
        dctl pull "$image" >/dev/null
        t1=$(now_ms)
        times[docker]+="$((t1 - t0)) "
        stop_dockerd
    fi
    echo "run $run done"
done

tools=(berth skopeo)
[[ -n $docker_ready ]] && tools+=(docker)
declare -A med
printf '%-8s %-40s %10s %8s\n' tool "runs (ms)" "median ms" "MB/s"
for tool in "${tools[@]}"; do
    # shellcheck disable=SC2086
    med[$tool]=$(printf '%s\n' ${times[$tool]} | median)
    printf '%-8s %-40s %10s %8.1f\n' "$tool" "${times[$tool]}" "${med[$tool]}" \
        "$(awk -v b="$image_bytes" -v ms="${med[$tool]}" 'BEGIN {print b / 1e6 / (ms / 1000)}')"
done
ratio() { awk -v a="$1" -v b="$2" 'BEGIN {printf "%.2f", a / b}'; }
echo "berth/skopeo: $(ratio "${med[berth]}" "${med[skopeo]}")x (target <= 1.5x; skopeo only downloads)"
if [[ -n $docker_ready ]]; then
    echo "berth/docker: $(ratio "${med[berth]}" "${med[docker]}")x (target <= 0.5x)"
fi
