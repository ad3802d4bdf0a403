#!/usr/bin/env bash
# Creates a demo history for `cargo xtask bisect`: a clone of this
# repository with 16 more commits, one of which (the 11th by default) plants
# a slowdown in the record layer's seal, so encrypt_record_64k gets slower.
# The other commits touch zp/ harmlessly (comments) or only the README.
#
#   scripts/demo-history.sh DIR [STRIDE] [AT]
#
# STRIDE sets the size of the slowdown: a serial checksum over every
# STRIDE-th payload byte (default 8, about +10 % on encrypt_record_64k
# on the development machine). AT is the commit (1-16) that plants it.
# Then, in DIR:  cargo xtask bisect encrypt_record_64k --good demo-base
set -euo pipefail

dir=${1:?usage: scripts/demo-history.sh DIR [STRIDE] [AT]}
stride=${2:-8}
at=${3:-11}
here=$(cd "$(dirname "$0")/.." && pwd)

if [ -e "$dir" ]; then
    echo "demo-history: $dir already exists; choose a new directory" >&2
    exit 2
fi
git clone --quiet --no-hardlinks "$here" "$dir"
cd "$dir"
git config user.name "zp demo"
git config user.email "demo@example.invalid"
git tag demo-base

files=(zp/src/frame.rs zp/src/codec.rs zp/src/stream.rs zp/src/token.rs zp/src/session.rs zp/src/error.rs zp/src/connection.rs)
for i in $(seq 1 16); do
    if [ "$i" -eq "$at" ]; then
        python3 - "$stride" <<'PY'
import sys
stride = int(sys.argv[1])
p = "zp/src/record.rs"
s = open(p).read()
old = "        let t = self.key.seal_in_place(&nonce(counter), header, body)?;\n"
assert old in s, "record.rs changed: update scripts/demo-history.sh"
new = (
    "        // A debugging checksum of the payload, left in by mistake.\n"
    "        let mut sum = 0u32;\n"
    f"        for b in body.iter().step_by({stride}) {{\n"
    "            sum = sum.rotate_left(5) ^ u32::from(*b);\n"
    "        }\n"
    "        std::hint::black_box(sum);\n"
) + old
s = s.replace(old, new, 1)
open(p, "w").write(s)
PY
        git commit --quiet -am "record: checksum payloads while sealing (demo: the planted slowdown)"
    elif [ $((i % 5)) -eq 3 ]; then
        echo "Demo history step $i." >> README.md
        git commit --quiet -am "docs: demo step $i"
    else
        f=${files[$((i % ${#files[@]}))]}
        printf '\n// Demo history step %s.\n' "$i" >> "$f"
        git commit --quiet -am "$(basename "$f" .rs): demo step $i"
    fi
done
echo "demo history in $dir: $(git rev-list --count demo-base..HEAD) commits after tag demo-base, slowdown planted at commit $at (stride $stride)"
