//! Field validators: user ids, emails, stream URLs (scheme allow-list and SSRF checks).

use std::net::{IpAddr, Ipv4Addr, Ipv6Addr, ToSocketAddrs};

use url::{Host, Url};

use crate::PayloadError;

/// Longest accepted `user_id` (it becomes an S3 key component and a CSV file name).
pub const MAX_USER_ID_LEN: usize = 64;
/// Longest accepted email address (RFC 5321 path limit).
pub const MAX_EMAIL_LEN: usize = 254;
/// Longest accepted stream URL.
pub const MAX_URL_LEN: usize = 2048;

/// What the validators accept. One policy per deployment; the default is the strict one.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ValidationPolicy {
    /// URL schemes a stream may use (lower case).
    pub allowed_schemes: Vec<String>,
    /// Accept loopback, private, link-local and other non-public addresses as stream hosts.
    /// Off by default (SSRF); tests on loopback turn it on.
    pub allow_private_hosts: bool,
    /// Most users one EventBridge payload may carry.
    pub max_users: usize,
    /// Largest raw event (bytes) the controller parses.
    pub max_event_bytes: usize,
    /// Largest base64 `processed_detection_image` (characters) the notification path accepts.
    pub max_image_base64_len: usize,
}

impl Default for ValidationPolicy {
    fn default() -> Self {
        Self {
            allowed_schemes: vec!["http".into(), "https".into(), "rtsp".into()],
            allow_private_hosts: false,
            max_users: 1000,
            max_event_bytes: 1024 * 1024,
            max_image_base64_len: 8 * 1024 * 1024,
        }
    }
}

/// `user_id`: the domain's rule ([`footfall_domain::UserId::parse`]: 1..=64 characters from
/// `[A-Za-z0-9_.@-]`, not starting with `.` or `-`, no `..`), so a payload accepts exactly the
/// ids the results store and the local runner accept. It becomes an S3 key and a CSV file name.
pub fn user_id(field: &str, v: &str) -> Result<(), PayloadError> {
    footfall_domain::UserId::parse(v)
        .map(|_| ())
        .map_err(|e| PayloadError::invalid(field, e.reason))
}

/// A pragmatic email syntax check (dot-atom local part, DNS domain with a TLD).
pub fn email(field: &str, v: &str) -> Result<(), PayloadError> {
    let bad = |reason: &str| Err(PayloadError::invalid(field, reason));
    if v.is_empty() {
        return bad("must not be empty");
    }
    if v.len() > MAX_EMAIL_LEN {
        return bad(&format!("longer than {MAX_EMAIL_LEN} characters"));
    }
    let Some((local, domain)) = v.split_once('@') else {
        return bad("missing '@'");
    };
    if domain.contains('@') {
        return bad("more than one '@'");
    }
    if local.is_empty() || local.len() > 64 {
        return bad("local part must be 1..=64 characters");
    }
    const LOCAL_SPECIALS: &str = ".!#$%&'*+/=?^_`{|}~-";
    if !local
        .chars()
        .all(|c| c.is_ascii_alphanumeric() || LOCAL_SPECIALS.contains(c))
    {
        return bad("local part has a character outside the allowed set");
    }
    if local.starts_with('.') || local.ends_with('.') || local.contains("..") {
        return bad("local part has a misplaced '.'");
    }
    let labels: Vec<&str> = domain.split('.').collect();
    if labels.len() < 2 {
        return bad("domain needs at least one '.'");
    }
    for label in &labels {
        if label.is_empty() || label.len() > 63 {
            return bad("domain label must be 1..=63 characters");
        }
        if !label.chars().all(|c| c.is_ascii_alphanumeric() || c == '-')
            || label.starts_with('-')
            || label.ends_with('-')
        {
            return bad("domain label has an invalid character");
        }
    }
    let tld = labels[labels.len() - 1];
    if tld.len() < 2 || !tld.chars().all(|c| c.is_ascii_alphabetic()) {
        return bad("top-level domain must be alphabetic, at least 2 letters");
    }
    Ok(())
}

/// Stream URL: parses, scheme in the allow-list, has a host, and (unless the policy allows it)
/// the host is not a loopback/private/link-local/metadata address or name.
pub fn stream_url(field: &str, v: &str, policy: &ValidationPolicy) -> Result<Url, PayloadError> {
    let bad = |reason: String| Err(PayloadError::invalid(field, reason));
    if v.len() > MAX_URL_LEN {
        return bad(format!("longer than {MAX_URL_LEN} characters"));
    }
    if v.chars().any(|c| c.is_control() || c.is_whitespace()) {
        return bad("contains whitespace or control characters".into());
    }
    let url = match Url::parse(v) {
        Ok(u) => u,
        Err(e) => return bad(format!("not a valid URL: {e}")),
    };
    let scheme = url.scheme();
    if !policy.allowed_schemes.iter().any(|s| s == scheme) {
        return bad(format!(
            "scheme '{scheme}' not allowed (allowed: {})",
            policy.allowed_schemes.join(", ")
        ));
    }
    let host = match url.host() {
        Some(h) => h,
        None => return bad("URL has no host".into()),
    };
    if policy.allow_private_hosts {
        return Ok(url);
    }
    let ip = match host {
        Host::Ipv4(a) => Some(IpAddr::V4(a)),
        Host::Ipv6(a) => Some(IpAddr::V6(a)),
        Host::Domain(d) => {
            // Non-special schemes (rtsp) keep the host opaque: catch numeric forms that a
            // resolver would turn into an address (127.1, 2130706433, 0x7f.0.0.1, [::1]).
            let d = d.trim_end_matches('.').to_ascii_lowercase();
            if let Some(inner) = d.strip_prefix('[').and_then(|s| s.strip_suffix(']')) {
                match inner.parse::<Ipv6Addr>() {
                    Ok(a) => Some(IpAddr::V6(a)),
                    Err(_) => return bad("malformed IPv6 host".into()),
                }
            } else if let Some(a) = parse_inet_aton(&d) {
                Some(IpAddr::V4(a))
            } else {
                if is_internal_name(&d) {
                    return bad(format!("host '{d}' is an internal name (SSRF protection)"));
                }
                None
            }
        }
    };
    if let Some(ip) = ip
        && !is_public_ip(ip)
    {
        return bad(format!(
            "host {ip} is not a public address (loopback, private, link-local or reserved; SSRF protection)"
        ));
    }
    Ok(url)
}

/// Resolve the URL's host and check every address it resolves to (DNS-rebinding defence; call it
/// right before connecting). A no-op when the policy allows private hosts.
pub fn check_resolved(
    field: &str,
    url: &Url,
    policy: &ValidationPolicy,
) -> Result<(), PayloadError> {
    if policy.allow_private_hosts {
        return Ok(());
    }
    let Some(host) = url.host_str() else {
        return Err(PayloadError::invalid(field, "URL has no host"));
    };
    let host = host.trim_start_matches('[').trim_end_matches(']');
    let port = url.port_or_known_default().unwrap_or(554);
    let addrs = (host, port)
        .to_socket_addrs()
        .map_err(|e| PayloadError::invalid(field, format!("host does not resolve: {e}")))?;
    for a in addrs {
        if !is_public_ip(a.ip()) {
            return Err(PayloadError::invalid(
                field,
                format!(
                    "host resolves to non-public address {} (SSRF protection)",
                    a.ip()
                ),
            ));
        }
    }
    Ok(())
}

fn is_internal_name(d: &str) -> bool {
    d == "localhost"
        || d.ends_with(".localhost")
        || d.ends_with(".internal")
        || d.ends_with(".local")
        || d == "instance-data"
        || !d.contains('.')
}

/// inet_aton-style IPv4 parsing (1 to 4 parts, decimal, 0x-hex or 0-octal), as libc resolvers do.
fn parse_inet_aton(s: &str) -> Option<Ipv4Addr> {
    let parts: Vec<&str> = s.split('.').collect();
    if parts.is_empty() || parts.len() > 4 {
        return None;
    }
    let mut nums = Vec::with_capacity(parts.len());
    for p in &parts {
        if p.is_empty() {
            return None;
        }
        let n = if let Some(h) = p.strip_prefix("0x") {
            if h.is_empty() {
                0
            } else {
                u64::from_str_radix(h, 16).ok()?
            }
        } else if p.len() > 1 && p.starts_with('0') {
            u64::from_str_radix(&p[1..], 8).ok()?
        } else {
            p.parse::<u64>().ok()?
        };
        nums.push(n);
    }
    let (last, head) = nums.split_last()?;
    if head.iter().any(|&n| n > 255) {
        return None;
    }
    let rest_bits = 8 * (4 - head.len() as u32);
    if rest_bits < 64 && *last >= (1u64 << rest_bits) {
        return None;
    }
    let mut v: u64 = 0;
    for (i, n) in head.iter().enumerate() {
        v |= n << (24 - 8 * i as u32);
    }
    v |= last;
    Some(Ipv4Addr::from(v as u32))
}

/// True for globally routable unicast addresses.
pub fn is_public_ip(ip: IpAddr) -> bool {
    match ip {
        IpAddr::V4(a) => is_public_v4(a),
        IpAddr::V6(a) => {
            if let Some(v4) = a.to_ipv4_mapped() {
                return is_public_v4(v4);
            }
            let seg0 = a.segments()[0];
            !(a.is_loopback()
                || a.is_unspecified()
                || a.is_multicast()
                || (seg0 & 0xfe00) == 0xfc00 // unique local fc00::/7
                || (seg0 & 0xffc0) == 0xfe80 // link-local fe80::/10
                || (seg0 & 0xffc0) == 0xfec0 // site-local (deprecated)
                || (seg0 == 0x2001 && a.segments()[1] == 0x0db8) // documentation
                || (seg0 == 0x64 && a.segments()[1] == 0xff9b) // NAT64 (embeds v4)
                || (a.segments()[..6] == [0, 0, 0, 0, 0, 0])) // IPv4-compatible
        }
    }
}

fn is_public_v4(a: Ipv4Addr) -> bool {
    let o = a.octets();
    !(a.is_loopback()
        || a.is_private()
        || a.is_link_local()
        || a.is_unspecified()
        || a.is_broadcast()
        || a.is_multicast()
        || a.is_documentation()
        || o[0] == 0
        || (o[0] == 100 && (o[1] & 0xc0) == 64) // carrier-grade NAT 100.64/10
        || (o[0] == 192 && o[1] == 0 && o[2] == 0) // IETF protocol assignments
        || (o[0] == 198 && (o[1] & 0xfe) == 18) // benchmarking 198.18/15
        || o[0] >= 240) // reserved
}

#[cfg(test)]
mod tests {
    use super::*;

    fn strict() -> ValidationPolicy {
        ValidationPolicy::default()
    }

    #[test]
    fn user_ids() {
        // The rule itself is footfall-domain's (`UserId::parse`, tested there); here: that the
        // payloads apply it and name the field.
        for ok in ["user_1", "alice@shop1"] {
            user_id("user_id", ok).unwrap();
        }
        for bad in ["../etc", "-x", "a..b", ""] {
            let e = user_id("user_id", bad).unwrap_err();
            assert_eq!(e.field(), "user_id", "{bad:?}");
        }
    }

    #[test]
    fn emails() {
        for ok in [
            "user@example.com",
            "a.b+tag@sub.example.co.uk",
            "x_y@ex-ample.org",
        ] {
            email("email", ok).unwrap();
        }
        for bad in [
            "",
            "plain",
            "@example.com",
            "a@",
            "a@b",
            "a@@b.com",
            "a b@example.com",
            ".a@example.com",
            "a..b@example.com",
            "a@-ex.com",
            "a@example.c0m",
            "a@example.com\n",
            "a@exa mple.com",
        ] {
            let e = email("email", bad).unwrap_err();
            assert_eq!(e.field(), "email", "{bad:?}");
        }
    }

    #[test]
    fn urls_accepted() {
        for ok in [
            "https://cdn.example.com/live/stream.m3u8",
            "http://203.0.113.9.nip.io/x",
            "rtsp://user:pw@camera.example.net:554/stream1",
            "http://8.8.8.8/live.m3u8",
        ] {
            stream_url("streaming_URL", ok, &strict()).unwrap();
        }
    }

    #[test]
    fn urls_rejected_ssrf_and_schemes() {
        for bad in [
            "file:///etc/passwd",
            "gopher://example.com/",
            "ftp://example.com/x",
            "http://127.0.0.1/x",
            "http://localhost:8080/x",
            "http://LOCALHOST./x",
            "http://169.254.169.254/latest/meta-data/",
            "http://[::1]/x",
            "http://[fe80::1]/x",
            "http://[::ffff:127.0.0.1]/x",
            "http://[fd00::1]/x",
            "http://10.0.0.5/x",
            "http://172.16.3.4/x",
            "http://192.168.1.1/x",
            "http://100.64.0.1/x",
            "http://0.0.0.0/x",
            "http://2130706433/x",
            "http://0x7f.1/x",
            "rtsp://127.1/x",
            "rtsp://2130706433/x",
            "rtsp://0177.0.0.1/x",
            "rtsp://[::1]/x",
            "rtsp://metadata.google.internal/x",
            "rtsp://camera/x",
            "http:///nohost",
            "not a url",
            "https://example.com/a b",
        ] {
            let e = stream_url("streaming_URL", bad, &strict()).unwrap_err();
            assert_eq!(e.field(), "streaming_URL", "{bad:?} gave {e}");
        }
        let long = format!("https://example.com/{}", "a".repeat(MAX_URL_LEN));
        assert!(stream_url("streaming_URL", &long, &strict()).is_err());
    }

    #[test]
    fn private_hosts_when_allowed() {
        let p = ValidationPolicy {
            allow_private_hosts: true,
            ..strict()
        };
        stream_url("streaming_URL", "http://127.0.0.1:8080/people.m3u8", &p).unwrap();
        // The scheme allow-list still applies.
        assert!(stream_url("streaming_URL", "file:///etc/passwd", &p).is_err());
    }

    #[test]
    fn resolution_check() {
        let u = Url::parse("http://localhost/x").unwrap();
        assert!(check_resolved("streaming_URL", &u, &strict()).is_err());
        let u = Url::parse("http://127.0.0.1/x").unwrap();
        assert!(check_resolved("streaming_URL", &u, &strict()).is_err());
    }

    #[test]
    fn inet_aton_forms() {
        assert_eq!(parse_inet_aton("127.1"), Some(Ipv4Addr::new(127, 0, 0, 1)));
        assert_eq!(
            parse_inet_aton("2130706433"),
            Some(Ipv4Addr::new(127, 0, 0, 1))
        );
        assert_eq!(
            parse_inet_aton("0x7f.0.0.1"),
            Some(Ipv4Addr::new(127, 0, 0, 1))
        );
        assert_eq!(
            parse_inet_aton("0177.0.0.1"),
            Some(Ipv4Addr::new(127, 0, 0, 1))
        );
        assert_eq!(parse_inet_aton("example.com"), None);
        assert_eq!(parse_inet_aton("1.2.3.4.5"), None);
        assert_eq!(parse_inet_aton("256.1.1.1"), None);
    }
}
