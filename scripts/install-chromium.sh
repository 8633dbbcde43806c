#!/usr/bin/env bash
# Makes sure a Chromium for the web chat's browser tests is installed (Playwright drives the
# system browser; its own browser download is not used). Installs Debian's `chromium` when it
# is missing and this user can run apt-get; otherwise says in one line what to do.
set -euo pipefail

chromium="${CIVICDESK_CHROMIUM:-/usr/bin/chromium}"
[[ -x "${chromium}" ]] && exit 0

fail() {
    echo "install-chromium: $1" >&2
    exit 1
}

command -v apt-get >/dev/null 2>&1 \
    || fail "no Chromium at ${chromium}: install Chromium with your package manager (or set CIVICDESK_CHROMIUM=/path/to/chromium), then retry"

if [[ "$(id -u)" == 0 ]]; then
    as_root=()
elif sudo -n true 2>/dev/null; then
    as_root=(sudo -n)
else
    fail "no Chromium at ${chromium}: run 'sudo apt-get install -y chromium' (or set CIVICDESK_CHROMIUM=/path/to/chromium), then retry"
fi

echo "install-chromium: installing Debian's chromium for the browser tests (apt-get)" >&2
"${as_root[@]}" apt-get update -qq >/dev/null \
    || fail "'apt-get update' failed: run it by hand to see why, then retry"
DEBIAN_FRONTEND=noninteractive "${as_root[@]}" apt-get install -y -qq chromium >/dev/null \
    || fail "'apt-get install chromium' failed: run it by hand to see why, then retry"
[[ -x "${chromium}" ]] || fail "chromium was installed but ${chromium} is missing: set CIVICDESK_CHROMIUM to its path"
