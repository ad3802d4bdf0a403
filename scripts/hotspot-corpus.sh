#!/usr/bin/env bash
# The planted-kinds corpus on zp itself (the full form; `cargo test` runs
# the fast form on a miniature zp): five kinds of slowdown (an arithmetic
# loop, an extra copy, an allocation per call, a system call per call, a
# build setting) planted in a throwaway clone of HEAD, each bisected; every
# bisect must name its planted commit and the top hotspot the function the
# plant touched. Exit 0 when all five are right.
#
#   scripts/hotspot-corpus.sh [--only KIND] [--mini]
set -euo pipefail
cd "$(dirname "$0")/.."
exec cargo xtask corpus "$@"
