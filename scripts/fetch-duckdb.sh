#!/usr/bin/env bash
# Installs PyPI's duckdb into a virtualenv in the cache folder (outside the
# clone), for the test that queries `trace export --format csv` tables.
# Prints the venv's python path. Idempotent.
set -euo pipefail
cache="${XENSCOPE_CACHE:-${XDG_CACHE_HOME:-$HOME/.cache}/xenscope}"
venv="$cache/venv"
if ! "$venv/bin/python" -c "import duckdb" >/dev/null 2>&1; then
  rm -rf "$venv"
  python3 -m venv "$venv"
  "$venv/bin/pip" install -q --disable-pip-version-check duckdb
fi
echo "$venv/bin/python"
