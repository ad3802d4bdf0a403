#!/usr/bin/env bash
# Installs the optional tools the workbench uses, on Debian or Ubuntu:
# valgrind, for exact instruction counts (`bisect --metric instructions`,
# `profile --counters` on machines without hardware counters). Everything
# else the workbench needs comes with cargo.
set -euo pipefail

if command -v valgrind >/dev/null 2>&1; then
    echo "valgrind is already installed: $(valgrind --version)"
    exit 0
fi
if ! command -v apt-get >/dev/null 2>&1; then
    echo "install-tools: no apt-get here; install valgrind with your package manager" >&2
    exit 1
fi
sudo=""
if [ "$(id -u)" -ne 0 ]; then
    if ! command -v sudo >/dev/null 2>&1; then
        echo "install-tools: not root and no sudo; run as root: apt-get install -y valgrind" >&2
        exit 1
    fi
    sudo="sudo"
fi
$sudo apt-get update -qq
DEBIAN_FRONTEND=noninteractive $sudo apt-get install -y -qq valgrind
echo "installed $(valgrind --version)"
