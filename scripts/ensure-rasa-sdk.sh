#!/usr/bin/env bash
# Best effort: a venv of its own with the real `rasa_sdk` (.rasa-sdk-venv/), so the action-server tests
# (tests/dialogs/test_actions.py, tests/dialogs/test_warranty_example.py) also run against a real
# `python -m rasa_sdk` server. rasa-sdk pins pydantic and sanic versions that fancare's own venv does not
# want, hence the separate venv. Without it those tests use an aiohttp stand-in: this script never fails
# the build (no network, no python3 -m venv, a pip error: it says so and exits 0).
set -u

cd "$(dirname "$0")/.." || exit 0
VENV=.rasa-sdk-venv
PY="$VENV/bin/python"
PYTHON="${PYTHON:-$(command -v python3.11 || command -v python3 || true)}"

if [ -x "$PY" ] && "$PY" -c "import rasa_sdk" >/dev/null 2>&1; then
  echo "rasa_sdk: $("$PY" -c 'import rasa_sdk; print(rasa_sdk.__version__)' 2>/dev/null) in $VENV (already there)"
  exit 0
fi
if [ -z "$PYTHON" ]; then
  echo "rasa_sdk: no python3 found; the action-server tests use the stand-in server" >&2
  exit 0
fi
echo "rasa_sdk: installing rasa-sdk into $VENV ..."
if [ ! -x "$PY" ] && ! "$PYTHON" -m venv "$VENV"; then
  echo "rasa_sdk: could not create $VENV; the action-server tests use the stand-in server" >&2
  rm -rf "$VENV"
  exit 0
fi
if "$PY" -m pip install -q --disable-pip-version-check rasa-sdk 2> >(grep -v "is ignored: it is neither" >&2) \
    && "$PY" -c "import rasa_sdk" >/dev/null 2>&1; then
  echo "rasa_sdk: $("$PY" -c 'import rasa_sdk; print(rasa_sdk.__version__)' 2>/dev/null) installed in $VENV"
else
  echo "rasa_sdk: pip install rasa-sdk failed; the action-server tests use the stand-in server" >&2
  rm -rf "$VENV"  # a half-made venv would make the tests try (and fail) to start the real server
fi
exit 0
