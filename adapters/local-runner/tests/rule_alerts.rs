//! A user's job configuration (issue 12) through the local runner: the scheduler reads it from
//! the store with the user, the job alerts by its debounced rule, and the rule's state is kept
//! in the store's `alert_rule_state` between ticks, each tick in a scheduler of its own (as
//! `run-schedule --once` under cron runs them). SQLite in a temporary folder, the shared video
//! decoded by FFmpeg; the people counter is a fixed stand-in for the detector.

use std::sync::{Arc, Mutex};
use std::time::Duration;

use chrono::{TimeZone, Utc};
use footfall_domain::sinks::{Alert, BoxFuture, Delivery, Notifier, SinkError};
use footfall_domain::{AlertDecision, UserId};
use footfall_job::{AlertOutcome, CounterError, Counting, PeopleCounter};
use frame_source::{JobOptions, SamplingPolicy, YtDlpResolver};
use image::RgbImage;
use local_runner::scheduler::{Scheduler, SchedulerConfig};
use results_store::{NewUser, Store};

struct FixedCounter(usize);

impl PeopleCounter for FixedCounter {
    fn count(&self, frames: &[RgbImage]) -> Result<Vec<usize>, CounterError> {
        Ok(vec![self.0; frames.len()])
    }
    fn annotated_jpeg(&self, _frame: &RgbImage) -> Result<Vec<u8>, CounterError> {
        Ok(vec![0xFF, 0xD8, 0xFF, 0xD9])
    }
}

/// The alerts handed over for delivery, as (user, people).
#[derive(Default)]
struct Sent(Mutex<Vec<(String, u32)>>);

impl Notifier for Sent {
    fn notify<'a>(&'a self, alert: Alert<'a>) -> BoxFuture<'a, Result<Delivery, SinkError>> {
        self.0
            .lock()
            .unwrap()
            .push((alert.record.user_id.to_string(), alert.people));
        Box::pin(async { Ok(Delivery::Sent) })
    }
}

impl Sent {
    fn of(&self, user: &str) -> usize {
        self.0
            .lock()
            .unwrap()
            .iter()
            .filter(|(u, _)| u == user)
            .count()
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_breach_over_several_ticks_alerts_once_and_re_arms_below_the_margin() {
    let shared = stream_server::shared_dir().unwrap_or_else(|m| panic!("{m}"));
    let video = shared.join("video/people_10s_640x480.mp4");
    let video = video.display().to_string();
    let root = std::env::temp_dir().join(format!("rule-alerts-{}", std::process::id()));
    std::fs::remove_dir_all(&root).ok();
    std::fs::create_dir_all(&root).unwrap();
    let db = format!("sqlite://{}", root.join("footfall.db").display());
    let store = Store::connect(&db).await.unwrap();
    for id in ["plain", "queue"] {
        let mut user = NewUser::new(id, &video, &format!("{id}@example.com"));
        user.threshold = 5;
        store.add_user(&user).await.unwrap();
    }
    let config =
        footfall_job::JobConfig::from_json(r#"{"alert": {"k": 2, "n": 3, "margin": 2}}"#).unwrap();
    store.set_tracking("queue", Some(&config)).await.unwrap();
    store.close().await;

    let sent = Arc::new(Sent::default());
    let config = SchedulerConfig {
        data_dir: root.join("data"),
        concurrency: 2,
        image_retention_days: 0,
        job_options: JobOptions {
            sampling: SamplingPolicy::Every(Duration::from_secs(2)),
            ..JobOptions::default()
        },
        alert_cooldown: chrono::Duration::minutes(10),
        shutdown_grace: Duration::from_secs(5),
        result_retention_days: 0,
    };
    let queue = UserId::parse("queue").unwrap();
    // Hourly ticks with (people per frame); each in a new process's scheduler.
    let ticks = [(8, 12), (8, 13), (4, 14), (2, 15), (8, 16)];
    let mut outcomes = Vec::new();
    for (people, hour) in ticks {
        let store = Store::connect(&db).await.unwrap();
        let counting = Counting {
            counter: Arc::new(FixedCounter(people)),
            resolver: Arc::new(YtDlpResolver::default()),
        };
        let scheduler = Scheduler::new(store.clone(), counting, sent.clone(), config.clone());
        let tick = Utc.with_ymd_and_hms(2026, 12, 10, hour, 0, 0).unwrap();
        let summary = scheduler.run_tick(tick).await.unwrap();
        let outcome = summary
            .outcomes
            .iter()
            .find(|o| o.record.user_id == queue)
            .unwrap()
            .clone();
        assert_eq!(outcome.record.people_count, Some(people as u32));
        outcomes.push((outcome.alert, store.alert_armed(&queue).await.unwrap()));
        store.close().await;
    }
    // The plain job alerts at every tick over the threshold (the cooldown is 10 minutes).
    assert_eq!(sent.of("plain"), 3);
    // The configured one: once for the breach of 12:00 and 13:00; 14:00 (4 people) is below
    // the threshold but not below threshold - margin (3); 15:00 (2) re-arms; 16:00 alerts.
    assert_eq!(sent.of("queue"), 2, "{outcomes:?}");
    assert!(matches!(
        outcomes[0],
        (Some(AlertOutcome::Delivered(_)), Some(false))
    ));
    for i in [1, 2] {
        assert!(
            matches!(
                outcomes[i],
                (
                    Some(AlertOutcome::Skipped(AlertDecision::RuleNotFired {
                        armed: false,
                        ..
                    })),
                    Some(false)
                )
            ),
            "{i}: {:?}",
            outcomes[i]
        );
    }
    assert!(matches!(
        outcomes[3],
        (
            Some(AlertOutcome::Skipped(AlertDecision::RuleNotFired {
                armed: true,
                ..
            })),
            Some(true)
        )
    ));
    assert!(matches!(
        outcomes[4],
        (Some(AlertOutcome::Delivered(_)), Some(false))
    ));
    std::fs::remove_dir_all(&root).ok();
}
