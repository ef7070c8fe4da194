#!/usr/bin/env bash
# GPU figures of the wgpu backend (issue 4), in two steps because the GPU machine is bare:
#   benches/gpu.sh prepare   here: builds gpu_timing and copies it, stripped, with the weights
#                            and photos into .devdata/ (ignored; carried to the GPU machine)
#   benches/gpu.sh run OUT   there: unpacks the Vulkan loader carried in .gl/ (see
#                            /work/.library/device/README.md), runs gpu_timing twice (cold
#                            caches, then warm) and writes the JSON lines to OUT/.
set -euo pipefail
cd "$(dirname "$0")/.."
. scripts/env.sh
case "${1:-}" in
  prepare)
    export CARGO_TARGET_DIR="${CARGO_TARGET_DIR:-$HOME/.cache/footfall-target}"
    shared="${FOOTFALL_SHARED:-$(cd .. && pwd)/shared}"
    cargo build --release -q --workspace --all-targets
    mkdir -p .devdata
    # Stripped and compressed: the working tree that travels is limited to 64 MiB.
    strip -o .devdata/gpu_timing "$CARGO_TARGET_DIR/release/gpu_timing"
    rm -f .devdata/gpu_timing.xz && xz -T2 -6 .devdata/gpu_timing
    cp "$shared/weights/yolox_nano.onnx" .devdata/
    rm -rf .devdata/images && cp -r "$shared/images" .devdata/images
    du -sh .devdata .gl
    ;;
  run)
    out="${2:?usage: benches/gpu.sh run OUT}"
    for f in .gl/*.deb; do dpkg -x "$f" /; done
    if command -v xz >/dev/null; then xz -dkf .devdata/gpu_timing.xz; else
      python3 -c 'import lzma, shutil; shutil.copyfileobj(lzma.open(".devdata/gpu_timing.xz"), open(".devdata/gpu_timing", "wb"))'
    fi
    chmod +x .devdata/gpu_timing
    ldconfig
    icd=/usr/local/nvidia/share/vulkan/icd.d/nvidia_icd.json
    [ -f "$icd" ] && export VK_DRIVER_FILES="$icd"
    export XDG_RUNTIME_DIR=/tmp RUST_LOG=warn
    nvidia-smi --query-gpu=name,driver_version,memory.total --format=csv,noheader | tee "$out/gpu.txt"
    for run in 1 2; do
      echo "== process $run ($( [ $run = 1 ] && echo cold caches || echo warm caches ))"
      timeout "${GPU_RUN_TIMEOUT:-240}" .devdata/gpu_timing .devdata/yolox_nano.onnx .devdata/images \
        "${GPU_BATCHES:-1,8,32,64}" 2> "$out/stderr$run.txt" | tee "$out/run$run.jsonl" || echo "process $run exited with $?"
      tail -5 "$out/stderr$run.txt"
    done
    ;;
  *) echo "usage: benches/gpu.sh prepare | run OUT" >&2; exit 2 ;;
esac
