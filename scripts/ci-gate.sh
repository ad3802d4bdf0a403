#!/usr/bin/env bash
# The CI gate of the requirements ("cargo bench -- --baseline main", then
# "--compare main --threshold 1.25"), done by the workbench: measure BASE as
# baseline `main`, the checked-out commit as `pr`, and compare them.
#
#   scripts/ci-gate.sh BASE_REV [THRESHOLD]
#
# Exit status is `cargo xtask compare`'s: 0 pass, 1 regression, 3 could not
# compare. Writes base-report.md, report.md (Markdown reports), bmf.json
# (Bencher Metric Format) and the gate's report on stdout. BASE must already
# contain the workbench (`cargo xtask bench`).
set -euo pipefail

base=${1:?usage: scripts/ci-gate.sh BASE_REV [THRESHOLD]}
threshold=${2:-1.25}
if ! git diff --quiet || ! git diff --cached --quiet; then
    echo "ci-gate: the working tree has changes; it checks out BASE, so commit or stash them first" >&2
    exit 2
fi
head=$(git rev-parse HEAD)
# Back to the branch the user was on (not a detached HEAD), whatever happens.
branch=$(git symbolic-ref --quiet --short HEAD || true)
restore() { git checkout --quiet "${branch:-$head}"; }
trap restore EXIT

git checkout --quiet "$base"
cargo xtask bench --save-baseline main --format markdown > base-report.md
restore
cargo xtask bench --save-baseline pr --format markdown > report.md
cargo xtask export pr --output bmf.json
cargo xtask compare main pr --threshold "$threshold" --format markdown
