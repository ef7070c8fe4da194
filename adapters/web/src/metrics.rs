//! `GET /metrics`: the store's state in Prometheus' text format (OpenMetrics), read at each
//! scrape (the store is the truth; several servers may share it). The result table keeps no run
//! duration, so the frames analysed by the latest run stand in for the work a run did.

use std::sync::atomic::AtomicU64;

use axum::extract::State;
use axum::http::{StatusCode, header};
use axum::response::{IntoResponse, Response};
use footfall_domain::{Health, UserId};
use prometheus_client::encoding::EncodeLabelSet;
use prometheus_client::encoding::text::encode;
use prometheus_client::metrics::counter::Counter;
use prometheus_client::metrics::family::Family;
use prometheus_client::metrics::gauge::Gauge;
use prometheus_client::registry::Registry;
use results_store::{Store, StoreError};

use crate::AppState;

#[derive(Clone, Debug, Hash, PartialEq, Eq, EncodeLabelSet)]
struct UserLabel {
    user_id: String,
}

#[derive(Clone, Debug, Hash, PartialEq, Eq, EncodeLabelSet)]
struct HealthLabels {
    user_id: String,
    health: String,
}

#[derive(Clone, Debug, Hash, PartialEq, Eq, EncodeLabelSet)]
struct StateLabel {
    state: String,
}

type TimeGauge = Gauge<f64, AtomicU64>;

/// Health states a stream can be in (`no_runs` before its first run).
const HEALTH_STATES: [&str; 6] = [
    "ok",
    "stalled",
    "unavailable",
    "ended_early",
    "error",
    "no_runs",
];

pub(crate) async fn render(store: &Store) -> Result<String, StoreError> {
    let mut registry = Registry::default();
    let people = Family::<UserLabel, Gauge>::default();
    let frames = Family::<UserLabel, Gauge>::default();
    let last_run = Family::<UserLabel, TimeGauge>::default();
    let up = Family::<UserLabel, Gauge>::default();
    let health = Family::<HealthLabels, Gauge>::default();
    let threshold = Family::<UserLabel, Gauge>::default();
    let monitored = Family::<UserLabel, Gauge>::default();
    let last_alert = Family::<UserLabel, TimeGauge>::default();
    let alerts = Family::<StateLabel, Gauge>::default();
    let alerts_sent = Counter::<u64>::default();
    let users_total = Gauge::<i64>::default();

    let users = store.list_users().await?;
    users_total.set(users.len() as i64);
    let latest = futures::future::try_join_all(users.iter().map(|u| async move {
        let latest = store.latest_result(&u.user_id).await?;
        let alert = match UserId::parse(&u.user_id) {
            Ok(id) => store.last_alert(&id).await?,
            Err(_) => None,
        };
        Ok::<_, StoreError>((latest, alert))
    }))
    .await?;
    for (user, (latest, alert)) in users.iter().zip(latest) {
        let label = UserLabel {
            user_id: user.user_id.clone(),
        };
        threshold.get_or_create(&label).set(user.threshold);
        monitored
            .get_or_create(&label)
            .set(i64::from(user.monitored()));
        if let Some(at) = alert {
            last_alert.get_or_create(&label).set(at.timestamp() as f64);
        }
        let state = match &latest {
            None => "no_runs",
            Some(r) => r.health.as_str(),
        };
        for s in HEALTH_STATES {
            health
                .get_or_create(&HealthLabels {
                    user_id: user.user_id.clone(),
                    health: s.to_string(),
                })
                .set(i64::from(s == state));
        }
        let is_up = latest
            .as_ref()
            .is_some_and(|r| r.health == Health::Ok && r.people_count.is_some());
        up.get_or_create(&label).set(i64::from(is_up));
        if let Some(r) = latest {
            // No data is no sample, never 0 people.
            if let Some(n) = r.people_count {
                people.get_or_create(&label).set(i64::from(n));
            }
            frames.get_or_create(&label).set(i64::from(r.frames));
            last_run
                .get_or_create(&label)
                .set(r.taken_at.timestamp() as f64);
        }
    }
    let counts = store.outbox_counts().await?;
    alerts_sent.inc_by(counts.sent);
    for (state, n) in [
        ("pending", counts.pending),
        ("sending", counts.sending),
        ("failed", counts.failed),
        ("unknown", counts.unknown),
    ] {
        alerts
            .get_or_create(&StateLabel {
                state: state.to_string(),
            })
            .set(i64::try_from(n).unwrap_or(i64::MAX));
    }

    registry.register(
        "footfall_people",
        "People counted in the latest run of each stream (absent when it had no data)",
        people,
    );
    registry.register(
        "footfall_stream_up",
        "1 when the latest run of the stream was healthy and counted, else 0",
        up,
    );
    registry.register(
        "footfall_stream_health",
        "The health of each stream's latest run: 1 for its state, 0 for the others",
        health,
    );
    registry.register(
        "footfall_last_run_timestamp_seconds",
        "When the latest run of each stream was taken (unix seconds)",
        last_run,
    );
    registry.register(
        "footfall_run_frames",
        "Frames the latest run of each stream analysed (the store keeps no run duration)",
        frames,
    );
    registry.register(
        "footfall_threshold",
        "Alert threshold of each stream",
        threshold,
    );
    registry.register(
        "footfall_monitored",
        "1 when the scheduler runs the stream, 0 when it is disabled",
        monitored,
    );
    registry.register(
        "footfall_last_alert_timestamp_seconds",
        "When the last alert of each stream went out (unix seconds)",
        last_alert,
    );
    registry.register(
        "footfall_alerts_sent",
        "Alerts delivered (outbox rows in state sent, within the retention window)",
        alerts_sent,
    );
    registry.register(
        "footfall_alerts",
        "Alerts in the outbox not (yet) delivered, by state",
        alerts,
    );
    registry.register("footfall_users", "Users configured", users_total);

    let mut out = String::with_capacity(4096);
    encode(&mut out, &registry).expect("writing to a String cannot fail");
    Ok(out)
}

pub(crate) async fn metrics(State(state): State<AppState>) -> Response {
    match render(state.store()).await {
        Ok(body) => (
            [(
                header::CONTENT_TYPE,
                "application/openmetrics-text; version=1.0.0; charset=utf-8",
            )],
            body,
        )
            .into_response(),
        Err(error) => {
            tracing::error!(%error, "metrics: store failed");
            (
                StatusCode::SERVICE_UNAVAILABLE,
                "# the database could not be read\n",
            )
                .into_response()
        }
    }
}
