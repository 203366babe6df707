#!/usr/bin/env bash
# Set up and start the dashboard on the bundled demo data and model (offline).
#   bash scripts/demo.sh             listens on 127.0.0.1 only: reachable from this machine alone
#   bash scripts/demo.sh --network   listens on every interface: anyone who can reach this machine's port
# Any other argument goes to `streamlit run` (e.g. --server.port 8600).
set -euo pipefail
cd "$(dirname "$0")/.."
ADDRESS=127.0.0.1
ARGS=()
for arg in "$@"; do
  case "$arg" in
    --network) ADDRESS=0.0.0.0 ;;
    *) ARGS+=("$arg") ;;
  esac
done
bash scripts/setup.sh dashboard
export HF_HUB_OFFLINE=1
if [ "$ADDRESS" = "127.0.0.1" ]; then
  echo "demo.sh: listening on 127.0.0.1 only (this machine); pass --network to open it to the network." >&2
elif [ -z "${RECSYS_LOGIN:-}" ]; then
  echo "demo.sh: --network: listening on every interface WITHOUT sign-in: anyone who can reach this machine's" \
       "port can use the dashboard and replace or delete saved models (set RECSYS_LOGIN: README, 'A team server')." >&2
else
  echo "demo.sh: --network: listening on every interface; sign-in is required (RECSYS_LOGIN=$RECSYS_LOGIN)." >&2
fi
exec python -m streamlit run app.py --server.address "$ADDRESS" ${ARGS[@]+"${ARGS[@]}"}
