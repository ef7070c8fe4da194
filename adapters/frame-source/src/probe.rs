//! After FFmpeg fails to open a network source, finds the cause its error hides:
//!
//! - an HLS playlist that loads while its segments do not (FFmpeg skips every failing segment
//!   and then says the input is not decodable): the first segments are requested again and
//!   their answer (HTTP 404, 5xx, refused, ...) becomes the error;
//! - a redirect loop (FFmpeg says "Input/output error"): the redirects of a plain `http://` URL
//!   are followed one by one;
//! - a stream that sends data without any picture (FFmpeg probes it until the connect
//!   timeout): a short read shows that bytes arrive, and whether they are MPEG-TS padding.
//!
//! Requests go through FFmpeg's own protocols (same TLS, proxies and options as the real open),
//! except the redirect walk, which needs the `Location` headers FFmpeg does not expose. Every
//! function runs only after a failure, stops when `interrupted` says so (the caller's watchdog
//! bounds it by the connect timeout), and returns `None` when it finds nothing more precise
//! than FFmpeg's error.

use std::ffi::{CStr, CString, c_int, c_void};
use std::io::{Read, Write};
use std::net::TcpStream;
use std::time::{Duration, Instant};

use ffmpeg::{Dictionary, Error as FfError, ffi};
use video_rs::ffmpeg;

use crate::error::FrameSourceError;

/// FFmpeg's http protocol gives up after this many redirects (its `max_redirects` default).
const MAX_REDIRECTS: u32 = 8;
/// Playlists are read up to this size.
const MAX_PLAYLIST_BYTES: usize = 1 << 20;
/// Segments requested again after an HLS stream failed to open.
const SEGMENTS_PROBED: usize = 3;
/// Bytes read to see what a stream that never opened sends.
const MAX_SAMPLE_BYTES: usize = 256 * 1024;
const TS_PACKET: usize = 188;

/// True for the URLs this module can probe.
pub(crate) fn is_http(locator: &str) -> bool {
    let lower = locator.get(..8).unwrap_or(locator).to_ascii_lowercase();
    lower.starts_with("http://") || lower.starts_with("https://")
}

/// The cause of a failed open of `locator`, when it is more precise than `error`: a redirect
/// loop, or the segments of an HLS playlist that loads.
pub(crate) fn open_failure<F>(
    locator: &str,
    error: &FfError,
    timeout: Duration,
    options: &dyn Fn() -> Dictionary<'static>,
    interrupted: F,
) -> Option<FrameSourceError>
where
    F: Fn() -> bool + Clone + Send + 'static,
{
    if !is_http(locator) {
        return None;
    }
    if is_io_error(error) {
        return redirect_loop(locator, timeout, &interrupted);
    }
    // The server's own answer to the URL is already precise.
    if http_status(error).is_some() {
        return None;
    }
    let playlist = fetch(locator, options(), MAX_PLAYLIST_BYTES, interrupted.clone()).ok()?;
    hls_segments(locator, playlist, timeout, options, &interrupted)
}

/// The cause of a connect timeout when the source did send data: `None` when nothing arrives
/// (a real connect timeout) or the source is a playlist (its segments are another matter).
/// `interrupted` must end the read after a short while.
pub(crate) fn no_video<F>(
    locator: &str,
    waited: Duration,
    options: Dictionary<'static>,
    interrupted: F,
) -> Option<FrameSourceError>
where
    F: Fn() -> bool + Send + 'static,
{
    if !is_http(locator) {
        return None;
    }
    let sample = fetch(locator, options, MAX_SAMPLE_BYTES, interrupted).ok()?;
    if sample.body.is_empty() || is_playlist(&sample.body) {
        return None;
    }
    let bytes = sample.body.len();
    let detail = match ts_packets(&sample.body) {
        Some((packets, null)) if packets > 0 && null == packets => {
            format!("{bytes} bytes received, only MPEG-TS null (padding) packets")
        }
        Some((packets, _)) if packets > 0 => {
            format!("{bytes} bytes of MPEG-TS received, no decodable picture in them")
        }
        _ => format!("{bytes} bytes received, no decodable picture in them"),
    };
    Some(FrameSourceError::NoVideoData {
        locator: locator.to_string(),
        waited,
        detail,
    })
}

/// What a request through FFmpeg's protocols gave.
struct Fetched {
    /// Up to the requested number of bytes of the body; fewer when the read was interrupted.
    body: Vec<u8>,
    /// The URL after redirects.
    url: String,
}

/// Opens `url` with FFmpeg's protocols and reads up to `max` bytes. An error only when the
/// open fails (HTTP status, refused, interrupted); a read that ends early keeps what came.
fn fetch<F>(
    url: &str,
    options: Dictionary<'static>,
    max: usize,
    interrupted: F,
) -> Result<Fetched, FfError>
where
    F: Fn() -> bool + Send + 'static,
{
    let c_url = CString::new(url).map_err(|_| FfError::InvalidData)?;
    let callback = ffmpeg::util::interrupt::new(Box::new(interrupted));
    let mut pb: *mut ffi::AVIOContext = std::ptr::null_mut();
    // SAFETY: `c_url` and the callback's closure outlive the I/O context, which is closed below
    // before `callback` is dropped; the options dictionary is handed back and freed.
    let opened = unsafe {
        let mut dict = options.disown();
        let opened = ffi::avio_open2(
            &mut pb,
            c_url.as_ptr(),
            ffi::AVIO_FLAG_READ,
            &callback.interrupt,
            &mut dict,
        );
        drop(Dictionary::own(dict));
        opened
    };
    if opened < 0 || pb.is_null() {
        return Err(FfError::from(opened.min(-1)));
    }
    // SAFETY: `pb` is the open I/O context; `location` copies the option's text and frees it.
    let final_url = unsafe { location(pb) }.unwrap_or_else(|| url.to_string());
    let mut body = vec![0u8; max];
    let mut filled = 0;
    while filled < max {
        let wanted = c_int::try_from(max - filled).unwrap_or(c_int::MAX);
        // SAFETY: the destination has `max - filled` bytes left from `filled`.
        let read = unsafe { ffi::avio_read(pb, body.as_mut_ptr().add(filled), wanted) };
        let Ok(read) = usize::try_from(read) else {
            break; // end of input, error or interrupt: keep what came
        };
        if read == 0 {
            break;
        }
        filled += read;
    }
    body.truncate(filled);
    // SAFETY: closes the context opened above; `pb` is set to null.
    unsafe { ffi::avio_closep(&mut pb) };
    drop(callback);
    Ok(Fetched {
        body,
        url: final_url,
    })
}

/// The URL an HTTP I/O context ended up at after redirects (its `location` option).
///
/// # Safety
/// `pb` must be an open I/O context.
unsafe fn location(pb: *mut ffi::AVIOContext) -> Option<String> {
    let mut value: *mut u8 = std::ptr::null_mut();
    // SAFETY: per the caller; av_opt_get allocates `value`, freed below.
    unsafe {
        let got = ffi::av_opt_get(
            pb.cast::<c_void>(),
            c"location".as_ptr(),
            ffi::AV_OPT_SEARCH_CHILDREN,
            &mut value,
        );
        if got < 0 || value.is_null() {
            return None;
        }
        let text = CStr::from_ptr(value.cast()).to_string_lossy().into_owned();
        ffi::av_free(value.cast());
        Some(text)
    }
}

fn is_io_error(error: &FfError) -> bool {
    matches!(error, FfError::Other { errno } if *errno == ffmpeg::error::EIO)
}

/// The HTTP answer behind one of FFmpeg's HTTP errors, and whether it may pass (FFmpeg tells
/// only 400, 401, 403 and 404 apart; other 4xx and all 5xx come as a class).
fn http_status(error: &FfError) -> Option<(&'static str, bool)> {
    Some(match error {
        FfError::HttpBadRequest => ("HTTP 400 Bad Request", false),
        FfError::HttpUnauthorized => ("HTTP 401 Unauthorized", false),
        FfError::HttpForbidden => ("HTTP 403 Forbidden", false),
        FfError::HttpNotFound => ("HTTP 404 Not Found", false),
        FfError::HttpOther4xx => ("HTTP 4xx client error", false),
        FfError::HttpServerError => ("HTTP 5xx server error", true),
        _ => return None,
    })
}

fn is_playlist(body: &[u8]) -> bool {
    let start = body.strip_prefix(b"\xEF\xBB\xBF").unwrap_or(body);
    start.trim_ascii_start().starts_with(b"#EXTM3U")
}

/// The URIs of a playlist: segments of a media playlist, variant playlists of a master one
/// (with `true`).
fn playlist_uris(text: &str) -> (Vec<&str>, bool) {
    let master = text
        .lines()
        .any(|line| line.trim_start().starts_with("#EXT-X-STREAM-INF"));
    let uris = text
        .lines()
        .map(str::trim)
        .filter(|line| !line.is_empty() && !line.starts_with('#'))
        .collect();
    (uris, master)
}

/// When the playlist's first segments all fail to load, the first one's failure.
fn hls_segments<F>(
    playlist_url: &str,
    playlist: Fetched,
    timeout: Duration,
    options: &dyn Fn() -> Dictionary<'static>,
    interrupted: &F,
) -> Option<FrameSourceError>
where
    F: Fn() -> bool + Clone + Send + 'static,
{
    if !is_playlist(&playlist.body) {
        return None;
    }
    let mut base = playlist.url;
    let mut text = String::from_utf8_lossy(&playlist.body).into_owned();
    let (uris, master) = playlist_uris(&text);
    if master {
        // One level down: the first variant's media playlist.
        let variant = join(&base, uris.first()?)?;
        let media = fetch(&variant, options(), MAX_PLAYLIST_BYTES, interrupted.clone()).ok()?;
        if !is_playlist(&media.body) {
            return None;
        }
        base = media.url;
        text = String::from_utf8_lossy(&media.body).into_owned();
    }
    let (segments, _) = playlist_uris(&text);
    let mut first_failure = None;
    for uri in segments.iter().take(SEGMENTS_PROBED) {
        let segment = join(&base, uri)?;
        match fetch(&segment, options(), 1, interrupted.clone()) {
            Ok(_) => return None,
            Err(error) => {
                if interrupted() || error == FfError::Exit {
                    return None;
                }
                first_failure.get_or_insert((segment, error));
            }
        }
    }
    let (segment, error) = first_failure?;
    if is_io_error(&error)
        && let Some(found) = redirect_loop(&segment, timeout, interrupted)
    {
        return Some(found);
    }
    let (reason, transient) = match http_status(&error) {
        Some((status, transient)) => (status.to_string(), transient),
        None => (error.to_string(), true),
    };
    Some(FrameSourceError::HlsSegmentsUnavailable {
        playlist: playlist_url.to_string(),
        segment,
        reason,
        transient,
    })
}

fn join(base: &str, uri: &str) -> Option<String> {
    let base = url::Url::parse(base).ok()?;
    base.join(uri).ok().map(String::from)
}

/// Follows the redirects of a plain `http://` URL itself; a loop (an address visited twice) or
/// more redirects than FFmpeg follows is a [`FrameSourceError::RedirectLoop`].
fn redirect_loop(
    url: &str,
    timeout: Duration,
    interrupted: &dyn Fn() -> bool,
) -> Option<FrameSourceError> {
    let deadline = Instant::now() + timeout;
    let mut current = url::Url::parse(url).ok()?;
    let mut seen = vec![current.clone()];
    for redirects in 1..=MAX_REDIRECTS + 1 {
        let left = deadline.checked_duration_since(Instant::now())?;
        if interrupted() || current.scheme() != "http" || left.is_zero() {
            return None;
        }
        let next = current.join(&redirect_target(&current, left)?).ok()?;
        if seen.contains(&next) || redirects > MAX_REDIRECTS {
            return Some(FrameSourceError::RedirectLoop {
                url: url.to_string(),
                last: next.to_string(),
                redirects,
            });
        }
        seen.push(next.clone());
        current = next;
    }
    None
}

/// The `Location` of a redirect answer to a GET of `url` (plain http); `None` for any other
/// answer or a failure.
fn redirect_target(url: &url::Url, timeout: Duration) -> Option<String> {
    let host = url.host_str()?;
    let address = url.socket_addrs(|| Some(80)).ok()?.into_iter().next()?;
    let mut stream = TcpStream::connect_timeout(&address, timeout).ok()?;
    stream.set_read_timeout(Some(timeout)).ok()?;
    stream.set_write_timeout(Some(timeout)).ok()?;
    let host_header = match url.port() {
        Some(port) => format!("{host}:{port}"),
        None => host.to_string(),
    };
    let target = &url[url::Position::BeforePath..url::Position::AfterQuery];
    let request = format!(
        "GET {target} HTTP/1.1\r\nHost: {host_header}\r\nUser-Agent: footfall\r\nAccept: */*\r\nConnection: close\r\n\r\n"
    );
    stream.write_all(request.as_bytes()).ok()?;
    let mut head = Vec::new();
    let mut buf = [0u8; 4096];
    while !head.windows(4).any(|w| w == b"\r\n\r\n") && head.len() < 64 * 1024 {
        let read = stream.read(&mut buf).ok()?;
        if read == 0 {
            break;
        }
        head.extend_from_slice(&buf[..read]);
    }
    let head = String::from_utf8_lossy(&head);
    let mut lines = head.split("\r\n");
    let status: u16 = lines.next()?.split_whitespace().nth(1)?.parse().ok()?;
    if !matches!(status, 301 | 302 | 303 | 307 | 308) {
        return None;
    }
    lines.take_while(|line| !line.is_empty()).find_map(|line| {
        let (name, value) = line.split_once(':')?;
        name.trim()
            .eq_ignore_ascii_case("location")
            .then(|| value.trim().to_string())
    })
}

/// `(packets, null packets)` when `bytes` are MPEG-TS (sync byte every 188 bytes from the
/// first one found); a trailing partial packet is ignored.
fn ts_packets(bytes: &[u8]) -> Option<(usize, usize)> {
    let start = bytes.iter().take(TS_PACKET).position(|&b| b == 0x47)?;
    let mut packets = 0;
    let mut null = 0;
    for packet in bytes[start..].chunks_exact(TS_PACKET) {
        if packet[0] != 0x47 {
            return None;
        }
        packets += 1;
        let pid = (u16::from(packet[1] & 0x1F) << 8) | u16::from(packet[2]);
        if pid == 0x1FFF {
            null += 1;
        }
    }
    Some((packets, null))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn playlists_and_their_uris() {
        assert!(is_playlist(b"#EXTM3U\n#EXT-X-VERSION:3\n"));
        assert!(is_playlist(b"\xEF\xBB\xBF  #EXTM3U\n"));
        assert!(!is_playlist(b"\x47\x40\x00\x10"));
        let media = "#EXTM3U\n#EXTINF:2.0,\nseg_000.ts\n\n#EXTINF:2.0,\n  /abs/seg_001.ts \n";
        assert_eq!(
            playlist_uris(media),
            (vec!["seg_000.ts", "/abs/seg_001.ts"], false)
        );
        let master = "#EXTM3U\n#EXT-X-STREAM-INF:BANDWIDTH=1\nlow/index.m3u8\n";
        assert_eq!(playlist_uris(master), (vec!["low/index.m3u8"], true));
        assert_eq!(
            join("http://u:p@h:1/live/index.m3u8", "seg_1.ts").as_deref(),
            Some("http://u:p@h:1/live/seg_1.ts")
        );
    }

    #[test]
    fn mpeg_ts_padding_is_recognised() {
        let mut null = [0xFFu8; TS_PACKET];
        null[..4].copy_from_slice(&[0x47, 0x1F, 0xFF, 0x10]);
        let mut video = null;
        video[1..3].copy_from_slice(&[0x41, 0x00]);
        let padding = null.repeat(3);
        assert_eq!(ts_packets(&padding), Some((3, 3)));
        let mixed = [&null[..], &video[..], &null[..50]].concat();
        assert_eq!(ts_packets(&mixed), Some((2, 1)));
        assert_eq!(ts_packets(b"<html>not a stream</html>"), None);
    }

    #[test]
    fn only_http_urls_are_probed() {
        assert!(is_http("http://h/x.m3u8"));
        assert!(is_http("HTTPS://h/x"));
        assert!(!is_http("rtsp://h/x"));
        assert!(!is_http("/tmp/x.ts"));
    }
}
