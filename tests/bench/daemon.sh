#!/usr/bin/env bash
# Daemon benchmarks: `berthctl run --rm IMAGE true`, 50 containers started concurrently with
# `run -d` then removed, berthd's idle RSS and one shim's RSS. When Docker is installed
# (Debian's docker.io), the same work runs with Docker in the same run and the ratio
# ours/docker is printed. Both run the same busybox rootfs, imported into each engine, with
# `--network none` (Berth's default until bridge networking lands).
#
# Needs root, hyperfine, jq and busybox-static. Environment:
#   RUNS           hyperfine runs of `run --rm` (default 30, after 3 warm-up runs)
#   BATCH_ROUNDS   rounds of the 50-container scenario (default 5)
#   NO_DOCKER=1    skip Docker even if it is installed
set -euo pipefail

root_dir=$(cd "$(dirname "$0")/../.." && pwd)
cd "$root_dir"
runs=${RUNS:-30}
rounds=${BATCH_ROUNDS:-5}

for tool in hyperfine jq; do
    command -v "$tool" >/dev/null || { echo "daemon.sh: install $tool" >&2; exit 1; }
done
[[ $(id -u) == 0 ]] || { echo "daemon.sh: run as root" >&2; exit 1; }

cargo build --release --quiet -p berthd -p berth-shim -p berthctl
bin=$root_dir/target/release

work=$(mktemp -d /tmp/berth-bench-d.XXXXXX)
sock=$work/run/berthd.sock
ctl() { "$bin/berthctl" -H "unix://$sock" "$@"; }
started_dockerd=
started_containerd=
cleanup() {
    ctl rm -f $(ctl ps -aq 2>/dev/null) >/dev/null 2>&1 || true
    [[ -n ${berthd_pid:-} ]] && kill "$berthd_pid" 2>/dev/null && wait "$berthd_pid" 2>/dev/null
    if [[ -n ${docker_ready:-} ]]; then
        docker rm -f $(docker ps -aq --filter label=berth-bench) >/dev/null 2>&1 || true
    fi
    [[ -n $started_dockerd ]] && kill "$started_dockerd" 2>/dev/null
    [[ -n $started_containerd ]] && kill "$started_containerd" 2>/dev/null
    umount -R "$work/root/containers"/*/rootfs 2>/dev/null || true
    rm -rf "$work"
}
trap cleanup EXIT

# The busybox rootfs tar, shared by both engines.
mkdir -p "$work"/rootfs/{bin,etc,proc,sys,dev,tmp}
cp /bin/busybox "$work/rootfs/bin/busybox"
for applet in $(/bin/busybox --list); do
    [[ $applet == busybox ]] || ln -s busybox "$work/rootfs/bin/$applet"
done
tar -C "$work/rootfs" --numeric-owner -cf "$work/busybox.tar" .

"$bin/berthd" --root "$work/root" --exec-root "$work/run" -H "unix://$sock" \
    --log-level warn >"$work/berthd.log" 2>&1 &
berthd_pid=$!
for _ in $(seq 100); do ctl version >/dev/null 2>&1 && break; sleep 0.1; done
ctl import "$work/busybox.tar" bench-busybox >/dev/null
rss_kib() { awk '/^VmRSS:/ {print $2}' "/proc/$1/status"; }
sleep 2
berthd_idle_rss=$(rss_kib "$berthd_pid")

docker_ready=
if [[ -z ${NO_DOCKER:-} ]] && command -v docker >/dev/null; then
    if ! docker info >/dev/null 2>&1; then
        if ! pgrep -x containerd >/dev/null; then
            containerd >"$work/containerd.log" 2>&1 &
            started_containerd=$!
            sleep 2
        fi
        dockerd --iptables=false --bridge=none >"$work/dockerd.log" 2>&1 &
        started_dockerd=$!
        for _ in $(seq 150); do docker info >/dev/null 2>&1 && break; sleep 0.2; done
    fi
    if docker info >/dev/null 2>&1; then
        docker import "$work/busybox.tar" bench-busybox >/dev/null
        docker_ready=1
    else
        echo "docker is installed but dockerd did not start; skipping it" >&2
    fi
fi

median() { sort -n | awk '{a[NR]=$1} END {print (NR%2 ? a[(NR+1)/2] : (a[NR/2]+a[NR/2+1])/2)}'; }

echo "== run --rm IMAGE true ($runs runs) =="
commands=("$bin/berthctl -H unix://$sock run --rm bench-busybox true")
names=(berth)
if [[ -n $docker_ready ]]; then
    commands+=("docker run --rm --network none bench-busybox true")
    names+=(docker)
fi
hyperfine --warmup 3 --runs "$runs" --export-json "$work/run.json" "${commands[@]}"
berth_run=$(jq '.results[0].median * 1000' "$work/run.json")
printf 'berth  median %.1f ms\n' "$berth_run"
if [[ -n $docker_ready ]]; then
    docker_run=$(jq '.results[1].median * 1000' "$work/run.json")
    printf 'docker median %.1f ms   ratio %.2fx\n' "$docker_run" "$(awk -v a="$berth_run" -v b="$docker_run" 'BEGIN {print a / b}')"
fi

# 50 containers started concurrently, then removed; wall time of both phases, in ms.
batch() {
    local engine=$1 start end ids pids=()
    start=$(date +%s%N)
    for _ in $(seq 50); do
        if [[ $engine == berth ]]; then
            ctl run -d --label berth-bench=1 bench-busybox sleep 600 >/dev/null &
        else
            docker run -d --network none --label berth-bench=1 bench-busybox sleep 600 >/dev/null &
        fi
        pids+=($!)
    done
    # Only these: a bare `wait` would also wait for the daemons started in the background.
    wait "${pids[@]}"
    if [[ $engine == berth ]]; then
        ids=$(ctl ps -aq)
        # shellcheck disable=SC2086
        ctl rm -f $ids >/dev/null
    else
        ids=$(docker ps -aq --filter label=berth-bench)
        # shellcheck disable=SC2086
        docker rm -f $ids >/dev/null
    fi
    end=$(date +%s%N)
    echo $(((end - start) / 1000000))
}

echo "== 50 concurrent run -d, then rm -f ($rounds rounds) =="
engines=(berth)
[[ -n $docker_ready ]] && engines+=(docker)
declare -A batch_median
for engine in "${engines[@]}"; do
    batch "$engine" >/dev/null # warm-up
    times=()
    for _ in $(seq "$rounds"); do times+=("$(batch "$engine")"); done
    batch_median[$engine]=$(printf '%s\n' "${times[@]}" | median)
    echo "$engine: ${times[*]} ms; median ${batch_median[$engine]} ms"
done
if [[ -n $docker_ready ]]; then
    printf 'ratio berth/docker %.2fx\n' "$(awk -v a="${batch_median[berth]}" -v b="${batch_median[docker]}" 'BEGIN {print a / b}')"
fi

echo "== memory =="
sleep 2
echo "berthd idle RSS: $berthd_idle_rss KiB after start and import; $(rss_kib "$berthd_pid") KiB after the runs above"
cid=$(ctl run -d bench-busybox sleep 600)
# The shim releases its start-up pages once it has been idle for half a second.
sleep 2
cpid=$(ctl inspect -f '{{.State.Pid}}' "$cid")
shim=$(awk '{print $4}' "/proc/$cpid/stat")
echo "shim RSS: $(rss_kib "$shim") KiB ($(tr '\0' ' ' <"/proc/$shim/cmdline" | cut -c1-60))"
ctl rm -f "$cid" >/dev/null
if [[ -n $docker_ready ]]; then
    echo "dockerd RSS: $(rss_kib "$(pgrep -xo dockerd)") KiB, containerd RSS: $(rss_kib "$(pgrep -xo containerd)") KiB"
    did=$(docker run -d --network none --label berth-bench=1 bench-busybox sleep 600)
    sleep 2
    dpid=$(docker inspect -f '{{.State.Pid}}' "$did")
    dshim=$(awk '{print $4}' "/proc/$dpid/stat")
    echo "containerd shim RSS: $(rss_kib "$dshim") KiB"
    docker rm -f "$did" >/dev/null
fi
