#!/usr/bin/env bash
# Runtime start-to-exit benchmark: create + start + wait + delete (`RUNTIME run`) of /bin/true
# in a busybox bundle with the test suite's default spec (pid, network, ipc, uts, mount and
# cgroup namespaces; a cgroup; Docker's capabilities; masked paths). berth-runtime, runc and
# crun run the same bundle in the same hyperfine invocation; peers that do not work on this
# host are reported and skipped. Prints median/min/max and the ratio ours/peer.
#
# Needs root, hyperfine and jq. Environment:
#   BERTH_RUNTIME  runtime to measure (default: build target/release/berth-runtime)
#   RUNS, WARMUP   hyperfine runs and warm-up runs (default 50 and 5)
set -euo pipefail

root_dir=$(cd "$(dirname "$0")/../.." && pwd)
cd "$root_dir"
runs=${RUNS:-50}
warmup=${WARMUP:-5}

for tool in hyperfine jq; do
    command -v "$tool" >/dev/null || { echo "runtime.sh: install $tool" >&2; exit 1; }
done
[[ $(id -u) == 0 ]] || { echo "runtime.sh: run as root" >&2; exit 1; }

ours=${BERTH_RUNTIME:-}
if [[ -z $ours ]]; then
    cargo build --release --quiet -p berth-runtime
    ours=$root_dir/target/release/berth-runtime
fi
cargo build --quiet -p berth-tests --bin berth-bundle

work=$(mktemp -d /tmp/berth-bench.XXXXXX)
names=()
bins=()
cleanup() {
    for i in "${!names[@]}"; do
        "${bins[$i]}" --root "$work/state-${names[$i]}" delete --force "bench-${names[$i]}" \
            >/dev/null 2>&1 || true
    done
    rmdir /sys/fs/cgroup/berth-bench /sys/fs/cgroup/*/berth-bench 2>/dev/null || true
    rm -rf "$work"
}
trap cleanup EXIT

bundle=$work/bundle
"$root_dir/target/debug/berth-bundle" "$bundle" /berth-bench/bench true

# One probe run per runtime: only the ones that work on this host are timed.
candidates=("berth-runtime=$ours")
for peer in runc crun; do
    if path=$(command -v "$peer"); then candidates+=("$peer=$path"); fi
done
for candidate in "${candidates[@]}"; do
    name=${candidate%%=*}
    bin=${candidate#*=}
    if "$bin" --root "$work/state-$name" run --bundle "$bundle" "bench-$name" \
        >"$work/probe.out" 2>"$work/probe.err" </dev/null; then
        names+=("$name")
        bins+=("$bin")
    else
        echo "skipped $name ($bin): $(head -n 1 "$work/probe.err")" >&2
    fi
done
[[ ${#names[@]} -gt 0 ]] || { echo "runtime.sh: no runtime works here" >&2; exit 1; }

args=()
for i in "${!names[@]}"; do
    args+=(-n "${names[$i]}"
        "${bins[$i]} --root $work/state-${names[$i]} run --bundle $bundle bench-${names[$i]}")
done
hyperfine --shell=none --warmup "$warmup" --runs "$runs" \
    --export-json "$work/results.json" "${args[@]}"

echo
if [[ $(stat -fc %T /sys/fs/cgroup) == cgroup2fs ]]; then cgroups=v2
elif [[ -d /sys/fs/cgroup/unified ]]; then cgroups="v1 (hybrid)"
else cgroups=v1; fi
cpu=$(sed -n 's/^model name[[:space:]]*: //p' /proc/cpuinfo | head -n 1)
echo "Machine: $(nproc) cores ($cpu), kernel $(uname -r), cgroup $cgroups"
echo "create+start+wait+delete of /bin/true, $runs runs after $warmup warm-up runs"
median_of() { jq -r --arg n "$1" '.results[] | select(.command == $n) | .median' "$work/results.json"; }
ours_median=$(median_of berth-runtime || true)
printf '%-14s %10s %10s %10s %12s\n' runtime "median ms" "min ms" "max ms" "ours/peer"
for name in "${names[@]}"; do
    read -r median min max < <(jq -r --arg n "$name" \
        '.results[] | select(.command == $n) | "\(.median) \(.min) \(.max)"' "$work/results.json")
    ratio=-
    if [[ -n $ours_median && $name != berth-runtime ]]; then
        ratio=$(jq -n "$ours_median / $median * 100 | round / 100")x
    fi
    printf '%-14s %10.2f %10.2f %10.2f %12s\n' "$name" \
        "$(jq -n "$median * 1000")" "$(jq -n "$min * 1000")" "$(jq -n "$max * 1000")" "$ratio"
done

# Peak memory of one run, when GNU time is installed.
if [[ -x /usr/bin/time ]]; then
    for i in "${!names[@]}"; do
        /usr/bin/time -f "${names[$i]} peak RSS: %M KiB" "${bins[$i]}" \
            --root "$work/state-${names[$i]}" run --bundle "$bundle" "bench-${names[$i]}" \
            </dev/null >/dev/null
    done
fi

if [[ -z $ours_median ]]; then
    echo "runtime.sh: berth-runtime ($ours) did not run; peers only" >&2
    exit 1
fi
