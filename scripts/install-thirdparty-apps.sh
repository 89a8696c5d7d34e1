#!/usr/bin/env bash
# Installs the third-party web apps the self-tests serve on loopback (tests/self/test_thirdparty_apps.py) into a
# venv of their own, .venv-thirdparty/ (or $1): httpbin under gunicorn, and Kinto (a JSON storage API) under
# waitress. Idempotent: a stamp names what was installed; nothing is reinstalled while it matches.
set -euo pipefail
VENV=${1:-.venv-thirdparty}
PACKAGES="httpbin==0.10.* gunicorn kinto==26.*"
STAMP=$VENV/.installed
if [ -f "$STAMP" ] && [ "$(cat "$STAMP")" = "$PACKAGES" ]; then
  exit 0
fi
PYTHON=${PYTHON:-python3}
test -x "$VENV/bin/python" || "$PYTHON" -m venv "$VENV"
"$VENV/bin/python" -m pip install -q --disable-pip-version-check --no-compile $PACKAGES  # compiled on first import
printf '%s' "$PACKAGES" >"$STAMP"
