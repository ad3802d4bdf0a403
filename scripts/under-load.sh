#!/usr/bin/env bash
# Runs the demo N times with every core kept busy, and says how each run
# ended: right (the planted commit named), cannot decide (exit 7: time
# could not decide and nothing exact answered), or wrong (another commit,
# or "no regression"). A run that fails for another reason (a build, a
# refused binary) is an error, not an answer: the script stops there with
# the run's log. Usage:
#
#   scripts/under-load.sh N [HOGS_PER_CORE]
#
# HOGS_PER_CORE spin loops per core (default 1) run for the whole of it;
# the workbench is built before they start. Each run's output is kept in
# profiles/under-load/<time>/run-K.log; the table at the end names, for
# every run, what time said of the culprit and how busy the machine was.
set -euo pipefail
cd "$(dirname "$0")/.."

usage() {
  echo "usage: scripts/under-load.sh N [HOGS_PER_CORE]  (N >= 1 demo runs, HOGS_PER_CORE >= 1 spin loops per core)" >&2
  exit 2
}
[ $# -ge 1 ] && [ $# -le 2 ] || usage
runs=$1
hogs=${2:-1}
[[ "$runs" =~ ^[1-9][0-9]*$ ]] || usage
[[ "$hogs" =~ ^[1-9][0-9]*$ ]] || usage

cores=$(getconf _NPROCESSORS_ONLN 2>/dev/null || nproc)
out="profiles/under-load/$(date -u +%Y%m%dT%H%M%SZ)"
mkdir -p "$out"

echo "building the workbench before the load starts …" >&2
cargo build --release -p xtask --quiet

pids=()
stop_hogs() {
  for p in "${pids[@]}"; do kill "$p" 2>/dev/null || true; done
  wait 2>/dev/null || true
}
trap stop_hogs EXIT INT TERM
hog() { while :; do :; done; }
for _ in $(seq 1 $((cores * hogs))); do
  hog &
  pids+=($!)
done
echo "$((cores * hogs)) spin loops on $cores cores ($hogs per core); $runs demo runs; logs in $out" >&2

right=0; undecided=0; wrong=0
rows=()
for k in $(seq 1 "$runs"); do
  log="$out/run-$k.log"
  start=$(date +%s)
  set +e
  cargo xtask demo >"$log" 2>&1
  code=$?
  set -e
  secs=$(( $(date +%s) - start ))
  if [ $code -eq 0 ] && grep -q ': correct\. Total' "$log"; then
    verdict=right; right=$((right + 1))
  elif [ $code -eq 7 ]; then
    verdict="cannot decide"; undecided=$((undecided + 1))
  elif grep -qE "the demo's bisect (named the wrong commit|did not name a culprit)" "$log"; then
    verdict="wrong (exit $code)"; wrong=$((wrong + 1))
  else
    echo "run $k failed (exit $code), which is not an answer; its log, $log, ends:" >&2
    tail -n 5 "$log" >&2
    exit 4
  fi
  time_said=$(grep -m1 -E '^(Confirmed in time|Time: cannot decide)' "$log" | cut -c1-110 || true)
  machine=$(grep -m1 -E '^Machine: ' "$log" | sed 's/^Machine: //' | cut -c1-90 || true)
  rows+=("$k|$verdict|${secs}s|${time_said:-—}|${machine:-—}")
  echo "run $k: $verdict (${secs} s)" >&2
done

stop_hogs
trap - EXIT INT TERM

printf '\n| run | result | wall | time said | machine |\n|---|---|---|---|---|\n'
for r in "${rows[@]}"; do
  IFS='|' read -r k v s t m <<<"$r"
  printf '| %s | %s | %s | %s | %s |\n' "$k" "$v" "$s" "$t" "$m"
done
printf '\n%d runs with %d spin loops per core: %d right, %d cannot decide, %d wrong\n' \
  "$runs" "$hogs" "$right" "$undecided" "$wrong"
[ "$wrong" -eq 0 ]
