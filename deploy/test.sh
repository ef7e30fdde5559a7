#!/usr/bin/env bash
# The full test suite: formatting, lints, then every test of the workspace. The end-to-end
# tests (tests/) start real berthd daemons on temporary directories and create real
# containers, so they run as root. The runtime tests drive target/debug/berth-runtime;
# BERTH_TEST_RUNTIME=/usr/sbin/runc runs them against another runtime instead.
set -euo pipefail
cd "$(dirname "$0")/.."
. deploy/deps.sh
require_root test.sh
install_deps
install_python_client_deps

cargo fmt --all --check
cargo clippy --workspace --all-targets -- -D warnings
cargo build --workspace
cargo test --workspace
