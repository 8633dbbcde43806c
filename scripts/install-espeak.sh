#!/usr/bin/env bash
# Makes sure espeak-ng is installed for the voice channel's speech test
# (tests/channels/test_voice_espeak.py synthesises every spoken reply and measures it).
# Installs Debian's `espeak-ng` when it is missing and this user can run apt-get; otherwise
# says in one line what to do.
set -euo pipefail

command -v espeak-ng >/dev/null 2>&1 && exit 0

fail() {
    echo "install-espeak: $1" >&2
    exit 1
}

command -v apt-get >/dev/null 2>&1 \
    || fail "no espeak-ng: install espeak-ng with your package manager, then retry"

if [[ "$(id -u)" == 0 ]]; then
    as_root=()
elif sudo -n true 2>/dev/null; then
    as_root=(sudo -n)
else
    fail "no espeak-ng: run 'sudo apt-get install -y espeak-ng', then retry"
fi

echo "install-espeak: installing Debian's espeak-ng for the voice channel's speech test" >&2
"${as_root[@]}" apt-get update -qq >/dev/null \
    || fail "'apt-get update' failed: run it by hand to see why, then retry"
DEBIAN_FRONTEND=noninteractive "${as_root[@]}" apt-get install -y -qq espeak-ng >/dev/null \
    || fail "'apt-get install espeak-ng' failed: run it by hand to see why, then retry"
command -v espeak-ng >/dev/null 2>&1 || fail "espeak-ng was installed but is not on PATH"
