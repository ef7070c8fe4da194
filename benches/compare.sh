#!/usr/bin/env bash
# Times footfall and the peer (onnxruntime via ../shared/tools/bench.py) in the same run, on the
# same photos, with 1 and 2 threads, and prints a table; the last line is
# ratio_e2e_2t=<footfall e2e ms / onnxruntime e2e ms, batch 1, 2 threads>.
# Usage: benches/compare.sh [cpu|flex|ndarray|wgpu]
set -euo pipefail
cd "$(dirname "$0")/.."
backend="${1:-cpu}"
export CARGO_TARGET_DIR="${CARGO_TARGET_DIR:-$HOME/.cache/footfall-target}"
export FOOTFALL_SHARED="${FOOTFALL_SHARED:-$(cd .. && pwd)/shared}"
# The whole workspace, as everywhere: a subset would unify features differently and rebuild Burn.
cargo build --release -q --workspace --all-targets
work="$(mktemp -d)"; trap 'rm -rf "$work"' EXIT

for t in 1 2; do
  RAYON_NUM_THREADS=$t "$CARGO_TARGET_DIR/release/pipeline_timing" "$backend" >> "$work/ours.jsonl"
done
(cd "$work" && python3 "$FOOTFALL_SHARED/tools/bench.py" compare > bench.log 2>&1)

python3 - "$work/ours.jsonl" "$work/baselines_compare.json" <<'PY'
import json, sys
ours = [json.loads(l) for l in open(sys.argv[1])]
peer = json.load(open(sys.argv[2]))
rows = [r for r in peer["configs"] if r.get("engine") == "onnxruntime" and "infer" in r]
def peer_row(t, b):
    return next(r for r in rows if r["intra_op_threads"] == t and r["batch"] == b)
print(f"{'threads':>7} {'batch':>5} | {'ours infer':>10} {'ort infer':>9} {'ratio':>6} | {'ours e2e':>8} {'ort e2e':>8} {'ratio':>6}")
ratio_e2e_2t = None
for o in ours:
    t, b = int(o["threads"]), o["batch"]
    p = peer_row(t, b)
    pi, pe = p["infer"]["median_ms_per_frame"], p["e2e"]["median_ms_per_frame"]
    ri, re = o["infer_ms_per_frame"] / pi, o["e2e_ms_per_frame"] / pe
    print(f"{t:>7} {b:>5} | {o['infer_ms_per_frame']:>10.2f} {pi:>9.2f} {ri:>6.2f} | {o['e2e_ms_per_frame']:>8.2f} {pe:>8.2f} {re:>6.2f}")
    if t == 2 and b == 1:
        ratio_e2e_2t = re
print(f"ratio_e2e_2t={ratio_e2e_2t:.2f}")
PY
