#!/usr/bin/env bash
# Install everything the project needs: Python packages and, for the browser tests, Debian's chromium.
set -euo pipefail
cd "$(dirname "$0")/.."
export PIP_DISABLE_PIP_VERSION_CHECK=1
python -m pip install --quiet -r "${1:-requirements.txt}"
if [ "${1:-}" = "requirements-dev.txt" ] && ! command -v chromium >/dev/null; then
  # playwright drives the system chromium; never `playwright install` (it downloads its own browser).
  SUDO=""; [ "$(id -u)" -eq 0 ] || SUDO="sudo"
  $SUDO apt-get update -qq
  # fonts-noto-color-emoji: page icons render in screenshots instead of empty boxes
  DEBIAN_FRONTEND=noninteractive $SUDO apt-get install -y -qq chromium fonts-noto-color-emoji >/dev/null
fi
