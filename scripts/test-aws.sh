#!/usr/bin/env bash
# Tests of the AWS adapters against real servers on loopback.
#
# Starts moto_server (from the venv of scripts/setup.sh, see scripts/env.sh) on a free 127.0.0.1 port, runs the tests of
# payloads, aws-testkit, controller-lambda, notify-lambda and fargate-task against it
# (FOOTFALL_MOTO_URL), lints the deployment template, and stops the server again.
# Without FOOTFALL_MOTO_URL the tests start their own moto_server per test.
set -euo pipefail
cd "$(dirname "$0")/.."
. scripts/env.sh
footfall_need_venv
CARGO_TARGET_DIR="$(footfall_target_dir)"
export CARGO_TARGET_DIR

port=$(python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1])')
log=$(mktemp -t moto.XXXXXX.log)
moto_server -H 127.0.0.1 -p "$port" >"$log" 2>&1 &
moto_pid=$!
cleanup() { kill "$moto_pid" 2>/dev/null || true; wait "$moto_pid" 2>/dev/null || true; rm -f "$log"; }
trap cleanup EXIT
for _ in $(seq 1 100); do
  curl -sf "http://127.0.0.1:$port/moto-api/data.json" >/dev/null && break
  sleep 0.2
done
curl -sf "http://127.0.0.1:$port/moto-api/data.json" >/dev/null || { echo "moto did not start:"; cat "$log"; exit 1; }
export FOOTFALL_MOTO_URL="http://127.0.0.1:$port"
echo "moto_server pid $moto_pid on $FOOTFALL_MOTO_URL"

# The whole workspace, so features unify as in scripts/test.sh and Burn is not rebuilt.
cargo test --release --workspace "$@"
scripts/lint-deploy.sh
