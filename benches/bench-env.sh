# Sourced by the benchmark scripts that run the footfall binary against the Python peer
# (accuracy.sh, capacity.sh, capacity_live.sh): the environment, a release build of the whole
# workspace, and these names:
#   footfall, weights   the binary and the shared YOLOX-Nano ONNX file
#   work                a temporary folder, removed at exit with every process in `pids`
#   free_port           prints a free TCP port on 127.0.0.1
cd "$(dirname "${BASH_SOURCE[0]}")/.."
. scripts/env.sh
footfall_need_venv
export CARGO_TARGET_DIR="${CARGO_TARGET_DIR:-$HOME/.cache/footfall-target}"
export FOOTFALL_SHARED="${FOOTFALL_SHARED:-$(cd .. && pwd)/shared}"
# The whole workspace, as everywhere: a subset would unify features differently and rebuild Burn.
cargo build --release -q --workspace --all-targets
footfall="$CARGO_TARGET_DIR/release/footfall"
weights="$FOOTFALL_SHARED/weights/yolox_nano.onnx"
work="$(mktemp -d)"
pids=()
bench_cleanup() { for p in "${pids[@]}"; do kill "$p" 2>/dev/null || true; done; rm -rf "$work"; }
trap bench_cleanup EXIT
free_port() { python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1])'; }
