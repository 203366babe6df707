#!/usr/bin/env bash
# Install the project as a package with the given extras (pyproject.toml; pins in requirements/):
#   setup.sh dashboard   the dashboard and recsys_core (what scripts/demo.sh needs)
#   setup.sh dev         + the Ray engine and the test tools, and Debian's chromium for the browser tests
set -euo pipefail
cd "$(dirname "$0")/.."
EXTRAS="${1:-dashboard}"
export PIP_DISABLE_PIP_VERSION_CHECK=1
python -m pip install --quiet -e ".[$EXTRAS]"
if [ "$EXTRAS" = "dev" ] && ! command -v chromium >/dev/null; then
  # playwright drives the system chromium; never `playwright install` (it downloads its own browser).
  SUDO=""; [ "$(id -u)" -eq 0 ] || SUDO="sudo"
  $SUDO apt-get update -qq
  # fonts-noto-color-emoji: page icons render in screenshots instead of empty boxes
  DEBIAN_FRONTEND=noninteractive $SUDO apt-get install -y -qq chromium fonts-noto-color-emoji >/dev/null
fi
