//! What the pages show, read from the store: tiles, ranges, runs and times.

use chrono::{DateTime, Duration, Utc};
use footfall_domain::{Health, ResultRecord, redact_url};
use results_store::{Store, StoreError, User};

use crate::svg::{self, Point};

/// A time as shown: ISO for machines, a short UTC text and how long ago.
#[derive(Debug, Clone)]
pub(crate) struct Stamp {
    pub iso: String,
    pub text: String,
    pub ago: String,
}

impl Stamp {
    pub(crate) fn new(t: DateTime<Utc>, now: DateTime<Utc>) -> Self {
        Self {
            iso: t.to_rfc3339_opts(chrono::SecondsFormat::Secs, true),
            text: t.format("%Y-%m-%d %H:%M UTC").to_string(),
            ago: ago(now - t),
        }
    }
}

pub(crate) fn ago(d: Duration) -> String {
    let s = d.num_seconds();
    if s < -60 {
        "in the future".into()
    } else if s < 60 {
        "just now".into()
    } else if s < 3600 {
        format!("{} min ago", s / 60)
    } else if s < 48 * 3600 {
        format!("{} h ago", s / 3600)
    } else {
        format!("{} days ago", s / 86_400)
    }
}

/// The state of a stream as a tile shows it: a CSS class and words.
#[derive(Debug, Clone)]
pub(crate) struct Status {
    /// `ok`, `over`, `warn`, `nodata` or `none`.
    pub class: &'static str,
    pub label: String,
}

pub(crate) fn health_words(health: Health) -> &'static str {
    match health {
        Health::Ok => "healthy",
        Health::Stalled => "stream stalled",
        Health::Unavailable => "stream unavailable",
        Health::EndedEarly => "stream ended early",
        Health::Error => "job error",
    }
}

/// A run with no count is "no data", never 0; a count above the threshold stands out.
pub(crate) fn status(latest: Option<&ResultRecord>, threshold: u32) -> Status {
    match latest {
        None => Status {
            class: "none",
            label: "no runs yet".into(),
        },
        Some(r) => match (r.people_count, r.health) {
            (None, health) => Status {
                class: "nodata",
                label: format!("no data: {}", health_words(health)),
            },
            (Some(n), Health::Ok) if n > threshold => Status {
                class: "over",
                label: format!("over threshold ({threshold})"),
            },
            (Some(_), Health::Ok) => Status {
                class: "ok",
                label: "healthy".into(),
            },
            (Some(_), health) => Status {
                class: "warn",
                label: health_words(health).into(),
            },
        },
    }
}

/// One user on the overview.
#[derive(Debug, Clone)]
pub(crate) struct Tile {
    pub user_id: String,
    /// The stream without credentials.
    pub source: String,
    pub monitored: bool,
    pub threshold: u32,
    pub count: Option<u32>,
    pub status: Status,
    pub last_run: Option<Stamp>,
    pub last_alert: Option<Stamp>,
    /// The thumbnail's URL, when a picture was kept and pictures are served.
    pub picture: Option<String>,
    pub sparkline: String,
}

pub(crate) fn threshold_of(user: &User) -> u32 {
    u32::try_from(user.threshold).unwrap_or(0)
}

pub(crate) fn points(records: &[ResultRecord]) -> Vec<Point> {
    records
        .iter()
        .map(|r| Point {
            t: r.taken_at,
            people: r.people_count,
        })
        .collect()
}

pub(crate) async fn tile(
    store: &Store,
    user: &User,
    pictures: bool,
    now: DateTime<Utc>,
) -> Result<Tile, StoreError> {
    let id = user.user_id.as_str();
    let from = now - Duration::hours(24);
    let user_id = footfall_domain::UserId::parse(id).ok();
    let (latest, picture, day, alert) = futures::try_join!(
        store.latest_result(id),
        async {
            if pictures {
                store.latest_picture(id).await
            } else {
                Ok(None)
            }
        },
        store.results_between(id, Some(from), Some(now + Duration::minutes(1)), None),
        async {
            match &user_id {
                Some(uid) => store.last_alert(uid).await,
                None => Ok(None),
            }
        },
    )?;
    let threshold = threshold_of(user);
    Ok(Tile {
        user_id: user.user_id.clone(),
        source: redact_url(&user.streaming_url).into_owned(),
        monitored: user.monitored(),
        threshold,
        count: latest.as_ref().and_then(|r| r.people_count),
        status: status(latest.as_ref(), threshold),
        last_run: latest.as_ref().map(|r| Stamp::new(r.taken_at, now)),
        last_alert: alert.map(|t| Stamp::new(t, now)),
        picture: picture.map(|r| format!("/api/users/{id}/latest.jpg?run={}", r.run_id)),
        sparkline: svg::sparkline(&points(&day), from, now, threshold),
    })
}

/// Every user's tile, read concurrently.
pub(crate) async fn tiles(
    store: &Store,
    pictures: bool,
    now: DateTime<Utc>,
) -> Result<Vec<Tile>, StoreError> {
    let users = store.list_users().await?;
    futures::future::try_join_all(users.iter().map(|u| tile(store, u, pictures, now))).await
}

/// The ranges a stream page offers.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Range {
    Hour,
    Day,
    Week,
    Month,
    Year,
}

impl Range {
    pub(crate) const ALL: [Range; 5] = [
        Range::Hour,
        Range::Day,
        Range::Week,
        Range::Month,
        Range::Year,
    ];

    pub(crate) fn parse(text: Option<&str>) -> Option<Self> {
        match text.unwrap_or("day") {
            "hour" => Some(Self::Hour),
            "day" => Some(Self::Day),
            "week" => Some(Self::Week),
            "month" => Some(Self::Month),
            "year" => Some(Self::Year),
            _ => None,
        }
    }

    pub(crate) fn name(self) -> &'static str {
        match self {
            Self::Hour => "hour",
            Self::Day => "day",
            Self::Week => "week",
            Self::Month => "month",
            Self::Year => "year",
        }
    }

    pub(crate) fn span(self) -> Duration {
        match self {
            Self::Hour => Duration::hours(1),
            Self::Day => Duration::days(1),
            Self::Week => Duration::days(7),
            Self::Month => Duration::days(30),
            Self::Year => Duration::days(365),
        }
    }
}

/// One run in the runs table.
#[derive(Debug, Clone)]
pub(crate) struct RunRow {
    pub run_id: String,
    pub time: String,
    pub people: Option<u32>,
    pub over: bool,
    pub health: &'static str,
    pub health_ok: bool,
    pub frames: u32,
    pub picture: Option<String>,
}

pub(crate) fn run_row(r: &ResultRecord, threshold: u32, pictures: bool) -> RunRow {
    RunRow {
        run_id: r.run_id.to_string(),
        time: r.taken_at.format("%Y-%m-%d %H:%M:%S").to_string(),
        people: r.people_count,
        over: r.people_count.is_some_and(|n| n > threshold),
        health: r.health.as_str(),
        health_ok: r.health == Health::Ok,
        frames: r.frames,
        picture: (pictures && r.image_ref.is_some())
            .then(|| format!("/api/users/{}/runs/{}.jpg", r.user_id, r.run_id)),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use footfall_domain::{RunId, UserId};

    fn record(people: Option<u32>, health: Health) -> ResultRecord {
        ResultRecord {
            run_id: RunId::parse("r1").unwrap(),
            user_id: UserId::parse("u").unwrap(),
            taken_at: Utc::now(),
            people_count: people,
            health,
            frames: 3,
            source: "s".into(),
            image_ref: None,
        }
    }

    #[test]
    fn no_data_is_not_zero() {
        assert_eq!(status(None, 5).class, "none");
        assert_eq!(
            status(Some(&record(None, Health::Stalled)), 5).class,
            "nodata"
        );
        assert_eq!(status(Some(&record(Some(0), Health::Ok)), 5).class, "ok");
        assert_eq!(status(Some(&record(Some(6), Health::Ok)), 5).class, "over");
        assert_eq!(
            status(Some(&record(Some(2), Health::EndedEarly)), 5).class,
            "warn"
        );
    }

    #[test]
    fn ages() {
        assert_eq!(ago(Duration::seconds(5)), "just now");
        assert_eq!(ago(Duration::minutes(5)), "5 min ago");
        assert_eq!(ago(Duration::hours(5)), "5 h ago");
        assert_eq!(ago(Duration::days(5)), "5 days ago");
    }
}
