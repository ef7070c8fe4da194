//! The task against real servers on loopback: moto (S3, SNS, Lambda), MariaDB, a loopback HLS
//! server for the stream and loopback HTTP servers for the callback. The people counter is a
//! fixed stand-in for the detector (so counts are known); the job pipeline around it is the real
//! one the local runner runs too.

use std::collections::HashMap;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use aws_sinks::callback::{self, HttpCallback};
use aws_sinks::csv::{S3CsvLog, csv_key};
use aws_sinks::notify::LambdaNotifier;
use aws_testkit::{Moto, free_port, join_all, recording_http_server, unique};
use fargate_task::store::LazyStore;
use fargate_task::{JsonLog, TaskConfig, TaskDeps, run_task};
use footfall_domain::csv::RESULT_CSV_HEADER;
use footfall_domain::sinks::{Appended, ResultSink};
use footfall_domain::{Health, ResultRecord, RunId, UserId};
use footfall_job::{CounterError, Counting, PeopleCounter, Step};
use footfall_runtime::Env;
use frame_source::YtDlpResolver;
use image::RgbImage;
use payloads::{NotificationPayload, Source, TaskPayload};
use serde_json::{Value, json};
use stream_server::{Fault, LoopbackServer};

fn shared_image(name: &str) -> Vec<u8> {
    testdata::read(format!("images/{name}"))
}

fn s3_client(sdk: &aws_config::SdkConfig) -> aws_sdk_s3::Client {
    aws_sdk_s3::Client::from_conf(
        aws_sdk_s3::config::Builder::from(sdk)
            .force_path_style(true)
            .build(),
    )
}

async fn read_object(s3: &aws_sdk_s3::Client, bucket: &str, key: &str) -> Option<String> {
    let o = s3.get_object().bucket(bucket).key(key).send().await.ok()?;
    String::from_utf8(o.body.collect().await.ok()?.into_bytes().to_vec()).ok()
}

fn record(run_id: &str, people: u32) -> ResultRecord {
    ResultRecord {
        run_id: RunId::parse(run_id).unwrap(),
        user_id: UserId::parse("user_1").unwrap(),
        // Yesterday: inside the CSV's retention window.
        taken_at: ResultRecord::normalise_time(chrono::Utc::now() - chrono::Duration::days(1)),
        people_count: Some(people),
        health: Health::Ok,
        frames: 10,
        source: "https://cdn.example.com/live.m3u8".into(),
        image_ref: None,
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn csv_eight_concurrent_writers_keep_every_line() {
    let moto = Moto::start().await;
    let sdk = moto.sdk_config().await;
    let s3 = s3_client(&sdk);
    let bucket = unique("results");
    s3.create_bucket().bucket(&bucket).send().await.unwrap();

    let log = S3CsvLog::new(s3.clone(), &bucket, 60);
    let records: Vec<ResultRecord> = (0..8).map(|i| record(&format!("run-{i}"), i)).collect();
    let futs: Vec<_> = records
        .iter()
        .map(|r| {
            let log = log.clone();
            let r = r.clone();
            tokio::spawn(async move { log.append_record(&r).await })
        })
        .collect();
    let results: Vec<Appended> = join_all(futs)
        .await
        .into_iter()
        .map(|r| r.unwrap().unwrap())
        .collect();
    assert!(results.iter().all(|a| *a == Appended::Written));

    let user = UserId::parse("user_1").unwrap();
    let body = read_object(&s3, &bucket, &csv_key(&user)).await.unwrap();
    let got: Vec<&str> = body.lines().collect();
    assert_eq!(got[0], RESULT_CSV_HEADER);
    assert_eq!(got.len(), 9, "{body}");
    for r in &records {
        let line = footfall_domain::csv::result_csv_line(r);
        assert_eq!(
            got.iter().filter(|g| **g == line.trim_end()).count(),
            1,
            "line {line} kept exactly once"
        );
    }

    // A retried append of the same run is not written twice.
    let again = log.append_record(&records[3]).await.unwrap();
    assert_eq!(again, Appended::AlreadyPresent);
    assert_eq!(
        read_object(&s3, &bucket, &csv_key(&user)).await.unwrap(),
        body
    );

    // Retention: lines taken more than RESULT_RETENTION_DAYS (365) ago go at the next append;
    // the header, the recent lines and lines of unknown time stay.
    let old_line = format!(
        "run-old,{},user_1,9,ok,10,https://cdn.example.com/live.m3u8,\n",
        (chrono::Utc::now() - chrono::Duration::days(366)).format("%Y-%m-%dT%H:%M:%SZ")
    );
    s3.put_object()
        .bucket(&bucket)
        .key(csv_key(&user))
        .body(format!("{body}{old_line}").into_bytes().into())
        .send()
        .await
        .unwrap();
    let fresh = record("run-new", 2);
    assert_eq!(log.append_record(&fresh).await.unwrap(), Appended::Written);
    let pruned = read_object(&s3, &bucket, &csv_key(&user)).await.unwrap();
    assert_eq!(
        pruned,
        format!("{body}{}", footfall_domain::csv::result_csv_line(&fresh)),
        "the year-old line is gone, nothing else"
    );
    // RESULT_RETENTION_DAYS=0 keeps every line.
    s3.put_object()
        .bucket(&bucket)
        .key(csv_key(&user))
        .body(format!("{pruned}{old_line}").into_bytes().into())
        .send()
        .await
        .unwrap();
    let keep_all = S3CsvLog::new(s3.clone(), &bucket, 60).with_retention_days(0);
    keep_all
        .append_record(&record("run-new-2", 3))
        .await
        .unwrap();
    let kept = read_object(&s3, &bucket, &csv_key(&user)).await.unwrap();
    assert!(kept.contains(old_line.trim_end()), "{kept}");

    // A missing bucket is a clear error.
    let err = S3CsvLog::new(s3.clone(), "no-such-bucket-x", 3)
        .append_record(&records[0])
        .await
        .unwrap_err();
    assert!(err.to_string().contains("csv"), "{err}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn callback_retries_times_out_and_reports_server_down() {
    let post = |client: &reqwest::Client, url: &str, body: &Value| {
        let cb = HttpCallback::new(client.clone(), url, Source::ApiGateway, None);
        let body = serde_json::to_vec(body).unwrap();
        async move { cb.post(body).await }
    };
    // 503 first, then 200: the body arrives (twice: once refused, once accepted).
    let (url, seen) = recording_http_server(vec![503, 200]).await;
    let client = callback::client(Duration::from_secs(2)).unwrap();
    let body = json!({"user_id": "user_1", "people_count": 3});
    let e = post(&client, &url, &body).await.unwrap_err();
    assert!(e.retryable);
    assert_eq!(post(&client, &url, &body).await.unwrap(), 200);
    let got = seen.lock().unwrap().clone();
    assert_eq!(got.len(), 2);
    assert_eq!(serde_json::from_str::<Value>(&got[1]).unwrap(), body);

    // 400: permanent, not retried.
    let (url400, _) = recording_http_server(vec![400]).await;
    assert!(!post(&client, &url400, &body).await.unwrap_err().retryable);

    // Server down: connection refused is retryable and named.
    let down = format!("http://127.0.0.1:{}/results", free_port());
    let e = post(&client, &down, &body).await.unwrap_err();
    assert!(e.retryable && e.to_string().contains("callback"), "{e}");

    // A server that accepts but never answers: the timeout fires.
    let silent = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = silent.local_addr().unwrap();
    let holder = tokio::spawn(async move {
        let mut socks = Vec::new();
        while let Ok((s, _)) = silent.accept().await {
            socks.push(s);
        }
    });
    let quick = callback::client(Duration::from_secs(1)).unwrap();
    let t0 = std::time::Instant::now();
    let e = post(&quick, &format!("http://{addr}/"), &body)
        .await
        .unwrap_err();
    assert!(e.to_string().contains("timed out"), "{e}");
    assert!(t0.elapsed() < Duration::from_secs(5));
    holder.abort();
}

async fn create_function(moto: &Moto, sdk: &aws_config::SdkConfig) -> String {
    moto.lambda_without_docker().await;
    let role = moto.create_role(&unique("notify-role")).await;
    let name = unique("notify");
    // The smallest valid zip archive (end of central directory only).
    let mut zip = b"PK\x05\x06".to_vec();
    zip.extend_from_slice(&[0u8; 18]);
    aws_sdk_lambda::Client::new(sdk)
        .create_function()
        .function_name(&name)
        .runtime(aws_sdk_lambda::types::Runtime::Providedal2023)
        .role(role)
        .handler("bootstrap")
        .code(
            aws_sdk_lambda::types::FunctionCode::builder()
                .zip_file(aws_sdk_lambda::primitives::Blob::new(zip))
                .build(),
        )
        .send()
        .await
        .unwrap();
    name
}

fn notification(jpeg: &[u8]) -> NotificationPayload {
    use base64::Engine;
    NotificationPayload {
        run_id: Some("run-77".into()),
        user_id: "user_1".into(),
        date_time: "2024-01-01T12:00:00Z".into(),
        config: payloads::NotificationConfig {
            monitoring_status: true,
            streaming_url: "https://cdn.example.com/live.m3u8".into(),
            email: "user@example.com".into(),
            threshold: Some(15),
        },
        result: payloads::CountResult { people_count: 20 },
        processed_detection_image: base64::engine::general_purpose::STANDARD.encode(jpeg),
        image_key: None,
        metric: None,
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn notification_lambda_async_invoke() {
    let moto = Moto::start_private().await;
    let sdk = moto.sdk_config().await;
    let name = create_function(&moto, &sdk).await;
    let lambda = aws_sdk_lambda::Client::new(&sdk);
    let p = notification(&shared_image("zidane.jpg"));
    LambdaNotifier::new(lambda.clone(), Some(name.clone()), 256 * 1024)
        .invoke(&p)
        .await
        .unwrap();
    // Too large for an async invoke: refused before sending, not retryable.
    let e = LambdaNotifier::new(lambda, Some(name), 1000)
        .invoke(&p)
        .await
        .unwrap_err();
    assert!(!e.retryable && e.to_string().contains("limit"), "{e}");
}

/// A fixed number of people per frame, failing the first `fail_first` calls (a detector
/// hiccup); the "annotated" picture is the shared zidane photo.
struct FixedCounter {
    people: usize,
    fail_first: Mutex<u32>,
}

impl PeopleCounter for FixedCounter {
    fn count(&self, frames: &[RgbImage]) -> Result<Vec<usize>, CounterError> {
        let mut fail = self.fail_first.lock().unwrap();
        if *fail > 0 {
            *fail -= 1;
            return Err("device lost".into());
        }
        Ok(vec![self.people; frames.len()])
    }
    fn annotated_jpeg(&self, _frame: &RgbImage) -> Result<Vec<u8>, CounterError> {
        Ok(shared_image("zidane.jpg"))
    }
}

fn counting(people: usize, fail_first: u32) -> Counting {
    Counting {
        counter: Arc::new(FixedCounter {
            people,
            fail_first: Mutex::new(fail_first),
        }),
        resolver: Arc::new(YtDlpResolver::default()),
    }
}

struct World {
    moto: Moto,
    sdk: aws_config::SdkConfig,
    /// A separate moto for the Lambda function (see `Moto::start_private`).
    _lambda_moto: Moto,
    lambda: aws_sdk_lambda::Client,
    /// The shared 10 s stream as HLS on loopback.
    hls: LoopbackServer,
    /// A SQLite results database of its own (MySQL tests pass their own URL).
    db_dir: std::path::PathBuf,
    env: HashMap<&'static str, String>,
}

impl Drop for World {
    fn drop(&mut self) {
        std::fs::remove_dir_all(&self.db_dir).ok();
    }
}

impl World {
    fn stream_url(&self) -> String {
        self.hls.url("people.m3u8")
    }
}

async fn world() -> World {
    let moto = Moto::start().await;
    let sdk = moto.sdk_config().await;
    let bucket = unique("results");
    s3_client(&sdk)
        .create_bucket()
        .bucket(&bucket)
        .send()
        .await
        .unwrap();
    let topic = aws_sdk_sns::Client::new(&sdk)
        .create_topic()
        .name(unique("errors"))
        .send()
        .await
        .unwrap();
    let lambda_moto = Moto::start_private().await;
    let lambda_sdk = lambda_moto.sdk_config().await;
    let function = create_function(&lambda_moto, &lambda_sdk).await;
    let shared = testdata::find().unwrap_or_else(|message| panic!("{message}"));
    let hls = LoopbackServer::serve_dir(&shared.join("video/hls"), Fault::None).unwrap();
    let db_dir = std::env::temp_dir().join(unique("task-db"));
    std::fs::create_dir_all(&db_dir).unwrap();
    let env = HashMap::from([
        ("RESULTS_BUCKET", bucket),
        (
            "DATABASE_URL",
            format!("sqlite://{}", db_dir.join("results.db").display()),
        ),
        ("NOTIFY_FUNCTION_NAME", function),
        ("ERROR_TOPIC_ARN", topic.topic_arn().unwrap().to_string()),
        ("RETRY_ATTEMPTS", "3".into()),
        ("RETRY_BASE_MS", "10".into()),
        ("ALERT_THRESHOLD", "15".into()),
        ("FOOTFALL_SAMPLE_EVERY_SECS", "5".into()),
        // The stream is on loopback.
        ("FOOTFALL_ALLOW_PRIVATE_STREAMS", "TRUE".into()),
    ]);
    World {
        moto,
        sdk,
        _lambda_moto: lambda_moto,
        lambda: aws_sdk_lambda::Client::new(&lambda_sdk),
        hls,
        db_dir,
        env,
    }
}

/// Task dependencies on the world's moto, with the Lambda client on the private Lambda moto.
fn deps_for(w: &World, config: TaskConfig, counting: Counting, log: JsonLog) -> TaskDeps {
    let mut d = TaskDeps::new(&w.sdk, config, counting, log).unwrap();
    d.lambda = w.lambda.clone();
    d
}

fn config(w: &World, source: Source, extra: &[(&'static str, String)]) -> TaskConfig {
    config_for_run(w, source, "run-77", extra)
}

fn config_for_run(
    w: &World,
    source: Source,
    run_id: &str,
    extra: &[(&'static str, String)],
) -> TaskConfig {
    let user = payloads::UserConfig {
        user_id: "user_1".into(),
        streaming_url: w.stream_url(),
        email: "user@example.com".into(),
        monitoring_status: true,
        threshold: None,
        tracking: None,
    };
    let mut env = w.env.clone();
    env.insert(
        payloads::TASK_PAYLOAD_ENV,
        TaskPayload::new(source, run_id, &user).to_json(),
    );
    for (k, v) in extra {
        env.insert(k, v.clone());
    }
    TaskConfig::from(&Env::new(|k| env.get(k).cloned())).unwrap()
}

/// The rows of the world's SQLite results database.
async fn rows(w: &World) -> Vec<ResultRecord> {
    let store = results_store::Store::connect(&w.env["DATABASE_URL"])
        .await
        .unwrap();
    let rows = store.results_for("user_1").await.unwrap();
    store.close().await;
    rows
}

fn attempts(log: &JsonLog, step: &str) -> usize {
    log.lines()
        .iter()
        .filter(|l| l["event"] == "attempt_failed" && l["step"] == step)
        .count()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn eventbridge_run_stores_row_and_csv_and_alerts() {
    let w = world().await;
    let log = JsonLog::capture("run-77", "user_1");
    // The detector fails once (retried), then counts 20 people on each of the 2 sampled frames.
    let deps = deps_for(
        &w,
        config(&w, Source::EventBridge, &[]),
        counting(20, 1),
        log.clone(),
    );
    let report = run_task(&deps).await;
    assert_eq!(report.exit_code(), 0, "{report:?}");
    assert_eq!(report.step("job"), Some(&Step::Done));
    assert_eq!(report.step("db"), Some(&Step::Done));
    assert_eq!(report.step("csv"), Some(&Step::Done));
    assert_eq!(report.step("notify"), Some(&Step::Done));
    let rows = rows(&w).await;
    assert_eq!(rows.len(), 1);
    assert_eq!(rows[0].people_count, Some(20));
    assert_eq!(rows[0].frames, 2);
    // The task used to write `EVENTBRIDGE` as the source and `ok` as the health whatever the
    // stream did: the row now says which stream was counted and how it went, like the local
    // runner's rows.
    assert_eq!(rows[0].source, w.stream_url());
    assert_eq!(rows[0].health, Health::Ok);
    let csv = read_object(&deps.s3, &w.env["RESULTS_BUCKET"], "user_1.csv")
        .await
        .unwrap();
    let lines: Vec<&str> = csv.lines().collect();
    assert_eq!(lines[0], RESULT_CSV_HEADER);
    assert_eq!(lines.len(), 2, "{csv}");
    assert!(lines[1].starts_with("run-77,"), "{csv}");
    assert!(
        lines[1].contains(",user_1,20,ok,2,http://127.0.0.1:"),
        "{csv}"
    );

    // JSON log lines: the failed first count, then one job_finished line.
    assert_eq!(attempts(&log, "job"), 1);
    let done: Vec<Value> = log
        .lines()
        .into_iter()
        .filter(|l| l["event"] == "job_finished")
        .collect();
    assert_eq!(done.len(), 1);
    assert_eq!(done[0]["result"]["people_count"], 20);
    assert_eq!(done[0]["run_id"], "run-77");
    assert!(w.moto.sns_sent(&w.env["ERROR_TOPIC_ARN"]).await.is_empty());

    // The same task again (ECS retry): no second row, no second CSV line. The alert is handed
    // to the notification Lambda again, in case the first task died before it could; the
    // Lambda's cooldown claim for this result (same user, same DATE-TIME) sends it once
    // (`notify-lambda/tests/moto_notify.rs`).
    let report = run_task(&deps).await;
    assert_eq!(report.step("db"), Some(&Step::AlreadyDone));
    assert_eq!(report.step("csv"), Some(&Step::AlreadyDone));
    assert_eq!(report.step("notify"), Some(&Step::Done));
    assert_eq!(self::rows(&w).await.len(), 1);
}

/// A user's debounced rule (issue 12) in scheduled tasks: the armed state is kept in the results
/// database between tasks, so a breach that lasts several tasks alerts once, and the rule
/// re-arms only after a task whose samples fell below threshold - margin.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_breach_over_several_scheduled_tasks_alerts_once_and_re_arms_below_the_margin() {
    let w = world().await;
    let rule = footfall_job::JobConfig::from_json(
        r#"{"alert":{"metric":"people","k":2,"n":2,"margin":5}}"#,
    )
    .unwrap();
    // (people on each of the 2 samples, expected notify step)
    let went_out = "the alert for this breach went out";
    let runs: [(usize, Option<&str>); 6] = [
        (20, None),                     // breach: alerts
        (20, Some(went_out)),           // the same breach, next hour: silent
        (12, Some(went_out)),           // below 15 but not below 15 - 5: still silent
        (8, Some("did not exceed 15")), // below 10: re-armed
        (20, None),                     // a new breach: alerts again
        (20, Some(went_out)),
    ];
    for (i, (people, skipped)) in runs.into_iter().enumerate() {
        let run = format!("run-rule-{i}");
        let mut cfg = config_for_run(&w, Source::EventBridge, &run, &[]);
        cfg.payload.threshold = Some(15);
        cfg.payload.tracking = Some(rule.clone());
        let deps = deps_for(
            &w,
            cfg,
            counting(people, 0),
            JsonLog::capture(&run, "user_1"),
        );
        let report = run_task(&deps).await;
        assert_eq!(report.exit_code(), 0, "run {i}: {report:?}");
        match (skipped, report.step("notify")) {
            (None, Some(Step::Done)) => {}
            (Some(why), Some(Step::Skipped(reason))) if reason.contains(why) => {}
            (expected, got) => {
                panic!("run {i} ({people} people): expected {expected:?}, got {got:?}")
            }
        }
    }
}

/// The user's threshold (the `config` table's column, carried in the payload) decides the alert,
/// not the task's ALERT_THRESHOLD (15 here): 20 people against a threshold of 25 is no alert.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_users_own_threshold_decides_the_alert() {
    let w = world().await;
    let mut cfg = config_for_run(&w, Source::EventBridge, "run-78", &[]);
    cfg.payload.threshold = Some(25);
    let deps = deps_for(
        &w,
        cfg,
        counting(20, 0),
        JsonLog::capture("run-78", "user_1"),
    );
    let report = run_task(&deps).await;
    assert_eq!(report.exit_code(), 0, "{report:?}");
    assert_eq!(report.step("db"), Some(&Step::Done));
    assert_eq!(
        report.step("notify"),
        Some(&Step::Skipped(
            "people_count 20 does not exceed threshold 25".into()
        ))
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn persistent_failures_exit_nonzero_and_notify_with_the_result() {
    let w = world().await;
    // Database down for the whole run (nothing listens there): CSV still written, the error
    // notification carries the result.
    let down_db = format!("mysql://root@127.0.0.1:{}/footfall", free_port());
    let log = JsonLog::capture("run-77", "user_1");
    let deps = deps_for(
        &w,
        config(&w, Source::EventBridge, &[("DATABASE_URL", down_db)]),
        counting(3, 0),
        log.clone(),
    );
    let report = run_task(&deps).await;
    assert_eq!(report.exit_code(), 1);
    assert_eq!(report.failures(), vec!["db"]);
    assert_eq!(report.step("csv"), Some(&Step::Done));
    assert!(matches!(report.step("notify"), Some(Step::Skipped(_))));
    assert_eq!(attempts(&log, "db"), 3);
    let sent = w.moto.sns_sent(&w.env["ERROR_TOPIC_ARN"]).await;
    assert_eq!(sent.len(), 1);
    let msg: Value = serde_json::from_str(&sent[0].1).unwrap();
    assert_eq!(msg["failed_steps"], json!(["db"]));
    assert_eq!(msg["result"]["people_count"], 3);
    assert_eq!(msg["run_id"], "run-77");

    // API Gateway run with the callback server down: non-zero exit, the result is in the error
    // notification and in the log.
    let down = format!("http://127.0.0.1:{}/callback", free_port());
    let log = JsonLog::capture("run-77", "user_1");
    let deps = deps_for(
        &w,
        config(
            &w,
            Source::ApiGateway,
            &[
                ("CALLBACK_URL", down),
                (
                    "CALLBACK_SECRET_ARN",
                    "arn:aws:secretsmanager:us-east-1:123456789012:secret:cb".into(),
                ),
            ],
        ),
        counting(2, 0),
        log.clone(),
    );
    let report = run_task(&deps).await;
    assert_eq!(report.exit_code(), 1);
    assert_eq!(report.failures(), vec!["callback"]);
    let fin = log
        .lines()
        .into_iter()
        .find(|l| l["event"] == "job_finished")
        .unwrap();
    assert_eq!(fin["result"]["people_count"], 2);
    assert_eq!(fin["level"], "error");
    assert_eq!(w.moto.sns_sent(&w.env["ERROR_TOPIC_ARN"]).await.len(), 2);

    // A detector that keeps failing: non-zero exit, an error notification, and a row that says
    // so (no count, health `error`), never a count of 0.
    let deps = deps_for(
        &w,
        config_for_run(&w, Source::EventBridge, "run-79", &[]),
        counting(2, 99),
        JsonLog::capture("run-79", "user_1"),
    );
    let report = run_task(&deps).await;
    assert_eq!(report.failures(), vec!["job"]);
    assert!(report.result.is_none());
    assert_eq!(w.moto.sns_sent(&w.env["ERROR_TOPIC_ARN"]).await.len(), 3);
    let row = rows(&w)
        .await
        .into_iter()
        .find(|r| r.run_id == "run-79")
        .unwrap();
    assert_eq!((row.people_count, row.health), (None, Health::Error));

    // A stream that is not there: the row records it as unavailable.
    let mut cfg = config_for_run(&w, Source::EventBridge, "run-80", &[]);
    cfg.payload.streaming_url = w.hls.url("missing.m3u8");
    let report = run_task(&deps_for(
        &w,
        cfg,
        counting(2, 0),
        JsonLog::capture("run-80", "user_1"),
    ))
    .await;
    assert_eq!(report.failures(), vec!["job"]);
    let row = rows(&w)
        .await
        .into_iter()
        .find(|r| r.run_id == "run-80")
        .unwrap();
    assert_eq!((row.people_count, row.health), (None, Health::Unavailable));
}

const CALLBACK_SECRET: &str = "5d0c1f8e2a7b4c9d6e3f0a1b2c3d4e5f";

/// A callback signing key in the world's Secrets Manager; its ARN.
async fn callback_secret(w: &World, text: &str) -> String {
    w.moto.create_secret("callback-key", text).await
}

/// The ad-hoc run's result reaches the receiver signed with the key from Secrets Manager, with
/// the count, the stream's health and the annotated picture; the picture is also stored in S3
/// under the key the result row names.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn api_gateway_run_posts_a_signed_callback_with_the_picture() {
    use base64::Engine;
    let w = world().await;
    let (url, seen) = aws_testkit::recording_http_server_with_headers(vec![500, 200]).await;
    let arn = callback_secret(&w, CALLBACK_SECRET).await;
    let secrets = aws_sdk_secretsmanager::Client::new(&w.sdk);
    let deps = deps_for(
        &w,
        config(
            &w,
            Source::ApiGateway,
            &[
                ("CALLBACK_URL", format!("{url}/results")),
                ("CALLBACK_SECRET_ARN", arn),
            ],
        ),
        counting(5, 0),
        JsonLog::capture("run-77", "user_1"),
    )
    .load_callback_key(&secrets)
    .await
    .unwrap();
    let report = run_task(&deps).await;
    assert_eq!(report.exit_code(), 0, "{report:?}");
    let requests = seen.lock().unwrap().clone();
    assert_eq!(requests.len(), 2);
    let accepted = &requests[1];
    // The signature is over the exact bytes received, within the receiver's 5-minute window;
    // another key does not verify it.
    let header = accepted.header("footfall-signature").expect("signed");
    let key = aws_sinks::SigningKey::new(CALLBACK_SECRET).unwrap();
    let now = chrono::Utc::now().timestamp();
    key.verify_callback(header, accepted.body.as_bytes(), now, 300)
        .unwrap();
    let other = aws_sinks::SigningKey::new(&"x".repeat(32)).unwrap();
    assert!(
        other
            .verify_callback(header, accepted.body.as_bytes(), now, 300)
            .is_err()
    );
    let b: Value = serde_json::from_str(&accepted.body).unwrap();
    assert_eq!(b["user_id"], "user_1");
    assert_eq!(b["people_count"], 5);
    assert_eq!(b["source"], "API_GATEWAY");
    assert_eq!(b["health"], "ok");
    assert_eq!(b["streaming_URL"], w.stream_url());
    assert!(b["DATE-TIME"].as_str().unwrap().ends_with('Z'));
    let jpeg = base64::engine::general_purpose::STANDARD
        .decode(b["processed_detection_image"].as_str().unwrap())
        .unwrap();
    // The stand-in counter's annotated picture, byte for byte.
    assert_eq!(jpeg, shared_image("zidane.jpg"));
    // With a store configured the ad-hoc result is stored too, picture included.
    assert_eq!(report.step("db"), Some(&Step::Done));
    assert_eq!(report.step("csv"), Some(&Step::Done));
    assert_eq!(report.step("picture"), Some(&Step::Done));
    assert_eq!(b["image_ref"], "pictures/user_1/run-77.jpg");
    let row = rows(&w).await.into_iter().next().unwrap();
    assert_eq!(row.image_ref.as_deref(), Some("pictures/user_1/run-77.jpg"));
    let stored = s3_client(&w.sdk)
        .get_object()
        .bucket(&w.env["RESULTS_BUCKET"])
        .key("pictures/user_1/run-77.jpg")
        .send()
        .await
        .unwrap()
        .body
        .collect()
        .await
        .unwrap()
        .into_bytes();
    assert_eq!(stored.to_vec(), jpeg);
}

/// A weak or missing callback key stops the task at start, before it counts.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn callback_key_problems_stop_the_task_at_start() {
    let w = world().await;
    let secrets = aws_sdk_secretsmanager::Client::new(&w.sdk);
    let weak = callback_secret(&w, "short").await;
    for (arn, expected) in [
        (weak, "at least 32"),
        (
            "arn:aws:secretsmanager:us-east-1:123456789012:secret:gone".to_string(),
            "GetSecretValue",
        ),
    ] {
        let deps = deps_for(
            &w,
            config(
                &w,
                Source::ApiGateway,
                &[
                    ("CALLBACK_URL", "http://127.0.0.1:9/results".to_string()),
                    ("CALLBACK_SECRET_ARN", arn),
                ],
            ),
            counting(5, 0),
            JsonLog::capture("run-77", "user_1"),
        );
        let e = deps.load_callback_key(&secrets).await.err().unwrap();
        assert!(e.to_string().contains("CALLBACK_SECRET_ARN"), "{e}");
        assert!(e.to_string().contains(expected), "{e}");
    }
}

/// An empty CALLBACK_URL means "store only": the API already answered 202, so the task must
/// not fail its configuration (it used to exit 2).
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn api_gateway_run_without_a_callback_stores_only() {
    let w = world().await;
    let deps = deps_for(
        &w,
        config(
            &w,
            Source::ApiGateway,
            &[("CALLBACK_URL", "  ".to_string())],
        ),
        counting(5, 0),
        JsonLog::capture("run-77", "user_1"),
    );
    let report = run_task(&deps).await;
    assert_eq!(report.exit_code(), 0, "{report:?}");
    assert_eq!(report.step("callback"), None);
    assert_eq!(report.step("db"), Some(&Step::Done));
    let rows = self::rows(&w).await;
    assert_eq!((rows.len(), rows[0].people_count), (1, Some(5)));
}

#[test]
fn config_requires_the_sinks_of_the_source() {
    let from =
        |pairs: &HashMap<&str, String>| TaskConfig::from(&Env::new(|k| pairs.get(k).cloned()));
    let user = payloads::UserConfig {
        user_id: "user_1".into(),
        streaming_url: "https://cdn.example.com/x.m3u8".into(),
        email: "user@example.com".into(),
        monitoring_status: true,
        threshold: None,
        tracking: None,
    };
    let p = TaskPayload::new(Source::ApiGateway, "r1", &user).to_json();
    let env = HashMap::from([(payloads::TASK_PAYLOAD_ENV, p.clone())]);
    assert!(from(&env).unwrap_err().to_string().contains("CALLBACK_URL"));
    let env = HashMap::from([(payloads::TASK_PAYLOAD_ENV, p.replace("user_1", "../x"))]);
    assert!(from(&env).unwrap_err().to_string().contains("user_id"));
    let env: HashMap<&str, String> = HashMap::new();
    assert!(
        from(&env)
            .unwrap_err()
            .to_string()
            .contains("FOOTFALL_PAYLOAD")
    );
    let local = p.replace(
        "https://cdn.example.com/x.m3u8",
        "http://127.0.0.1:8000/x.m3u8",
    );
    let mut env = HashMap::from([
        (payloads::TASK_PAYLOAD_ENV, local),
        ("CALLBACK_URL", "http://10.0.0.5/cb".to_string()),
    ]);
    // A callback is signed: its URL comes with the key's secret.
    env.insert("FOOTFALL_ALLOW_PRIVATE_STREAMS", "TRUE".to_string());
    assert!(
        from(&env)
            .unwrap_err()
            .to_string()
            .contains("CALLBACK_SECRET_ARN")
    );
    env.insert(
        "CALLBACK_SECRET_ARN",
        "arn:aws:secretsmanager:us-east-1:123456789012:secret:cb".to_string(),
    );
    env.remove("FOOTFALL_ALLOW_PRIVATE_STREAMS");
    assert!(
        from(&env)
            .unwrap_err()
            .to_string()
            .contains("streaming_URL")
    );
    // Parsed like every other footfall process: `TRUE` works here too (it used to work in the
    // controller only), and a value that is no flag is refused, not read as false.
    env.insert("FOOTFALL_ALLOW_PRIVATE_STREAMS", "TRUE".to_string());
    let cfg = from(&env).unwrap();
    // The watch window: 60 s and 2 counting attempts unless the task definition says otherwise.
    assert_eq!((cfg.watch.as_secs(), cfg.count_attempts), (60, 2));
    env.insert("WATCH_SECONDS", "30".to_string());
    env.insert("COUNT_ATTEMPTS", "3".to_string());
    let cfg = from(&env).unwrap();
    assert_eq!((cfg.watch.as_secs(), cfg.count_attempts), (30, 3));
    env.insert("FOOTFALL_ALLOW_PRIVATE_STREAMS", "maybe".to_string());
    assert!(
        from(&env)
            .unwrap_err()
            .to_string()
            .contains("FOOTFALL_ALLOW_PRIVATE_STREAMS")
    );
}

/// A fresh MariaDB/MySQL database for one test (`FOOTFALL_MYSQL_URL`, default
/// `mysql://root@127.0.0.1:3306`), created with the `mysql` client.
fn mysql_database(name: &str) -> String {
    let base = std::env::var("FOOTFALL_MYSQL_URL")
        .unwrap_or_else(|_| "mysql://root@127.0.0.1:3306".to_string());
    let db = name.replace('-', "_");
    let ok = std::process::Command::new("mysql")
        .args([
            "-h",
            "127.0.0.1",
            "-u",
            "root",
            "-e",
            &format!("CREATE DATABASE `{db}`"),
        ])
        .status()
        .map(|s| s.success())
        .unwrap_or(false);
    assert!(
        ok,
        "could not create database {db} (is MariaDB running on 127.0.0.1:3306?)"
    );
    format!("{base}/{db}")
}

fn drop_mysql_database(url: &str) {
    let db = url.rsplit('/').next().unwrap_or_default();
    let _ = std::process::Command::new("mysql")
        .args([
            "-h",
            "127.0.0.1",
            "-u",
            "root",
            "-e",
            &format!("DROP DATABASE IF EXISTS `{db}`"),
        ])
        .status();
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn eventbridge_run_writes_the_mysql_result_row_once() {
    let w = world().await;
    let url = mysql_database(&unique("footfall_task"));
    // Tasks only check the schema: the deploy's explicit migration comes first.
    results_store::Store::migrate(&url).await.unwrap();
    let deps = deps_for(
        &w,
        config(&w, Source::EventBridge, &[("DATABASE_URL", url.clone())]),
        counting(4, 0),
        JsonLog::capture("run-77", "user_1"),
    );
    let report = run_task(&deps).await;
    assert_eq!(report.exit_code(), 0, "{report:?}");
    // A retried task (same run id) inserts no second row.
    let report = run_task(&deps).await;
    assert_eq!(report.step("db"), Some(&Step::AlreadyDone));

    let check = results_store::Store::connect(&url).await.unwrap();
    let rows = check.results_for("user_1").await.unwrap();
    assert_eq!(rows.len(), 1, "{rows:?}");
    assert_eq!(rows[0].run_id, "run-77");
    assert_eq!(rows[0].people_count, Some(4));
    assert_eq!(rows[0].frames, 2);
    assert_eq!(rows[0].source, w.stream_url());
    assert_eq!(rows[0].health, Health::Ok);
    check.close().await;
    drop_mysql_database(&url);
}

/// Failure drill: the notification Lambda and SNS are both unreachable (endpoints where nothing
/// listens, the SDK's own retries off). The alert is retried, every failed attempt is logged with
/// the user and run id, the error notification is retried and logged the same way, and the
/// result itself is stored (database row and S3 CSV line) and carried in the final log line.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn notify_lambda_and_sns_down_are_retried_logged_and_the_result_is_kept() {
    use aws_config::retry::RetryConfig;
    let w = world().await;
    let log = JsonLog::capture("run-77", "user_1");
    let mut deps = deps_for(
        &w,
        config(&w, Source::EventBridge, &[]),
        counting(20, 0),
        log.clone(),
    );
    let dead = format!("http://127.0.0.1:{}", free_port());
    deps.lambda = aws_sdk_lambda::Client::from_conf(
        aws_sdk_lambda::config::Builder::from(&w.sdk)
            .endpoint_url(&dead)
            .retry_config(RetryConfig::disabled())
            .build(),
    );
    deps.sns = aws_sdk_sns::Client::from_conf(
        aws_sdk_sns::config::Builder::from(&w.sdk)
            .endpoint_url(&dead)
            .retry_config(RetryConfig::disabled())
            .build(),
    );
    let report = run_task(&deps).await;
    assert_eq!(report.exit_code(), 1, "{report:?}");
    assert_eq!(report.failures(), vec!["notify"]);
    assert_eq!(report.step("db"), Some(&Step::Done));
    assert_eq!(report.step("csv"), Some(&Step::Done));
    assert!(matches!(
        report.step("error_notification"),
        Some(Step::Failed(_))
    ));
    // The result is stored all the same.
    assert_eq!(rows(&w).await.len(), 1);
    let csv = read_object(&deps.s3, &w.env["RESULTS_BUCKET"], "user_1.csv")
        .await
        .unwrap();
    assert!(csv.contains(",user_1,20,ok,2,"), "{csv}");

    let lines = log.lines();
    for step in ["notify", "error_notification"] {
        let failed: Vec<&Value> = lines
            .iter()
            .filter(|l| l["event"] == "attempt_failed" && l["step"] == step)
            .collect();
        assert_eq!(failed.len(), 3, "{step}: retried RETRY_ATTEMPTS times");
        for line in &failed {
            assert_eq!(
                (&line["run_id"], &line["user_id"]),
                (&json!("run-77"), &json!("user_1"))
            );
            assert_eq!(line["retryable"], true, "{line}");
        }
        assert_eq!(failed.last().unwrap()["level"], "error");
    }
    let finished = lines.iter().find(|l| l["event"] == "job_finished").unwrap();
    assert_eq!(finished["level"], "error");
    assert_eq!(finished["failed"], json!(["notify"]));
    assert_eq!(finished["result"]["people_count"], 20);
    assert_eq!(finished["user_id"], "user_1");
    assert_eq!(finished["run_id"], "run-77");
}

/// Failure drill: the task's MySQL server (a private `mariadbd`, not the shared one) stops between
/// two tasks and comes back while the second one is retrying. The row is written once it is back;
/// a retried task (same run id) writes no second row. `FOOTFALL_SKIP_MYSQL=1` skips.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn mysql_restarted_during_the_retries_gets_each_row_once() {
    use private_mariadb::PrivateMariaDb;
    if std::env::var("FOOTFALL_SKIP_MYSQL").is_ok_and(|v| v == "1") {
        eprintln!("FOOTFALL_SKIP_MYSQL=1: MariaDB restart drill skipped");
        return;
    }
    let w = world().await;
    let mut db = PrivateMariaDb::start().unwrap_or_else(|e| panic!("{e}"));
    db.create_database("footfall").unwrap();
    let url = db.url("footfall");
    results_store::Store::migrate(&url).await.unwrap();
    let settings = [
        ("RETRY_ATTEMPTS", "8".to_string()),
        ("RETRY_BASE_MS", "300".to_string()),
        ("DATABASE_URL", url.clone()),
    ];
    // One connection for both tasks, as one process would keep it.
    let store: Arc<LazyStore> = Arc::new(LazyStore::new(&url, Duration::from_secs(1)));
    let with_store = |mut d: TaskDeps| {
        d.results = Box::new(SharedStore(Arc::clone(&store)));
        d
    };
    let first = with_store(deps_for(
        &w,
        config_for_run(&w, Source::EventBridge, "run-1", &settings),
        counting(4, 0),
        JsonLog::capture("run-1", "user_1"),
    ));
    assert_eq!(run_task(&first).await.step("db"), Some(&Step::Done));

    // The server stops; it comes back about two seconds into the next task's retries.
    db.stop();
    let restarter = std::thread::spawn(move || {
        std::thread::sleep(Duration::from_secs(2));
        db.restart().map(|()| db)
    });
    let log = JsonLog::capture("run-2", "user_1");
    let second = with_store(deps_for(
        &w,
        config_for_run(&w, Source::EventBridge, "run-2", &settings),
        counting(4, 0),
        log.clone(),
    ));
    let report = run_task(&second).await;
    let db = restarter.join().unwrap().unwrap();
    assert_eq!(report.step("db"), Some(&Step::Done), "{report:?}");
    assert!(attempts(&log, "db") >= 1, "the outage was seen and retried");
    // ECS retries the same task: no second row.
    assert_eq!(run_task(&second).await.step("db"), Some(&Step::AlreadyDone));

    let check = results_store::Store::connect(&url).await.unwrap();
    let runs: Vec<String> = check
        .results_for("user_1")
        .await
        .unwrap()
        .into_iter()
        .map(|r| r.run_id.to_string())
        .collect();
    assert_eq!(runs.len(), 2, "{runs:?}");
    assert!(runs.contains(&"run-1".to_string()) && runs.contains(&"run-2".to_string()));
    check.close().await;
    drop(db);
}

/// One [`LazyStore`] shared by several tasks' dependencies.
struct SharedStore(Arc<LazyStore>);

impl ResultSink for SharedStore {
    fn store<'a>(
        &'a self,
        record: &'a ResultRecord,
    ) -> footfall_domain::sinks::BoxFuture<
        'a,
        Result<footfall_domain::sinks::Stored, footfall_domain::sinks::SinkError>,
    > {
        self.0.store(record)
    }
}
