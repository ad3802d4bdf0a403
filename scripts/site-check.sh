#!/usr/bin/env bash
# Renders every page of the report site (`cargo xtask report`) in headless
# Chromium and fails on a console error or warning, a page error, a request
# that fails (a missing file), or a plot that is missing or empty; with
# SCREENSHOT, saves a picture of the index there (the book's is
# docs/src/images/report-index.png).
#
#   scripts/site-check.sh [SITE_DIR] [SCREENSHOT]     (default: profiles/site)
#
# Installs Debian's chromium (apt) and playwright-core (npm, into
# target/site-check/) when they are missing. Generates the site first when
# SITE_DIR has none.
set -euo pipefail
cd "$(dirname "$0")/.."

site=${1:-profiles/site}
shot=${2:-}

if ! command -v chromium >/dev/null 2>&1; then
    echo "site-check: installing chromium (apt)"
    sudo=""
    if [ "$(id -u)" -ne 0 ]; then sudo=sudo; fi
    $sudo apt-get update -qq
    DEBIAN_FRONTEND=noninteractive $sudo apt-get install -y -qq chromium >/dev/null
fi
tools=target/site-check
if [ ! -f "$tools/node_modules/playwright-core/package.json" ]; then
    echo "site-check: installing playwright-core (npm)"
    mkdir -p "$tools"
    npm install --prefix "$tools" --no-save --no-audit --no-fund --loglevel=error playwright-core@1 >/dev/null
fi
if [ ! -f "$site/index.html" ]; then
    cargo xtask report
fi
NODE_PATH="$tools/node_modules" node scripts/site-check.js "$site" "$shot"
