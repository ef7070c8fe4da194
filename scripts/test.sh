#!/usr/bin/env bash
# The test command of README.md (and of CI, through .ci/run): installs what is missing
# (scripts/setup.sh), builds everything, runs every Rust test (release profile only, so Burn is
# compiled once), lints the deployment template, runs the AWS end-to-end flow against servers started on loopback, then
# checks `footfall detect --json` against the reference golden outputs with the reference tool,
# on the CPU and on wgpu.
#
# Builds go where `cargo run` puts them (scripts/env.sh: CARGO_TARGET_DIR, else ./target), so
# the README's `cargo run --release -p footfall` and this script reuse each other's build. CI
# (.ci/run) exports a persistent CARGO_TARGET_DIR outside the clone.
set -euo pipefail
cd "$(dirname "$0")/.."
. scripts/env.sh

export XDG_RUNTIME_DIR="${XDG_RUNTIME_DIR:-/tmp}"
if [ ! -f "$FOOTFALL_SHARED/weights/yolox_nano.onnx" ]; then
  echo "test data missing: set FOOTFALL_SHARED to the shared data folder (weights/, images/, golden/ ...)" >&2
  exit 2
fi

scripts/setup.sh
CARGO_TARGET_DIR="$(footfall_target_dir)"
export CARGO_TARGET_DIR

cargo build --release --workspace --all-targets
cargo test --release --workspace

# Deployment template (cfn-lint) and the AWS flow end to end on loopback (moto, MariaDB, HLS).
scripts/lint-deploy.sh
scripts/e2e-aws.sh

out="$(mktemp -d)"
trap 'rm -rf "$out"' EXIT
for backend in cpu wgpu; do
  "$CARGO_TARGET_DIR/release/footfall" detect --json --backend "$backend" \
    --weights "$FOOTFALL_SHARED/weights/yolox_nano.onnx" "$FOOTFALL_SHARED"/images/*.jpg > "$out/$backend.json"
  echo "golden comparison, backend $backend:"
  python3 "$FOOTFALL_SHARED/tools/compare_golden.py" "$out/$backend.json"
done
