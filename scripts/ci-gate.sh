#!/usr/bin/env bash
# The CI gate, as the workflow runs it: `cargo xtask ci`. Kept for callers
# of the old script; the gate no longer checks out anything in your tree.
#
#   scripts/ci-gate.sh BASE_REV [HEAD_REV]
#
# Exit status: 0 pass, 1 regression, 3 could not compare. Writes
# gate/comment.md (the pull-request comment), gate/gate.json and
# gate/bmf.json (Bencher Metric Format).
set -euo pipefail
base=${1:?usage: scripts/ci-gate.sh BASE_REV [HEAD_REV]}
head=${2:-HEAD}
exec cargo xtask ci --base "$base" --head "$head" --out gate
