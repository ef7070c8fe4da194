#!/usr/bin/env bash
# Times footfall and the peer (onnxruntime via ../shared/tools/bench.py) in the same run, on the
# same photos, with 1 and 2 threads, and prints a table; the last line is
# ratio_e2e_2t=<footfall e2e ms / onnxruntime e2e ms, batch 1, 2 threads>.
#
# The two are timed in alternation, ROUNDS times (default 3): ours at 1 and 2 threads, then the
# peer. Each figure is the median over the rounds of each round's median, so that a burst of
# load on this shared machine moves one round, not the result; the spread of the per-round
# ratios is printed beside it.
# Usage: benches/compare.sh [cpu|flex|ndarray|wgpu]   (env: ROUNDS)
set -euo pipefail
cd "$(dirname "$0")/.."
. scripts/env.sh
backend="${1:-cpu}"
rounds="${ROUNDS:-3}"
export CARGO_TARGET_DIR="${CARGO_TARGET_DIR:-$HOME/.cache/footfall-target}"
export FOOTFALL_SHARED="${FOOTFALL_SHARED:-$(cd .. && pwd)/shared}"
# The whole workspace, as everywhere: a subset would unify features differently and rebuild Burn.
cargo build --release -q --workspace --all-targets
work="$(mktemp -d)"; trap 'rm -rf "$work"' EXIT

for round in $(seq "$rounds"); do
  for t in 1 2; do
    RAYON_NUM_THREADS=$t "$CARGO_TARGET_DIR/release/pipeline_timing" "$backend" \
      | sed "s/^{/{\"round\":$round,/" >> "$work/ours.jsonl"
  done
  (cd "$work" && python3 "$FOOTFALL_SHARED/tools/bench.py" "round$round" > "bench$round.log" 2>&1)
  echo "round $round of $rounds done" >&2
done

python3 - "$work" "$rounds" <<'PY'
import json, statistics, sys
work, rounds = sys.argv[1], int(sys.argv[2])
ours = [json.loads(l) for l in open(f"{work}/ours.jsonl")]
peer = {}
for r in range(1, rounds + 1):
    for row in json.load(open(f"{work}/baselines_round{r}.json"))["configs"]:
        if row.get("engine") == "onnxruntime" and "infer" in row:
            peer[(r, row["intra_op_threads"], row["batch"])] = row
med = statistics.median
print(f"{'threads':>7} {'batch':>5} | {'ours infer':>10} {'ort infer':>9} {'ratio':>6} | "
      f"{'ours e2e':>8} {'ort e2e':>8} {'ratio':>6} | per-round e2e ratios")
ratio_e2e_2t = None
for t in (1, 2):
    for b in (1, 8):
        mine = [o for o in ours if int(o["threads"]) == t and o["batch"] == b]
        theirs = [peer[(o["round"], t, b)] for o in mine]
        oi = med(o["infer_ms_per_frame"] for o in mine)
        oe = med(o["e2e_ms_per_frame"] for o in mine)
        pi = med(p["infer"]["median_ms_per_frame"] for p in theirs)
        pe = med(p["e2e"]["median_ms_per_frame"] for p in theirs)
        per_round = sorted(o["e2e_ms_per_frame"] / p["e2e"]["median_ms_per_frame"]
                           for o, p in zip(mine, theirs))
        spread = " ".join(f"{r:.2f}" for r in per_round)
        print(f"{t:>7} {b:>5} | {oi:>10.2f} {pi:>9.2f} {oi / pi:>6.2f} | "
              f"{oe:>8.2f} {pe:>8.2f} {oe / pe:>6.2f} | {spread}")
        if t == 2 and b == 1:
            ratio_e2e_2t = oe / pe
print(f"ratio_e2e_2t={ratio_e2e_2t:.2f}")
PY
