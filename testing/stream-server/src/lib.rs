//! A loopback HTTP server with fault injection, for frame-source tests and the runners' stream
//! drills. Serves a directory plus in-memory files, with `Range` support (FFmpeg
//! needs it for mp4 files) and one connection per request.

use std::collections::HashMap;
use std::io::{self, BufRead, BufReader, Write};
use std::net::{SocketAddr, TcpListener, TcpStream};
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};
use std::thread::JoinHandle;
use std::time::Duration;

/// Misbehaviour injected into the responses (most faults concern `.ts` segment requests).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Fault {
    /// Serve everything correctly.
    None,
    /// After `n` segments, send half of each further segment (with its full Content-Length) and
    /// close the connection.
    DropAfterSegments(usize),
    /// After `n` segments, send half of the next segment and then hold the connection open
    /// without sending anything.
    StallAfterSegments(usize),
    /// Answer every request with 404.
    NotFound,
    /// Answer every `.ts` segment request with this HTTP status (playlists and other files are
    /// served normally): `SegmentStatus(404)` is an HLS stream whose segments are all missing.
    SegmentStatus(u16),
    /// Answer every request with `302 Found` back to the same path: a redirect loop.
    RedirectLoop,
    /// Answer every request with `200 OK` and an endless body of MPEG-TS null (padding) packets,
    /// without Content-Length, at about `bytes_per_sec`: a stream that sends plenty of packets
    /// but never a picture.
    EmptyPacketFlood { bytes_per_sec: usize },
    /// Serve every file without Content-Length and without range support, in
    /// `Transfer-Encoding: chunked` pieces at about `bytes_per_sec` (0: as fast as possible), as
    /// a live MPEG-TS stream over HTTP is served. The body ends after the file.
    Chunked { bytes_per_sec: usize },
    /// Serve every file whole (`200 OK` with its Content-Length), ignoring `Range` and without
    /// `Accept-Ranges`, as simple static servers do: a finite file that cannot be seeked.
    NoRanges,
}

struct Shared {
    root: Option<PathBuf>,
    files: HashMap<String, Vec<u8>>,
    fault: Fault,
    segments_served: AtomicUsize,
    requests: Mutex<Vec<String>>,
    shutdown: AtomicBool,
    /// Serve `/live.m3u8` as an endless live playlist (see [`LoopbackServer::serve_live_hls`]).
    live: bool,
    started: std::time::Instant,
}

/// A running server; stops when dropped.
pub struct LoopbackServer {
    address: SocketAddr,
    shared: Arc<Shared>,
    thread: Option<JoinHandle<()>>,
}

impl LoopbackServer {
    /// Serves files under `root` (may be `None`) and `files` (path → bytes, path starting with `/`).
    pub fn start(
        root: Option<&Path>,
        files: HashMap<String, Vec<u8>>,
        fault: Fault,
    ) -> io::Result<Self> {
        Self::start_inner(root, files, fault, false)
    }

    /// Serves `root` (a folder with `seg_000.ts`..`seg_004.ts` of 2 s each) as an endless live HLS
    /// stream at `/live.m3u8`: a 3-segment sliding window that gains a segment every 2 s of wall
    /// time, cycling through the five segments (`/live_N.ts` is `seg_{N mod 5}.ts`).
    pub fn serve_live_hls(root: &Path) -> io::Result<Self> {
        Self::start_inner(Some(root), HashMap::new(), Fault::None, true)
    }

    fn start_inner(
        root: Option<&Path>,
        files: HashMap<String, Vec<u8>>,
        fault: Fault,
        live: bool,
    ) -> io::Result<Self> {
        let listener = TcpListener::bind("127.0.0.1:0")?;
        listener.set_nonblocking(true)?;
        let address = listener.local_addr()?;
        let shared = Arc::new(Shared {
            root: root.map(Path::to_path_buf),
            files,
            fault,
            segments_served: AtomicUsize::new(0),
            requests: Mutex::new(Vec::new()),
            shutdown: AtomicBool::new(false),
            live,
            started: std::time::Instant::now(),
        });
        let accept_shared = Arc::clone(&shared);
        let thread = std::thread::spawn(move || accept_loop(listener, accept_shared));
        Ok(Self {
            address,
            shared,
            thread: Some(thread),
        })
    }

    /// Serves a directory with a fault.
    pub fn serve_dir(root: &Path, fault: Fault) -> io::Result<Self> {
        Self::start(Some(root), HashMap::new(), fault)
    }

    /// `http://127.0.0.1:PORT/path` (path without leading slash).
    pub fn url(&self, path: &str) -> String {
        format!("http://{}/{}", self.address, path.trim_start_matches('/'))
    }

    /// Request paths received so far, in order.
    pub fn requests(&self) -> Vec<String> {
        self.shared
            .requests
            .lock()
            .map(|r| r.clone())
            .unwrap_or_default()
    }
}

impl Drop for LoopbackServer {
    fn drop(&mut self) {
        self.shared.shutdown.store(true, Ordering::Relaxed);
        if let Some(thread) = self.thread.take() {
            let _ = thread.join();
        }
    }
}

fn accept_loop(listener: TcpListener, shared: Arc<Shared>) {
    while !shared.shutdown.load(Ordering::Relaxed) {
        match listener.accept() {
            Ok((stream, _)) => {
                let shared = Arc::clone(&shared);
                std::thread::spawn(move || {
                    // A client that hangs up mid-response is normal in fault tests.
                    let _ = handle(stream, &shared);
                });
            }
            Err(err) if err.kind() == io::ErrorKind::WouldBlock => {
                std::thread::sleep(Duration::from_millis(5));
            }
            Err(_) => std::thread::sleep(Duration::from_millis(5)),
        }
    }
}

fn handle(stream: TcpStream, shared: &Shared) -> io::Result<()> {
    stream.set_nonblocking(false)?;
    stream.set_read_timeout(Some(Duration::from_secs(5)))?;
    let mut reader = BufReader::new(stream.try_clone()?);
    let mut request_line = String::new();
    reader.read_line(&mut request_line)?;
    let mut range_start: Option<u64> = None;
    let mut range_end: Option<u64> = None;
    loop {
        let mut line = String::new();
        if reader.read_line(&mut line)? == 0 || line.trim().is_empty() {
            break;
        }
        let lower = line.to_ascii_lowercase();
        if let Some(value) = lower.strip_prefix("range:")
            && let Some(spec) = value.trim().strip_prefix("bytes=")
        {
            let (start, end) = spec.split_once('-').unwrap_or((spec, ""));
            range_start = start.trim().parse().ok();
            range_end = end.trim().parse().ok();
        }
    }
    let mut parts = request_line.split_whitespace();
    let method = parts.next().unwrap_or("");
    let path = parts
        .next()
        .unwrap_or("/")
        .split('?')
        .next()
        .unwrap_or("/")
        .to_string();
    if let Ok(mut requests) = shared.requests.lock() {
        requests.push(path.clone());
    }
    let mut out = stream;
    match shared.fault {
        Fault::NotFound => return respond_status(&mut out, "404 Not Found"),
        Fault::SegmentStatus(code) if path.ends_with(".ts") => {
            return respond_status(&mut out, &format!("{code} {}", reason_phrase(code)));
        }
        Fault::RedirectLoop => {
            let header = format!(
                "HTTP/1.1 302 Found\r\nLocation: {path}\r\nContent-Length: 0\r\nConnection: close\r\n\r\n"
            );
            out.write_all(header.as_bytes())?;
            return out.flush();
        }
        Fault::EmptyPacketFlood { bytes_per_sec } => {
            return flood_null_packets(&mut out, shared, bytes_per_sec);
        }
        _ => {}
    }
    let live_body = if shared.live {
        live_resource(shared, &path)
    } else {
        None
    };
    let body = match live_body.or_else(|| shared.files.get(&path).cloned()) {
        Some(bytes) => Some(bytes),
        None => shared.root.as_ref().and_then(|root| {
            let relative = path.trim_start_matches('/');
            // Test server: refuse anything that climbs out of the root.
            if relative.split('/').any(|part| part == "..") {
                return None;
            }
            std::fs::read(root.join(relative)).ok()
        }),
    };
    let Some(body) = body else {
        return respond_status(&mut out, "404 Not Found");
    };
    let content_type = if path.ends_with(".m3u8") {
        "application/vnd.apple.mpegurl"
    } else if path.ends_with(".ts") {
        "video/mp2t"
    } else if path.ends_with(".mp4") {
        "video/mp4"
    } else {
        "application/octet-stream"
    };
    if let Fault::Chunked { bytes_per_sec } = shared.fault {
        return send_chunked(&mut out, shared, content_type, &body, method, bytes_per_sec);
    }
    let total = body.len() as u64;
    if shared.fault == Fault::NoRanges {
        range_start = None;
    }
    let (status, start, end) = match range_start {
        Some(start) if start < total => {
            let end = range_end.map_or(total - 1, |end| end.min(total - 1));
            ("206 Partial Content", start, end)
        }
        Some(_) => return respond_status(&mut out, "416 Range Not Satisfiable"),
        None => ("200 OK", 0, total.saturating_sub(1)),
    };
    let slice = if total == 0 {
        &body[..]
    } else {
        &body[start as usize..=end as usize]
    };
    let mut header = format!(
        "HTTP/1.1 {status}\r\nContent-Type: {content_type}\r\nContent-Length: {}\r\nConnection: close\r\n",
        slice.len()
    );
    if shared.fault != Fault::NoRanges {
        header.push_str("Accept-Ranges: bytes\r\n");
    }
    if status.starts_with("206") {
        header.push_str(&format!("Content-Range: bytes {start}-{end}/{total}\r\n"));
    }
    header.push_str("\r\n");
    out.write_all(header.as_bytes())?;
    if method == "HEAD" {
        return Ok(());
    }
    let is_segment = path.ends_with(".ts");
    let served_before = if is_segment {
        shared.segments_served.fetch_add(1, Ordering::Relaxed)
    } else {
        0
    };
    match shared.fault {
        Fault::DropAfterSegments(n) if is_segment && served_before >= n => {
            out.write_all(&slice[..slice.len() / 2])?;
            out.flush()?;
            out.shutdown(std::net::Shutdown::Both)
        }
        Fault::StallAfterSegments(n) if is_segment && served_before >= n => {
            out.write_all(&slice[..slice.len() / 2])?;
            out.flush()?;
            while !shared.shutdown.load(Ordering::Relaxed) {
                std::thread::sleep(Duration::from_millis(20));
            }
            Ok(())
        }
        _ => {
            out.write_all(slice)?;
            out.flush()
        }
    }
}

/// The live playlist or a live segment, when `path` names one.
fn live_resource(shared: &Shared, path: &str) -> Option<Vec<u8>> {
    const SEGMENT_SECONDS: u64 = 2;
    const WINDOW: u64 = 3;
    const SEGMENTS_ON_DISK: u64 = 5;
    if path == "/live.m3u8" {
        // Start with a full window, as a live server that has been running for a while.
        let newest = WINDOW - 1 + shared.started.elapsed().as_secs() / SEGMENT_SECONDS;
        let first = newest + 1 - WINDOW;
        let mut playlist = format!(
            "#EXTM3U\n#EXT-X-VERSION:3\n#EXT-X-TARGETDURATION:{SEGMENT_SECONDS}\n#EXT-X-MEDIA-SEQUENCE:{first}\n"
        );
        for n in first..=newest {
            playlist.push_str(&format!("#EXTINF:{SEGMENT_SECONDS}.000000,\nlive_{n}.ts\n"));
        }
        return Some(playlist.into_bytes());
    }
    let n: u64 = path
        .strip_prefix("/live_")?
        .strip_suffix(".ts")?
        .parse()
        .ok()?;
    let file = format!("seg_{:03}.ts", n % SEGMENTS_ON_DISK);
    std::fs::read(shared.root.as_ref()?.join(file)).ok()
}

/// The time to wait after sending `sent` bytes at `bytes_per_sec` (0: no pacing).
fn pace(sent: usize, bytes_per_sec: usize) -> Duration {
    if bytes_per_sec == 0 {
        return Duration::ZERO;
    }
    Duration::from_secs_f64(sent as f64 / bytes_per_sec as f64)
}

/// `body` as a chunked response, in pieces of 16 KiB paced at `bytes_per_sec`.
fn send_chunked(
    out: &mut TcpStream,
    shared: &Shared,
    content_type: &str,
    body: &[u8],
    method: &str,
    bytes_per_sec: usize,
) -> io::Result<()> {
    let header = format!(
        "HTTP/1.1 200 OK\r\nContent-Type: {content_type}\r\nTransfer-Encoding: chunked\r\nConnection: close\r\n\r\n"
    );
    out.write_all(header.as_bytes())?;
    if method == "HEAD" {
        return out.flush();
    }
    for piece in body.chunks(16 * 1024) {
        if shared.shutdown.load(Ordering::Relaxed) {
            return Ok(());
        }
        write!(out, "{:x}\r\n", piece.len())?;
        out.write_all(piece)?;
        out.write_all(b"\r\n")?;
        out.flush()?;
        std::thread::sleep(pace(piece.len(), bytes_per_sec));
    }
    out.write_all(b"0\r\n\r\n")?;
    out.flush()
}

/// An endless close-delimited body of MPEG-TS null packets (PID 0x1FFF, payload only padding),
/// until the client hangs up or the server stops.
fn flood_null_packets(
    out: &mut TcpStream,
    shared: &Shared,
    bytes_per_sec: usize,
) -> io::Result<()> {
    const TS_PACKET: usize = 188;
    let mut null_packet = [0xFFu8; TS_PACKET];
    null_packet[..4].copy_from_slice(&[0x47, 0x1F, 0xFF, 0x10]);
    let burst: Vec<u8> = null_packet.repeat(64);
    out.write_all(b"HTTP/1.1 200 OK\r\nContent-Type: video/mp2t\r\nConnection: close\r\n\r\n")?;
    while !shared.shutdown.load(Ordering::Relaxed) {
        out.write_all(&burst)?;
        out.flush()?;
        std::thread::sleep(pace(burst.len(), bytes_per_sec));
    }
    Ok(())
}

fn reason_phrase(code: u16) -> &'static str {
    match code {
        400 => "Bad Request",
        401 => "Unauthorized",
        403 => "Forbidden",
        404 => "Not Found",
        410 => "Gone",
        500 => "Internal Server Error",
        502 => "Bad Gateway",
        503 => "Service Unavailable",
        504 => "Gateway Timeout",
        _ => "Error",
    }
}

fn respond_status(out: &mut TcpStream, status: &str) -> io::Result<()> {
    let body = status.as_bytes();
    write!(
        out,
        "HTTP/1.1 {status}\r\nContent-Type: text/plain\r\nContent-Length: {}\r\nConnection: close\r\n\r\n",
        body.len()
    )?;
    out.write_all(body)?;
    out.flush()
}

/// The shared test-data folder (see the `footfall-testdata` crate), or a clear error when it is
/// missing.
pub fn shared_dir() -> Result<PathBuf, String> {
    testdata::find()
}
