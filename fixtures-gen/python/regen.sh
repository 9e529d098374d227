#!/usr/bin/env bash
# Rebuild every fixture in tests/fixtures/formats/ and EXPECTED.json with the real libraries.
# Offline except for the one-time pip/npm installs. Usage: bash regen.sh
# VENVS (default /tmp/fixture-venvs) holds one virtualenv per library version and gramjs/.
set -euo pipefail
HERE="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
VENVS="${VENVS:-/tmp/fixture-venvs}"
export FIXTURE_READBACK_DIR="${FIXTURE_READBACK_DIR:-$VENVS/readback}"
PY="${PYTHON:-python3}"
mkdir -p "$VENVS" "$FIXTURE_READBACK_DIR"

venv() {  # venv NAME -> path of its python, created from requirements-NAME.txt if missing
    local dir="$VENVS/$1"
    if [ ! -x "$dir/bin/python" ]; then
        "$PY" -m venv "$dir"
        "$dir/bin/pip" install -q -r "$HERE/requirements-$1.txt"
    fi
    echo "$dir/bin/python"
}

T145="$(venv telethon-1.45.0)"
T142="$(venv telethon-1.42.0)"
P2="$(venv pyrogram-2.0.106)"
P1="$(venv pyrogram-1.4.16)"
if [ ! -d "$VENVS/gramjs/node_modules/telegram" ]; then
    mkdir -p "$VENVS/gramjs"
    cp "$HERE/package.json" "$VENVS/gramjs/package.json"
    (cd "$VENVS/gramjs" && npm install --no-audit --no-fund --silent)
fi

cd "$HERE"
"$T145" generate.py telethon
"$T142" generate.py telethon
"$T145" generate.py telethon-strings
"$P1" generate.py pyrogram            # must run before pyrogram-migrated
"$P2" generate.py pyrogram
"$P2" generate.py pyrogram-migrated
GRAMJS_NODE_MODULES="$VENVS/gramjs/node_modules" "$PY" generate.py gramjs   # after telethon-strings
"$PY" make_expected.py
"$T145" check_telethon_export.py ../../tests/fixtures/formats/telethon-1.45.session ../../tests/fixtures/formats/EXPECTED.json
"$T145" check_telethon_export.py ../../tests/fixtures/formats/telethon-1.42.session ../../tests/fixtures/formats/EXPECTED.json
