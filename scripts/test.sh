#!/usr/bin/env bash
# The test command of README.md: installs what is missing, runs every Rust test (release
# profile only, so Burn is compiled once), then checks `footfall detect --json` against the
# reference golden outputs with the reference tool, on the CPU and on wgpu.
set -euo pipefail
cd "$(dirname "$0")/.."

export CARGO_TARGET_DIR="${CARGO_TARGET_DIR:-$HOME/.cache/footfall-target}"
export FOOTFALL_SHARED="${FOOTFALL_SHARED:-$(cd .. && pwd)/shared}"
export XDG_RUNTIME_DIR="${XDG_RUNTIME_DIR:-/tmp}"
if [ ! -f "$FOOTFALL_SHARED/weights/yolox_nano.onnx" ]; then
  echo "test data missing: set FOOTFALL_SHARED to the shared data folder (weights/, images/, golden/ ...)" >&2
  exit 2
fi

scripts/setup.sh

cargo build --release --workspace --all-targets
cargo test --release --workspace -- --test-threads=1

out="$(mktemp -d)"
trap 'rm -rf "$out"' EXIT
for backend in cpu wgpu; do
  "$CARGO_TARGET_DIR/release/footfall" detect --json --backend "$backend" \
    --weights "$FOOTFALL_SHARED/weights/yolox_nano.onnx" "$FOOTFALL_SHARED"/images/*.jpg > "$out/$backend.json"
  echo "golden comparison, backend $backend:"
  python3 "$FOOTFALL_SHARED/tools/compare_golden.py" "$out/$backend.json"
done
