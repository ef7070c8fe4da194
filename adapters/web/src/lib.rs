//! `footfall serve`: a small web server over the results store (SQLite locally, MySQL on AWS).
//!
//! - pages, rendered on the server (askama templates compiled into the binary, charts drawn as
//!   inline SVG, no CDN): the overview (one tile per user, updated live through server-sent
//!   events), a stream page (history chart over a range with the threshold, runs table with
//!   their pictures, CSV export) and a page to manage users;
//! - a JSON API (`/api/users`, `/api/users/{id}/results`), the annotated pictures
//!   (`/api/users/{id}/latest.jpg`, `/api/users/{id}/runs/{run_id}.jpg`), `/healthz` and
//!   `/metrics` (Prometheus);
//! - safety: loopback by default, a token required on any other address (checked on every
//!   route except `/healthz`), CSRF tokens on every form, every stored string escaped and every
//!   stream URL shown without its credentials.
//!
//! [`Server::bind`] then [`Server::run`] (or [`serve`]) run it; [`router`] gives the bare
//! [`axum::Router`] for tests or for mounting elsewhere.

use std::future::Future;
use std::net::SocketAddr;
use std::path::PathBuf;
use std::sync::Arc;
use std::time::Duration;

use axum::Router;
use axum::routing::{get, post};
use results_store::Store;

mod api;
mod auth;
mod live;
mod metrics;
mod pages;
mod pictures;
mod svg;
mod validate;
mod view;

pub use auth::MIN_TOKEN_LEN;
pub use validate::{validate_email, validate_stream_url};

/// The default address: loopback only.
pub const DEFAULT_BIND: &str = "127.0.0.1:8080";
/// The environment variable the CLI reads the token from (`--token` wins).
pub const TOKEN_ENV: &str = "FOOTFALL_SERVE_TOKEN";

/// How the server runs.
#[derive(Debug, Clone)]
pub struct ServeConfig {
    /// Where to listen. Anything but a loopback address needs `token`.
    pub bind: SocketAddr,
    /// The data folder of the local runner (`images/{user_id}/{run_id}.jpg` lives there), so
    /// pictures can be served; `None` (a `--db` URL alone) serves no pictures.
    pub data_dir: Option<PathBuf>,
    /// Required on every route but `/healthz`, as `Authorization: Bearer TOKEN` or the cookie
    /// `/login?token=TOKEN` sets. Mandatory for a non-loopback `bind`; optional on loopback.
    pub token: Option<String>,
    /// How often the store is polled for new results (live updates of the overview).
    pub poll_interval: Duration,
}

impl ServeConfig {
    /// Loopback on the default port, no data folder, no token, a 3 s poll.
    pub fn new(bind: SocketAddr) -> Self {
        Self {
            bind,
            data_dir: None,
            token: None,
            poll_interval: Duration::from_secs(3),
        }
    }

    /// Refuses a non-loopback address without a token, and a token too short to be one.
    pub fn check(&self) -> Result<(), ServeError> {
        if let Some(token) = &self.token
            && token.trim().chars().count() < MIN_TOKEN_LEN
        {
            return Err(ServeError::WeakToken);
        }
        if !self.bind.ip().is_loopback() && self.token.is_none() {
            return Err(ServeError::TokenRequired(self.bind));
        }
        Ok(())
    }
}

impl Default for ServeConfig {
    fn default() -> Self {
        Self::new(DEFAULT_BIND.parse().expect("valid default address"))
    }
}

#[derive(Debug, thiserror::Error)]
pub enum ServeError {
    #[error(
        "{0} is not a loopback address: give a token (--token or {TOKEN_ENV}) so only its holders can read and change users"
    )]
    TokenRequired(SocketAddr),
    #[error("the token must be at least {MIN_TOKEN_LEN} characters long")]
    WeakToken,
    #[error("could not listen on {addr}: {source}")]
    Bind {
        addr: SocketAddr,
        #[source]
        source: std::io::Error,
    },
    #[error("server failed: {0}")]
    Io(#[from] std::io::Error),
}

/// What every handler shares: the store, where pictures are, the token, the per-process CSRF
/// secret and the live-update poller.
#[derive(Clone)]
pub struct AppState {
    inner: Arc<Inner>,
}

struct Inner {
    store: Store,
    data_dir: Option<PathBuf>,
    auth: auth::Auth,
    live: Arc<live::Live>,
}

impl std::fmt::Debug for AppState {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("AppState")
            .field("data_dir", &self.inner.data_dir)
            .field("token", &self.inner.auth.token_required())
            .finish_non_exhaustive()
    }
}

impl AppState {
    /// State over `store` with `config`'s data folder, token and poll interval (`bind` is not
    /// used here).
    pub fn new(store: Store, config: &ServeConfig) -> Self {
        Self {
            inner: Arc::new(Inner {
                store,
                data_dir: config.data_dir.clone(),
                auth: auth::Auth::new(config.token.clone()),
                live: Arc::new(live::Live::new(config.poll_interval)),
            }),
        }
    }

    pub fn store(&self) -> &Store {
        &self.inner.store
    }
}

/// Every route, with the token check (when a token is set) and security headers.
pub fn router(state: AppState) -> Router {
    let routes = Router::new()
        .route("/", get(pages::overview))
        .route("/tiles/{user_id}", get(pages::tile))
        .route("/events", get(live::events))
        .route("/users/{user_id}", get(pages::stream))
        .route("/users/{user_id}/export.csv", get(pages::export_csv))
        .route("/manage", get(pages::manage))
        .route("/manage/users", post(pages::add_user))
        .route(
            "/manage/users/{user_id}/monitoring",
            post(pages::set_monitoring),
        )
        .route(
            "/manage/users/{user_id}/threshold",
            post(pages::set_threshold),
        )
        .route("/static/app.css", get(pages::css))
        .route("/static/app.js", get(pages::js))
        .route("/api/users", get(api::users))
        .route("/api/users/{user_id}/results", get(api::results))
        .route("/api/users/{user_id}/latest.jpg", get(pictures::latest))
        .route("/api/users/{user_id}/runs/{file}", get(pictures::run))
        .route("/metrics", get(metrics::metrics))
        .route("/login", get(auth::login))
        .route("/healthz", get(api::healthz))
        .fallback(pages::not_found);
    routes
        .layer(axum::middleware::from_fn_with_state(
            state.clone(),
            auth::require_token,
        ))
        .layer(axum::middleware::from_fn(auth::security_headers))
        .with_state(state)
}

/// A bound server, not yet accepting: bind first (so a taken port fails before anything else
/// starts), then [`Server::run`].
#[derive(Debug)]
pub struct Server {
    listener: tokio::net::TcpListener,
    addr: SocketAddr,
    state: AppState,
}

impl Server {
    /// Checks `config` (token rule) and listens on `config.bind` (port 0 picks a free port).
    pub async fn bind(store: Store, config: &ServeConfig) -> Result<Self, ServeError> {
        config.check()?;
        let listener = tokio::net::TcpListener::bind(config.bind)
            .await
            .map_err(|source| ServeError::Bind {
                addr: config.bind,
                source,
            })?;
        let addr = listener.local_addr()?;
        Ok(Self {
            listener,
            addr,
            state: AppState::new(store, config),
        })
    }

    /// The address actually bound.
    pub fn local_addr(&self) -> SocketAddr {
        self.addr
    }

    /// Serves until `shutdown` completes, then lets open requests finish (server-sent event
    /// streams are ended).
    pub async fn run(
        self,
        shutdown: impl Future<Output = ()> + Send + 'static,
    ) -> Result<(), ServeError> {
        let live = self.state.inner.live.clone();
        tracing::info!(addr = %self.addr, "footfall serve listening on http://{}", self.addr);
        let app = router(self.state);
        axum::serve(self.listener, app)
            .with_graceful_shutdown(async move {
                shutdown.await;
                live.close();
            })
            .await?;
        Ok(())
    }
}

/// [`Server::bind`] then [`Server::run`].
pub async fn serve(
    store: Store,
    config: &ServeConfig,
    shutdown: impl Future<Output = ()> + Send + 'static,
) -> Result<(), ServeError> {
    Server::bind(store, config).await?.run(shutdown).await
}
