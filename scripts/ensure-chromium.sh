#!/usr/bin/env bash
# Install Debian's chromium (the report's browser check) when it is missing and we are root.
# Without root or apt-get it only says so: the test then skips outside CI and fails in CI.
set -euo pipefail
if command -v chromium >/dev/null || command -v chromium-browser >/dev/null; then exit 0; fi
if [ "$(id -u)" = "0" ] && command -v apt-get >/dev/null; then
  echo "installing chromium (Debian package) for the report's browser check..." >&2
  (apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq chromium >/dev/null) \
    || { echo "could not install chromium" >&2; exit 1; }
else
  echo "chromium is not installed (Debian: apt-get install chromium); the browser check will skip" >&2
fi
