//! Stream URLs as they may be shown, stored or logged: without credentials.
//!
//! A camera URL often carries its password (`rtsp://admin:secret@cam/…`) or a signed token
//! (`…/live.m3u8?token=…`, S3's `X-Amz-Signature=…`). The job opens the stream with the full URL;
//! everything a person or another system can read (the result's `source`, the CSV, alert
//! emails, logs, reports) gets [`redact_url`]'s copy.

use std::borrow::Cow;

/// What replaces a secret.
pub const REDACTED: &str = "***";

/// Query parameter names (compared case-insensitively, by substring) whose values are secrets.
const SECRET_PARAMS: [&str; 13] = [
    "token",
    "key",
    "sig",
    "secret",
    "pass",
    "pwd",
    "auth",
    "credential",
    "session",
    "hmac",
    "hash",
    "ticket",
    "jwt",
];

/// `url` with the userinfo (`user:pass@`) and the values of secret-looking query parameters
/// replaced by [`REDACTED`]. Text that is not a `scheme://` URL (a file path) is returned as is.
///
/// ```
/// use footfall_domain::redact_url;
/// assert_eq!(
///     redact_url("rtsp://admin:hunter2@cam.local:554/live?channel=1&token=abc"),
///     "rtsp://***@cam.local:554/live?channel=1&token=***"
/// );
/// assert_eq!(redact_url("videos/people.mp4"), "videos/people.mp4");
/// ```
pub fn redact_url(url: &str) -> Cow<'_, str> {
    let Some(scheme_end) = url.find("://") else {
        return Cow::Borrowed(url);
    };
    let scheme = &url[..scheme_end];
    if scheme.is_empty()
        || !scheme
            .chars()
            .all(|c| c.is_ascii_alphanumeric() || matches!(c, '+' | '-' | '.'))
    {
        return Cow::Borrowed(url);
    }
    let rest = &url[scheme_end + 3..];
    let authority_end = rest.find(['/', '?', '#']).unwrap_or(rest.len());
    let (authority, tail) = rest.split_at(authority_end);
    // The last `@` ends the userinfo (a password may itself hold an unescaped `@`).
    let host = match authority.rfind('@') {
        Some(at) => Cow::Owned(format!("{REDACTED}@{}", &authority[at + 1..])),
        None => Cow::Borrowed(authority),
    };
    let (path_and_query, fragment) = match tail.find('#') {
        Some(hash) => tail.split_at(hash),
        None => (tail, ""),
    };
    let (path, query) = match path_and_query.find('?') {
        Some(question) => (
            &path_and_query[..question],
            Some(&path_and_query[question + 1..]),
        ),
        None => (path_and_query, None),
    };
    let query = query.map(redact_query);
    let changed = matches!(host, Cow::Owned(_)) || matches!(query, Some(Cow::Owned(_)));
    if !changed {
        return Cow::Borrowed(url);
    }
    let mut out = String::with_capacity(url.len());
    out.push_str(&url[..scheme_end + 3]);
    out.push_str(&host);
    out.push_str(path);
    if let Some(query) = query {
        out.push('?');
        out.push_str(&query);
    }
    out.push_str(fragment);
    Cow::Owned(out)
}

fn redact_query(query: &str) -> Cow<'_, str> {
    let secret = |name: &str| {
        let name = name.to_ascii_lowercase();
        SECRET_PARAMS.iter().any(|word| name.contains(word))
    };
    if !query
        .split('&')
        .any(|pair| pair.split_once('=').is_some_and(|(name, _)| secret(name)))
    {
        return Cow::Borrowed(query);
    }
    let pairs: Vec<String> = query
        .split('&')
        .map(|pair| match pair.split_once('=') {
            Some((name, _)) if secret(name) => format!("{name}={REDACTED}"),
            _ => pair.to_string(),
        })
        .collect();
    Cow::Owned(pairs.join("&"))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn credentials_and_tokens_are_hidden_everything_else_kept() {
        let cases = [
            ("http://user:pass@host/a.m3u8", "http://***@host/a.m3u8"),
            ("rtsp://admin@10.0.0.5:554/s", "rtsp://***@10.0.0.5:554/s"),
            // An unescaped `@` in the password: the whole userinfo goes.
            ("http://u:p@ss@host:8080/", "http://***@host:8080/"),
            (
                "https://cdn.example/live.m3u8?token=abc&quality=hd",
                "https://cdn.example/live.m3u8?token=***&quality=hd",
            ),
            (
                "https://b.s3.amazonaws.com/v.mp4?X-Amz-Credential=AK%2F1&X-Amz-Signature=ff&X-Amz-Expires=60",
                "https://b.s3.amazonaws.com/v.mp4?X-Amz-Credential=***&X-Amz-Signature=***&X-Amz-Expires=60",
            ),
            (
                "http://h/p?api_key=1&Password=2&sessionid=3#frag",
                "http://h/p?api_key=***&Password=***&sessionid=***#frag",
            ),
            // An `@` after the authority is not userinfo.
            (
                "https://www.youtube.com/@channel/live",
                "https://www.youtube.com/@channel/live",
            ),
            ("http://host/a.m3u8?t=1", "http://host/a.m3u8?t=1"),
            ("/videos/a.mp4", "/videos/a.mp4"),
            ("C:\\videos\\a.mp4", "C:\\videos\\a.mp4"),
            ("", ""),
        ];
        for (url, expected) in cases {
            assert_eq!(redact_url(url), expected, "{url}");
        }
    }

    #[test]
    fn clean_urls_are_not_copied() {
        assert!(matches!(
            redact_url("https://example.com/live.m3u8?x=1"),
            Cow::Borrowed(_)
        ));
    }
}
