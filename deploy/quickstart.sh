#!/usr/bin/env bash
# The main job of this stage: build berth-runtime, make a busybox bundle with
# `berth-runtime spec`, and run it with `berth-runtime run`. BERTH_RUNTIME=/path/to/runtime
# skips the build and uses that runc-compatible runtime instead.
set -euo pipefail
cd "$(dirname "$0")/.."
. deploy/deps.sh
require_root quickstart.sh
install_deps

runtime=${BERTH_RUNTIME:-}
if [[ -z $runtime ]]; then
    cargo build --release -p berth-runtime
    runtime=$PWD/target/release/berth-runtime
fi

work=$(mktemp -d /tmp/berth-quickstart.XXXXXX)
trap 'rm -rf "$work"' EXIT
bundle=$work/bundle
mkdir -p "$bundle"/rootfs/{bin,etc,proc,sys,dev,tmp}
cp /bin/busybox "$bundle/rootfs/bin/busybox"
for applet in $(/bin/busybox --list); do
    [[ $applet == busybox ]] || ln -s busybox "$bundle/rootfs/bin/$applet"
done

(cd "$bundle" && "$runtime" spec)
jq '.process.terminal = false
    | .hostname = "berth-quickstart"
    | .process.args = ["sh", "-c",
        "echo \"Hello from a Berth container: PID $$ on host $(hostname), rootfs: $(ls / | tr \"\\n\" \" \")\""]' \
    "$bundle/config.json" >"$work/config.json"
mv "$work/config.json" "$bundle/config.json"

"$runtime" --root "$work/state" run --bundle "$bundle" "berth-quickstart-$$"
