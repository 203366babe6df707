#!/usr/bin/env bash
# Set up and start the dashboard on the bundled demo data and model (offline).
set -euo pipefail
cd "$(dirname "$0")/.."
bash scripts/setup.sh dashboard
export HF_HUB_OFFLINE=1
exec python -m streamlit run app.py "$@"
