#!/usr/bin/env python3
"""Where onnxruntime spends its time on YOLOX-Nano: its own per-node profile, grouped by kind.

Runs the shared yolox_nano.onnx as benches/compare.sh's peer does (CPU EP, ORT_ENABLE_ALL,
one inter-op thread) on a random 1x3x416x416 input, with onnxruntime's profiler on, and prints
milliseconds per run for each kind of node: pointwise (1x1), depthwise and dense convolutions
told apart by their weight's shape, the rest by operator (QuickGelu is onnxruntime's fused
SiLU). Compare with `perf record` of `pipeline_timing` (benches/README.md).

Usage: python3 benches/peer_profile.py [threads] [runs]   (env: FOOTFALL_SHARED)
"""
import collections
import json
import os
import sys
import tempfile
from pathlib import Path

import numpy as np
import onnxruntime as ort

shared = Path(os.environ.get("FOOTFALL_SHARED", Path(__file__).resolve().parents[2] / "shared"))
threads = int(sys.argv[1]) if len(sys.argv) > 1 else 1
runs = int(sys.argv[2]) if len(sys.argv) > 2 else 100

options = ort.SessionOptions()
options.intra_op_num_threads = threads
options.inter_op_num_threads = 1
options.graph_optimization_level = ort.GraphOptimizationLevel.ORT_ENABLE_ALL
options.enable_profiling = True
options.profile_file_prefix = str(Path(tempfile.mkdtemp()) / "ort")
session = ort.InferenceSession(str(shared / "weights/yolox_nano.onnx"), options,
                               providers=["CPUExecutionProvider"])
feed = {session.get_inputs()[0].name: np.random.rand(1, 3, 416, 416).astype(np.float32)}
for _ in range(20):
    session.run(None, feed)
for _ in range(runs):
    session.run(None, feed)
events = json.load(open(session.end_profiling()))

total_runs = sum(1 for e in events if e.get("name") == "model_run")
by_kind = collections.defaultdict(float)
for e in events:
    if e.get("cat") != "Node" or not e["name"].endswith("_kernel_time"):
        continue
    kind = e["args"]["op_name"]
    if kind == "Conv":
        shapes = e["args"]["input_type_shape"]
        weight = list(shapes[1].values())[0] if len(shapes) > 1 else None
        if weight and weight[2:] == [1, 1]:
            kind = "Conv 1x1"
        elif weight and weight[1] == 1:
            kind = f"Conv depthwise {weight[2]}x{weight[3]}"
        elif weight:
            kind = f"Conv dense {weight[2]}x{weight[3]}"
    by_kind[kind] += e["dur"] / 1000.0
total = sum(by_kind.values())
print(f"onnxruntime {ort.__version__}, {threads} thread(s), {total_runs} runs "
      f"(warm-up included): {total / total_runs:.2f} ms per run in nodes")
for kind, ms in sorted(by_kind.items(), key=lambda kv: -kv[1]):
    print(f"  {kind:24s} {ms / total_runs:7.3f} ms  {100 * ms / total:5.1f}%")
