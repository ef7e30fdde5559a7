#!/usr/bin/env bash
# The main job: install the packages, build a release, start berthd, import a busybox image
# built from the host's busybox-static, and run `berthctl run --rm busybox echo hello`.
# berthd keeps running afterwards (its log: /var/log/berthd.log); stop it with
# `kill $(cat /run/berth/berthd.pid)`.
set -euo pipefail
cd "$(dirname "$0")/.."
. deploy/deps.sh
require_root quickstart.sh
install_deps

cargo build --release -p berthd -p berth-shim -p berthctl
bin=$PWD/target/release
berthctl=$bin/berthctl

if ! "$berthctl" version >/dev/null 2>&1; then
    echo "starting berthd (log: /var/log/berthd.log)"
    mkdir -p /run/berth
    nohup "$bin/berthd" >>/var/log/berthd.log 2>&1 &
    echo $! >/run/berth/berthd.pid
    for _ in $(seq 100); do
        "$berthctl" version >/dev/null 2>&1 && break
        sleep 0.1
    done
fi

if ! "$berthctl" image inspect busybox >/dev/null 2>&1; then
    work=$(mktemp -d /tmp/berth-quickstart.XXXXXX)
    trap 'rm -rf "$work"' EXIT
    mkdir -p "$work"/rootfs/{bin,etc,proc,sys,dev,tmp}
    cp /bin/busybox "$work/rootfs/bin/busybox"
    for applet in $(/bin/busybox --list); do
        [[ $applet == busybox ]] || ln -s busybox "$work/rootfs/bin/$applet"
    done
    printf 'root:x:0:0:root:/root:/bin/sh\nnobody:x:65534:65534:nobody:/nonexistent:/bin/false\n' \
        >"$work/rootfs/etc/passwd"
    printf 'root:x:0:\nnogroup:x:65534:\n' >"$work/rootfs/etc/group"
    tar -C "$work/rootfs" --numeric-owner -cf - . | "$berthctl" import - busybox
fi

"$berthctl" run --rm busybox echo hello
