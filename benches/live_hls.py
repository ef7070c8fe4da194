#!/usr/bin/env python3
"""Live HLS cameras on loopback for benches/capacity.sh (MODE=live).

Makes a long stream from the shared 10 s video (looped LOOPS times with continuous timestamps,
copied without re-encoding, 2 s segments), then serves it as any number of live cameras:
`/camN/live.m3u8` is a sliding playlist (3 segments, no end) that gains a segment every 2 s of
wall time from the server's start, each camera shifted by N * 0.37 s so that cameras do not
deliver their frames in step. Segments are `/camN/seg_K.ts`.

usage: live_hls.py PORT WORK_DIR   (env FOOTFALL_SHARED, LOOPS default 12)
"""
import http.server
import os
import re
import subprocess
import sys
import time

SEGMENT_S = 2.0
WINDOW = 3


def make_stream(work):
    video = os.path.join(os.environ["FOOTFALL_SHARED"], "video", "people_10s_640x480.mp4")
    loops = int(os.environ.get("LOOPS", "12"))
    out = os.path.join(work, "long")
    os.makedirs(out, exist_ok=True)
    subprocess.run(
        ["ffmpeg", "-v", "error", "-y", "-stream_loop", str(loops - 1), "-i", video, "-an",
         "-c", "copy", "-f", "hls", "-hls_time", str(SEGMENT_S), "-hls_list_size", "0",
         "-hls_segment_filename", os.path.join(out, "seg_%d.ts"), os.path.join(out, "all.m3u8")],
        check=True,
    )
    durations = [float(d) for d in re.findall(r"#EXTINF:([0-9.]+)", open(os.path.join(out, "all.m3u8")).read())]
    return out, durations


def main():
    port, work = int(sys.argv[1]), sys.argv[2]
    folder, durations = make_stream(work)
    started = time.monotonic()

    class Handler(http.server.BaseHTTPRequestHandler):
        def log_message(self, *args):
            pass

        def send(self, status, body, kind):
            self.send_response(status)
            self.send_header("Content-Type", kind)
            self.send_header("Content-Length", str(len(body)))
            self.send_header("Cache-Control", "no-cache")
            self.end_headers()
            self.wfile.write(body)

        def do_GET(self):
            m = re.match(r"^/cam(\d+)/(live\.m3u8|seg_(\d+)\.ts)$", self.path.split("?")[0])
            if not m:
                return self.send(404, b"not found", "text/plain")
            cam = int(m.group(1))
            elapsed = time.monotonic() - started + (cam * 0.37) % SEGMENT_S
            # Segments whose whole duration has passed are published.
            published = min(len(durations), int(elapsed // SEGMENT_S) + 1)
            if m.group(3) is not None:
                k = int(m.group(3))
                if k >= published:
                    return self.send(404, b"not yet", "text/plain")
                with open(os.path.join(folder, f"seg_{k}.ts"), "rb") as f:
                    return self.send(200, f.read(), "video/mp2t")
            first = max(0, published - WINDOW)
            lines = ["#EXTM3U", "#EXT-X-VERSION:3", f"#EXT-X-TARGETDURATION:{int(SEGMENT_S + 0.999)}",
                     f"#EXT-X-MEDIA-SEQUENCE:{first}"]
            for k in range(first, published):
                lines += [f"#EXTINF:{durations[k]:.3f},", f"seg_{k}.ts"]
            if published == len(durations):
                lines.append("#EXT-X-ENDLIST")
            self.send(200, ("\n".join(lines) + "\n").encode(), "application/vnd.apple.mpegurl")

    server = http.server.ThreadingHTTPServer(("127.0.0.1", port), Handler)
    print(f"live HLS on 127.0.0.1:{port}: {len(durations)} segments", flush=True)
    server.serve_forever()


if __name__ == "__main__":
    main()
