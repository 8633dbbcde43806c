#!/usr/bin/env bash
# Makes sure axe-core (the accessibility rules the browser tests run inside Chromium) is
# installed under tests/browser/node_modules, at exactly the version pinned in
# tests/browser/package-lock.json. It comes from the npm registry here, at install time, so the
# tests themselves never download anything. Installs Debian's npm first when it is missing and
# this user can run apt-get; otherwise says in one line what to do. Quiet when nothing to do.
set -euo pipefail

root="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
tools="${root}/tests/browser"

fail() {
    echo "install-axe: $1" >&2
    exit 1
}

# The version the lock file pins, and the one installed (empty when none is).
locked="$(sed -n '/"node_modules\/axe-core"/,/}/s/.*"version": "\([^"]*\)".*/\1/p' \
    "${tools}/package-lock.json" | head -n 1)"
[[ -n "${locked}" ]] || fail "tests/browser/package-lock.json names no axe-core version"
installed=""
if [[ -f "${tools}/node_modules/axe-core/package.json" ]]; then
    installed="$(sed -n 's/^  "version": "\([^"]*\)".*/\1/p' \
        "${tools}/node_modules/axe-core/package.json" | head -n 1)"
fi
[[ "${installed}" == "${locked}" && -f "${tools}/node_modules/axe-core/axe.min.js" ]] && exit 0

if ! command -v npm >/dev/null 2>&1; then
    command -v apt-get >/dev/null 2>&1 \
        || fail "npm is missing: install Node.js and npm with your package manager, then retry"
    if [[ "$(id -u)" == 0 ]]; then
        as_root=()
    elif sudo -n true 2>/dev/null; then
        as_root=(sudo -n)
    else
        fail "npm is missing: run 'sudo apt-get install -y npm', then retry"
    fi
    echo "install-axe: installing Debian's npm for the browser tests (apt-get)" >&2
    "${as_root[@]}" apt-get update -qq >/dev/null \
        || fail "'apt-get update' failed: run it by hand to see why, then retry"
    DEBIAN_FRONTEND=noninteractive "${as_root[@]}" apt-get install -y -qq npm >/dev/null \
        || fail "'apt-get install npm' failed: run it by hand to see why, then retry"
fi

echo "install-axe: installing axe-core ${locked} from tests/browser/package-lock.json (npm ci)" >&2
# npm ci installs exactly the lock file; no install scripts are needed (axe-core has none).
(cd "${tools}" && npm ci --no-audit --no-fund --ignore-scripts --loglevel=error >/dev/null) \
    || fail "'npm ci' in tests/browser failed: run it there by hand to see why, then retry"
[[ -f "${tools}/node_modules/axe-core/axe.min.js" ]] \
    || fail "npm ci finished but tests/browser/node_modules/axe-core/axe.min.js is missing"
