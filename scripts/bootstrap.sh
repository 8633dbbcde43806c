#!/usr/bin/env bash
# Installs what `make` needs and is missing: uv (from PyPI), a Python 3.10 for Rasa, and both
# locked environments (.venv for the bot side, backoffice/.venv for the back office).
# Prints nothing on success except uv's own short summary; on failure, one line with the fix.
set -euo pipefail

root="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"

fail() {
    echo "bootstrap: $1" >&2
    exit 1
}

find_uv() {
    if [[ -n "${UV:-}" && -x "${UV}" ]]; then echo "${UV}"; return 0; fi
    if command -v uv >/dev/null 2>&1; then command -v uv; return 0; fi
    for candidate in "${HOME}/.local/bin/uv" "${HOME}/.cargo/bin/uv"; do
        if [[ -x "${candidate}" ]]; then echo "${candidate}"; return 0; fi
    done
    return 1
}

uv_bin="$(find_uv || true)"
if [[ -z "${uv_bin}" ]]; then
    python3 -m pip --version >/dev/null 2>&1 \
        || fail "uv is missing and there is no pip to install it: install uv (https://docs.astral.sh/uv/) or python3-pip, then retry"
    echo "bootstrap: installing uv from PyPI (python3 -m pip install --user uv)" >&2
    python3 -m pip install --quiet --user uv >/dev/null 2>&1 \
        || fail "could not install uv with 'python3 -m pip install --user uv': run it by hand to see why, then retry"
    uv_bin="$(find_uv || true)"
    [[ -n "${uv_bin}" ]] || fail "uv was installed but not found: add ~/.local/bin to PATH, then retry"
fi

is_python310() {
    [[ -x "$1" ]] && "$1" -c 'import sys; sys.exit(sys.version_info[:2] != (3, 10))' 2>/dev/null
}

find_python310() {
    local candidate
    if [[ -n "${CIVICDESK_PYTHON:-}" ]]; then
        is_python310 "${CIVICDESK_PYTHON}" && { echo "${CIVICDESK_PYTHON}"; return 0; }
        fail "CIVICDESK_PYTHON=${CIVICDESK_PYTHON} is not a Python 3.10 interpreter"
    fi
    if command -v pyenv >/dev/null 2>&1; then
        for version in $(pyenv versions --bare 2>/dev/null | grep -E '^3\.10\.[0-9]+$' | sort -t. -k3 -n -r); do
            candidate="$(PYENV_VERSION="${version}" pyenv which python 2>/dev/null || true)"
            is_python310 "${candidate}" && { echo "${candidate}"; return 0; }
        done
    fi
    for candidate in "$(command -v python3.10 || true)" "${HOME}"/.pyenv/versions/3.10.*/bin/python; do
        is_python310 "${candidate}" && { echo "${candidate}"; return 0; }
    done
    candidate="$("${uv_bin}" python find 3.10 2>/dev/null || true)"
    is_python310 "${candidate}" && { echo "${candidate}"; return 0; }
    return 1
}

python310="$(find_python310 || true)"
[[ -n "${python310}" ]] \
    || fail "Rasa 3.6 needs Python 3.10 and none was found: run '${uv_bin} python install 3.10' (or set CIVICDESK_PYTHON=/path/to/python3.10), then retry"

export UV_PYTHON_DOWNLOADS=never
(cd "${root}" && "${uv_bin}" sync --frozen --quiet --python "${python310}") \
    || fail "could not install the bot environment (.venv) from uv.lock: see uv's message above"
(cd "${root}/backoffice" && "${uv_bin}" sync --frozen --quiet --python "${python310}") \
    || fail "could not install the back-office environment (backoffice/.venv) from backoffice/uv.lock: see uv's message above"
