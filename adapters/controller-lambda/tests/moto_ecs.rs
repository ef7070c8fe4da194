//! The controller against ECS on a real moto server (loopback).

use std::collections::HashMap;

use aws_testkit::{Moto, unique};
use controller_lambda::{
    Controller, ControllerConfig, ControllerError, UserSource, handle, started_by,
};
use payloads::{Source, TaskPayload, UserConfig};
use serde_json::{Value, json};

/// Test double for the `config` table: a fixed list of rows.
struct Rows(Vec<UserConfig>);

impl UserSource for Rows {
    async fn monitored_users(&self) -> Result<Vec<UserConfig>, String> {
        Ok(self
            .0
            .iter()
            .filter(|u| u.monitoring_status)
            .cloned()
            .collect())
    }
}

struct Setup {
    moto: Moto,
    ecs: aws_sdk_ecs::Client,
    config: ControllerConfig,
}

async fn setup() -> Setup {
    let moto = Moto::start().await;
    let sdk = moto.sdk_config().await;
    let ecs = aws_testkit::ecs_client(&sdk);
    let cluster = unique("cluster");
    ecs.create_cluster()
        .cluster_name(&cluster)
        .send()
        .await
        .unwrap();
    let mut defs = Vec::new();
    for kind in ["scheduled", "adhoc"] {
        let family = unique(&format!("footfall-{kind}"));
        moto.ecs_register_task_definition(&family, "task").await;
        defs.push(family);
    }
    let (subnets, sgs) = moto.default_network().await;
    let env: HashMap<&str, String> = HashMap::from([
        ("ECS_CLUSTER", cluster),
        ("TASK_DEFINITION_SCHEDULED", defs[0].clone()),
        ("TASK_DEFINITION_ADHOC", defs[1].clone()),
        ("TASK_CONTAINER_NAME", "task".into()),
        ("TASK_SUBNETS", subnets[0].clone()),
        ("TASK_SECURITY_GROUPS", sgs[0].clone()),
    ]);
    let config = ControllerConfig::from_lookup(|k| env.get(k).cloned()).unwrap();
    Setup { moto, ecs, config }
}

fn user(id: &str, monitoring: bool) -> UserConfig {
    UserConfig {
        user_id: id.into(),
        streaming_url: format!("https://cdn.example.com/{id}/live.m3u8"),
        email: format!("{id}@example.com"),
        monitoring_status: monitoring,
        threshold: Some(12),
        tracking: None,
    }
}

/// All tasks of the cluster with their startedBy, group, task definition and payload override.
async fn tasks(s: &Setup) -> Vec<(String, String, String, TaskPayload)> {
    let mut arns = Vec::new();
    for st in [
        aws_sdk_ecs::types::DesiredStatus::Running,
        aws_sdk_ecs::types::DesiredStatus::Stopped,
    ] {
        let l = s
            .ecs
            .list_tasks()
            .cluster(&s.config.cluster)
            .desired_status(st)
            .send()
            .await
            .unwrap();
        arns.extend(l.task_arns().iter().cloned());
    }
    if arns.is_empty() {
        return vec![];
    }
    let d = s
        .ecs
        .describe_tasks()
        .cluster(&s.config.cluster)
        .set_tasks(Some(arns))
        .send()
        .await
        .unwrap();
    let mut out = Vec::new();
    for t in d.tasks() {
        let ov = t.overrides().unwrap().container_overrides();
        assert_eq!(ov.len(), 1);
        assert_eq!(ov[0].name(), Some("task"));
        let env = ov[0].environment();
        assert_eq!(env[0].name(), Some(payloads::TASK_PAYLOAD_ENV));
        let payload: TaskPayload = serde_json::from_str(env[0].value().unwrap()).unwrap();
        out.push((
            t.started_by().unwrap_or_default().to_string(),
            t.group().unwrap_or_default().to_string(),
            t.task_definition_arn().unwrap_or_default().to_string(),
            payload,
        ));
    }
    out.sort_by(|a, b| a.3.user_id.cmp(&b.3.user_id));
    out
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn eventbridge_users_start_one_task_each_and_retry_is_idempotent() {
    let s = setup().await;
    let ctl = Controller {
        pictures: None,
        ecs: s.ecs.clone(),
        config: s.config.clone(),
        users: Rows(vec![]),
    };
    let ev = json!({"source":"EVENTBRIDGE","id":"evt-42","users":[
        {"user_id":"user_1","streaming_URL":"https://cdn.example.com/1.m3u8","email":"a@example.com","Monitoring_status":true},
        {"user_id":"user_2","streaming_URL":"rtsp://cam.example.net/2","email":"b@example.com","Monitoring_status":true},
        {"user_id":"user_3","streaming_URL":"https://cdn.example.com/3.m3u8","email":"c@example.com","Monitoring_status":false}
    ]});
    let out = handle(&ctl, ev.clone(), "lambda-req-1").await.unwrap();
    assert_eq!(out["run_id"], "evt-42");
    assert_eq!(out["started"].as_array().unwrap().len(), 2);
    assert_eq!(out["skipped"][0]["user_id"], "user_3");
    assert!(
        out["started"]
            .as_array()
            .unwrap()
            .iter()
            .all(|s| s["reused"] == false)
    );

    let t = tasks(&s).await;
    assert_eq!(t.len(), 2);
    assert_eq!(t[0].3.user_id, "user_1");
    assert_eq!(t[0].3.streaming_url, "https://cdn.example.com/1.m3u8");
    assert_eq!(t[0].3.email, "a@example.com");
    assert_eq!(t[0].3.source, Source::EventBridge);
    assert_eq!(t[0].3.run_id, "evt-42");
    assert_eq!(t[1].3.streaming_url, "rtsp://cam.example.net/2");
    assert_eq!(t[0].0, started_by(Source::EventBridge, "evt-42", "user_1"));
    assert!(t[0].0.starts_with("ffs-") && t[0].0.len() <= 36);
    assert_eq!(t[0].1, "footfall-scheduled");
    assert!(t[0].2.contains(&s.config.task_definition_scheduled));

    // Lambda retries the same event: nothing new is started.
    let again = handle(&ctl, ev, "lambda-req-2").await.unwrap();
    assert!(
        again["started"]
            .as_array()
            .unwrap()
            .iter()
            .all(|s| s["reused"] == true)
    );
    assert_eq!(tasks(&s).await.len(), 2);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn api_gateway_proxy_starts_adhoc_task_and_bad_payloads_start_nothing() {
    let s = setup().await;
    let ctl = Controller {
        pictures: None,
        ecs: s.ecs.clone(),
        config: s.config.clone(),
        users: Rows(vec![]),
    };
    let body = json!({"source":"API_GATEWAY","user_id":"user_1","streaming_URL":"https://cdn.example.com/x.m3u8",
                      "email":"user@example.com","Monitoring_status":true});
    let ev = json!({"httpMethod":"POST","path":"/run","body":body.to_string(),
                    "requestContext":{"requestId":"apigw=req/1"}});
    let out = handle(&ctl, ev, "lambda-req").await.unwrap();
    assert_eq!(out["statusCode"], 202);
    let report: Value = serde_json::from_str(out["body"].as_str().unwrap()).unwrap();
    assert_eq!(report["run_id"], "apigw_req_1");
    assert_eq!(report["source"], "API_GATEWAY");
    let t = tasks(&s).await;
    assert_eq!(t.len(), 1);
    assert!(t[0].0.starts_with("ffa-"));
    assert_eq!(t[0].1, "footfall-adhoc");
    assert!(t[0].2.contains(&s.config.task_definition_adhoc));
    assert_eq!(t[0].3.source, Source::ApiGateway);

    // Hostile payloads: a 400 naming the field, and no task.
    for (bad, field) in [
        (
            json!({"source":"API_GATEWAY","user_id":"../../etc","streaming_URL":"https://cdn.example.com/x","email":"a@example.com","Monitoring_status":true}),
            "user_id",
        ),
        (
            json!({"source":"API_GATEWAY","user_id":"u","streaming_URL":"http://169.254.169.254/latest/meta-data/","email":"a@example.com","Monitoring_status":true}),
            "streaming_URL",
        ),
        (
            json!({"source":"API_GATEWAY","user_id":"u","streaming_URL":"file:///etc/passwd","email":"a@example.com","Monitoring_status":true}),
            "streaming_URL",
        ),
        (
            json!({"source":"API_GATEWAY","user_id":"u","streaming_URL":"https://cdn.example.com/x","email":"nope","Monitoring_status":true}),
            "email",
        ),
    ] {
        let ev =
            json!({"httpMethod":"POST","body":bad.to_string(),"requestContext":{"requestId":"r2"}});
        let out = handle(&ctl, ev, "lambda-req").await.unwrap();
        assert_eq!(out["statusCode"], 400);
        let b: Value = serde_json::from_str(out["body"].as_str().unwrap()).unwrap();
        assert_eq!(b["field"], field);
    }
    // The same bad payload invoked directly is an error.
    let err = handle(&ctl, json!({"source":"API_GATEWAY"}), "x")
        .await
        .unwrap_err();
    assert!(matches!(err, ControllerError::BadPayload(ref e) if e.field() == "user_id"));
    assert_eq!(tasks(&s).await.len(), 1);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn scheduled_event_reads_users_and_reports_partial_failure() {
    let s = setup().await;
    let mut bad = user("user_bad", true);
    bad.streaming_url = "http://10.0.0.7/internal".into();
    let ctl = Controller {
        pictures: None,
        ecs: s.ecs.clone(),
        config: s.config.clone(),
        users: Rows(vec![
            user("user_a", true),
            user("user_off", false),
            bad,
            user("user_b", true),
        ]),
    };
    let ev = json!({"version":"0","id":"sched-0001","detail-type":"Scheduled Event","source":"aws.events",
                    "time":"2024-01-01T12:00:00Z","detail":{}});
    let err = handle(&ctl, ev.clone(), "lambda-req").await.unwrap_err();
    let ControllerError::PartialFailure(report) = err else {
        panic!("expected a partial failure, got {err}");
    };
    let started: Vec<_> = report.started.iter().map(|s| s.user_id.as_str()).collect();
    assert_eq!(started.len(), 2);
    assert!(started.contains(&"user_a") && started.contains(&"user_b"));
    assert_eq!(report.failed.len(), 1);
    assert_eq!(report.failed[0].user_id, "user_bad");
    assert!(report.failed[0].error.contains("streaming_URL"));
    let t = tasks(&s).await;
    assert_eq!(t.len(), 2);
    assert!(
        t.iter()
            .all(|x| x.3.run_id == "sched-0001" && x.1 == "footfall-scheduled")
    );
    // Each task stores its result under the event's tick, so the alert cooldown compares ticks.
    assert!(
        t.iter()
            .all(|x| x.3.scheduled_at.as_deref() == Some("2024-01-01T12:00:00Z")),
        "{t:?}"
    );

    // A retry of the invocation starts nothing twice.
    let _ = handle(&ctl, ev, "lambda-req-retry").await.unwrap_err();
    assert_eq!(tasks(&s).await.len(), 2);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn run_task_failures_are_reported_per_user() {
    let s = setup().await;
    let mut config = s.config.clone();
    config.task_definition_scheduled = "does-not-exist:1".into();
    config.run_task_attempts = 2;
    let ctl = Controller {
        pictures: None,
        ecs: s.ecs.clone(),
        config,
        users: Rows(vec![]),
    };
    let ev = json!({"source":"EVENTBRIDGE","users":[
        {"user_id":"user_1","streaming_URL":"https://cdn.example.com/1.m3u8","email":"a@example.com","Monitoring_status":true}]});
    let err = handle(&ctl, ev, "req-9").await.unwrap_err();
    let ControllerError::PartialFailure(report) = err else {
        panic!("expected failure report");
    };
    assert_eq!(report.run_id, "req-9");
    assert_eq!(report.failed[0].user_id, "user_1");
    assert!(
        report.failed[0].error.contains("RunTask"),
        "{}",
        report.failed[0].error
    );
    assert!(tasks(&s).await.is_empty());
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn scheduled_event_reads_the_config_table_through_the_results_store() {
    let s = setup().await;
    let path = std::env::temp_dir().join(format!("{}.sqlite", unique("controller-config")));
    let url = format!("sqlite://{}", path.display());
    let store = results_store::Store::connect(&url).await.unwrap();
    for (id, monitored) in [("user_a", true), ("user_b", true), ("user_off", false)] {
        let mut u = results_store::NewUser::new(
            id,
            &format!("https://cdn.example.com/{id}.m3u8"),
            &format!("{id}@example.com"),
        );
        u.monitored = monitored;
        store.add_user(&u).await.unwrap();
    }
    // One result past the retention window (365 days by default), one inside it.
    for (run, taken_at) in [
        ("run-old", chrono::Utc::now() - chrono::Duration::days(400)),
        ("run-new", chrono::Utc::now() - chrono::Duration::days(2)),
    ] {
        store
            .insert_result(&footfall_domain::ResultRecord {
                run_id: footfall_domain::RunId::parse(run).unwrap(),
                user_id: footfall_domain::UserId::parse("user_a").unwrap(),
                taken_at,
                people_count: Some(3),
                health: footfall_domain::Health::Ok,
                frames: 10,
                source: "https://cdn.example.com/user_a.m3u8".into(),
                image_ref: None,
            })
            .await
            .unwrap();
    }
    store.close().await;

    let ctl = Controller {
        pictures: None,
        ecs: s.ecs.clone(),
        config: s.config.clone(),
        users: controller_lambda::StoreUsers::new(Some(url.clone())),
    };
    let ev = json!({"version":"0","id":"sched-db-1","detail-type":"Scheduled Event","source":"aws.events",
                    "time":"2024-01-01T13:00:00Z","detail":{}});
    let out = handle(&ctl, ev, "lambda-req").await.unwrap();
    assert_eq!(out["started"].as_array().unwrap().len(), 2, "{out}");
    let t = tasks(&s).await;
    let users: Vec<&str> = t.iter().map(|x| x.3.user_id.as_str()).collect();
    assert_eq!(users, vec!["user_a", "user_b"]);
    assert_eq!(t[1].3.streaming_url, "https://cdn.example.com/user_b.m3u8");
    assert_eq!(t[1].3.email, "user_b@example.com");
    // The scheduled run applied the retention: the old result is gone, the recent one stays.
    let store = results_store::Store::connect(&url).await.unwrap();
    let kept: Vec<String> = store
        .results_for("user_a")
        .await
        .unwrap()
        .iter()
        .map(|r| r.run_id.to_string())
        .collect();
    assert_eq!(kept, ["run-new"]);
    store.close().await;
    let _ = std::fs::remove_file(&path);

    // Without DATABASE_URL a scheduled event starts nothing and says why.
    let ctl = Controller {
        pictures: None,
        ecs: s.ecs.clone(),
        config: s.config.clone(),
        users: controller_lambda::StoreUsers::new(None),
    };
    let ev = json!({"id":"sched-db-2","detail-type":"Scheduled Event","source":"aws.events","detail":{}});
    let err = handle(&ctl, ev, "x").await.unwrap_err();
    assert!(err.to_string().contains("DATABASE_URL"), "{err}");
    assert_eq!(tasks(&s).await.len(), 2);
}

const LINK_SECRET: &str = "b2f1c7e04d9a3f6e8b1c2d3e4f5a6b7c";

/// A REST (v1) proxy event for `GET /pictures/{proxy+}`.
fn picture_get(proxy: &str, query: Value) -> Value {
    json!({"httpMethod": "GET", "resource": "/pictures/{proxy+}", "path": format!("/pictures/{proxy}"),
           "pathParameters": {"proxy": proxy}, "queryStringParameters": query,
           "requestContext": {"requestId": "req-1", "stage": "v1"}})
}

/// The links of alert emails: the controller checks the signature made with the secret in
/// Secrets Manager and redirects to a short-lived S3 URL that serves the picture; a tampered,
/// expired or unsigned link is refused, and nothing is served where links are not configured.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn signed_picture_links_redirect_to_the_picture() {
    let s = setup().await;
    let sdk = s.moto.sdk_config().await;
    let s3 = aws_sdk_s3::Client::from_conf(
        aws_sdk_s3::config::Builder::from(&sdk)
            .force_path_style(true)
            .build(),
    );
    let bucket = unique("results");
    s3.create_bucket().bucket(&bucket).send().await.unwrap();
    let jpeg = testdata::read("images/bus.jpg");
    let key = "pictures/user_1/run-1.jpg";
    s3.put_object()
        .bucket(&bucket)
        .key(key)
        .body(jpeg.clone().into())
        .send()
        .await
        .unwrap();
    let secrets = aws_sdk_secretsmanager::Client::new(&sdk);
    let arn = s.moto.create_secret("link-key", LINK_SECRET).await;
    let mut config = s.config.clone();
    config.pictures_bucket = Some(bucket.clone());
    config.link_secret_arn = Some(arn);
    let ctl = Controller {
        pictures: controller_lambda::picture_links(&config, s3.clone(), &secrets)
            .await
            .unwrap(),
        ecs: s.ecs.clone(),
        config,
        users: Rows(vec![]),
    };
    let signer = aws_sinks::SigningKey::new(LINK_SECRET).unwrap();
    let expires = chrono::Utc::now().timestamp() + 30 * 86_400;
    let signature = signer.picture_signature(key, expires);
    let get = |proxy: &str, expires: i64, signature: &str| {
        picture_get(
            proxy,
            json!({"expires": expires.to_string(), "signature": signature}),
        )
    };

    let r = handle(&ctl, get("user_1/run-1.jpg", expires, &signature), "x")
        .await
        .unwrap();
    assert_eq!(r["statusCode"], 302, "{r}");
    let location = r["headers"]["location"].as_str().unwrap();
    assert!(location.contains("X-Amz-Expires=300"), "{location}");
    let served = aws_testkit::reqwest::get(location).await.unwrap();
    assert!(served.status().is_success());
    assert_eq!(served.bytes().await.unwrap().to_vec(), jpeg);
    assert!(
        tasks(&s).await.is_empty(),
        "a picture request starts no task"
    );

    // Another picture with this signature, another expiry, a bad signature, none, or a path
    // outside pictures/: refused.
    let status = |r: Value| r["statusCode"].as_u64().unwrap();
    let other = handle(&ctl, get("user_2/run-1.jpg", expires, &signature), "x")
        .await
        .unwrap();
    assert_eq!(status(other), 403);
    let later = handle(&ctl, get("user_1/run-1.jpg", expires + 1, &signature), "x")
        .await
        .unwrap();
    assert_eq!(status(later), 403);
    let bad = handle(&ctl, get("user_1/run-1.jpg", expires, &"0".repeat(64)), "x")
        .await
        .unwrap();
    assert_eq!(status(bad), 403);
    let unsigned = handle(&ctl, picture_get("user_1/run-1.jpg", Value::Null), "x")
        .await
        .unwrap();
    assert_eq!(status(unsigned), 403);
    let escape = handle(
        &ctl,
        get("user_1/../user_2/run-1.jpg", expires, &signature),
        "x",
    )
    .await
    .unwrap();
    assert_eq!(status(escape), 404);
    // An expired link says so.
    let past = chrono::Utc::now().timestamp() - 1;
    let old = handle(
        &ctl,
        get(
            "user_1/run-1.jpg",
            past,
            &signer.picture_signature(key, past),
        ),
        "x",
    )
    .await
    .unwrap();
    assert_eq!(status(old), 410);
    // Not configured: nothing served.
    let bare = Controller {
        pictures: None,
        ecs: s.ecs.clone(),
        config: s.config.clone(),
        users: Rows(vec![]),
    };
    let r = handle(&bare, get("user_1/run-1.jpg", expires, &signature), "x")
        .await
        .unwrap();
    assert_eq!(status(r), 404);
}

/// The database URL comes from Secrets Manager (the `url` of a JSON secret, as the stack's
/// database secret holds it), read at start; a missing secret or key stops the start.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_database_url_is_read_from_secrets_manager() {
    let s = setup().await;
    let sdk = s.moto.sdk_config().await;
    let secrets = aws_sdk_secretsmanager::Client::new(&sdk);
    let good = s
        .moto
        .create_secret(
            "db",
            r#"{"url":"mysql://footfall_app:pw@db.internal:3306/footfall","engine":"mysql"}"#,
        )
        .await;
    let no_url = s.moto.create_secret("db", r#"{"username":"x"}"#).await;
    let mut config = s.config.clone();
    assert_eq!(
        controller_lambda::database_url(&config, &secrets)
            .await
            .unwrap(),
        None
    );
    config.database_secret_arn = Some(good);
    assert_eq!(
        controller_lambda::database_url(&config, &secrets)
            .await
            .unwrap()
            .as_deref(),
        Some("mysql://footfall_app:pw@db.internal:3306/footfall")
    );
    config.database_secret_arn = Some(no_url);
    let e = controller_lambda::database_url(&config, &secrets)
        .await
        .unwrap_err();
    assert!(e.to_string().contains("\"url\""), "{e}");
    config.database_secret_arn =
        Some("arn:aws:secretsmanager:us-east-1:123456789012:secret:gone".into());
    let e = controller_lambda::database_url(&config, &secrets)
        .await
        .unwrap_err();
    assert!(e.to_string().contains("DATABASE_SECRET_ARN"), "{e}");
    // An explicit DATABASE_URL (local runs) wins and needs no secret.
    config.database_url = Some("sqlite::memory:".into());
    assert_eq!(
        controller_lambda::database_url(&config, &secrets)
            .await
            .unwrap()
            .as_deref(),
        Some("sqlite::memory:")
    );
}
