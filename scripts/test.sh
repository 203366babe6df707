#!/usr/bin/env bash
# Set up and run the whole test suite (unit, end-to-end, AppTest pages, real browser).
set -euo pipefail
cd "$(dirname "$0")/.."
bash scripts/setup.sh dev
export HF_HUB_OFFLINE=1
# A private embedding cache per run, so tests never depend on what a previous run left behind.
export RECSYS_CACHE_DIR="${RECSYS_CACHE_DIR:-$(mktemp -d)}"
exec python -m pytest -q "$@"
