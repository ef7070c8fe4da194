#!/usr/bin/env bash
# Streams per machine in steady state (issue 14): N live HLS cameras on loopback
# (benches/live_hls.py: a sliding playlist that gains a 2 s segment every 2 s, cameras out of
# step), each job sampling one frame a second for D seconds of stream (`--frames D --window Ds`),
# against the peer pipeline on the same cameras in the same run.
#
# - ours: one `footfall run-schedule --once --concurrency N` process (one detector shared by
#   the jobs, results stored in SQLite), with frames of different cameras joined into one
#   forward pass (the default) and without (`--no-cross-stream-batching`);
# - peer: N processes of `benches/peer_stream.py URL WEIGHTS D` (OpenCV's FFmpeg reader +
#   onnxruntime with one thread + the reference pre/post-processing), one per camera.
#
# Live streams arrive in real time, so the figure is the CPU each camera costs: CPU seconds per
# camera per second of stream (0.10 = a tenth of a core). 2 cores / that = the cameras one such
# machine keeps up with. A round is on time when every job has its D samples and the round ends
# within D + 6 s (FFmpeg starts 3 segments behind the live edge, so the first 6 s come at once).
# Usage: benches/capacity_live.sh   (env: NS="4 8 16", D=20)
set -euo pipefail
. "$(dirname "$0")/bench-env.sh"
ns="${NS:-4 8 16}"
d="${D:-20}"

port=$(free_port)
# Long enough for every round: each round starts its cameras at the server's current edge.
LOOPS=$(( 2 + $(wc -w <<<"$ns") * (3 * d + 30) / 10 )) python3 benches/live_hls.py "$port" "$work" \
  >"$work/live.log" 2>&1 &
pids+=($!)
for _ in $(seq 100); do curl -sf "http://127.0.0.1:$port/cam1/live.m3u8" >/dev/null && break; sleep 0.2; done

# wall seconds, CPU seconds (user+sys) and max RSS (KB) of a command, from GNU time.
measure() { /usr/bin/time -f "%e %U %S %M" -o "$1" "${@:2}"; }

ours() { # ours N VARIANT [flags]: prints "wall cpu rss_kb min_frames"
  local n=$1 variant=$2 data="$work/data-$1-$2"
  shift 2
  for i in $(seq "$n"); do
    "$footfall" users add "cam$i" --url "http://127.0.0.1:$port/cam$i/live.m3u8" \
      --email "cam$i@example.com" --threshold 1000 --data-dir "$data" >/dev/null
  done
  measure "$work/time.txt" "$footfall" run-schedule --cron "rate(1 hour)" --once --frames "$d" \
    --window "${d}s" --max-duration "$((3 * d))s" --concurrency "$n" --data-dir "$data" \
    --weights "$weights" "$@" >"$work/out-$n-$variant.txt" 2>"$work/err-$n-$variant.log"
  read -r wall user sys rss < "$work/time.txt"
  min_frames=$(grep -o 'frames=[0-9]*' "$work/out-$n-$variant.txt" | cut -d= -f2 | sort -n | head -1)
  jobs=$(grep -c 'frames=' "$work/out-$n-$variant.txt" || true)
  [ "$jobs" = "$n" ] || min_frames=0
  cp "$work/out-$n-$variant.txt" "${KEEP_OUTPUT:-/dev/null}" 2>/dev/null || true
  batch=$(grep -o 'mean_batch="*[0-9.]*' "$work/err-$n-$variant.log" | tr -d '"' | cut -d= -f2 | tail -1)
  echo "$wall $(echo "$user + $sys" | bc -l) $rss ${min_frames:-0} ${batch:--}"
}

printf '%4s | %-36s | %-28s | %-30s\n' N "ours, batched: wall cpu/cam/s MB batch" "ours, unbatched: wall cpu/cam/s" "peer: wall cpu/cam/s MB/cam"
best_ours=0; best_single=0; best_peer=0
for n in $ns; do
  read -r bw bc brss bframes bbatch <<<"$(ours "$n" batched)"
  read -r sw sc _ sframes _ <<<"$(ours "$n" single --no-cross-stream-batching)"

  start=$(date +%s.%N)
  peers=()
  for i in $(seq "$n"); do
    /usr/bin/time -f "%e %U %S %M" -o "$work/peer-$i.txt" python3 benches/peer_stream.py \
      "http://127.0.0.1:$port/cam$i/live.m3u8" "$weights" "$d" >"$work/peer-$i.json" 2>>"$work/peer.log" &
    peers+=($!)
  done
  for p in "${peers[@]}"; do wait "$p" || true; done
  pw=$(echo "$(date +%s.%N) - $start" | bc -l)
  read -r pc prss pframes < <(python3 - "$n" "$work" <<'PY'
import json, sys
n, work = int(sys.argv[1]), sys.argv[2]
times = [open(f"{work}/peer-{i}.txt").read().split() for i in range(1, n + 1)]
frames = []
for i in range(1, n + 1):
    try:
        frames.append(json.load(open(f"{work}/peer-{i}.json"))["frames"])
    except Exception:
        frames.append(0)
print(sum(float(u) + float(s) for _, u, s, _ in times), sum(int(r) for *_, r in times) / n, min(frames))
PY
)
  python3 - "$n" "$d" "$bw" "$bc" "$brss" "$bframes" "$bbatch" "$sw" "$sc" "$sframes" "$pw" "$pc" "$prss" "$pframes" <<'PY'
import sys
n, d = int(sys.argv[1]), int(sys.argv[2])
bw, bc, brss, bframes, bbatch, sw, sc, sframes, pw, pc, prss, pframes = sys.argv[3:]
def per(cpu): return float(cpu) / n / d
def mark(wall, frames):
    if int(frames) < d:
        return f" LATE({frames} samples)"
    return "" if float(wall) <= d + 6 else " LATE"
print(f"{n:>4} | {float(bw):>6.1f} {per(bc):>10.3f} {int(brss) / 1024:>5.0f} {bbatch:>5}{mark(bw, bframes):<5}   | "
      f"{float(sw):>6.1f} {per(sc):>10.3f}{mark(sw, sframes):<5}           | "
      f"{float(pw):>6.1f} {per(pc):>10.3f} {float(prss) / 1024:>5.0f}{mark(pw, pframes)}")
PY
  on_time() { (( $(echo "$1 <= $d + 6" | bc -l) )) && [ "$2" -ge "$d" ]; }
  if on_time "$bw" "$bframes"; then best_ours=$n; fi
  if on_time "$sw" "$sframes"; then best_single=$n; fi
  if on_time "$pw" "$pframes"; then best_peer=$n; fi
done
echo "live capacity ours=$best_ours ours_unbatched=$best_single peer=$best_peer (largest N measured on time; cpu/cam/s = CPU seconds per camera per second of stream)"
