#!/usr/bin/env bash
# Installs Debian's chromium for the HTML report's browser test
# (report/browser_test.go). Idempotent: exits at once when a Chromium is
# already on PATH (or CCTEST_CHROMIUM names one).
set -euo pipefail

if [ -n "${CCTEST_CHROMIUM:-}" ] && [ -x "${CCTEST_CHROMIUM}" ]; then
  echo "chromium: using CCTEST_CHROMIUM=${CCTEST_CHROMIUM}"
  exit 0
fi
for b in chromium chromium-browser google-chrome; do
  if command -v "$b" >/dev/null 2>&1; then
    echo "chromium: $(command -v "$b") already installed"
    exit 0
  fi
done

sudo=""
if [ "$(id -u)" -ne 0 ]; then
  if ! command -v sudo >/dev/null 2>&1; then
    echo "chromium: not installed, and neither root nor sudo is available to install it" >&2
    exit 1
  fi
  sudo="sudo"
fi
export DEBIAN_FRONTEND=noninteractive
echo "chromium: installing Debian's chromium package"
$sudo apt-get update -qq
$sudo apt-get install -y -qq --no-install-recommends chromium >/dev/null
command -v chromium
chromium --version
