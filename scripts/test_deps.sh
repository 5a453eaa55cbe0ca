#!/usr/bin/env bash
# System packages the test suite needs beyond Python: headless Chromium for the book's browser check.
# Installed only where missing; skipped without root (the browser test then skips itself with a reason).
set -euo pipefail
if command -v chromium >/dev/null 2>&1; then exit 0; fi
if [ "$(id -u)" = 0 ] && command -v apt-get >/dev/null 2>&1; then
  (apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq chromium >/dev/null) \
    || echo "warning: could not install chromium; the browser check will be skipped"
else
  echo "note: chromium not found and cannot be installed here; the browser check will be skipped"
fi
