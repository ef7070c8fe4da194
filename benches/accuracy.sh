#!/usr/bin/env bash
# Accuracy against cost of the detector's knobs (issue 12): input size 416 (default), 640, 832,
# each without and with 2x2 tiling, on the shared COCO photos that have ground truth. For each
# setting: person AP50 and person-count MAE at score 0.25 from ../shared/tools/eval_gt.py
# (detections down to 0.01), and milliseconds per photo. The peer is the reference pipeline
# (onnxruntime, ../shared/tools/yolox_ref.py, its export is fixed at 416) on the same photos in
# the same run; time ratios are against it.
#
# Time per photo: `footfall detect` over all photos minus the same command over one photo,
# divided by the photos between (so loading the weights is not counted); the peer's is its loop
# over the same photos after loading its session. Both at 2 threads (the machine's cores).
# Usage: benches/accuracy.sh   (env: SIZES="416 640 832", TILINGS="none 2x2")
set -euo pipefail
. "$(dirname "$0")/bench-env.sh"
sizes="${SIZES:-416 640 832}"
tilings="${TILINGS:-none 2x2}"

# The COCO photos with a ground-truth file (bus.jpg and zidane.jpg have none).
photos=()
for label in "$FOOTFALL_SHARED"/gt/val2017/*.txt; do
  photo="$FOOTFALL_SHARED/images/$(basename "$label" .txt).jpg"
  [ -f "$photo" ] && photos+=("$photo")
done
echo "photos with ground truth: ${#photos[@]}" >&2

seconds() { local t0 t1; t0=$(date +%s.%N); "$@" > /dev/null; t1=$(date +%s.%N); echo "$t1 - $t0" | bc -l; }

for size in $sizes; do
  for tiling in $tilings; do
    args=(detect --weights "$weights" --input-size "$size" --score-threshold 0.01 --json)
    [ "$tiling" != none ] && args+=(--tiles "$tiling")
    tag="${size}_${tiling}"
    "$footfall" "${args[@]}" "${photos[@]}" > "$work/$tag.json"
    all=$(seconds "$footfall" "${args[@]}" "${photos[@]}")
    one=$(seconds "$footfall" "${args[@]}" "${photos[0]}")
    python3 "$FOOTFALL_SHARED/tools/eval_gt.py" "$work/$tag.json" > "$work/$tag.eval.json"
    echo "$size $tiling $all $one" >> "$work/times.txt"
    echo "$tag done" >&2
  done
done

# The peer: the reference pipeline at 416 with the same 0.01 floor, timed after loading.
python3 - "$work" "${photos[@]}" <<'PY'
import json, os, sys, time
sys.path.insert(0, os.path.join(os.environ["FOOTFALL_SHARED"], "tools"))
import onnxruntime as ort
import yolox_ref as ref
work, photos = sys.argv[1], sys.argv[2:]
options = ort.SessionOptions(); options.intra_op_num_threads = 2
session = ort.InferenceSession(os.path.join(os.environ["FOOTFALL_SHARED"], "weights/yolox_nano.onnx"),
                               options, providers=["CPUExecutionProvider"])
name = session.get_inputs()[0].name
images, start = [], time.perf_counter()
for path in photos:
    img = ref.load_bgr(path)
    h, w = img.shape[:2]
    blob, ratio = ref.preprocess(img)
    raw = session.run(None, {name: blob[None]})[0][0]
    dets = ref.postprocess(raw, ratio, w, h, score_thr=0.01)
    images.append({"image": os.path.basename(path), "detections": [list(map(float, d)) for d in dets]})
elapsed = time.perf_counter() - start
json.dump({"images": images}, open(f"{work}/peer.json", "w"))
open(f"{work}/peer_time.txt", "w").write(f"{elapsed / len(photos) * 1000:.2f}\n")
PY
python3 "$FOOTFALL_SHARED/tools/eval_gt.py" "$work/peer.json" > "$work/peer.eval.json"

python3 - "$work" "${#photos[@]}" <<'PY'
import json, sys
work, n = sys.argv[1], int(sys.argv[2])
peer = json.load(open(f"{work}/peer.eval.json"))
peer_ms = float(open(f"{work}/peer_time.txt").read())
print(f"{'input':>5} {'tiles':>5} | {'AP50':>6} {'MAE@.25':>7} {'recall@.25':>10} | {'ms/photo':>8} {'x peer':>6}")
print(f"{'416':>5} {'peer':>5} | {peer['ap50_person']:>6.3f} {peer['0.25']['count_mae']:>7.3f} "
      f"{peer['0.25']['recall']:>10.3f} | {peer_ms:>8.1f} {1.0:>6.2f}")
for line in open(f"{work}/times.txt"):
    size, tiling, all_s, one_s = line.split()
    ev = json.load(open(f"{work}/{size}_{tiling}.eval.json"))
    ms = (float(all_s) - float(one_s)) / (n - 1) * 1000
    print(f"{size:>5} {tiling:>5} | {ev['ap50_person']:>6.3f} {ev['0.25']['count_mae']:>7.3f} "
          f"{ev['0.25']['recall']:>10.3f} | {ms:>8.1f} {ms / peer_ms:>6.2f}")
print(f"photos={n} gt_persons={peer['gt_persons']}")
PY
