//! The checks `footfall users add` makes, without its heavy crates: the CLI parses the URL with
//! `frame_source::SourceSpec::parse` (FFmpeg behind it) and the email with
//! `local_runner::smtp::parse_address` (lettre). These follow the same rules:
//!
//! - stream: trimmed, not empty; text without `scheme://` is a file path (accepted as is); a URL
//!   must parse (`url` crate, as SourceSpec does) with scheme `file` (a local path), `http`,
//!   `https`, `rtsp` or `rtsps`;
//! - email: one plain `local@domain`: no whitespace, control characters, `, ; " < >`; the local
//!   part of dot-atom characters, the domain DNS labels or an `[IP]` literal (lettre's rules),
//!   except that internationalised (non-ASCII) local parts and domains, which lettre accepts
//!   through IDNA, are refused here.

/// Checks a stream as `footfall users add --url` does; returns it trimmed.
pub fn validate_stream_url(text: &str) -> Result<String, String> {
    let trimmed = text.trim();
    if trimmed.is_empty() {
        return Err("the stream is empty".into());
    }
    let Some((scheme, _)) = trimmed.split_once("://") else {
        // A file path, as the CLI takes it.
        return Ok(trimmed.to_string());
    };
    let scheme = scheme.to_ascii_lowercase();
    let url = url::Url::parse(trimmed).map_err(|e| format!("not a valid URL: {e}"))?;
    match scheme.as_str() {
        "file" => {
            url.to_file_path()
                .map_err(|()| "a file:// URL must be a local file path".to_string())?;
        }
        "http" | "https" | "rtsp" | "rtsps" => {}
        other => {
            return Err(format!(
                "unsupported scheme `{other}` (use a file path, http(s), HLS or rtsp(s))"
            ));
        }
    }
    Ok(trimmed.to_string())
}

/// Checks an alert address as `footfall users add --email` does.
pub fn validate_email(text: &str) -> Result<(), String> {
    if text.is_empty() {
        return Err("the email is empty".into());
    }
    if let Some(c) = text
        .chars()
        .find(|c| c.is_whitespace() || c.is_control() || matches!(c, ',' | ';' | '"' | '<' | '>'))
    {
        return Err(format!(
            "one plain address (local@domain) is expected; `{}` is not allowed",
            c.escape_debug()
        ));
    }
    let Some((local, domain)) = text.rsplit_once('@') else {
        return Err("an address needs an `@`".into());
    };
    let atom = |c: char| c.is_ascii_alphanumeric() || "!#$%&'*+/=?^_`{|}~-.".contains(c);
    if local.is_empty() || !local.chars().all(atom) {
        return Err(format!("invalid local part `{local}`"));
    }
    if !(valid_domain(domain) || valid_literal(domain)) {
        return Err(format!("invalid domain `{domain}`"));
    }
    Ok(())
}

fn valid_domain(domain: &str) -> bool {
    !domain.is_empty()
        && domain.len() <= 253
        && domain.split('.').all(|label| {
            !label.is_empty()
                && label.len() <= 63
                && !label.starts_with('-')
                && !label.ends_with('-')
                && label.chars().all(|c| c.is_ascii_alphanumeric() || c == '-')
        })
}

fn valid_literal(domain: &str) -> bool {
    domain
        .strip_prefix('[')
        .and_then(|d| d.strip_suffix(']'))
        .is_some_and(|ip| {
            ip.parse::<std::net::Ipv4Addr>().is_ok()
                || ip
                    .strip_prefix("IPv6:")
                    .is_some_and(|v6| v6.parse::<std::net::Ipv6Addr>().is_ok())
        })
}

/// A threshold as the CLI takes it (`--threshold`, a u32).
pub(crate) fn parse_threshold(text: &str) -> Result<u32, String> {
    text.trim().parse::<u32>().map_err(|_| {
        format!(
            "threshold `{text}` is not a whole number from 0 to {}",
            u32::MAX
        )
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn streams() {
        for ok in [
            "videos/people.mp4",
            "/abs/a.mp4",
            "http://h/a.m3u8",
            "HTTPS://h/x",
            "rtsp://u:p@cam:554/s",
            "rtsps://cam/s",
            "file:///tmp/a.mp4",
            "  http://h/a.m3u8  ",
        ] {
            assert!(validate_stream_url(ok).is_ok(), "{ok}");
        }
        assert_eq!(validate_stream_url(" http://h/a ").unwrap(), "http://h/a");
        for bad in [
            "",
            "   ",
            "ftp://h/a",
            "http://",
            "javascript://x",
            "file://host/a",
        ] {
            assert!(validate_stream_url(bad).is_err(), "{bad}");
        }
    }

    #[test]
    fn emails() {
        for ok in [
            "a@b.c",
            "first.last+tag@shop-1.example.com",
            "x@[10.0.0.1]",
            "x@localhost",
        ] {
            assert!(validate_email(ok).is_ok(), "{ok}");
        }
        for bad in [
            "",
            "a",
            "@b.c",
            "a@",
            "a b@c.d",
            "a@b.c, d@e.f",
            "Name <a@b.c>",
            "a@b.c\r\nBcc: x@y.z",
            "\"q\"@b.c",
            "a@-b.c",
            "a@b..c",
            "a;b@c.d",
        ] {
            assert!(validate_email(bad).is_err(), "{bad:?}");
        }
    }

    #[test]
    fn thresholds() {
        assert_eq!(parse_threshold(" 15 "), Ok(15));
        assert!(parse_threshold("-1").is_err());
        assert!(parse_threshold("ten").is_err());
    }
}
