#!/usr/bin/env bash
# The full test suite: formatting, lints, then every test of the workspace. The end-to-end
# tests (tests/) create real containers with target/debug/berth-runtime, so they run as root;
# BERTH_TEST_RUNTIME=/usr/sbin/runc runs them against another runtime instead.
set -euo pipefail
cd "$(dirname "$0")/.."
. deploy/deps.sh
require_root test.sh
install_deps

cargo fmt --all --check
cargo clippy --workspace --all-targets -- -D warnings
cargo build --workspace
cargo test --workspace
