//! The token check, the login cookie, CSRF tokens and security headers.
//!
//! - With a token configured, every route but `/healthz` (and `/login` itself) needs
//!   `Authorization: Bearer TOKEN` or the `footfall_session` cookie that `/login?token=TOKEN`
//!   sets. The cookie holds an HMAC of the token, not the token, so it survives restarts
//!   without exposing it.
//! - Every form carries a CSRF token: `{unix seconds}.{HMAC(per-process secret, seconds)}`,
//!   valid for a day; a POST without a valid one is refused with 403.

use axum::extract::{Query, Request, State};
use axum::http::header::{self, HeaderValue};
use axum::http::{HeaderMap, StatusCode};
use axum::middleware::Next;
use axum::response::{IntoResponse, Redirect, Response};
use hmac::{Hmac, Mac};
use sha2::Sha256;

use crate::AppState;

/// Shortest token accepted.
pub const MIN_TOKEN_LEN: usize = 16;
const COOKIE: &str = "footfall_session";
/// How long a form stays submittable.
const CSRF_MAX_AGE_SECS: i64 = 24 * 3600;

type HmacSha256 = Hmac<Sha256>;

pub(crate) struct Auth {
    token: Option<String>,
    /// The cookie value proving the token (HMAC keyed by the token).
    session: Option<String>,
    csrf_secret: [u8; 32],
}

fn mac(key: &[u8], message: &[u8]) -> Vec<u8> {
    let mut mac = HmacSha256::new_from_slice(key).expect("HMAC takes any key length");
    mac.update(message);
    mac.finalize().into_bytes().to_vec()
}

fn hex(bytes: &[u8]) -> String {
    bytes.iter().map(|b| format!("{b:02x}")).collect()
}

/// Compares without an early exit, so timing tells nothing about the expected value.
fn same(a: &[u8], b: &[u8]) -> bool {
    a.len() == b.len() && a.iter().zip(b).fold(0u8, |acc, (x, y)| acc | (x ^ y)) == 0
}

impl Auth {
    pub(crate) fn new(token: Option<String>) -> Self {
        let token = token.map(|t| t.trim().to_string());
        let mut csrf_secret = [0u8; 32];
        // Without OS randomness the CSRF secret would be guessable: refuse to run.
        getrandom::fill(&mut csrf_secret).expect("the OS random source is available");
        Self {
            session: token
                .as_ref()
                .map(|t| hex(&mac(t.as_bytes(), b"footfall-serve-session-v1"))),
            token,
            csrf_secret,
        }
    }

    pub(crate) fn token_required(&self) -> bool {
        self.token.is_some()
    }

    fn accepts(&self, headers: &HeaderMap) -> bool {
        let (Some(token), Some(session)) = (&self.token, &self.session) else {
            return true;
        };
        let bearer = headers
            .get_all(header::AUTHORIZATION)
            .iter()
            .filter_map(|v| v.to_str().ok())
            .filter_map(|v| v.strip_prefix("Bearer "))
            .any(|given| same(given.trim().as_bytes(), token.as_bytes()));
        bearer
            || cookies(headers)
                .filter(|(name, _)| *name == COOKIE)
                .any(|(_, value)| same(value.as_bytes(), session.as_bytes()))
    }

    /// A CSRF token for a form rendered at `now` (unix seconds).
    pub(crate) fn csrf_token_at(&self, now: i64) -> String {
        format!(
            "{now}.{}",
            hex(&mac(&self.csrf_secret, now.to_string().as_bytes()))
        )
    }

    pub(crate) fn csrf_token(&self) -> String {
        self.csrf_token_at(chrono::Utc::now().timestamp())
    }

    /// Whether `given` is a token this process issued in the last day.
    pub(crate) fn csrf_valid(&self, given: &str) -> bool {
        let Some((seconds, _)) = given.split_once('.') else {
            return false;
        };
        let Ok(issued) = seconds.parse::<i64>() else {
            return false;
        };
        let age = chrono::Utc::now().timestamp() - issued;
        if !(-60..=CSRF_MAX_AGE_SECS).contains(&age) {
            return false;
        }
        same(self.csrf_token_at(issued).as_bytes(), given.as_bytes())
    }
}

fn cookies(headers: &HeaderMap) -> impl Iterator<Item = (&str, &str)> {
    headers
        .get_all(header::COOKIE)
        .iter()
        .filter_map(|v| v.to_str().ok())
        .flat_map(|v| v.split(';'))
        .filter_map(|pair| pair.trim().split_once('='))
}

/// Refuses every request without the token, except `/healthz` and `/login`.
pub(crate) async fn require_token(
    State(state): State<AppState>,
    request: Request,
    next: Next,
) -> Response {
    let path = request.uri().path();
    let auth = &state.inner.auth;
    if path == "/healthz" || path == "/login" || auth.accepts(request.headers()) {
        return next.run(request).await;
    }
    let machine = path.starts_with("/api/") || path == "/metrics" || path == "/events";
    let mut response = if machine {
        (
            StatusCode::UNAUTHORIZED,
            axum::Json(serde_json::json!({
                "error": "a token is required: send `Authorization: Bearer TOKEN`"
            })),
        )
            .into_response()
    } else {
        (StatusCode::UNAUTHORIZED, crate::pages::login_page(None)).into_response()
    };
    response.headers_mut().insert(
        header::WWW_AUTHENTICATE,
        HeaderValue::from_static("Bearer realm=\"footfall\""),
    );
    response
}

#[derive(serde::Deserialize)]
pub(crate) struct LoginQuery {
    token: Option<String>,
}

/// `/login?token=TOKEN`: sets the session cookie and goes to the overview; without a token (or
/// without one configured) shows the form or goes home.
pub(crate) async fn login(
    State(state): State<AppState>,
    Query(query): Query<LoginQuery>,
) -> Response {
    let auth = &state.inner.auth;
    let (Some(token), Some(session)) = (&auth.token, &auth.session) else {
        return Redirect::to("/").into_response();
    };
    let Some(given) = query.token else {
        return crate::pages::login_page(None).into_response();
    };
    if !same(given.trim().as_bytes(), token.as_bytes()) {
        return (
            StatusCode::UNAUTHORIZED,
            crate::pages::login_page(Some("That token is not the one this server was given.")),
        )
            .into_response();
    }
    let cookie = format!("{COOKIE}={session}; Path=/; HttpOnly; SameSite=Strict; Max-Age=31536000");
    let mut response = Redirect::to("/").into_response();
    response.headers_mut().insert(
        header::SET_COOKIE,
        HeaderValue::from_str(&cookie).expect("hex cookie is a valid header"),
    );
    response
}

/// No framing (the forms change users), no sniffing, no referrer (a login URL holds the
/// token), and only this server's own scripts and styles.
pub(crate) async fn security_headers(request: Request, next: Next) -> Response {
    let mut response = next.run(request).await;
    let headers = response.headers_mut();
    headers.insert(
        header::CONTENT_SECURITY_POLICY,
        HeaderValue::from_static(
            "default-src 'self'; img-src 'self' data:; style-src 'self'; script-src 'self'; \
             frame-ancestors 'none'; form-action 'self'; base-uri 'none'",
        ),
    );
    headers.insert(
        header::X_CONTENT_TYPE_OPTIONS,
        HeaderValue::from_static("nosniff"),
    );
    headers.insert(header::X_FRAME_OPTIONS, HeaderValue::from_static("DENY"));
    headers.insert(
        header::REFERRER_POLICY,
        HeaderValue::from_static("no-referrer"),
    );
    response
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn csrf_tokens_are_checked() {
        let auth = Auth::new(None);
        let token = auth.csrf_token();
        assert!(auth.csrf_valid(&token));
        assert!(!auth.csrf_valid(""));
        assert!(!auth.csrf_valid("123.abc"));
        // Another process (another secret) issued it.
        assert!(!Auth::new(None).csrf_valid(&token));
        // Too old.
        let old = auth.csrf_token_at(chrono::Utc::now().timestamp() - CSRF_MAX_AGE_SECS - 10);
        assert!(!auth.csrf_valid(&old));
        // Tampered time.
        let (_, mac) = token.split_once('.').unwrap();
        assert!(!auth.csrf_valid(&format!("1.{mac}")));
    }

    #[test]
    fn bearer_and_cookie() {
        let auth = Auth::new(Some("0123456789abcdef".into()));
        let mut headers = HeaderMap::new();
        assert!(!auth.accepts(&headers));
        headers.insert(header::AUTHORIZATION, "Bearer wrong".parse().unwrap());
        assert!(!auth.accepts(&headers));
        headers.insert(
            header::AUTHORIZATION,
            "Bearer 0123456789abcdef".parse().unwrap(),
        );
        assert!(auth.accepts(&headers));
        let mut headers = HeaderMap::new();
        let cookie = format!("a=b; {COOKIE}={}", auth.session.as_ref().unwrap());
        headers.insert(header::COOKIE, cookie.parse().unwrap());
        assert!(auth.accepts(&headers));
        // The raw token is not a session.
        let mut headers = HeaderMap::new();
        let cookie = format!("{COOKIE}=0123456789abcdef");
        headers.insert(header::COOKIE, cookie.parse().unwrap());
        assert!(!auth.accepts(&headers));
    }
}
