#!/usr/bin/env bash
# Builds the book under docs/ into docs/book/ (git-ignored) with mdBook,
# installing mdbook from crates.io when it is missing. `cargo test` already
# checks the book's commands and links; this renders it.
#
#   scripts/docs.sh           build docs/book/
#   scripts/docs.sh serve     serve it at http://localhost:3000, rebuilding on change
set -euo pipefail
cd "$(dirname "$0")/.."
if ! command -v mdbook >/dev/null 2>&1; then
    echo "docs: installing mdbook"
    cargo install mdbook --locked
fi
case "${1:-build}" in
    serve) exec mdbook serve docs ;;
    build) mdbook build docs && echo "docs: built docs/book/index.html" ;;
    *) echo "usage: scripts/docs.sh [build|serve]" >&2; exit 2 ;;
esac
