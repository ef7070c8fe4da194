#!/usr/bin/env python3
"""The peer of benches/capacity.sh: one camera's job as the Python pipeline does it.

OpenCV's FFmpeg reader decodes the stream frame by frame (as our frame source does), one frame
a second of stream time goes through the reference pipeline of ../shared/tools/yolox_ref.py
(letterbox, onnxruntime with one intra-op thread, decode + NMS), and the person count per sample
is printed as JSON at the end. Frames between samples are only grabbed (decoded, not converted
to BGR), as a careful OpenCV user does. usage: peer_stream.py URL WEIGHTS [MAX_SAMPLES]
(MAX_SAMPLES ends a live stream's job).
"""
import json
import os
import sys

import cv2
import onnxruntime as ort

sys.path.insert(0, os.path.join(os.environ["FOOTFALL_SHARED"], "tools"))
import yolox_ref as ref  # noqa: E402


def main():
    url, weights = sys.argv[1], sys.argv[2]
    max_samples = int(sys.argv[3]) if len(sys.argv) > 3 else None
    options = ort.SessionOptions()
    options.intra_op_num_threads = 1
    options.inter_op_num_threads = 1
    session = ort.InferenceSession(weights, options, providers=["CPUExecutionProvider"])
    name = session.get_inputs()[0].name
    capture = cv2.VideoCapture(url, cv2.CAP_FFMPEG)
    if not capture.isOpened():
        print(json.dumps({"error": f"cannot open {url}"}))
        return 1
    samples, next_t = [], 0.0
    while max_samples is None or len(samples) < max_samples:
        if not capture.grab():
            break
        t = capture.get(cv2.CAP_PROP_POS_MSEC) / 1000.0
        if t + 1e-6 < next_t:
            continue
        next_t += 1.0
        ok, frame = capture.retrieve()
        if not ok:
            break
        h, w = frame.shape[:2]
        blob, ratio = ref.preprocess(frame)
        raw = session.run(None, {name: blob[None]})[0][0]
        dets = ref.postprocess(raw, ratio, w, h)
        samples.append({"t": round(t, 3), "people": int((dets[:, 5] == 0).sum())})
    print(json.dumps({"frames": len(samples), "samples": samples}))
    return 0


if __name__ == "__main__":
    sys.exit(main())
