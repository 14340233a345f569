#!/usr/bin/env bash
# End-to-end tests for `flint serve`: ./Tests/e2e/run.sh [pytest args...]
# FLINT_BIN selects the server binary (default .build/release/flint); the model
# smollm2-135m-instruct must already be pulled (flint pull smollm2-135m-instruct).
set -euo pipefail

ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/../.." && pwd)"
cd "$ROOT"
REQ="Tests/e2e/requirements.txt"
VENV=".build/e2e-venv"
PIP_FLAGS=(-q --disable-pip-version-check)

PY=""
if [ -x "$VENV/bin/python" ] && "$VENV/bin/python" -m pip --version >/dev/null 2>&1; then
    PY="$VENV/bin/python"
elif python3 -m venv "$VENV" >/dev/null 2>&1 && "$VENV/bin/python" -m pip --version >/dev/null 2>&1; then
    PY="$VENV/bin/python"
else
    echo "run.sh: python3 -m venv is unavailable; installing the requirements with pip --user" >&2
    rm -rf "$VENV"
    PY="python3"
fi

if [ "$PY" = "python3" ]; then
    python3 -m pip install "${PIP_FLAGS[@]}" --user -r "$REQ" \
        || python3 -m pip install "${PIP_FLAGS[@]}" --user --break-system-packages -r "$REQ"
else
    STAMP="$VENV/.requirements.sha"
    WANT="$("$PY" -c 'import hashlib,sys; print(hashlib.sha256(open(sys.argv[1],"rb").read()).hexdigest())' "$REQ")"
    if [ ! -f "$STAMP" ] || [ "$(cat "$STAMP")" != "$WANT" ]; then
        "$PY" -m pip install "${PIP_FLAGS[@]}" -r "$REQ"
        echo "$WANT" > "$STAMP"
    fi
fi

# Test paths among the arguments replace the default (the whole suite).
TARGET=(Tests/e2e)
for arg in "$@"; do
    if [ -e "${arg%%::*}" ]; then TARGET=(); break; fi
done
exec "$PY" -m pytest -q ${TARGET[@]+"${TARGET[@]}"} "$@"
