//! Errors of the frame source. Library code never panics on bad input; everything that can go
//! wrong with a source, a URL or a stream ends up here. Messages show URLs without their
//! credentials ([`footfall_domain::redact_url`]); the fields keep them whole.

use std::time::Duration;

/// Why a source could not be opened or read.
#[derive(Debug, Clone, PartialEq, thiserror::Error)]
pub enum FrameSourceError {
    #[error("empty source: give a file path or a URL")]
    EmptySource,

    #[error(
        "unsupported URL scheme `{scheme}` in `{}` (supported: file paths, file://, http://, https://, rtsp://, rtsps://)",
        footfall_domain::redact_url(.source_text)
    )]
    UnsupportedScheme { scheme: String, source_text: String },

    #[error("invalid URL `{}`: {reason}", footfall_domain::redact_url(.source_text))]
    InvalidUrl { source_text: String, reason: String },

    #[error("invalid sampling policy: {0}")]
    InvalidPolicy(String),

    #[error(
        "page URL `{}` needs `yt-dlp` to find its media URL, but `{program}` could not be run: {reason}. Install yt-dlp (e.g. `pip install yt-dlp`) or set FOOTFALL_YTDLP to its path",
        footfall_domain::redact_url(.url)
    )]
    ResolverMissing {
        url: String,
        program: String,
        reason: String,
    },

    #[error("could not resolve page URL `{}` to a media URL: {reason}", footfall_domain::redact_url(.url))]
    ResolveFailed { url: String, reason: String },

    #[error("file not found: {0}")]
    NotFound(String),

    #[error("could not open `{}`: {reason}", footfall_domain::redact_url(.locator))]
    Open { locator: String, reason: String },

    #[error("`{}` is not a decodable video ({reason})", footfall_domain::redact_url(.locator))]
    InvalidData { locator: String, reason: String },

    #[error("`{}` has no video stream", footfall_domain::redact_url(.locator))]
    NoVideoStream { locator: String },

    /// The playlist of an HLS stream loads but its segments do not (FFmpeg alone only reports
    /// the stream as not decodable). `reason` is the segment's answer, e.g. "HTTP 404 Not
    /// Found"; `transient` is false for a missing or refused resource (4xx), true for a server
    /// error (5xx) or a network failure.
    #[error(
        "HLS segments unavailable: {reason} for `{}` (playlist `{}`)",
        footfall_domain::redact_url(.segment),
        footfall_domain::redact_url(.playlist)
    )]
    HlsSegmentsUnavailable {
        playlist: String,
        segment: String,
        reason: String,
        transient: bool,
    },

    /// Following `url`'s redirects came back to an address already visited (`last`), or went
    /// on past FFmpeg's limit of redirects.
    #[error(
        "redirect loop: `{}` does not reach the media after {redirects} redirect(s), the last to `{}`",
        footfall_domain::redact_url(.url),
        footfall_domain::redact_url(.last)
    )]
    RedirectLoop {
        url: String,
        last: String,
        redirects: u32,
    },

    /// The source answers and sends data, but nothing in it is a picture (an encoder sending
    /// only padding packets): FFmpeg keeps probing until the connect timeout.
    #[error(
        "`{}` sends data but no video: nothing decodable arrived within {waited:?} ({detail})",
        footfall_domain::redact_url(.locator)
    )]
    NoVideoData {
        locator: String,
        waited: Duration,
        detail: String,
    },

    #[error("no decoder available for codec `{codec}`")]
    UnsupportedCodec { codec: String },

    #[error("frame of {width}x{height} exceeds the limit of {max_pixels} pixels")]
    FrameTooLarge {
        width: u32,
        height: u32,
        max_pixels: u64,
    },

    #[error("connecting took longer than {0:?}")]
    ConnectTimeout(Duration),

    #[error("no data for {0:?} (stream stalled)")]
    Stalled(Duration),

    #[error("stream read failed: {0}")]
    Read(String),

    #[error("decoding failed: {0}")]
    Decode(String),

    #[error("pixel conversion failed: {0}")]
    Convert(String),

    #[error("the frame source thread could not be started: {0}")]
    Thread(String),
}

pub type Result<T, E = FrameSourceError> = std::result::Result<T, E>;

impl FrameSourceError {
    /// Whether another attempt later could succeed (network, server, stall), as opposed to a
    /// source that will not change (bad URL, not a video, unsupported codec, missing tool,
    /// missing segments, a redirect loop). The decode thread does not reconnect after an error
    /// that is not transient.
    pub fn is_transient(&self) -> bool {
        if let Self::HlsSegmentsUnavailable { transient, .. } = self {
            return *transient;
        }
        matches!(
            self,
            Self::ResolveFailed { .. }
                | Self::Open { .. }
                | Self::ConnectTimeout(_)
                | Self::Stalled(_)
                | Self::Read(_)
                | Self::NoVideoData { .. }
                | Self::Thread(_)
        )
    }
}
