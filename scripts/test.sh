#!/usr/bin/env bash
# The whole test suite, exactly what CI runs (.ci/run): the tools the tests
# need (valgrind, for the exact instruction counts the bisect and corpus
# tests use), then every test of the workspace, then zp's again under the
# aws-lc crypto provider.
set -euo pipefail
cd "$(dirname "$0")/.."
scripts/install-tools.sh
cargo test --workspace --all-targets
cargo test -p zp --all-targets --features aws-lc
