//! The notification handler against S3 and SNS on a real moto server (loopback).

use std::collections::HashMap;

use aws_testkit::{Moto, join_all, reqwest, unique};
use base64::Engine;
use notify_lambda::{Notifier, NotifyConfig, NotifyError, check_jpeg, handle, image_key};
use serde_json::{Value, json};

fn shared_image(name: &str) -> Vec<u8> {
    testdata::read(format!("images/{name}"))
}

struct Setup {
    moto: Moto,
    n: Notifier,
}

async fn setup(threshold: u32) -> Setup {
    let moto = Moto::start().await;
    let sdk = moto.sdk_config().await;
    let bucket = unique("alerts");
    let s3 = aws_sdk_s3::Client::from_conf(
        aws_sdk_s3::config::Builder::from(&sdk)
            .force_path_style(true)
            .build(),
    );
    s3.create_bucket().bucket(&bucket).send().await.unwrap();
    let sns = aws_sdk_sns::Client::new(&sdk);
    let topic = sns
        .create_topic()
        .name(unique("alerts"))
        .send()
        .await
        .unwrap();
    let env: HashMap<&str, String> = HashMap::from([
        ("ALERT_BUCKET", bucket),
        ("ALERT_TOPIC_ARN", topic.topic_arn().unwrap().to_string()),
        ("ALERT_THRESHOLD", threshold.to_string()),
        ("ALERT_COOLDOWN_SECONDS", "3600".into()),
    ]);
    let config = NotifyConfig::from_lookup(|k| env.get(k).cloned()).unwrap();
    Setup {
        n: Notifier::new(&sdk, config),
        moto,
    }
}

fn payload(user: &str, date_time: &str, count: u32, jpeg: &[u8]) -> Value {
    json!({"user_id": user, "DATE-TIME": date_time,
           "config": {"Monitoring_status": true, "streaming_URL": "https://cdn.example.com/live.m3u8", "email": format!("{user}@example.com")},
           "result": {"people_count": count},
           "processed_detection_image": base64::engine::general_purpose::STANDARD.encode(jpeg)})
}

async fn object(s: &Setup, key: &str) -> Option<Vec<u8>> {
    match s
        .n
        .s3
        .get_object()
        .bucket(&s.n.config.bucket)
        .key(key)
        .send()
        .await
    {
        Ok(o) => Some(o.body.collect().await.unwrap().into_bytes().to_vec()),
        Err(_) => None,
    }
}

#[test]
fn jpeg_checks() {
    let bus = shared_image("bus.jpg");
    assert_eq!(check_jpeg(&bus, 10 << 20, 8192).unwrap(), (810, 1080));
    let z = shared_image("zidane.jpg");
    assert_eq!(check_jpeg(&z, 10 << 20, 8192).unwrap(), (1280, 720));
    // Too large, too big in pixels, truncated, not a JPEG, garbage after the magic.
    assert!(check_jpeg(&bus, 1000, 8192).is_err());
    assert!(check_jpeg(&bus, 10 << 20, 1000).is_err());
    assert!(check_jpeg(&bus[..bus.len() / 2], 10 << 20, 8192).is_err());
    assert!(check_jpeg(b"\x89PNG\r\n\x1a\n0000000000", 10 << 20, 8192).is_err());
    let mut junk = vec![0xFF, 0xD8, 0xFF, 0xE0, 0xFF, 0xFF];
    junk.extend_from_slice(&[0xFF, 0xD9]);
    assert!(check_jpeg(&junk, 10 << 20, 8192).is_err());
    for n in 0..8 {
        // Never panics on truncated headers.
        let _ = check_jpeg(&bus[..n.min(bus.len())], 10 << 20, 8192);
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn alert_is_stored_published_and_cooled_down() {
    let s = setup(15).await;
    let jpeg = shared_image("bus.jpg");
    let out = handle(&s.n, payload("user_1", "2024-01-01T12:00:00Z", 20, &jpeg))
        .await
        .unwrap();
    assert_eq!(out["status"], "sent", "{out}");
    let key = image_key("user_1", "2024-01-01T12:00:00Z");
    assert_eq!(key, "alerts/user_1/2024-01-01T12:00:00Z.jpg");
    assert_eq!(object(&s, &key).await.unwrap(), jpeg);

    // The presigned link serves the image.
    let url = out["image_url"].as_str().unwrap();
    assert!(url.contains("X-Amz-Signature"));
    let got = reqwest::get(url).await.unwrap();
    assert!(got.status().is_success());
    assert_eq!(got.bytes().await.unwrap().to_vec(), jpeg);

    // The SNS message is email-ready: count, time, stream, link.
    let sent = s.moto.sns_sent(&s.n.config.topic_arn).await;
    assert_eq!(sent.len(), 1);
    let (subject, msg) = &sent[0];
    assert_eq!(
        subject.as_deref(),
        Some("Footfall alert: 20 people for user_1")
    );
    assert!(msg.contains("People counted: 20"), "{msg}");
    assert!(msg.contains("2024-01-01T12:00:00Z"));
    assert!(msg.contains("https://cdn.example.com/live.m3u8"));
    assert!(msg.contains(url));

    // Retry of the same alert: not sent twice.
    let again = handle(&s.n, payload("user_1", "2024-01-01T12:00:00Z", 20, &jpeg))
        .await
        .unwrap();
    assert_eq!(again["status"], "skipped");
    // Ten minutes later: cooldown.
    let cool = handle(&s.n, payload("user_1", "2024-01-01T12:10:00Z", 25, &jpeg))
        .await
        .unwrap();
    assert_eq!(cool["status"], "skipped");
    assert!(cool["reason"].as_str().unwrap().contains("cooldown"));
    assert!(
        object(&s, &image_key("user_1", "2024-01-01T12:10:00Z"))
            .await
            .is_none()
    );
    // Another user is not affected; two hours later the first user alerts again.
    let other = handle(&s.n, payload("user_2", "2024-01-01T12:10:00Z", 16, &jpeg))
        .await
        .unwrap();
    assert_eq!(other["status"], "sent");
    let later = handle(&s.n, payload("user_1", "2024-01-01T14:00:00Z", 30, &jpeg))
        .await
        .unwrap();
    assert_eq!(later["status"], "sent");
    assert_eq!(s.moto.sns_sent(&s.n.config.topic_arn).await.len(), 3);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn concurrent_alerts_for_one_user_send_once() {
    let s = setup(15).await;
    let jpeg = shared_image("zidane.jpg");
    let n = &s.n;
    let futs: Vec<_> = (0..6)
        .map(|i| {
            handle(
                n,
                payload("user_c", &format!("2024-01-01T12:0{i}:00Z"), 40, &jpeg),
            )
        })
        .collect();
    let results: Vec<Value> = join_all(futs)
        .await
        .into_iter()
        .map(Result::unwrap)
        .collect();
    let sent = results.iter().filter(|r| r["status"] == "sent").count();
    assert_eq!(sent, 1, "{results:?}");
    assert_eq!(s.moto.sns_sent(&n.config.topic_arn).await.len(), 1);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn below_threshold_monitoring_off_and_hostile_images_store_nothing() {
    let s = setup(15).await;
    let jpeg = shared_image("bus.jpg");
    let below = handle(&s.n, payload("user_1", "2024-01-01T12:00:00Z", 15, &jpeg))
        .await
        .unwrap();
    assert_eq!(below["status"], "skipped");
    // The user's own threshold wins over ALERT_THRESHOLD (see also the test below).
    let mut own_higher = payload("user_1", "2024-01-01T12:00:00Z", 20, &jpeg);
    own_higher["config"]["threshold"] = json!(25);
    own_higher["run_id"] = json!("run-9");
    let r = handle(&s.n, own_higher).await.unwrap();
    assert_eq!(r["status"], "skipped", "{r}");
    assert!(
        r["reason"].as_str().unwrap().contains("threshold 25"),
        "{r}"
    );

    let mut off = payload("user_1", "2024-01-01T12:00:00Z", 99, &jpeg);
    off["config"]["Monitoring_status"] = json!(false);
    assert_eq!(handle(&s.n, off).await.unwrap()["status"], "skipped");

    let png = b"\x89PNG\r\n\x1a\n\0\0\0\rIHDR\0\0\0\x10\0\0\0\x10\x08\x02\0\0\0".to_vec();
    let err = handle(&s.n, payload("user_1", "2024-01-01T12:00:00Z", 50, &png))
        .await
        .unwrap_err();
    assert!(
        matches!(err, NotifyError::BadPayload(ref e) if e.field() == "processed_detection_image")
    );

    let mut huge = payload("user_1", "2024-01-01T12:00:00Z", 50, b"");
    huge["processed_detection_image"] = json!("A".repeat(50 * 1024 * 1024));
    let err = handle(&s.n, huge).await.unwrap_err();
    assert!(
        matches!(
            err,
            NotifyError::BadPayload(payloads::PayloadError::TooLarge { .. })
        ),
        "{err}"
    );

    let mut evil = payload("user_1", "2024-01-01T12:00:00Z", 50, &jpeg);
    evil["user_id"] = json!("../../other");
    assert!(
        matches!(handle(&s.n, evil).await.unwrap_err(), NotifyError::BadPayload(ref e) if e.field() == "user_id")
    );

    let listed =
        s.n.s3
            .list_objects_v2()
            .bucket(&s.n.config.bucket)
            .send()
            .await
            .unwrap();
    assert_eq!(listed.key_count(), Some(0));
    assert!(s.moto.sns_sent(&s.n.config.topic_arn).await.is_empty());
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_user_threshold_below_the_default_alerts() {
    let s = setup(15).await;
    let jpeg = shared_image("bus.jpg");
    let mut own_lower = payload("user_2", "2024-01-01T12:00:00Z", 10, &jpeg);
    own_lower["config"]["threshold"] = json!(5);
    own_lower["run_id"] = json!("run-9");
    let r = handle(&s.n, own_lower).await.unwrap();
    assert_eq!(r["status"], "sent", "{r}");
    let sent = s.moto.sns_sent(&s.n.config.topic_arn).await;
    assert_eq!(sent.len(), 1);
    assert!(sent[0].1.contains("(alert threshold 5)"), "{}", sent[0].1);
}

/// Failure drill: SNS is unreachable (an endpoint where nothing listens, SDK retries off). The
/// invocation fails with an error naming SNS, the detection image is already stored, and a retry
/// of the same alert (Lambda retries failed asynchronous invocations) sends it exactly once.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn sns_down_fails_the_invocation_and_the_retry_sends_once() {
    use aws_config::retry::RetryConfig;
    let s = setup(15).await;
    let jpeg = shared_image("bus.jpg");
    let dead = format!("http://127.0.0.1:{}", aws_testkit::free_port());
    let broken = Notifier {
        s3: s.n.s3.clone(),
        sns: aws_sdk_sns::Client::from_conf(
            aws_sdk_sns::config::Builder::from(&s.moto.sdk_config().await)
                .endpoint_url(&dead)
                .retry_config(RetryConfig::disabled())
                .build(),
        ),
        config: s.n.config.clone(),
        link_key: None,
        credentials: None,
    };
    let event = payload("user_1", "2024-01-01T12:00:00Z", 20, &jpeg);
    let error = handle(&broken, event.clone()).await.unwrap_err();
    assert!(matches!(error, NotifyError::Sns(_)), "{error}");
    // The result (the detection image) is kept; nothing was published.
    let key = image_key("user_1", "2024-01-01T12:00:00Z");
    assert_eq!(object(&s, &key).await.unwrap(), jpeg);
    assert!(s.moto.sns_sent(&s.n.config.topic_arn).await.is_empty());

    // Lambda's retry of the same event, with SNS back: sent once, and not again.
    let out = handle(&s.n, event.clone()).await.unwrap();
    assert_eq!(out["status"], "sent", "{out}");
    let again = handle(&s.n, event).await.unwrap();
    assert_eq!(again["status"], "skipped", "{again}");
    assert_eq!(s.moto.sns_sent(&s.n.config.topic_arn).await.len(), 1);
}

/// moto picks the service from the credential scope of the (unchecked) signature.
const SQS_AUTH: &str = "AWS4-HMAC-SHA256 Credential=test/20261201/us-east-1/sqs/aws4_request, SignedHeaders=host, Signature=0";

/// An SQS queue on moto (query API), as a user's stand-in mailbox: its ARN and URL.
async fn queue(moto: &Moto, name: &str) -> (String, String) {
    let http = reqwest::Client::new();
    let body = http
        .post(&moto.endpoint)
        .header("Authorization", SQS_AUTH)
        .form(&[("Action", "CreateQueue"), ("QueueName", name)])
        .send()
        .await
        .unwrap()
        .text()
        .await
        .unwrap();
    let url = aws_testkit::xml_values(&body, "QueueUrl")
        .pop()
        .unwrap_or_else(|| panic!("no queue url: {body}"));
    let arn = format!(
        "arn:aws:sqs:{}:{}:{name}",
        aws_testkit::REGION,
        aws_testkit::ACCOUNT
    );
    (arn, url)
}

/// The message bodies waiting in a queue.
async fn received(moto: &Moto, queue_url: &str) -> Vec<String> {
    let body = reqwest::Client::new()
        .post(&moto.endpoint)
        .header("Authorization", SQS_AUTH)
        .form(&[
            ("Action", "ReceiveMessage"),
            ("QueueUrl", queue_url),
            ("MaxNumberOfMessages", "10"),
        ])
        .send()
        .await
        .unwrap()
        .text()
        .await
        .unwrap();
    aws_testkit::xml_values(&body, "Body")
}

/// The alert topic's email subscriptions.
async fn email_subscriptions(s: &Setup) -> Vec<aws_sdk_sns::types::Subscription> {
    let subs =
        s.n.sns
            .list_subscriptions_by_topic()
            .topic_arn(&s.n.config.topic_arn)
            .send()
            .await
            .unwrap();
    subs.subscriptions()
        .iter()
        .filter(|sub| sub.protocol() == Some("email"))
        .cloned()
        .collect()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn each_alert_reaches_its_own_users_subscription_and_no_other() {
    let s = setup(3).await;
    let topic = s.n.config.topic_arn.clone();
    // One queue per user, subscribed with the filter policy the Lambda gives each user's email.
    let mut inbox = HashMap::new();
    for user in ["user_a", "user_b"] {
        let (arn, url) = queue(&s.moto, &unique(user)).await;
        s.n.sns
            .subscribe()
            .topic_arn(&topic)
            .protocol("sqs")
            .endpoint(arn)
            .attributes(
                "FilterPolicy",
                notify_lambda::subscription::filter_policy(&[user]),
            )
            .attributes("RawMessageDelivery", "true")
            .send()
            .await
            .unwrap();
        inbox.insert(user, url);
    }
    let bus = shared_image("bus.jpg");
    handle(&s.n, payload("user_a", "2026-11-30T10:00:00Z", 9, &bus))
        .await
        .unwrap();
    let a = received(&s.moto, &inbox["user_a"]).await;
    let b = received(&s.moto, &inbox["user_b"]).await;
    assert_eq!((a.len(), b.len()), (1, 0), "a: {a:?}\nb: {b:?}");
    assert!(a[0].contains("user_a"), "{}", a[0]);
    handle(&s.n, payload("user_b", "2026-11-30T10:00:00Z", 9, &bus))
        .await
        .unwrap();
    let b = received(&s.moto, &inbox["user_b"]).await;
    assert_eq!(b.len(), 1, "{b:?}");
    assert!(
        received(&s.moto, &inbox["user_a"]).await.is_empty(),
        "user_a got user_b's alert"
    );

    // The Lambda subscribed each user's own address, filtered to that user, once.
    let emails = email_subscriptions(&s).await;
    assert_eq!(emails.len(), 2, "{emails:?}");
    for sub in emails {
        let arn = sub.subscription_arn().unwrap();
        let endpoint = sub.endpoint().unwrap();
        let user = endpoint.trim_end_matches("@example.com");
        if !arn.starts_with("arn:") {
            continue; // pending confirmation: its policy was set at subscribe time
        }
        let attributes =
            s.n.sns
                .get_subscription_attributes()
                .subscription_arn(arn)
                .send()
                .await
                .unwrap();
        let policy = attributes
            .attributes()
            .unwrap()
            .get("FilterPolicy")
            .unwrap();
        assert_eq!(
            notify_lambda::subscription::policy_user_ids(policy),
            [user],
            "{endpoint}"
        );
    }
    // Another alert of user_a's (after the cooldown) adds no second subscription.
    handle(&s.n, payload("user_a", "2026-11-30T12:00:00Z", 9, &bus))
        .await
        .unwrap();
    assert_eq!(email_subscriptions(&s).await.len(), 2);
}

const LINK_SECRET: &str = "b2f1c7e04d9a3f6e8b1c2d3e4f5a6b7c";

/// A 4K frame's annotated JPEG: a shared photo scaled to 3840x2160.
fn jpeg_4k() -> Vec<u8> {
    let photo = image::load_from_memory(&shared_image("bus.jpg")).unwrap();
    let big = photo.resize_exact(3840, 2160, image::imageops::FilterType::Triangle);
    let mut out = Vec::new();
    image::codecs::jpeg::JpegEncoder::new_with_quality(&mut out, 90)
        .encode_image(&big.to_rgb8())
        .unwrap();
    out
}

/// The task stores the picture and sends its key: a 4K frame's JPEG (far over the 256 KiB
/// asynchronous-invoke limit) alerts, and the email links to it through the API's signed route,
/// valid for PICTURE_LINK_DAYS whatever the credentials of the Lambda that signed it.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_stored_4k_picture_alerts_by_key_with_a_signed_link() {
    let s = setup(15).await;
    let sdk = s.moto.sdk_config().await;
    let jpeg = jpeg_4k();
    assert_eq!(check_jpeg(&jpeg, 16 << 20, 8192).unwrap(), (3840, 2160));
    assert!(jpeg.len() > 256 * 1024, "{} bytes", jpeg.len());
    let key = "pictures/user_1/run-4k.jpg";
    s.n.s3
        .put_object()
        .bucket(&s.n.config.bucket)
        .key(key)
        .body(jpeg.clone().into())
        .send()
        .await
        .unwrap();
    let secrets = aws_sdk_secretsmanager::Client::new(&sdk);
    let arn = s.moto.create_secret("link-key", LINK_SECRET).await;
    let mut config = s.n.config.clone();
    config.picture_link_base = Some("https://api.example/v1".into());
    config.link_secret_arn = Some(arn);
    let n = Notifier::new(&sdk, config)
        .load_link_key(&secrets)
        .await
        .unwrap();

    let mut event = payload("user_1", "2024-01-01T12:00:00Z", 20, b"");
    event
        .as_object_mut()
        .unwrap()
        .remove("processed_detection_image");
    event["image_key"] = json!(key);
    event["run_id"] = json!("run-4k");
    let out = handle(&n, event.clone()).await.unwrap();
    assert_eq!(out["status"], "sent", "{out}");
    assert_eq!(out["image_key"], key);
    assert_eq!(out["link_valid_s"], 30 * 86_400);
    let url = out["image_url"].as_str().unwrap();
    let rest = url
        .strip_prefix("https://api.example/v1/pictures/user_1/run-4k.jpg?expires=")
        .unwrap_or_else(|| panic!("{url}"));
    let (expires, signature) = rest.split_once("&signature=").unwrap();
    let expires: i64 = expires.parse().unwrap();
    let now = chrono::Utc::now().timestamp();
    assert!((expires - now - 30 * 86_400).abs() < 60, "{expires}");
    let signer = aws_sinks::SigningKey::new(LINK_SECRET).unwrap();
    signer.verify_picture(key, expires, signature, now).unwrap();
    let sent = s.moto.sns_sent(&n.config.topic_arn).await;
    assert_eq!(sent.len(), 1);
    assert!(
        sent[0].1.contains("(3840x2160, link valid for 30 days)"),
        "{}",
        sent[0].1
    );
    assert!(sent[0].1.contains(url));
    // The picture was not copied under alerts/.
    assert!(
        object(&s, &image_key("user_1", "2024-01-01T12:00:00Z"))
            .await
            .is_none()
    );

    // Another user's picture cannot be named; a missing picture fails the invocation (Lambda
    // retries it) instead of mailing a dead link.
    let mut other = event.clone();
    other["user_id"] = json!("user_2");
    let e = handle(&n, other).await.unwrap_err();
    assert!(
        matches!(e, NotifyError::BadPayload(ref p) if p.field() == "image_key"),
        "{e}"
    );
    let mut missing = payload("user_3", "2024-01-01T12:00:00Z", 20, b"");
    missing
        .as_object_mut()
        .unwrap()
        .remove("processed_detection_image");
    missing["image_key"] = json!("pictures/user_3/gone.jpg");
    let e = handle(&n, missing).await.unwrap_err();
    assert!(
        matches!(
            e,
            NotifyError::S3 {
                op: "GetObject",
                ..
            }
        ),
        "{e}"
    );
}

/// Without a link route, the email carries a presigned S3 URL and states the lifetime it really
/// has; a weak or missing link secret stops the Lambda at start.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn link_secret_problems_stop_the_start() {
    let s = setup(15).await;
    let sdk = s.moto.sdk_config().await;
    let secrets = aws_sdk_secretsmanager::Client::new(&sdk);
    let weak = s.moto.create_secret("weak", "hunter2").await;
    let mut config = s.n.config.clone();
    config.picture_link_base = Some("https://api.example/v1".into());
    config.link_secret_arn = Some(weak);
    let e = Notifier::new(&sdk, config.clone())
        .load_link_key(&secrets)
        .await
        .err()
        .unwrap();
    assert!(e.to_string().contains("at least 32"), "{e}");
    config.link_secret_arn =
        Some("arn:aws:secretsmanager:us-east-1:123456789012:secret:none".into());
    let e = Notifier::new(&sdk, config)
        .load_link_key(&secrets)
        .await
        .err()
        .unwrap();
    assert!(e.to_string().contains("GetSecretValue"), "{e}");
    // One without the other is refused by the configuration.
    let e = NotifyConfig::from_lookup(|k| match k {
        "ALERT_BUCKET" => Some("b".into()),
        "ALERT_TOPIC_ARN" => Some("t".into()),
        "PICTURE_LINK_BASE" => Some("https://api.example/v1".into()),
        _ => None,
    })
    .unwrap_err();
    assert!(e.to_string().contains("LINK_SECRET_ARN"), "{e}");
    // The presigned fallback (moto's static credentials do not expire): the configured day.
    let out = handle(
        &s.n,
        payload(
            "user_1",
            "2024-01-01T12:00:00Z",
            20,
            &shared_image("bus.jpg"),
        ),
    )
    .await
    .unwrap();
    assert_eq!(out["link_valid_s"], 86_400, "{out}");
    let sent = s.moto.sns_sent(&s.n.config.topic_arn).await;
    assert!(sent[0].1.contains("link valid for 24 h"), "{}", sent[0].1);
}
