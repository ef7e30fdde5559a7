#!/usr/bin/env bash
# Runs the whole test suite (unit, privileged and end-to-end) inside a throwaway VM with a
# pure cgroup v2 hierarchy and Debian 12's cloud kernel (6.1), for hosts that are cgroup v1
# or hybrid themselves. Everything comes from Debian's packages; nothing else is downloaded.
#
# Needs root, qemu-system-x86 and cpio (installed if missing). Uses KVM when it works and
# falls back to TCG (about 10 minutes for the suite on 2 cores). The VM boots an initramfs
# with the test binaries, busybox and glibc, switches to a tmpfs root, mounts cgroup2 with every
# controller enabled, runs each test binary and powers off. Prints each binary's summary and
# fails when any test failed.
set -euo pipefail
root_dir=$(cd "$(dirname "$0")/../.." && pwd)
cd "$root_dir"
[[ $(id -u) == 0 ]] || { echo "cgroup-v2.sh: run as root" >&2; exit 1; }
for pkg in qemu-system-x86 cpio busybox-static; do
    dpkg-query -W -f='${Status}' "$pkg" 2>/dev/null | grep -q "ok installed" ||
        apt-get install -y -qq --no-install-recommends "$pkg" >/dev/null
done

work=$(mktemp -d /tmp/berth-vm.XXXXXX)
trap 'rm -rf "$work"' EXIT

# The kernel: the package the cloud-kernel metapackage points at, unpacked, never installed.
(cd "$work" && apt-get download -qq linux-image-cloud-amd64 2>/dev/null)
kernel_pkg=$(dpkg-deb -f "$work"/linux-image-cloud-amd64_*.deb Depends | sed 's/ (.*//')
(cd "$work" && apt-get download -qq "$kernel_pkg" 2>/dev/null)
dpkg-deb -x "$work/$kernel_pkg"_*.deb "$work/kernel"
vmlinuz=$(ls "$work"/kernel/boot/vmlinuz-*)
overlay_ko=$(find "$work/kernel/lib/modules" -name overlay.ko | head -1)

# The test binaries, built as `cargo test` would run them.
cargo build --workspace --quiet
mapfile -t tests < <(cargo test --workspace --no-run --message-format=json 2>/dev/null |
    python3 -c 'import json, sys
for line in sys.stdin:
    try: m = json.loads(line)
    except ValueError: continue
    if m.get("reason") == "compiler-artifact" and m.get("executable") and m["profile"]["test"]:
        print(m["executable"])')

initrd=$work/initrd
mkdir -p "$initrd"/{bin,lib/x86_64-linux-gnu,lib64,berth/tests,proc,sys,dev,tmp,etc,newroot}
cp /bin/busybox "$initrd/bin/"
cp "${tests[@]}" "$initrd/berth/tests/"
cp target/debug/berth-runtime "$overlay_ko" "$initrd/berth/"
strip --strip-debug "$initrd"/berth/tests/* "$initrd/berth/berth-runtime"
cp /lib/x86_64-linux-gnu/{libc.so.6,libgcc_s.so.1,libm.so.6} "$initrd/lib/x86_64-linux-gnu/"
cp /lib64/ld-linux-x86-64.so.2 "$initrd/lib64/"

cat >"$initrd/init" <<'INIT'
#!/bin/busybox sh
/bin/busybox --install -s /bin
mount -t proc proc /proc
# pivot_root cannot leave an initramfs: move everything to a tmpfs root first.
mount -t tmpfs -o size=5g tmpfs /newroot
for d in bin lib lib64 berth etc; do cp -a /$d /newroot/; done
mkdir -p /newroot/proc /newroot/sys /newroot/dev /newroot/tmp /newroot/run
cp /stage2 /newroot/stage2
exec switch_root /newroot /stage2
INIT
cat >"$initrd/stage2" <<'STAGE2'
#!/bin/sh
mount -t proc proc /proc
mount -t sysfs sys /sys
mount -t devtmpfs dev /dev
mkdir -p /dev/pts /dev/shm && mount -t devpts devpts /dev/pts && mount -t tmpfs shm /dev/shm
mount -t tmpfs tmp /tmp
mount -t tmpfs run /run
mount -t cgroup2 cgroup2 /sys/fs/cgroup
insmod /berth/overlay.ko
echo "root:x:0:0:root:/root:/bin/sh" > /etc/passwd
echo "root:x:0:" > /etc/group
echo "+cpu +cpuset +memory +pids +io +hugetlb" > /sys/fs/cgroup/cgroup.subtree_control
echo "VM: kernel $(uname -r), cgroup2 controllers: $(cat /sys/fs/cgroup/cgroup.subtree_control)"
export BERTH_TEST_RUNTIME=/berth/berth-runtime PATH=/bin
cd /tmp
for t in /berth/tests/*; do
    echo "=== ${t##*/}"
    $t --test-threads=1 2>&1 | grep -E "FAILED|panicked|test result"
done
echo VM-TESTS-DONE
poweroff -f
STAGE2
chmod +x "$initrd/init" "$initrd/stage2"
(cd "$initrd" && find . | cpio -o -H newc 2>/dev/null) >"$work/initrd.cpio"

accel=(-accel tcg,thread=multi -cpu max)
# Nested KVM cannot boot this kernel everywhere (it stalls without output); TCG always can.
if [[ -w /dev/kvm && ${BERTH_VM_KVM:-0} == 1 ]]; then accel=(-enable-kvm -cpu host); fi
log=$work/console.log
timeout 3600 qemu-system-x86_64 "${accel[@]}" -m 6G -smp "$(nproc)" -nographic -no-reboot \
    -kernel "$vmlinuz" -initrd "$work/initrd.cpio" \
    -append "console=ttyS0 quiet panic=-1 rdinit=/init" >"$log" 2>&1 || true
grep -E "^VM:|^=== |test result|FAILED|panicked" "$log"
grep -q VM-TESTS-DONE "$log" || { echo "cgroup-v2.sh: the VM did not finish" >&2; exit 1; }
! grep -qE "FAILED|panicked" "$log"
