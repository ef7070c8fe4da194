//! The per-user job, the same for the local runner and the ECS task:
//!
//! 1. count the user's stream (frames -> counter), retried per [`JobPolicy::count_backoff`]
//!    while no frame could be counted;
//! 2. annotate the busiest frame, keep the picture ([`PictureStore`]);
//! 3. build the [`ResultRecord`] and store it ([`ResultSink`]), append it to the user's CSV
//!    ([`CsvLog`]), post it to the caller ([`Callback`]);
//! 4. decide the alert ([`footfall_domain::alert::decide`], cooldown from a [`CooldownStore`])
//!    and deliver it ([`Notifier`]).
//!
//! A user with a job configuration ([`JobRequest::config`], issue 12) is counted with tracking
//! when it has lines or zones (sampled at its `fps`), and alerted by its debounced rule: the
//! metric of every sample (people, a zone's occupancy, a line's crossings per window) goes
//! through an [`Alerter`] resumed in the state the user's previous run left
//! ([`AlertStateStore`]); when it fires, monitoring and the cooldown still apply
//! ([`footfall_domain::decide_breach`]), and the state it ends in is stored for the next run.
//! Without a configuration the job is what it always was.
//!
//! Every sink call is retried per [`JobPolicy::sink_backoff`] while its error is retryable. A
//! failing sink is reported in [`JobOutcome::steps`] and does not stop the others: what can be
//! kept is kept.

use std::sync::Arc;

use chrono::{DateTime, Utc};
use footfall_domain::sinks::{
    Alert, AlertStateStore, Appended, Callback, CooldownStore, CsvLog, Delivery, Notifier,
    PictureStore, ResultSink, SinkError, Stored,
};
use footfall_domain::{AlertDecision, AlertInput, Health, ResultRecord, RunId, UserId};
use footfall_runtime::retry::{Backoff, Failure, log_failure, retry};
use footfall_tracking::{Alerter, JobConfig, MetricSample};
use frame_source::{JobOptions, SamplingPolicy, SourceSpec, StopHandle, UrlResolver};
use serde::Serialize;

use crate::count::{CountError, CountReport, Sample, count_stream_tracked};
use crate::counter::PeopleCounter;

/// One user's job.
#[derive(Debug, Clone)]
pub struct JobRequest {
    pub run_id: RunId,
    pub user_id: UserId,
    pub stream_url: String,
    pub email: String,
    /// Alert when the count exceeds this.
    pub threshold: u32,
    /// The user's `Monitoring_status`.
    pub monitored: bool,
    /// The time the result is stored under: the tick (local) or the task's start (AWS).
    pub taken_at: DateTime<Utc>,
    /// The user's job configuration (tracking rate, lines, zones, debounced alert rule);
    /// `None`: count and alert as always (one sample over the threshold alerts).
    pub config: Option<JobConfig>,
}

/// Where the result goes. A runtime leaves out what it has not got.
#[derive(Clone, Copy)]
pub struct JobSinks<'a> {
    pub results: Option<&'a dyn ResultSink>,
    pub csv: Option<&'a dyn CsvLog>,
    pub pictures: Option<&'a dyn PictureStore>,
    pub callback: Option<&'a dyn Callback>,
    pub notifier: &'a dyn Notifier,
    pub cooldown: &'a dyn CooldownStore,
    /// Where the debounced rule's armed state is kept between runs (jobs with a configuration).
    /// `None`: each run starts armed (the cooldown is then the only guard across runs).
    pub alert_state: Option<&'a dyn AlertStateStore>,
    /// Sees every failed attempt (besides the `tracing` log), e.g. for the task's JSON events.
    pub on_failure: Option<&'a (dyn Fn(&FailedAttempt) + Send + Sync)>,
}

/// One failed attempt of a step, as [`JobSinks::on_failure`] sees it.
#[derive(Debug, Clone, Serialize)]
pub struct FailedAttempt {
    pub step: String,
    /// 1-based.
    pub attempt: u32,
    pub of: u32,
    pub retryable: bool,
    /// No further attempt follows.
    pub last: bool,
    pub error: String,
}

impl<E: std::fmt::Display> From<&Failure<'_, E>> for FailedAttempt {
    fn from(failure: &Failure<'_, E>) -> Self {
        Self {
            step: failure.what.to_string(),
            attempt: failure.attempt,
            of: failure.of,
            retryable: failure.retryable,
            last: failure.last,
            error: failure.error.to_string(),
        }
    }
}

/// How the job runs.
#[derive(Debug, Clone, Copy)]
pub struct JobPolicy {
    pub frames: JobOptions,
    /// Attempts at counting while no frame could be counted (a stream hiccup).
    pub count_backoff: Backoff,
    /// Attempts of each sink call.
    pub sink_backoff: Backoff,
    /// At most one alert per user within this window.
    pub alert_cooldown: chrono::Duration,
}

/// What the job needs to count: the counter and the resolver of page URLs, shared by jobs.
#[derive(Clone)]
pub struct Counting {
    pub counter: Arc<dyn PeopleCounter>,
    pub resolver: Arc<dyn UrlResolver>,
}

/// The state of one step.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum Step {
    Done,
    /// Done by an earlier attempt of the same run.
    AlreadyDone,
    /// Kept to be done later (the result spool).
    Deferred,
    Skipped(String),
    Failed(String),
}

/// What happened to an alert.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum AlertOutcome {
    /// The rule said no (below threshold, monitoring off, cooling down, no data).
    Skipped(AlertDecision),
    Delivered(Delivery),
}

/// What one job did.
#[derive(Debug, Clone)]
pub struct JobOutcome {
    pub record: ResultRecord,
    /// Why no frame was counted, or what went wrong in the stream, if anything did.
    pub error: Option<String>,
    /// `None` when the job had no result store.
    pub stored: Option<Stored>,
    /// `None` when its delivery failed.
    pub alert: Option<AlertOutcome>,
    /// `(step, state)` in order: `job`, `picture`, `db`, `csv`, `callback`, `notify`.
    pub steps: Vec<(&'static str, Step)>,
}

impl JobOutcome {
    pub fn step(&self, name: &str) -> Option<&Step> {
        self.steps.iter().find(|(n, _)| *n == name).map(|(_, s)| s)
    }

    /// The steps that failed.
    pub fn failures(&self) -> Vec<&'static str> {
        self.steps
            .iter()
            .filter(|(_, s)| matches!(s, Step::Failed(_)))
            .map(|(n, _)| *n)
            .collect()
    }

    fn push(&mut self, name: &'static str, step: Step) {
        self.steps.push((name, step));
    }
}

/// One sink call, retried per [`JobPolicy::sink_backoff`] while retryable, each failed attempt
/// reported.
async fn sink_call<T, F, Fut>(
    sinks: &JobSinks<'_>,
    policy: &JobPolicy,
    what: &'static str,
    call: F,
) -> Result<T, SinkError>
where
    F: FnMut(u32) -> Fut,
    Fut: std::future::Future<Output = Result<T, SinkError>>,
{
    retry(
        &policy.sink_backoff,
        what,
        |error: &SinkError| error.retryable,
        |f| report(sinks, f),
        call,
    )
    .await
}

/// Logs a failed attempt and shows it to the runtime's observer.
fn report<E: std::fmt::Display>(sinks: &JobSinks<'_>, failure: Failure<'_, E>) {
    if let Some(observer) = sinks.on_failure {
        observer(&FailedAttempt::from(&failure));
    }
    log_failure(failure)
}

/// Runs one user's job and delivers its result.
pub async fn run_job(
    request: &JobRequest,
    counting: &Counting,
    sinks: JobSinks<'_>,
    policy: &JobPolicy,
) -> JobOutcome {
    let user = request.user_id.as_str();
    let run = request.run_id.as_str();
    // The stream is opened with the full URL; everything shown, stored or sent gets this.
    let source = footfall_domain::redact_url(&request.stream_url).into_owned();
    tracing::info!(run_id = run, user_id = user, stream = %source, "job started");
    let (count, jpeg) = count_with_retries(request, counting, policy, &sinks).await;
    let (people, frames, health, error) = match &count {
        Ok(report) => (
            report
                .summary
                .max
                .map(|n| n.min(footfall_domain::MAX_PEOPLE as usize) as u32),
            u32::try_from(report.frames()).unwrap_or(u32::MAX),
            Health::from(report.health),
            report.stream.error.as_ref().map(|e| e.to_string()),
        ),
        Err((health, error)) => (None, 0, *health, Some(error.clone())),
    };
    let mut outcome = JobOutcome {
        record: ResultRecord {
            run_id: request.run_id.clone(),
            user_id: request.user_id.clone(),
            taken_at: ResultRecord::normalise_time(request.taken_at),
            people_count: people,
            health,
            frames,
            source,
            image_ref: None,
        },
        error: error.clone(),
        stored: None,
        alert: None,
        steps: Vec::new(),
    };
    // "No frame counted" is a failure of the run (and stored as such), never a count of 0.
    let job_step = match (people, &error) {
        (Some(_), _) => Step::Done,
        (None, Some(error)) => Step::Failed(format!("no frame could be counted: {error}")),
        (None, None) => Step::Failed(format!("no frame could be counted (stream {health})")),
    };
    outcome.push("job", job_step);

    if let (Some(pictures), Some(jpeg)) = (sinks.pictures, &jpeg) {
        let saved = sink_call(&sinks, policy, "picture", |_| {
            pictures.save(&request.user_id, &request.run_id, jpeg)
        })
        .await;
        match saved {
            Ok(image_ref) => {
                outcome.record.image_ref = Some(image_ref);
                outcome.push("picture", Step::Done);
            }
            Err(e) => outcome.push("picture", Step::Failed(e.to_string())),
        }
    }

    let record = outcome.record.clone();
    if let Some(results) = sinks.results {
        let stored = sink_call(&sinks, policy, "db", |_| results.store(&record)).await;
        let step = match &stored {
            Ok(Stored::Inserted) => Step::Done,
            Ok(Stored::AlreadyStored) => Step::AlreadyDone,
            Ok(Stored::Deferred) => Step::Deferred,
            Err(e) => Step::Failed(e.to_string()),
        };
        outcome.stored = stored.ok();
        outcome.push("db", step);
    }
    // A re-run of a stored result (same run id, e.g. after a kill) still goes through the CSV
    // log and the alert rule: both are idempotent (the CSV by run id, the alert by the
    // cooldown, which holds the stored result's time), so what the killed run did not finish
    // is finished, and nothing is done twice.
    if let Some(csv) = sinks.csv {
        let step = match sink_call(&sinks, policy, "csv", |_| csv.append(&record)).await {
            Ok(Appended::Written) => Step::Done,
            Ok(Appended::AlreadyPresent) => Step::AlreadyDone,
            Err(e) => Step::Failed(e.to_string()),
        };
        outcome.push("csv", step);
    }

    if let Some(callback) = sinks.callback {
        let step = if record.people_count.is_none() {
            Step::Skipped("no frame was counted".into())
        } else {
            match sink_call(&sinks, policy, "callback", |_| {
                callback.deliver(&record, jpeg.as_deref())
            })
            .await
            {
                Ok(()) => Step::Done,
                Err(e) => Step::Failed(e.to_string()),
            }
        };
        outcome.push("callback", step);
    }

    let (step, alert) = match &request.config {
        None => alert(request, &record, jpeg.as_deref(), sinks, policy).await,
        Some(config) => {
            let samples = count.as_ref().map(|r| r.samples.as_slice()).unwrap_or(&[]);
            rule_alert(
                request,
                config,
                &record,
                samples,
                jpeg.as_deref(),
                sinks,
                policy,
            )
            .await
        }
    };
    outcome.alert = alert;
    outcome.push("notify", step);

    match &outcome.error {
        Some(error) if outcome.record.people_count.is_none() => {
            tracing::warn!(run_id = run, user_id = user, health = %outcome.record.health, %error,
                "job had no result")
        }
        // Numbers stay numbers in JSON logs (`people` is left out when nothing was counted).
        _ => tracing::info!(run_id = run, user_id = user, people = outcome.record.people_count,
            frames = outcome.record.frames, health = %outcome.record.health,
            failed = %outcome.failures().join(","), "job done"),
    }
    outcome
}

/// Counts the stream on a blocking thread, again while no frame could be counted and
/// attempts remain; annotates the busiest frame of the last attempt.
async fn count_with_retries(
    request: &JobRequest,
    counting: &Counting,
    policy: &JobPolicy,
    sinks: &JobSinks<'_>,
) -> (Result<CountReport, (Health, String)>, Option<Vec<u8>>) {
    // A result without counted frames is an `Err` to `retry`, so it is attempted again.
    let counting_config = request.config.as_ref().and_then(JobConfig::counting_config);
    let mut options = policy.frames;
    if let Some(config) = &counting_config {
        // A tracking job samples at its tracking rate.
        options.sampling = SamplingPolicy::Every(std::time::Duration::from_secs_f64(
            1.0 / config.tracker.frame_rate,
        ));
    }
    let attempt = || {
        let counting = counting.clone();
        let url = request.stream_url.clone();
        let counting_config = counting_config.clone();
        async move {
            let joined = tokio::task::spawn_blocking(move || {
                let report = count_once(&url, options, &counting, counting_config);
                let jpeg = match &report {
                    Ok(CountReport {
                        busiest: Some(busiest),
                        ..
                    }) => match counting.counter.annotated_jpeg(&busiest.image) {
                        Ok(jpeg) => Some(jpeg),
                        Err(error) => {
                            tracing::warn!(%error, "could not annotate the busiest frame");
                            None
                        }
                    },
                    _ => None,
                };
                (report, jpeg)
            })
            .await;
            match joined {
                Ok((Ok(report), jpeg)) if report.frames() > 0 => Ok((report, jpeg)),
                Ok((Ok(report), jpeg)) => Err(Attempt::NoFrames(Box::new((report, jpeg)))),
                Ok((Err(error), _)) => Err(Attempt::Failed(error)),
                // A panicking counter must not take the runtime (and other users' jobs) down.
                Err(join) => Err(Attempt::Crashed(join.to_string())),
            }
        }
    };
    let result = retry(
        &policy.count_backoff,
        "job",
        Attempt::retryable,
        |f: Failure<'_, Attempt>| report(sinks, f),
        |_| attempt(),
    )
    .await;
    match result {
        Ok((report, jpeg)) => (Ok(report), jpeg),
        Err(Attempt::NoFrames(last)) => (Ok(last.0), last.1),
        Err(Attempt::Failed(error)) => (Err((error.health(), error.to_string())), None),
        Err(Attempt::Crashed(error)) => {
            (Err((Health::Error, format!("job crashed: {error}"))), None)
        }
    }
}

/// One count of the stream, tracking when the job's configuration asks for it. Each attempt
/// tracks afresh.
fn count_once(
    url: &str,
    options: JobOptions,
    counting: &Counting,
    counting_config: Option<footfall_tracking::CountingConfig>,
) -> Result<CountReport, CountError> {
    let spec = SourceSpec::parse(url)?.resolve(counting.resolver.as_ref())?;
    let tracking = match counting_config {
        None => None,
        Some(config) => Some(
            footfall_tracking::Counting::new(config)
                .map_err(|e| CountError::Counter(format!("tracking: {e}").into()))?,
        ),
    };
    count_stream_tracked(
        spec,
        options,
        counting.counter.as_ref(),
        StopHandle::new(),
        tracking,
        &mut |_| {},
    )
}

/// A count attempt that gave no counted frame.
enum Attempt {
    NoFrames(Box<(CountReport, Option<Vec<u8>>)>),
    Failed(CountError),
    Crashed(String),
}

impl Attempt {
    /// A stream that delivered nothing may deliver next time; a URL that does not parse or a
    /// crash will not change.
    fn retryable(&self) -> bool {
        match self {
            Self::NoFrames(_) => true,
            Self::Failed(CountError::Source(error)) => error.is_transient(),
            // A detector failure (device lost, out of memory) may pass; a counter that returns
            // the wrong number of counts or panics will not.
            Self::Failed(CountError::Counter(_)) => true,
            Self::Failed(CountError::CountMismatch { .. }) | Self::Crashed(_) => false,
        }
    }
}

impl std::fmt::Display for Attempt {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            Self::NoFrames(last) => write!(f, "no frame counted (stream {})", last.0.health),
            Self::Failed(error) => write!(f, "{error}"),
            Self::Crashed(error) => write!(f, "job crashed: {error}"),
        }
    }
}

async fn alert(
    request: &JobRequest,
    record: &ResultRecord,
    jpeg: Option<&[u8]>,
    sinks: JobSinks<'_>,
    policy: &JobPolicy,
) -> (Step, Option<AlertOutcome>) {
    let mut input = AlertInput {
        people: record.people_count,
        threshold: request.threshold,
        monitored: request.monitored,
        taken_at: record.taken_at,
        last_alert: None,
        cooldown: policy.alert_cooldown,
    };
    // Only a result that would alert needs the cooldown store.
    if footfall_domain::decide(input) == AlertDecision::Send {
        match sink_call(&sinks, policy, "cooldown", |_| {
            sinks.cooldown.last_alert(&request.user_id)
        })
        .await
        {
            Ok(last) => input.last_alert = last,
            // A duplicate alert is better than a lost one.
            Err(error) => {
                tracing::warn!(user_id = %request.user_id, %error, "cooldown unknown; alerting anyway")
            }
        }
    }
    let decision = footfall_domain::decide(input);
    if decision != AlertDecision::Send {
        if let AlertDecision::CoolingDown { until } = &decision {
            tracing::info!(user_id = %request.user_id, %until, "alert suppressed by cooldown");
        }
        return (
            Step::Skipped(decision.reason()),
            Some(AlertOutcome::Skipped(decision)),
        );
    }
    let alert = Alert {
        record,
        email: &request.email,
        people: record.people_count.unwrap_or_default(),
        threshold: request.threshold,
        monitored: request.monitored,
        jpeg,
        metric: None,
    };
    let delivered = sink_call(&sinks, policy, "notify", |_| sinks.notifier.notify(alert)).await;
    match delivered {
        Ok(delivery) => {
            // The cooldown starts only when an alert went out, so a failed delivery is tried
            // again on the next run.
            if let Err(error) = sink_call(&sinks, policy, "cooldown", |_| {
                sinks
                    .cooldown
                    .record_alert(&request.user_id, record.taken_at)
            })
            .await
            {
                tracing::error!(user_id = %request.user_id, %error, "alert sent but its time not recorded: the next run may alert again");
            }
            (Step::Done, Some(AlertOutcome::Delivered(delivery)))
        }
        Err(error) => {
            tracing::error!(user_id = %request.user_id, %error, "alert could not be delivered");
            (Step::Failed(error.to_string()), None)
        }
    }
}

/// The alert of a job with a configuration: the debounced rule over the run's samples, resumed
/// in the state the user's last run left; monitoring and the cooldown still apply when it
/// fires. The state it ends in is stored, except when the alert could not be delivered (the
/// next run fires again) or monitoring is off (nothing was decided).
async fn rule_alert(
    request: &JobRequest,
    config: &JobConfig,
    record: &ResultRecord,
    samples: &[Sample],
    jpeg: Option<&[u8]>,
    sinks: JobSinks<'_>,
    policy: &JobPolicy,
) -> (Step, Option<AlertOutcome>) {
    let user = &request.user_id;
    let metric = config.alert.metric.spec();
    let metric_label = config.alert.metric.label();
    let rule = config.alert.rule(request.threshold);
    // A run without data neither fires nor re-arms: the state stays as it is.
    if samples.is_empty() || record.people_count.is_none() {
        let decision = AlertDecision::NoData;
        return (
            Step::Skipped(decision.reason()),
            Some(AlertOutcome::Skipped(decision)),
        );
    }
    let was_armed = match sinks.alert_state {
        None => true,
        Some(store) => {
            match sink_call(&sinks, policy, "alert_state", |_| store.alert_armed(user)).await {
                Ok(state) => state.unwrap_or(true),
                // A duplicate alert (the cooldown still guards) is better than a lost one.
                Err(error) => {
                    tracing::warn!(user_id = %user, %error, "alert state unknown; the rule starts armed");
                    true
                }
            }
        }
    };
    let mut alerter = match Alerter::resume(rule, was_armed) {
        Ok(alerter) => alerter,
        Err(error) => {
            tracing::error!(user_id = %user, %error, "alert rule refused");
            return (Step::Failed(format!("alert rule: {error}")), None);
        }
    };
    let mut series = config.metric();
    let mut fired = false;
    let mut peak: Option<f64> = None;
    for s in samples {
        let value = series.push(MetricSample {
            t: s.t,
            people: s.people.map(|p| u32::try_from(p).unwrap_or(u32::MAX)),
            zones: &s.zones,
            lines: &s.lines,
        });
        if let Some(v) = value {
            peak = Some(peak.map_or(v, |p: f64| p.max(v)));
        }
        fired |= alerter.push(value);
    }
    let armed = alerter.is_armed();
    let peak = peak.unwrap_or_default();
    let store_state = |armed: bool| async move {
        let Some(store) = sinks.alert_state else {
            return;
        };
        if let Err(error) = sink_call(&sinks, policy, "alert_state", |_| {
            store.set_alert_armed(user, armed, record.taken_at)
        })
        .await
        {
            tracing::error!(user_id = %user, %error, armed, "alert state not stored: the next run starts from the previous one");
        }
    };
    if !fired {
        let reason = if armed {
            format!(
                "{metric} did not exceed {} in {} of {} samples (highest {peak})",
                request.threshold, rule.k, rule.n
            )
        } else {
            format!(
                "{metric}: the alert for this breach went out; the rule re-arms below {}",
                rule.threshold - rule.margin
            )
        };
        store_state(armed).await;
        let decision = AlertDecision::RuleNotFired { armed, reason };
        return (
            Step::Skipped(decision.reason()),
            Some(AlertOutcome::Skipped(decision)),
        );
    }
    // The value the alert reports (and the notification Lambda checks against the threshold):
    // the metric's highest value in the run.
    let value = peak
        .clamp(0.0, f64::from(footfall_domain::MAX_PEOPLE))
        .ceil() as u32;
    let mut input = AlertInput {
        people: Some(value),
        threshold: request.threshold,
        monitored: request.monitored,
        taken_at: record.taken_at,
        last_alert: None,
        cooldown: policy.alert_cooldown,
    };
    if request.monitored {
        match sink_call(&sinks, policy, "cooldown", |_| {
            sinks.cooldown.last_alert(user)
        })
        .await
        {
            Ok(last) => input.last_alert = last,
            Err(error) => {
                tracing::warn!(user_id = %user, %error, "cooldown unknown; alerting anyway")
            }
        }
    }
    let decision = footfall_domain::decide_breach(input);
    match decision {
        AlertDecision::Send => {}
        // Nothing was decided for this user: the state stays.
        AlertDecision::MonitoringOff => {
            return (
                Step::Skipped(decision.reason()),
                Some(AlertOutcome::Skipped(decision)),
            );
        }
        // An alert went out for this result, or within the cooldown: this breach counts as
        // alerted, so the rule stays silent until it re-arms.
        _ => {
            if let AlertDecision::CoolingDown { until } = &decision {
                tracing::info!(user_id = %user, %until, %metric, "alert suppressed by cooldown");
            }
            store_state(armed).await;
            return (
                Step::Skipped(decision.reason()),
                Some(AlertOutcome::Skipped(decision)),
            );
        }
    }
    tracing::info!(user_id = %user, %metric, value, threshold = request.threshold,
        k = rule.k, n = rule.n, "debounced alert fired");
    let alert = Alert {
        record,
        email: &request.email,
        people: value,
        threshold: request.threshold,
        monitored: request.monitored,
        jpeg,
        metric: metric_label.as_deref(),
    };
    match sink_call(&sinks, policy, "notify", |_| sinks.notifier.notify(alert)).await {
        Ok(delivery) => {
            if let Err(error) = sink_call(&sinks, policy, "cooldown", |_| {
                sinks.cooldown.record_alert(user, record.taken_at)
            })
            .await
            {
                tracing::error!(user_id = %user, %error, "alert sent but its time not recorded: the next run may alert again");
            }
            store_state(armed).await;
            (Step::Done, Some(AlertOutcome::Delivered(delivery)))
        }
        // Not delivered: the rule is left armed, so the next run fires again.
        Err(error) => {
            tracing::error!(user_id = %user, %error, "alert could not be delivered");
            store_state(true).await;
            (Step::Failed(error.to_string()), None)
        }
    }
}
