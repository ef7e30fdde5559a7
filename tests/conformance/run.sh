#!/usr/bin/env bash
# OCI runtime conformance harness: builds the opencontainers/runtime-tools
# validation suite offline and runs every validation test against one runtime,
# the way the suite's own Makefile does (RUNTIME=<binary> ./validation/<t>.t).
#
#   tests/conformance/run.sh RUNTIME_BINARY
#   tests/conformance/run.sh --compare RESULTS_A.tsv RESULTS_B.tsv
#
# See README.md beside this file for what it needs and what it prints.
set -euo pipefail

HERE="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
SRC="${OCI_VALIDATION_SRC:-/var/tmp/oci-rt-src}"
WORK="${CONFORMANCE_WORKDIR:-/var/tmp/berth-conformance}"
TEST_TIMEOUT="${TEST_TIMEOUT:-300}"
DEBIAN_GOCODE=/usr/share/gocode/src

die() { echo "run.sh: $*" >&2; exit 2; }

# ---- comparison mode ---------------------------------------------------------
compare() {
	local a="$1" b="$2"
	[[ -f $a && -f $b ]] || die "--compare needs two results.tsv files"
	printf '%-36s %-26s %-26s\n' "test" "$(head -1 "$a" | cut -f2)" "$(head -1 "$b" | cut -f2)"
	join -t $'\t' <(tail -n +2 "$a" | cut -f1,3,4,7 | sort) <(tail -n +2 "$b" | cut -f1,3,4,7 | sort) |
		while IFS=$'\t' read -r name pa fa sa pb fb sb; do
			local mark=""
			if ((pb < pa)) || ((fb > fa)) || [[ $sa == pass && $sb != pass ]]; then mark="  <-- worse"
			elif ((pb > pa)) || ((fb < fa)); then mark="  (better)"; fi
			printf '%-36s %-26s %-26s%s\n' "$name" "$pa ok/$fa not-ok ($sa)" "$pb ok/$fb not-ok ($sb)" "$mark"
		done
}

if [[ ${1:-} == --compare ]]; then
	compare "${2:-}" "${3:-}"
	exit 0
fi

[[ $# -eq 1 ]] || die "usage: $0 RUNTIME_BINARY | --compare A.tsv B.tsv"
RUNTIME_BIN="$(readlink -f "$1")"
[[ -x $RUNTIME_BIN ]] || die "runtime $1 is not an executable"
[[ $(id -u) -eq 0 ]] || die "the validation suite creates real containers: run as root"

# ---- prerequisites -----------------------------------------------------------
need_pkgs="golang-go golang-github-opencontainers-runtime-tools-dev golang-github-google-uuid-dev golang-gopkg-yaml.v2-dev busybox-static util-linux"
command -v go >/dev/null || die "go missing: apt-get install -y $need_pkgs"
[[ -d $DEBIAN_GOCODE/github.com/opencontainers/runtime-tools/generate ]] ||
	die "runtime-tools library missing: apt-get install -y $need_pkgs"
[[ -d $DEBIAN_GOCODE/github.com/google/uuid && -d $DEBIAN_GOCODE/gopkg.in/yaml.v2 ]] ||
	die "Go deps missing: apt-get install -y $need_pkgs"
[[ -d $SRC/validation/util && -f $SRC/cmd/runtimetest/main.go ]] ||
	die "no validation sources at $SRC (set OCI_VALIDATION_SRC to a runtime-tools tree holding validation/ and cmd/runtimetest/; see README.md)"
BUSYBOX="$(command -v busybox || true)"
[[ -n $BUSYBOX ]] && file -L "$BUSYBOX" | grep -q 'statically linked' ||
	die "a static busybox is needed for the rootfs: apt-get install -y busybox-static"

# ---- build (cached on the hash of every input) --------------------------------
BIN="$WORK/bin"
inputs_hash="$( (
	find "$SRC/validation" "$SRC/cmd/runtimetest" "$HERE/gapfill" -type f -name '*.go' -print0 | sort -z | xargs -0 sha256sum
	sha256sum "$BUSYBOX" "$0"
	go version
) | sha256sum | cut -c1-16)"

build_suite() {
	echo "building the validation suite into $BIN" >&2
	rm -rf "$WORK/gopath" "$BIN"
	mkdir -p "$BIN" "$WORK/gopath/src/github.com/opencontainers" "$WORK/gopath/src/github.com/mndrix"
	local rt="$WORK/gopath/src/github.com/opencontainers/runtime-tools"
	# Debian's runtime-tools library packages plus the suite's own sources.
	cp -r "$DEBIAN_GOCODE/github.com/opencontainers/runtime-tools" "$rt"
	cp -r "$SRC/validation" "$SRC/cmd" "$rt/"
	# Pieces the stored upstream sources lack (see README.md, "gap fill").
	cp -r "$HERE/gapfill/tap-go" "$WORK/gopath/src/github.com/mndrix/tap-go"
	cp "$HERE/gapfill/runtimetest/rlimit_linux.go" "$rt/cmd/runtimetest/"
	cp "$HERE/gapfill/runtimetest/mount/mount.go" "$rt/cmd/runtimetest/mount/"
	cp "$HERE/gapfill/util_namespace_names.go" "$rt/validation/util/"
	(
		cd "$rt"
		export GOPATH="$WORK/gopath:/usr/share/gocode" GO111MODULE=off GOFLAGS= GOPROXY=off \
			GOCACHE="$WORK/gocache" CGO_ENABLED=0
		go build -o "$BIN/runtimetest" ./cmd/runtimetest
		for d in validation/*/; do
			local name
			name="$(basename "$d")"
			[[ $name == util ]] && continue
			if go build -o "$BIN/$name.t" "./$d" 2>"$BIN/$name.build.log"; then
				rm -f "$BIN/$name.build.log"
			else
				echo "  build failed: $name (see $BIN/$name.build.log)" >&2
			fi
		done
	)
	build_rootfs
	echo "$inputs_hash" >"$BIN/.stamp"
}

# The suite untars rootfs-<GOARCH>.tar.gz from its working directory into each
# bundle. Build it from the host's static busybox: one binary plus applet links.
build_rootfs() {
	local r="$WORK/rootfs"
	rm -rf "$r"
	mkdir -p "$r"/{bin,sbin,usr/bin,usr/sbin,proc,sys,dev,etc,tmp,root,run,var,mnt}
	cp "$BUSYBOX" "$r/bin/busybox"
	local applet
	for applet in $("$BUSYBOX" --list-full); do
		[[ -e $r/$applet || -L $r/$applet ]] || ln -s /bin/busybox "$r/$applet"
	done
	printf 'root:x:0:0:root:/root:/bin/sh\nnobody:x:65534:65534:nobody:/nonexistent:/bin/false\n' >"$r/etc/passwd"
	printf 'root:x:0:\nnogroup:x:65534:\n' >"$r/etc/group"
	chmod 1777 "$r/tmp"
	local arch
	arch="$(go env GOARCH)"
	tar -C "$r" -czf "$BIN/rootfs-$arch.tar.gz" .
}

mkdir -p "$WORK"
if [[ ! -f $BIN/.stamp || $(cat "$BIN/.stamp") != "$inputs_hash" ]]; then
	build_suite
fi

# ---- run ---------------------------------------------------------------------
label="$(basename "$RUNTIME_BIN")"
OUT="$WORK/results/$label"
rm -rf "$OUT"
mkdir -p "$OUT"
TSV="$OUT/results.tsv"
printf 'test\t%s\tok\tnot_ok\tskip\ttodo\tverdict\texit\n' "$label" >"$TSV"

mapfile -t tests < <(cd "$BIN" && ls -1 -- *.t | sed 's/\.t$//' | sort)
if [[ -n ${TESTS:-} ]]; then read -r -a tests <<<"$TESTS"; fi
for name in $(cd "$SRC/validation" && ls -1d -- */ | tr -d / | grep -vx util); do
	[[ -x $BIN/$name.t ]] || printf '%s\t%s\t0\t0\t0\t0\tbuild-failed\t-\n' "$name" "$label" >>"$TSV"
done

# Bundles go under a directory of our own (the suite uses os.MkdirTemp), so that
# whatever a runtime leaves behind can be cleaned without touching anything else.
SCRATCH="$WORK/tmp/$label"
clean_scratch() {
	local m
	# A runtime that mounts onto the bundle in the host's namespace (runc does for
	# a config without a mount namespace) leaves mounts behind: lazily detach them.
	for m in $(awk -v p="$SCRATCH/" 'index($5, p) == 1 { print $5 }' /proc/self/mountinfo | sort -r); do
		umount -l "$m" 2>/dev/null || true
	done
	rm -rf "$SCRATCH"
	mkdir -p "$SCRATCH"
}
clean_scratch

echo "runtime: $RUNTIME_BIN" >&2
echo "results: $OUT" >&2
for name in "${tests[@]}"; do
	tap="$OUT/$name.tap"
	set +e
	(cd "$BIN" && TMPDIR="$SCRATCH" RUNTIME="$RUNTIME_BIN" timeout --kill-after=10 "$TEST_TIMEOUT" "./$name.t") >"$tap" 2>"$OUT/$name.stderr"
	rc=$?
	set -e
	clean_scratch
	# TAP points: "ok N"/"not ok N"; "# SKIP" and "# TODO" directives counted apart.
	ok=$(grep -Ec '^ok [0-9]+' "$tap" || true)
	skip=$(grep -Ec '^ok [0-9]+ # SKIP' "$tap" || true)
	todo=$(grep -Ec '^(not )?ok [0-9]+.*# TODO$' "$tap" || true)
	notok=$(grep -Ec '^not ok [0-9]+' "$tap" || true)
	todo_notok=$(grep -Ec '^not ok [0-9]+.*# TODO$' "$tap" || true)
	todo_ok=$((todo - todo_notok))
	pass=$((ok - skip - todo_ok))
	fail=$((notok - todo_notok))
	# Some tests (hooks, *_fail) emit no point at all and report a failure only as
	# a YAML "error:" block; a test binary that exits non-zero failed (util.Fatal).
	verdict=pass
	if ((fail > 0 || rc != 0)); then
		verdict=fail
	elif [[ $name == *_fail ]] && ! grep -q '^TAP version' "$tap"; then
		# *_fail tests expect create to fail and exit non-zero (util.Fatal) if it
		# does not; exit 0 with no TAP is their pass.
		verdict=pass
	elif ! grep -q '^TAP version' "$tap"; then
		# Tests that relay runtimetest's own TAP print nothing when the container
		# process never got to run it.
		verdict=no-output
	elif ((pass + fail == 0)) && grep -q '^  error:' "$tap"; then
		verdict=fail
	elif ((pass + fail == 0 && skip > 0)); then
		verdict=skip
	fi
	((rc == 124 || rc == 137)) && verdict=timeout
	printf '%s\t%s\t%d\t%d\t%d\t%d\t%s\t%d\n' "$name" "$label" "$pass" "$fail" "$skip" "$todo" "$verdict" "$rc" >>"$TSV"
	printf '%-36s ok %3d  not-ok %3d  skip %3d  todo %2d  %-8s (exit %d)\n' "$name" "$pass" "$fail" "$skip" "$todo" "$verdict" "$rc"
done

# ---- totals ------------------------------------------------------------------
awk -F'\t' 'NR > 1 {
	ok += $3; nok += $4; skip += $5; todo += $6; v[$7]++; n++
} END {
	printf "\nTOTAL checks: %d ok, %d not ok, %d skipped, %d todo\n", ok, nok, skip, todo
	printf "TOTAL tests:  %d of %d pass (fail %d, no-output %d, timeout %d, skip %d, build-failed %d)\n", v["pass"], n, v["fail"], v["no-output"], v["timeout"], v["skip"], v["build-failed"]
	printf "conformance: %d passed, %d failed\n", ok, nok
}' "$TSV"
echo "per-test TAP output and the results table: $OUT" >&2
