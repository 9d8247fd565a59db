#!/usr/bin/env bash
# Installs Debian's Chromium (/usr/bin/chromium) for the browser test (test/browser/), if missing.
# Never downloads a browser build of its own: the distribution's package is the only source used.
# Idempotent and quiet: prints one line when it installs, nothing when Chromium is already there.
set -euo pipefail

CHROMIUM=/usr/bin/chromium

fail() {
  echo "install-chromium: $*" >&2
  exit 1
}

if [ -x "$CHROMIUM" ]; then
  exit 0
fi
command -v apt-get >/dev/null 2>&1 || fail "$CHROMIUM is missing and apt-get is not available; install Debian's 'chromium' package by hand"
sudo=""
if [ "$(id -u)" -ne 0 ]; then
  command -v sudo >/dev/null 2>&1 || fail "$CHROMIUM is missing; installing it needs root (or sudo): apt-get install chromium"
  sudo="sudo"
fi

log=$(mktemp)
trap 'rm -f "$log"' EXIT
install() {
  DEBIAN_FRONTEND=noninteractive $sudo apt-get install -y -qq --no-install-recommends chromium fonts-liberation >"$log" 2>&1
}

# A fresh machine's package lists may be empty or stale: update once, only when the install fails.
if ! install; then
  $sudo apt-get update -qq >>"$log" 2>&1 || { tail -n 20 "$log" >&2; fail "apt-get update failed (see above)"; }
  install || { tail -n 20 "$log" >&2; fail "apt-get install chromium failed (see above)"; }
fi
[ -x "$CHROMIUM" ] || fail "the chromium package installed but $CHROMIUM is not there"
echo "install-chromium: installed $("$CHROMIUM" --version 2>/dev/null || echo chromium)"
