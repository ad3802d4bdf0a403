#!/usr/bin/env bash
# Creates a demo history for `cargo xtask bisect` and `cargo xtask history`:
# a clone of this repository with COMMITS more commits (16 by default), one
# of which (the AT-th, 11th by default) plants a slowdown in the record
# layer's seal, so encrypt_record_64k gets slower; with UNDO=K, the K-th
# commit takes it out again (an improvement). Every 5th commit touches only
# the README; the others insert a comment line at the top of a zp source
# file, which changes no instruction but moves line numbers, so each probe
# binary differs from the last (nothing is served from the measurement
# cache that a real change would not be).
#
#   scripts/demo-history.sh DIR [STRIDE] [AT]
#   COMMITS=62 UNDO=40 scripts/demo-history.sh DIR 8 20   (50 relevant commits)
#
# STRIDE sets the size of the slowdown: a serial checksum over every
# STRIDE-th payload byte (default 8, about +10 % on encrypt_record_64k
# on the development machine). Then, in DIR:
#   cargo xtask bisect encrypt_record_64k --good demo-base
#   cargo xtask history --since demo-base
set -euo pipefail

dir=${1:?usage: scripts/demo-history.sh DIR [STRIDE] [AT]}
stride=${2:-8}
at=${3:-11}
commits=${COMMITS:-16}
undo=${UNDO:-0}
here=$(cd "$(dirname "$0")/.." && pwd)

if [ -e "$dir" ]; then
    echo "demo-history: $dir already exists; choose a new directory" >&2
    exit 2
fi
if [ "$at" -gt "$commits" ] || { [ "$undo" -ne 0 ] && [ "$undo" -le "$at" ]; }; then
    echo "demo-history: need AT <= COMMITS and UNDO after AT" >&2
    exit 2
fi
git clone --quiet --no-hardlinks "$here" "$dir"
cd "$dir"
git config user.name "zp demo"
git config user.email "demo@example.invalid"
git tag demo-base

plant() {
    python3 - "$stride" "$1" <<'PY'
import sys
stride, direction = int(sys.argv[1]), sys.argv[2]
p = "zp/src/record.rs"
s = open(p).read()
old = "        let t = self.key.seal_in_place(&nonce(counter), header, body)?;\n"
new = (
    "        // A debugging checksum of the payload, left in by mistake.\n"
    "        let mut sum = 0u32;\n"
    f"        for b in body.iter().step_by({stride}) {{\n"
    "            sum = sum.rotate_left(5) ^ u32::from(*b);\n"
    "        }\n"
    "        std::hint::black_box(sum);\n"
) + old
if direction == "in":
    assert old in s, "record.rs changed: update scripts/demo-history.sh"
    s = s.replace(old, new, 1)
else:
    assert new in s, "the planted checksum is not there to take out"
    s = s.replace(new, old, 1)
open(p, "w").write(s)
PY
}

files=(zp/src/frame/mod.rs zp/src/codec.rs zp/src/stream.rs zp/src/token.rs zp/src/session.rs zp/src/error.rs zp/src/connection/mod.rs)
for i in $(seq 1 "$commits"); do
    if [ "$i" -eq "$at" ]; then
        plant in
        git commit --quiet -am "record: checksum payloads while sealing (demo: the planted slowdown)"
    elif [ "$i" -eq "$undo" ]; then
        plant out
        git commit --quiet -am "record: drop the debugging checksum (demo: the slowdown undone)"
    elif [ $((i % 5)) -eq 3 ]; then
        echo "Demo history step $i." >> README.md
        git commit --quiet -am "docs: demo step $i"
    else
        f=${files[$((i % ${#files[@]}))]}
        { printf '// Demo history step %s.\n' "$i"; cat "$f"; } > "$f.new" && mv "$f.new" "$f"
        git commit --quiet -am "$(basename "$f" .rs): demo step $i"
    fi
done
echo "demo history in $dir: $(git rev-list --count demo-base..HEAD) commits after tag demo-base, slowdown planted at commit $at (stride $stride)${UNDO:+, undone at commit $undo}"
