//! The task's sinks and orchestration against real servers on loopback: moto (S3, SNS, Lambda)
//! and loopback HTTP servers for the callback.

use std::collections::HashMap;
use std::sync::Mutex;
use std::time::Duration;

use aws_testkit::{Moto, free_port, join_all, recording_http_server, unique};
use fargate_task::sinks::csv::{Appended, append_line, csv_key};
use fargate_task::sinks::{ResultStore, alert, callback};
use fargate_task::task::Step;
use fargate_task::{
    JobError, JobOutput, JobRunner, JsonLog, TaskConfig, TaskDeps, TaskError, run_task,
};
use payloads::{JobResult, NotificationPayload, Source, TaskPayload};
use serde_json::{Value, json};

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

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn csv_eight_concurrent_writers_keep_every_line() {
    let moto = Moto::start().await;
    let sdk = moto.sdk_config().await;
    let s3 = s3_client(&sdk);
    let bucket = unique("results");
    s3.create_bucket().bucket(&bucket).send().await.unwrap();

    let lines: Vec<String> = (0..8)
        .map(|i| format!("2024-01-01T12:00:0{i}Z,user_1,{i},10,EVENTBRIDGE,run-{i}"))
        .collect();
    let futs: Vec<_> = lines
        .iter()
        .enumerate()
        .map(|(i, l)| {
            let s3 = s3.clone();
            let bucket = bucket.clone();
            let l = l.clone();
            tokio::spawn(async move {
                append_line(
                    &s3,
                    &bucket,
                    "user_1",
                    JobResult::CSV_HEADER,
                    &l,
                    &format!(",run-{i}"),
                    60,
                )
                .await
            })
        })
        .collect();
    let results: Vec<Appended> = join_all(futs)
        .await
        .into_iter()
        .map(|r| r.unwrap().unwrap())
        .collect();
    let conflicts: u32 = results
        .iter()
        .map(|a| match a {
            Appended::Written { conflicts } => *conflicts,
            Appended::AlreadyPresent => panic!("nothing was there before"),
        })
        .sum();
    // The writers really raced: some PutObject got 412 and was retried.
    assert!(
        conflicts > 0,
        "expected conditional-write conflicts among 8 concurrent writers"
    );

    let body = read_object(&s3, &bucket, &csv_key("user_1")).await.unwrap();
    let got: Vec<&str> = body.lines().collect();
    assert_eq!(got[0], JobResult::CSV_HEADER);
    assert_eq!(got.len(), 9, "{body}");
    for l in &lines {
        assert_eq!(
            got.iter().filter(|g| *g == l).count(),
            1,
            "line {l} kept exactly once"
        );
    }

    // A retried append of the same run is not written twice.
    let again = append_line(
        &s3,
        &bucket,
        "user_1",
        JobResult::CSV_HEADER,
        &lines[3],
        ",run-3",
        5,
    )
    .await
    .unwrap();
    assert_eq!(again, Appended::AlreadyPresent);
    assert_eq!(
        read_object(&s3, &bucket, &csv_key("user_1")).await.unwrap(),
        body
    );

    // A missing bucket is a clear, non-retryable error.
    let err = append_line(&s3, "no-such-bucket-x", "u", "h", "l", ",r", 3)
        .await
        .unwrap_err();
    assert!(err.to_string().contains("s3-csv"), "{err}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn callback_retries_times_out_and_reports_server_down() {
    // 503 first, then 200: the body arrives (twice: once refused, once accepted).
    let (url, seen) = recording_http_server(vec![503, 200]).await;
    let client = callback::client(Duration::from_secs(2)).unwrap();
    let body = json!({"user_id": "user_1", "people_count": 3});
    let e = callback::post(&client, &url, &body).await.unwrap_err();
    assert!(e.retryable());
    assert_eq!(callback::post(&client, &url, &body).await.unwrap(), 200);
    let got = seen.lock().unwrap().clone();
    assert_eq!(got.len(), 2);
    assert_eq!(serde_json::from_str::<Value>(&got[1]).unwrap(), body);

    // 400: permanent, not retried.
    let (url400, _) = recording_http_server(vec![400]).await;
    assert!(
        !callback::post(&client, &url400, &body)
            .await
            .unwrap_err()
            .retryable()
    );

    // Server down: connection refused is retryable and named.
    let down = format!("http://127.0.0.1:{}/results", free_port());
    let e = callback::post(&client, &down, &body).await.unwrap_err();
    assert!(e.retryable() && e.to_string().contains("callback"), "{e}");

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
    let e = callback::post(&quick, &format!("http://{addr}/"), &body)
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
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn notification_lambda_async_invoke() {
    let moto = Moto::start_private().await;
    let sdk = moto.sdk_config().await;
    let name = create_function(&moto, &sdk).await;
    let lambda = aws_sdk_lambda::Client::new(&sdk);
    let p = notification(&shared_image("zidane.jpg"));
    alert::invoke(&lambda, &name, &p, 256 * 1024).await.unwrap();
    // Too large for an async invoke: refused before sending, not retryable.
    let e = alert::invoke(&lambda, &name, &p, 1000).await.unwrap_err();
    assert!(!e.retryable() && e.to_string().contains("limit"), "{e}");
}

/// Test double for the job: a fixed count and the shared bus photo as the detection image.
struct FixedJob {
    count: u32,
    fail_first: Mutex<u32>,
}

impl JobRunner for FixedJob {
    async fn run(&self, p: &TaskPayload) -> Result<JobOutput, JobError> {
        assert_eq!(p.user_id, "user_1");
        {
            let mut f = self.fail_first.lock().unwrap();
            if *f > 0 {
                *f -= 1;
                return Err(JobError {
                    message: "stream stalled".into(),
                    retryable: true,
                });
            }
        }
        Ok(JobOutput {
            people_count: self.count,
            frames_analyzed: 10,
            detection_jpeg: Some(shared_image("zidane.jpg")),
        })
    }
}

/// Test double for the results store: idempotent by (run_id, user_id), or always down.
#[derive(Default)]
struct MemStore {
    rows: Mutex<Vec<JobResult>>,
    down: bool,
}

impl ResultStore for MemStore {
    async fn insert_result(&self, r: &JobResult) -> Result<(), TaskError> {
        if self.down {
            return Err(TaskError::sink("db", "connection refused", true));
        }
        let mut rows = self.rows.lock().unwrap();
        if !rows
            .iter()
            .any(|x| x.run_id == r.run_id && x.user_id == r.user_id)
        {
            rows.push(r.clone());
        }
        Ok(())
    }
}

struct World {
    moto: Moto,
    sdk: aws_config::SdkConfig,
    /// A separate moto for the Lambda function (see `Moto::start_private`).
    _lambda_moto: Moto,
    lambda: aws_sdk_lambda::Client,
    env: HashMap<&'static str, String>,
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
    let env = HashMap::from([
        ("RESULTS_BUCKET", bucket),
        ("DATABASE_URL", "mysql://unused".to_string()),
        ("NOTIFY_FUNCTION_NAME", function),
        ("ERROR_TOPIC_ARN", topic.topic_arn().unwrap().to_string()),
        ("RETRY_ATTEMPTS", "3".into()),
        ("RETRY_BASE_MS", "10".into()),
        ("ALERT_THRESHOLD", "15".into()),
    ]);
    World {
        moto,
        sdk,
        _lambda_moto: lambda_moto,
        lambda: aws_sdk_lambda::Client::new(&lambda_sdk),
        env,
    }
}

/// Task dependencies on the world's moto, with the Lambda client on the private Lambda moto.
fn deps_for<J: JobRunner, S: ResultStore>(
    w: &World,
    config: TaskConfig,
    job: J,
    store: S,
    log: JsonLog,
) -> TaskDeps<J, S> {
    let mut d = TaskDeps::new(&w.sdk, config, job, store, log).unwrap();
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
        streaming_url: "https://93.184.215.14/live.m3u8".into(),
        email: "user@example.com".into(),
        monitoring_status: true,
        threshold: None,
    };
    let mut env = w.env.clone();
    env.insert(
        payloads::TASK_PAYLOAD_ENV,
        TaskPayload::new(source, run_id, &user).to_json(),
    );
    for (k, v) in extra {
        env.insert(k, v.clone());
    }
    TaskConfig::from_lookup(|k| env.get(k).cloned()).unwrap()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn eventbridge_run_stores_row_and_csv_and_alerts() {
    let w = world().await;
    let log = JsonLog::capture("run-77", "user_1");
    let job = FixedJob {
        count: 20,
        fail_first: Mutex::new(1),
    };
    let deps = deps_for(
        &w,
        config(&w, Source::EventBridge, &[]),
        job,
        MemStore::default(),
        log.clone(),
    );
    let report = run_task(&deps).await;
    assert_eq!(report.exit_code(), 0, "{report:?}");
    assert_eq!(report.step("db"), Some(&Step::Done));
    assert_eq!(report.step("csv"), Some(&Step::Done));
    assert_eq!(report.step("notify"), Some(&Step::Done));
    let rows = deps.store.rows.lock().unwrap().clone();
    assert_eq!(rows.len(), 1);
    assert_eq!(rows[0].people_count, 20);
    let csv = read_object(&deps.s3, &w.env["RESULTS_BUCKET"], "user_1.csv")
        .await
        .unwrap();
    assert_eq!(csv.lines().count(), 2);
    assert!(
        csv.lines()
            .nth(1)
            .unwrap()
            .ends_with(",user_1,20,10,EVENTBRIDGE,run-77"),
        "{csv}"
    );

    // JSON log lines: the stalled first attempt, then one job_finished line.
    let lines = log.lines();
    assert!(
        lines
            .iter()
            .any(|l| l["event"] == "attempt_failed" && l["step"] == "job")
    );
    let done: Vec<&Value> = lines
        .iter()
        .filter(|l| l["event"] == "job_finished")
        .collect();
    assert_eq!(done.len(), 1);
    assert_eq!(done[0]["result"]["people_count"], 20);
    assert_eq!(done[0]["run_id"], "run-77");
    assert!(w.moto.sns_sent(&w.env["ERROR_TOPIC_ARN"]).await.is_empty());

    // The same task again (ECS retry): no second row, no second CSV line.
    let report = run_task(&deps).await;
    assert_eq!(report.step("csv"), Some(&Step::AlreadyDone));
    assert_eq!(deps.store.rows.lock().unwrap().len(), 1);
}

/// The user's threshold (the `config` table's column, carried in the payload) decides the alert,
/// not the task's ALERT_THRESHOLD (15 here): 20 people against a threshold of 25 is no alert.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_users_own_threshold_decides_the_alert() {
    let w = world().await;
    let mut cfg = config_for_run(&w, Source::EventBridge, "run-78", &[]);
    cfg.payload.threshold = Some(25);
    let job = FixedJob {
        count: 20,
        fail_first: Mutex::new(0),
    };
    let deps = deps_for(
        &w,
        cfg,
        job,
        MemStore::default(),
        JsonLog::capture("run-78", "user_1"),
    );
    let report = run_task(&deps).await;
    assert_eq!(report.exit_code(), 0, "{report:?}");
    assert_eq!(report.step("db"), Some(&Step::Done));
    assert_eq!(
        report.step("notify"),
        Some(&Step::Skipped("people_count does not exceed 25".into()))
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn persistent_failures_exit_nonzero_and_notify_with_the_result() {
    let w = world().await;
    // Database down for the whole run: CSV still written, error notification carries the result.
    let log = JsonLog::capture("run-77", "user_1");
    let job = FixedJob {
        count: 3,
        fail_first: Mutex::new(0),
    };
    let store = MemStore {
        down: true,
        ..MemStore::default()
    };
    let deps = deps_for(
        &w,
        config(&w, Source::EventBridge, &[]),
        job,
        store,
        log.clone(),
    );
    let report = run_task(&deps).await;
    assert_eq!(report.exit_code(), 1);
    assert_eq!(report.failures(), vec!["db"]);
    assert_eq!(report.step("csv"), Some(&Step::Done));
    assert!(matches!(report.step("notify"), Some(Step::Skipped(_))));
    let db_attempts = log
        .lines()
        .iter()
        .filter(|l| l["event"] == "attempt_failed" && l["step"] == "db")
        .count();
    assert_eq!(db_attempts, 3);
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
    let job = FixedJob {
        count: 2,
        fail_first: Mutex::new(0),
    };
    let deps = deps_for(
        &w,
        config(&w, Source::ApiGateway, &[("CALLBACK_URL", down)]),
        job,
        MemStore::default(),
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

    // A job that keeps failing: non-zero exit and an error notification.
    let job = FixedJob {
        count: 2,
        fail_first: Mutex::new(99),
    };
    let deps = deps_for(
        &w,
        config(&w, Source::EventBridge, &[]),
        job,
        MemStore::default(),
        JsonLog::capture("run-77", "user_1"),
    );
    let report = run_task(&deps).await;
    assert_eq!(report.failures(), vec!["job"]);
    assert!(report.result.is_none());
    assert_eq!(w.moto.sns_sent(&w.env["ERROR_TOPIC_ARN"]).await.len(), 3);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn api_gateway_run_posts_callback() {
    let w = world().await;
    let (url, seen) = recording_http_server(vec![500, 200]).await;
    let job = FixedJob {
        count: 5,
        fail_first: Mutex::new(0),
    };
    let deps = deps_for(
        &w,
        config(
            &w,
            Source::ApiGateway,
            &[("CALLBACK_URL", format!("{url}/results"))],
        ),
        job,
        MemStore::default(),
        JsonLog::capture("run-77", "user_1"),
    );
    let report = run_task(&deps).await;
    assert_eq!(report.exit_code(), 0, "{report:?}");
    let bodies = seen.lock().unwrap().clone();
    assert_eq!(bodies.len(), 2);
    let b: Value = serde_json::from_str(&bodies[1]).unwrap();
    assert_eq!(b["user_id"], "user_1");
    assert_eq!(b["people_count"], 5);
    assert_eq!(b["source"], "API_GATEWAY");
    assert_eq!(b["streaming_URL"], "https://93.184.215.14/live.m3u8");
    assert!(b["DATE-TIME"].as_str().unwrap().ends_with('Z'));
    // Nothing of the EventBridge path ran.
    assert!(report.step("db").is_none() && report.step("csv").is_none());
}

#[test]
fn config_requires_the_sinks_of_the_source() {
    let user = payloads::UserConfig {
        user_id: "user_1".into(),
        streaming_url: "https://cdn.example.com/x.m3u8".into(),
        email: "user@example.com".into(),
        monitoring_status: true,
        threshold: None,
    };
    let p = TaskPayload::new(Source::ApiGateway, "r1", &user).to_json();
    let env = HashMap::from([(payloads::TASK_PAYLOAD_ENV, p.clone())]);
    let e = TaskConfig::from_lookup(|k| env.get(k).cloned()).unwrap_err();
    assert!(e.to_string().contains("CALLBACK_URL"));
    let env = HashMap::from([(payloads::TASK_PAYLOAD_ENV, p.replace("user_1", "../x"))]);
    let e = TaskConfig::from_lookup(|k| env.get(k).cloned()).unwrap_err();
    assert!(e.to_string().contains("user_id"));
    let env: HashMap<&str, String> = HashMap::new();
    assert!(
        TaskConfig::from_lookup(|k| env.get(k).cloned())
            .unwrap_err()
            .to_string()
            .contains("FOOTFALL_PAYLOAD")
    );
    let local = p.replace(
        "https://cdn.example.com/x.m3u8",
        "http://127.0.0.1:8000/x.m3u8",
    );
    let env = HashMap::from([
        (payloads::TASK_PAYLOAD_ENV, local.clone()),
        ("CALLBACK_URL", "http://10.0.0.5/cb".to_string()),
    ]);
    assert!(
        TaskConfig::from_lookup(|k| env.get(k).cloned())
            .unwrap_err()
            .to_string()
            .contains("streaming_URL")
    );
    let env = HashMap::from([
        (payloads::TASK_PAYLOAD_ENV, local),
        ("CALLBACK_URL", "http://10.0.0.5/cb".to_string()),
        ("FOOTFALL_ALLOW_PRIVATE_STREAMS", "true".to_string()),
    ]);
    TaskConfig::from_lookup(|k| env.get(k).cloned()).unwrap();
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
    use fargate_task::sinks::sql::SqlResultStore;
    let w = world().await;
    let url = mysql_database(&unique("footfall_task"));
    let job = FixedJob {
        count: 4,
        fail_first: Mutex::new(0),
    };
    let store = SqlResultStore::new(&url, Duration::from_secs(5));
    let deps = deps_for(
        &w,
        config(&w, Source::EventBridge, &[]),
        job,
        store,
        JsonLog::capture("run-77", "user_1"),
    );
    let report = run_task(&deps).await;
    assert_eq!(report.exit_code(), 0, "{report:?}");
    // A retried task (same run id) inserts no second row.
    let report = run_task(&deps).await;
    assert_eq!(report.step("db"), Some(&Step::Done));

    let check = results_store::Store::connect(&url).await.unwrap();
    let rows = check.results_for("user_1").await.unwrap();
    assert_eq!(rows.len(), 1, "{rows:?}");
    assert_eq!(rows[0].run_id, "run-77");
    assert_eq!(rows[0].people_count, Some(4));
    assert_eq!(rows[0].frames, 10);
    assert_eq!(rows[0].source, "EVENTBRIDGE");
    check.close().await;
    drop_mysql_database(&url);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn mysql_down_is_retried_then_reported_with_the_result() {
    use fargate_task::sinks::sql::SqlResultStore;
    let w = world().await;
    // Nothing listens there: every connect is refused.
    let url = format!("mysql://root@127.0.0.1:{}/footfall", free_port());
    let log = JsonLog::capture("run-77", "user_1");
    let deps = deps_for(
        &w,
        config(&w, Source::EventBridge, &[]),
        FixedJob {
            count: 6,
            fail_first: Mutex::new(0),
        },
        SqlResultStore::new(&url, Duration::from_secs(2)),
        log.clone(),
    );
    let report = run_task(&deps).await;
    assert_eq!(report.exit_code(), 1);
    assert_eq!(report.failures(), vec!["db"]);
    assert_eq!(report.step("csv"), Some(&Step::Done));
    let attempts = log
        .lines()
        .iter()
        .filter(|l| l["event"] == "attempt_failed" && l["step"] == "db")
        .count();
    assert_eq!(attempts, 3);
    let sent = w.moto.sns_sent(&w.env["ERROR_TOPIC_ARN"]).await;
    let msg: Value = serde_json::from_str(&sent.last().unwrap().1).unwrap();
    assert_eq!(msg["result"]["people_count"], 6);
    assert_eq!(msg["failed_steps"], json!(["db"]));
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
    let job = FixedJob {
        count: 20,
        fail_first: Mutex::new(0),
    };
    let mut deps = deps_for(
        &w,
        config(&w, Source::EventBridge, &[]),
        job,
        MemStore::default(),
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
    assert_eq!(deps.store.rows.lock().unwrap().len(), 1);
    let csv = read_object(&deps.s3, &w.env["RESULTS_BUCKET"], "user_1.csv")
        .await
        .unwrap();
    assert!(csv.contains(",user_1,20,10,EVENTBRIDGE,run-77"), "{csv}");

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
    use fargate_task::sinks::sql::SqlResultStore;
    use private_mariadb::PrivateMariaDb;
    if std::env::var("FOOTFALL_SKIP_MYSQL").is_ok_and(|v| v == "1") {
        eprintln!("FOOTFALL_SKIP_MYSQL=1: MariaDB restart drill skipped");
        return;
    }
    let w = world().await;
    let mut db = PrivateMariaDb::start().unwrap_or_else(|e| panic!("{e}"));
    db.create_database("footfall").unwrap();
    let url = db.url("footfall");
    let retries = [
        ("RETRY_ATTEMPTS", "8".to_string()),
        ("RETRY_BASE_MS", "300".to_string()),
    ];
    let job = || FixedJob {
        count: 4,
        fail_first: Mutex::new(0),
    };
    let first = deps_for(
        &w,
        config_for_run(&w, Source::EventBridge, "run-1", &retries),
        job(),
        SqlResultStore::new(&url, Duration::from_secs(1)),
        JsonLog::capture("run-1", "user_1"),
    );
    assert_eq!(run_task(&first).await.step("db"), Some(&Step::Done));

    // The server stops; it comes back about two seconds into the next task's retries.
    db.stop();
    let restarter = std::thread::spawn(move || {
        std::thread::sleep(Duration::from_secs(2));
        db.restart().map(|()| db)
    });
    let log = JsonLog::capture("run-2", "user_1");
    let TaskDeps { store, .. } = first;
    let second = deps_for(
        &w,
        config_for_run(&w, Source::EventBridge, "run-2", &retries),
        job(),
        store,
        log.clone(),
    );
    let report = run_task(&second).await;
    let db = restarter.join().unwrap().unwrap();
    assert_eq!(report.step("db"), Some(&Step::Done), "{report:?}");
    let failed = log
        .lines()
        .iter()
        .filter(|l| l["event"] == "attempt_failed" && l["step"] == "db")
        .count();
    assert!(failed >= 1, "the outage was seen and retried");
    // ECS retries the same task: no second row.
    assert_eq!(run_task(&second).await.step("db"), Some(&Step::Done));

    let check = results_store::Store::connect(&url).await.unwrap();
    let runs: Vec<String> = check
        .results_for("user_1")
        .await
        .unwrap()
        .into_iter()
        .map(|r| r.run_id)
        .collect();
    assert_eq!(runs.len(), 2, "{runs:?}");
    assert!(runs.contains(&"run-1".to_string()) && runs.contains(&"run-2".to_string()));
    check.close().await;
    drop(db);
}
