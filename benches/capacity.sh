#!/usr/bin/env bash
# Streams per machine (issue 14, first measurement): N jobs at the same time, each sampling one
# frame a second from the shared 10 s video served as HLS over loopback (N distinct URLs of one
# server), against a peer pipeline measured in the same run on the same streams.
#
# - ours: one `footfall run-schedule --once --every 1s --concurrency N` process with N users:
#   one detector shared by every job (the local runner's real path: results stored in SQLite,
#   CSV lines, no SMTP);
# - peer: N processes of `benches/peer_stream.py` (OpenCV's FFmpeg reader + onnxruntime with one
#   thread + the reference pre/post-processing of ../shared/tools/yolox_ref.py), one per stream,
#   the usual way to run the Python pipeline per camera.
#
# A job is on time when its 10 s of stream were counted within 10 s of wall time: the machine
# keeps up with N live streams at 1 frame/s when the whole round of N jobs ends within 10 s.
# Prints per N the wall time, the CPU seconds and peak memory per stream of each, and last
# `capacity ours=N peer=M` (the largest N measured that was on time).
# Usage: benches/capacity.sh   (env: NS="1 2 4 8 12 16")
set -euo pipefail
. "$(dirname "$0")/bench-env.sh"
ns="${NS:-1 2 4 8 12 16}"

port=$(free_port)
python3 -m http.server "$port" --bind 127.0.0.1 --directory "$FOOTFALL_SHARED/video/hls" \
  >"$work/http.log" 2>&1 &
pids+=($!)
for _ in $(seq 50); do curl -sf "http://127.0.0.1:$port/people.m3u8" >/dev/null && break; sleep 0.1; done

# wall seconds, CPU seconds (user+sys) and max RSS (KB) of a command, from GNU time.
measure() { /usr/bin/time -f "%e %U %S %M" -o "$work/time.txt" "$@" >/dev/null 2>>"$work/err.log"; }

echo "  N | ours wall s  cpu s/stream  MB | peer wall s  cpu s/stream  MB/stream | wall ratio"
best_ours=0; best_peer=0
for n in $ns; do
  data="$work/data-$n"
  for i in $(seq "$n"); do
    "$footfall" users add "cam$i" --url "http://127.0.0.1:$port/people.m3u8?cam=$i" \
      --email "cam$i@example.com" --threshold 1000 --data-dir "$data" >/dev/null
  done
  measure "$footfall" run-schedule --cron "rate(1 hour)" --once --every 1s --concurrency "$n" \
    --data-dir "$data" \
    --weights "$weights"
  read -r o_wall o_user o_sys o_rss < "$work/time.txt"

  # The peer: N processes at once; the round's wall time, summed CPU, mean peak RSS.
  start=$(date +%s.%N)
  peers=()
  for i in $(seq "$n"); do
    /usr/bin/time -f "%e %U %S %M" -o "$work/peer-$i.txt" python3 benches/peer_stream.py \
      "http://127.0.0.1:$port/people.m3u8?cam=$i" "$weights" >"$work/peer-$i.json" 2>>"$work/err.log" &
    peers+=($!)
  done
  for p in "${peers[@]}"; do wait "$p"; done
  p_wall=$(echo "$(date +%s.%N) - $start" | bc -l)
  python3 - "$n" "$o_wall" "$o_user" "$o_sys" "$o_rss" "$p_wall" "$work" <<'PY'
import json, sys
n, o_wall, o_user, o_sys, o_rss, p_wall, work = sys.argv[1:]
n = int(n)
peer = [open(f"{work}/peer-{i}.txt").read().split() for i in range(1, n + 1)]
p_cpu = sum(float(u) + float(s) for _, u, s, _ in peer) / n
p_rss = sum(int(r) for *_, r in peer) / n / 1024
frames = [json.load(open(f"{work}/peer-{i}.json"))["frames"] for i in range(1, n + 1)]
assert all(f >= 9 for f in frames), f"peer counted too few frames: {frames}"
o_cpu = (float(o_user) + float(o_sys)) / n
print(f"{n:>3} | {float(o_wall):>11.2f} {o_cpu:>13.2f} {int(o_rss) / 1024:>4.0f} | "
      f"{float(p_wall):>11.2f} {p_cpu:>13.2f} {p_rss:>10.0f} | {float(o_wall) / float(p_wall):>10.2f}")
open(f"{work}/row-{n}", "w").write(f"{o_wall} {p_wall}\n")
PY
  read -r ow pw < "$work/row-$n"
  if (( $(echo "$ow <= 10" | bc -l) )); then best_ours=$n; fi
  if (( $(echo "$pw <= 10" | bc -l) )); then best_peer=$n; fi
done
echo "capacity ours=$best_ours peer=$best_peer (largest N measured whose round of 10 s streams ended within 10 s)"
