//! What a user may point footfall at, and how page URLs become media URLs.

use std::io::Read;
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

use crate::error::{FrameSourceError, Result};

/// How a source is reached. It decides FFmpeg options, whether seeking is attempted and how a
/// dropped connection is treated.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum SourceKind {
    /// A local file path (or `file://` URL).
    File,
    /// A progressive media file over HTTP(S).
    Http,
    /// An HLS playlist (`.m3u8`), VOD or live.
    Hls,
    /// An RTSP(S) camera or server.
    Rtsp,
    /// A web page (YouTube and similar) whose media URL `yt-dlp` finds.
    Page,
}

/// Hosts whose URLs are web pages, not media: they must go through a [`UrlResolver`].
const PAGE_HOSTS: &[&str] = &[
    "youtube.com",
    "youtu.be",
    "twitch.tv",
    "vimeo.com",
    "dailymotion.com",
];

/// A parsed source: its kind and the locator (path or URL) handed to FFmpeg.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SourceSpec {
    /// The text the user gave.
    pub original: String,
    pub kind: SourceKind,
    /// Path or URL FFmpeg opens. For a page URL this is the page until it is resolved.
    pub locator: String,
}

impl SourceSpec {
    /// Parses a file path or URL. Unknown schemes are rejected here, before any network access.
    pub fn parse(text: &str) -> Result<Self> {
        let trimmed = text.trim();
        if trimmed.is_empty() {
            return Err(FrameSourceError::EmptySource);
        }
        let Some((scheme, _)) = trimmed.split_once("://") else {
            return Ok(Self::file(trimmed));
        };
        let scheme = scheme.to_ascii_lowercase();
        let url = url::Url::parse(trimmed).map_err(|err| FrameSourceError::InvalidUrl {
            source_text: trimmed.to_string(),
            reason: err.to_string(),
        })?;
        let kind = match scheme.as_str() {
            "file" => {
                let path = url
                    .to_file_path()
                    .map_err(|()| FrameSourceError::InvalidUrl {
                        source_text: trimmed.to_string(),
                        reason: "not a local file path".to_string(),
                    })?;
                return Ok(Self {
                    original: trimmed.to_string(),
                    kind: SourceKind::File,
                    locator: path.to_string_lossy().into_owned(),
                });
            }
            "http" | "https" => {
                let host = url.host_str().unwrap_or_default().to_ascii_lowercase();
                let path = url.path().to_ascii_lowercase();
                if is_page_host(&host) {
                    SourceKind::Page
                } else if path.ends_with(".m3u8") || path.ends_with(".m3u") {
                    SourceKind::Hls
                } else {
                    SourceKind::Http
                }
            }
            "rtsp" | "rtsps" => SourceKind::Rtsp,
            _ => {
                return Err(FrameSourceError::UnsupportedScheme {
                    scheme,
                    source_text: trimmed.to_string(),
                });
            }
        };
        Ok(Self {
            original: trimmed.to_string(),
            kind,
            locator: trimmed.to_string(),
        })
    }

    fn file(path: &str) -> Self {
        Self {
            original: path.to_string(),
            kind: SourceKind::File,
            locator: path.to_string(),
        }
    }

    /// Treats any http(s) URL as a page to resolve (for sites not in the built-in host list).
    pub fn page(url: &str) -> Result<Self> {
        let mut spec = Self::parse(url)?;
        if !matches!(
            spec.kind,
            SourceKind::Http | SourceKind::Hls | SourceKind::Page
        ) {
            return Err(FrameSourceError::InvalidUrl {
                source_text: url.to_string(),
                reason: "a page URL must be http(s)".to_string(),
            });
        }
        spec.kind = SourceKind::Page;
        Ok(spec)
    }

    /// For a page URL, asks `resolver` for the media URL; other kinds are returned unchanged.
    /// The kind stays [`SourceKind::Page`] so reports say what the user asked for.
    pub fn resolve(mut self, resolver: &dyn UrlResolver) -> Result<Self> {
        if self.kind == SourceKind::Page {
            self.locator = resolver.resolve(&self.original)?;
        }
        Ok(self)
    }

    /// True when FFmpeg can seek in the source cheaply (local files and HTTP with range requests).
    /// HLS seeking fails on this FFmpeg, and live sources cannot seek at all.
    pub fn seekable(&self) -> bool {
        matches!(self.kind, SourceKind::File | SourceKind::Http)
    }
}

fn is_page_host(host: &str) -> bool {
    PAGE_HOSTS
        .iter()
        .any(|page| host == *page || host.ends_with(&format!(".{page}")))
}

/// Turns a web-page URL into a URL FFmpeg can open. A trait so tests (and other deployments)
/// can substitute their own.
pub trait UrlResolver: Send + Sync {
    fn resolve(&self, page_url: &str) -> Result<String>;
}

/// Resolves page URLs by running `yt-dlp -g`.
#[derive(Debug, Clone)]
pub struct YtDlpResolver {
    /// Program to run; `FOOTFALL_YTDLP` or `yt-dlp` from `PATH` by default.
    pub program: PathBuf,
    /// yt-dlp contacts the site; it is killed after this long.
    pub timeout: Duration,
    /// yt-dlp format selector. Video-only or muxed, at most 720p: people counting needs no more
    /// and smaller frames decode faster.
    pub format: String,
}

impl Default for YtDlpResolver {
    fn default() -> Self {
        let program = std::env::var_os("FOOTFALL_YTDLP")
            .map(PathBuf::from)
            .unwrap_or_else(|| PathBuf::from("yt-dlp"));
        Self {
            program,
            timeout: Duration::from_secs(60),
            format: "best[height<=720][vcodec!=none]/best[vcodec!=none]/best".to_string(),
        }
    }
}

impl YtDlpResolver {
    pub fn with_program(program: impl AsRef<Path>) -> Self {
        Self {
            program: program.as_ref().to_path_buf(),
            ..Self::default()
        }
    }
}

impl UrlResolver for YtDlpResolver {
    fn resolve(&self, page_url: &str) -> Result<String> {
        let missing = |reason: String| FrameSourceError::ResolverMissing {
            url: page_url.to_string(),
            program: self.program.display().to_string(),
            reason,
        };
        let failed = |reason: String| FrameSourceError::ResolveFailed {
            url: page_url.to_string(),
            reason,
        };
        let mut child = Command::new(&self.program)
            .args([
                "--no-warnings",
                "--no-playlist",
                "-f",
                &self.format,
                "-g",
                page_url,
            ])
            .stdin(Stdio::null())
            .stdout(Stdio::piped())
            .stderr(Stdio::piped())
            .spawn()
            .map_err(|err| missing(err.to_string()))?;
        // Read the pipes on threads so a chatty yt-dlp cannot block on a full pipe while we wait.
        let stdout = child.stdout.take().map(read_to_string_thread);
        let stderr = child.stderr.take().map(read_to_string_thread);
        let started = Instant::now();
        let status = loop {
            match child.try_wait() {
                Ok(Some(status)) => break status,
                Ok(None) if started.elapsed() > self.timeout => {
                    // Best effort: the process may have exited in between.
                    let _ = child.kill();
                    let _ = child.wait();
                    return Err(failed(format!(
                        "yt-dlp did not answer within {:?}",
                        self.timeout
                    )));
                }
                Ok(None) => std::thread::sleep(Duration::from_millis(20)),
                Err(err) => return Err(failed(err.to_string())),
            }
        };
        let stdout = stdout.and_then(|h| h.join().ok()).unwrap_or_default();
        let stderr = stderr.and_then(|h| h.join().ok()).unwrap_or_default();
        if !status.success() {
            let detail = stderr.lines().last().unwrap_or("").trim().to_string();
            return Err(failed(format!("yt-dlp exited with {status}: {detail}")));
        }
        stdout
            .lines()
            .map(str::trim)
            .find(|line| line.contains("://"))
            .map(str::to_string)
            .ok_or_else(|| failed("yt-dlp printed no media URL".to_string()))
    }
}

fn read_to_string_thread<R: Read + Send + 'static>(mut pipe: R) -> std::thread::JoinHandle<String> {
    std::thread::spawn(move || {
        let mut text = String::new();
        // A pipe that is not UTF-8 yields an empty answer, reported as "no media URL".
        let _ = pipe.read_to_string(&mut text);
        text
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn kinds_from_text() {
        let kind = |s: &str| SourceSpec::parse(s).map(|spec| spec.kind);
        assert_eq!(kind("video.mp4"), Ok(SourceKind::File));
        assert_eq!(kind("/tmp/a b.mp4"), Ok(SourceKind::File));
        assert_eq!(kind("file:///tmp/x.mp4"), Ok(SourceKind::File));
        assert_eq!(kind("http://127.0.0.1:8/a.mp4"), Ok(SourceKind::Http));
        assert_eq!(
            kind("https://cdn.example/live/index.M3U8?token=1"),
            Ok(SourceKind::Hls)
        );
        assert_eq!(kind("rtsp://cam.local:554/stream1"), Ok(SourceKind::Rtsp));
        assert_eq!(
            kind("https://www.youtube.com/watch?v=abc"),
            Ok(SourceKind::Page)
        );
        assert_eq!(kind("https://youtu.be/abc"), Ok(SourceKind::Page));
        assert_eq!(
            SourceSpec::parse("file:///tmp/x.mp4").map(|s| s.locator),
            Ok("/tmp/x.mp4".to_string())
        );
    }

    #[test]
    fn bad_sources_are_clear_errors() {
        assert_eq!(SourceSpec::parse("  "), Err(FrameSourceError::EmptySource));
        let err = SourceSpec::parse("ftp://host/video.mp4").unwrap_err();
        assert!(
            matches!(err, FrameSourceError::UnsupportedScheme { ref scheme, .. } if scheme == "ftp")
        );
        assert!(err.to_string().contains("unsupported URL scheme `ftp`"));
        assert!(matches!(
            SourceSpec::parse("http://[::1/x"),
            Err(FrameSourceError::InvalidUrl { .. })
        ));
    }

    struct FixedResolver(&'static str);
    impl UrlResolver for FixedResolver {
        fn resolve(&self, _page_url: &str) -> Result<String> {
            Ok(self.0.to_string())
        }
    }

    #[test]
    fn page_urls_go_through_the_resolver() {
        let spec = SourceSpec::parse("https://www.youtube.com/watch?v=abc")
            .and_then(|s| s.resolve(&FixedResolver("http://127.0.0.1:1/x.m3u8")))
            .unwrap();
        assert_eq!(spec.kind, SourceKind::Page);
        assert_eq!(spec.locator, "http://127.0.0.1:1/x.m3u8");
        // Other kinds ignore the resolver.
        let file = SourceSpec::parse("a.mp4")
            .and_then(|s| s.resolve(&FixedResolver("x")))
            .unwrap();
        assert_eq!(file.locator, "a.mp4");
    }

    #[test]
    fn missing_ytdlp_is_a_clear_error() {
        let resolver = YtDlpResolver::with_program("/nonexistent/yt-dlp");
        let err = resolver.resolve("https://youtu.be/abc").unwrap_err();
        assert!(
            matches!(err, FrameSourceError::ResolverMissing { .. }),
            "{err:?}"
        );
        assert!(err.to_string().contains("Install yt-dlp"), "{err}");
    }

    #[cfg(unix)]
    #[test]
    fn ytdlp_output_is_parsed_from_a_stand_in_program() {
        use std::os::unix::fs::PermissionsExt;
        let dir = std::env::temp_dir().join(format!("fs-ytdlp-{}", std::process::id()));
        std::fs::create_dir_all(&dir).unwrap();
        let script = dir.join("yt-dlp");
        std::fs::write(&script, "#!/bin/sh\necho 'http://127.0.0.1:9/media.m3u8'\n").unwrap();
        std::fs::set_permissions(&script, std::fs::Permissions::from_mode(0o755)).unwrap();
        let url = YtDlpResolver::with_program(&script).resolve("https://youtu.be/abc");
        let failing = dir.join("yt-dlp-fail");
        std::fs::write(
            &failing,
            "#!/bin/sh\necho 'ERROR: video unavailable' >&2\nexit 1\n",
        )
        .unwrap();
        std::fs::set_permissions(&failing, std::fs::Permissions::from_mode(0o755)).unwrap();
        let err = YtDlpResolver::with_program(&failing).resolve("https://youtu.be/abc");
        std::fs::remove_dir_all(&dir).ok();
        assert_eq!(url, Ok("http://127.0.0.1:9/media.m3u8".to_string()));
        assert!(err.unwrap_err().to_string().contains("video unavailable"));
    }
}
