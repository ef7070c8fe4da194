//! The debounced alert rule of a user's job configuration (issue 12) through the one job
//! pipeline, on the shared 10 s video decoded by FFmpeg. The people counter is scripted (people
//! and boxes per sample), so every metric value is known; the sinks keep what they get in
//! memory, as a runtime's store would, across consecutive runs of one user.

use std::collections::HashMap;
use std::path::PathBuf;
use std::sync::Arc;
use std::sync::Mutex;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::time::Duration;

use chrono::{DateTime, TimeZone, Utc};
use footfall_domain::sinks::{
    Alert, AlertStateStore, BoxFuture, CooldownStore, Delivery, Notifier, SinkError,
};
use footfall_domain::{AlertDecision, RunId, UserId};
use footfall_job::{
    AlertOutcome, CounterError, Counting, JobOutcome, JobPolicy, JobRequest, JobSinks,
    PeopleCounter, PersonBox, run_job,
};
use footfall_runtime::Backoff;
use footfall_tracking::JobConfig;
use frame_source::{JobOptions, SamplingPolicy, YtDlpResolver};
use image::RgbImage;

type Script = Box<dyn Fn(usize) -> Vec<PersonBox> + Send + Sync>;

/// People (as boxes) per sample, by the sample's index in the job.
struct Scripted {
    next: AtomicUsize,
    script: Script,
}

impl Scripted {
    fn boxes(&self, frames: usize) -> Vec<Vec<PersonBox>> {
        (0..frames)
            .map(|_| (self.script)(self.next.fetch_add(1, Ordering::SeqCst)))
            .collect()
    }
}

impl PeopleCounter for Scripted {
    fn count(&self, frames: &[RgbImage]) -> Result<Vec<usize>, CounterError> {
        Ok(self.boxes(frames.len()).iter().map(Vec::len).collect())
    }
    fn annotated_jpeg(&self, _frame: &RgbImage) -> Result<Vec<u8>, CounterError> {
        Ok(vec![0xFF, 0xD8, 0xFF, 0xD9])
    }
    fn people_boxes(&self, frames: &[RgbImage]) -> Result<Vec<Vec<PersonBox>>, CounterError> {
        Ok(self.boxes(frames.len()))
    }
}

/// A person 60 x 100 px whose feet are at `(x, y)`.
fn person(x: f32, y: f32) -> PersonBox {
    PersonBox::new([x - 30.0, y - 100.0, x + 30.0, y], 0.9)
}

/// `n` people standing apart, every sample.
fn crowd(n: usize) -> Script {
    Box::new(move |_| {
        (0..n)
            .map(|i| person(35.0 + 65.0 * i as f32, 400.0))
            .collect()
    })
}

/// What a runtime's stores would keep between runs of one user.
#[derive(Default)]
struct World {
    alerts: Mutex<Vec<(String, u32)>>,
    last_alert: Mutex<Option<DateTime<Utc>>>,
    armed: Mutex<HashMap<String, (bool, DateTime<Utc>)>>,
    /// What the latest alert said its value counts.
    metric: Mutex<Option<String>>,
}

impl Notifier for World {
    fn notify<'a>(&'a self, alert: Alert<'a>) -> BoxFuture<'a, Result<Delivery, SinkError>> {
        self.alerts
            .lock()
            .unwrap()
            .push((alert.record.run_id.to_string(), alert.people));
        *self.metric.lock().unwrap() = alert.metric.map(str::to_string);
        Box::pin(async { Ok(Delivery::Sent) })
    }
}

impl CooldownStore for World {
    fn last_alert<'a>(
        &'a self,
        _user_id: &'a UserId,
    ) -> BoxFuture<'a, Result<Option<DateTime<Utc>>, SinkError>> {
        let last = *self.last_alert.lock().unwrap();
        Box::pin(async move { Ok(last) })
    }
    fn record_alert<'a>(
        &'a self,
        _user_id: &'a UserId,
        at: DateTime<Utc>,
    ) -> BoxFuture<'a, Result<(), SinkError>> {
        *self.last_alert.lock().unwrap() = Some(at);
        Box::pin(async { Ok(()) })
    }
}

impl AlertStateStore for World {
    fn alert_armed<'a>(
        &'a self,
        user_id: &'a UserId,
    ) -> BoxFuture<'a, Result<Option<bool>, SinkError>> {
        let armed = self
            .armed
            .lock()
            .unwrap()
            .get(user_id.as_str())
            .map(|s| s.0);
        Box::pin(async move { Ok(armed) })
    }
    fn set_alert_armed<'a>(
        &'a self,
        user_id: &'a UserId,
        armed: bool,
        at: DateTime<Utc>,
    ) -> BoxFuture<'a, Result<(), SinkError>> {
        self.armed
            .lock()
            .unwrap()
            .insert(user_id.to_string(), (armed, at));
        Box::pin(async { Ok(()) })
    }
}

impl World {
    fn alerts(&self) -> usize {
        self.alerts.lock().unwrap().len()
    }
    fn armed(&self) -> Option<bool> {
        self.armed.lock().unwrap().get("u1").map(|s| s.0)
    }
}

fn video() -> String {
    let shared: PathBuf = stream_server::shared_dir().unwrap_or_else(|m| panic!("{m}"));
    shared
        .join("video/people_10s_640x480.mp4")
        .display()
        .to_string()
}

/// One run of user `u1`'s job, `hour` hours after the first, through `world`'s sinks.
async fn run(
    world: &World,
    hour: i64,
    url: &str,
    script: Script,
    threshold: u32,
    config: Option<&str>,
    cooldown: chrono::Duration,
) -> JobOutcome {
    let taken_at =
        Utc.with_ymd_and_hms(2026, 12, 10, 8, 0, 0).unwrap() + chrono::Duration::hours(hour);
    let request = JobRequest {
        run_id: RunId::parse(&format!("run-{hour}")).unwrap(),
        user_id: UserId::parse("u1").unwrap(),
        stream_url: url.to_string(),
        email: "u1@example.com".into(),
        threshold,
        monitored: true,
        taken_at,
        config: config.map(|c| JobConfig::from_json(c).unwrap()),
    };
    let counting = Counting {
        counter: Arc::new(Scripted {
            next: AtomicUsize::new(0),
            script,
        }),
        resolver: Arc::new(YtDlpResolver::default()),
    };
    let sinks = JobSinks {
        results: None,
        csv: None,
        pictures: None,
        callback: None,
        notifier: world,
        cooldown: world,
        alert_state: Some(world),
        on_failure: None,
    };
    let policy = JobPolicy {
        frames: JobOptions {
            sampling: SamplingPolicy::Every(Duration::from_secs(1)),
            ..JobOptions::default()
        },
        count_backoff: Backoff::ONCE,
        sink_backoff: Backoff::ONCE,
        alert_cooldown: cooldown,
    };
    run_job(&request, &counting, sinks, &policy).await
}

fn not_fired(outcome: &JobOutcome) -> Option<bool> {
    match &outcome.alert {
        Some(AlertOutcome::Skipped(AlertDecision::RuleNotFired { armed, .. })) => Some(*armed),
        _ => None,
    }
}

fn delivered(outcome: &JobOutcome) -> bool {
    matches!(outcome.alert, Some(AlertOutcome::Delivered(Delivery::Sent)))
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn k_of_n_debounces_and_one_breach_alerts_once_across_runs() {
    let url = video();
    let zero = chrono::Duration::zero();
    let rule = Some(r#"{"alert": {"metric": "people", "k": 3, "n": 5, "margin": 2}}"#);
    // Two breaching samples in every five: today's rule alerts, the debounced one does not.
    let spiky = || -> Script {
        Box::new(|i| {
            let n = if i % 5 == 0 || i % 5 == 3 { 6 } else { 1 };
            (0..n)
                .map(|j| person(35.0 + 65.0 * j as f32, 400.0))
                .collect()
        })
    };
    let plain = World::default();
    let o = run(&plain, 0, &url, spiky(), 5, None, zero).await;
    assert!(delivered(&o), "{:?}", o.alert);
    let world = World::default();
    let o = run(&world, 0, &url, spiky(), 5, rule, zero).await;
    assert_eq!(o.record.people_count, Some(6));
    assert_eq!(not_fired(&o), Some(true), "{:?}", o.alert);
    assert_eq!(world.alerts(), 0);
    assert_eq!(world.armed(), Some(true));

    // A breach over several hourly runs: one alert, with the metric's value.
    let o = run(&world, 1, &url, crowd(8), 5, rule, zero).await;
    assert!(delivered(&o), "{:?}", o.alert);
    assert_eq!(
        *world.alerts.lock().unwrap(),
        vec![("run-1".to_string(), 8)]
    );
    assert_eq!(world.armed(), Some(false));
    let o = run(&world, 2, &url, crowd(8), 5, rule, zero).await;
    assert_eq!(not_fired(&o), Some(false), "{:?}", o.alert);
    // Below the threshold but not below threshold - margin (3): still silent.
    let o = run(&world, 3, &url, crowd(4), 5, rule, zero).await;
    assert_eq!(not_fired(&o), Some(false));
    let o = run(&world, 4, &url, crowd(8), 5, rule, zero).await;
    assert_eq!(not_fired(&o), Some(false));
    // A run without data neither fires nor re-arms.
    let o = run(
        &world,
        5,
        "/nonexistent/stream.mp4",
        crowd(0),
        5,
        rule,
        zero,
    )
    .await;
    assert_eq!(o.record.people_count, None);
    assert!(
        matches!(o.alert, Some(AlertOutcome::Skipped(AlertDecision::NoData))),
        "{:?}",
        o.alert
    );
    assert_eq!(world.armed(), Some(false));
    // Below threshold - margin re-arms; the next breach alerts again.
    let o = run(&world, 6, &url, crowd(2), 5, rule, zero).await;
    assert_eq!(not_fired(&o), Some(true));
    assert_eq!(world.armed(), Some(true));
    let o = run(&world, 7, &url, crowd(9), 5, rule, zero).await;
    assert!(delivered(&o));
    assert_eq!(world.alerts(), 2);
    assert_eq!(world.alerts.lock().unwrap()[1], ("run-7".to_string(), 9));
    // No data while armed: still armed.
    let world = World::default();
    run(
        &world,
        0,
        "/nonexistent/stream.mp4",
        crowd(0),
        5,
        rule,
        zero,
    )
    .await;
    assert_eq!(world.armed(), None);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_cooldown_still_guards_a_rule_that_fires() {
    let url = video();
    let rule = Some(r#"{"alert": {"k": 1, "n": 1, "margin": 0}}"#);
    let world = World::default();
    let cooldown = chrono::Duration::hours(3);
    assert!(delivered(
        &run(&world, 0, &url, crowd(8), 5, rule, cooldown).await
    ));
    // Re-armed, then a new breach inside the cooldown: suppressed, and counted as alerted.
    run(&world, 1, &url, crowd(1), 5, rule, cooldown).await;
    assert_eq!(world.armed(), Some(true));
    let o = run(&world, 2, &url, crowd(8), 5, rule, cooldown).await;
    assert!(
        matches!(
            o.alert,
            Some(AlertOutcome::Skipped(AlertDecision::CoolingDown { .. }))
        ),
        "{:?}",
        o.alert
    );
    assert_eq!(world.armed(), Some(false));
    assert_eq!(world.alerts(), 1);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn zone_occupancy_alerts_on_the_zone_not_the_crowd() {
    let url = video();
    let zero = chrono::Duration::zero();
    // Two people in the left half, one in the right, every sample (2 fps, 20 samples).
    let scene = || -> Script {
        Box::new(|_| {
            vec![
                person(100.0, 400.0),
                person(200.0, 400.0),
                person(500.0, 400.0),
            ]
        })
    };
    let config = Some(
        r#"{"fps": 2, "zones": ["left=0,0,320,0,320,480,0,480"],
            "alert": {"metric": "zone:left", "k": 2, "n": 3}}"#,
    );
    // 3 people exceed 2, but the zone's 2 do not.
    let world = World::default();
    let o = run(&world, 0, &url, scene(), 2, config, zero).await;
    assert_eq!(o.record.people_count, Some(3));
    assert!(
        o.record.frames >= 18,
        "{} samples at 2 fps",
        o.record.frames
    );
    assert_eq!(not_fired(&o), Some(true), "{:?}", o.alert);
    // Over 1 they do: one alert, reporting the zone's occupancy.
    let o = run(&world, 1, &url, scene(), 1, config, zero).await;
    assert!(delivered(&o), "{:?}", o.alert);
    assert_eq!(world.alerts.lock().unwrap()[0].1, 2);
    // The alert says what that 2 counts.
    assert_eq!(
        world.metric.lock().unwrap().as_deref(),
        Some("people in zone left")
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn line_crossings_count_within_the_window() {
    let url = video();
    let zero = chrono::Duration::zero();
    // Three people walk right at 20 px a sample, across the door at x = 320 at samples 6, 10
    // and 14 (2 s apart).
    let walkers = || -> Script {
        Box::new(|i| {
            [(200.0, 150.0), (125.0, 300.0), (50.0, 450.0)]
                .iter()
                .map(|&(x0, y)| person(x0 + 20.0 * i as f32, y))
                .collect()
        })
    };
    let config = |metric: &str, window: f64| {
        format!(
            r#"{{"fps": 2, "lines": ["door=320,0,320,480"],
                "alert": {{"metric": "{metric}", "window_s": {window}}}}}"#
        )
    };
    // All three within 30 s: 3 > 2.
    let world = World::default();
    let c = config("line:door:in", 30.0);
    let o = run(&world, 0, &url, walkers(), 2, Some(&c), zero).await;
    assert!(delivered(&o), "{:?}", o.alert);
    assert_eq!(world.alerts.lock().unwrap()[0].1, 3);
    assert_eq!(
        world.metric.lock().unwrap().as_deref(),
        Some("crossings in over line door within 30 s")
    );
    // Nobody walks out.
    let world = World::default();
    let c = config("line:door:out", 30.0);
    let o = run(&world, 0, &url, walkers(), 0, Some(&c), zero).await;
    assert_eq!(not_fired(&o), Some(true), "{:?}", o.alert);
    // Within a 1 s window the crossings never add up to more than one.
    let world = World::default();
    let c = config("line:door:total", 1.0);
    let o = run(&world, 0, &url, walkers(), 1, Some(&c), zero).await;
    assert_eq!(not_fired(&o), Some(true), "{:?}", o.alert);
    let c = config("line:door:total", 30.0);
    let o = run(&world, 1, &url, walkers(), 1, Some(&c), zero).await;
    assert!(delivered(&o), "{:?}", o.alert);
}
