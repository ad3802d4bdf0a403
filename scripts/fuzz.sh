#!/usr/bin/env bash
# Runs every zp fuzz target (cargo-fuzz and libFuzzer, on the nightly
# toolchain) for SECONDS each, one after another, and prints each target's
# executions, corpus size and whether it crashed. New inputs the fuzzers
# keep go to zp/fuzz/corpus/<target>/, which `cargo test` replays on stable.
#
#   scripts/fuzz.sh [SECONDS] [TARGET…]     (default: 60 s, every target)
#   JOBS=4 scripts/fuzz.sh 600              (libFuzzer workers per target)
#   RUNS=10000000 scripts/fuzz.sh 1800      (stop a target at 10 million
#                                            executions, or at 30 minutes)
#
# Installs cargo-fuzz from crates.io when it is missing. A crash leaves its
# input in zp/fuzz/artifacts/<target>/ and makes the script exit 1.
set -euo pipefail
cd "$(dirname "$0")/../zp"

seconds=${1:-60}
shift || true
targets=("$@")
if [ ${#targets[@]} -eq 0 ]; then
    targets=(frame record token handshake connection network)
fi
jobs=${JOBS:-1}
runs=${RUNS:--1}

if ! cargo +nightly --version >/dev/null 2>&1; then
    echo "fuzz: the nightly toolchain is missing (rustup toolchain install nightly)" >&2
    exit 2
fi
if ! cargo +nightly fuzz --version >/dev/null 2>&1; then
    echo "fuzz: installing cargo-fuzz"
    cargo install cargo-fuzz --locked
fi

status=0
printf '%-12s %14s %8s %10s %8s  %s\n' target executions seconds "exec/s" corpus result
for t in "${targets[@]}"; do
    log=$(mktemp)
    rm -f fuzz-*.log
    # With one job libFuzzer runs in this process and prints its stats to
    # $log; with more, each worker writes fuzz-N.log.
    parallel=()
    if [ "$jobs" -gt 1 ]; then
        parallel=(-jobs="$jobs" -workers="$jobs")
    fi
    started=$(date +%s)
    if cargo +nightly fuzz run "$t" -- -max_total_time="$seconds" -runs="$runs" \
        -print_final_stats=1 "${parallel[@]}" >"$log" 2>&1; then
        result=ok
    else
        result=CRASH
        status=1
    fi
    stats=("$log")
    if [ "$jobs" -gt 1 ] && compgen -G 'fuzz-*.log' >/dev/null; then
        stats=(fuzz-*.log)
    fi
    execs=$(grep -h 'stat::number_of_executed_units' "${stats[@]}" | awk '{s+=$2} END {print s+0}')
    took=$(( $(date +%s) - started ))
    rate=$((execs / (took > 0 ? took : 1)))
    files=$(find "fuzz/corpus/$t" -type f | wc -l)
    printf '%-12s %14s %8s %10s %8s  %s\n' "$t" "$execs" "$took" "$rate" "$files" "$result"
    if [ "$result" = CRASH ]; then
        # The panic is in the worker's log when there are workers.
        grep -h -A 12 -m 1 'panicked' "${stats[@]}" >&2 || tail -n 30 "$log" >&2
    fi
    rm -f "$log" fuzz-*.log
done
exit $status
