use super::*;
use serde_json::json;

fn policy() -> ValidationPolicy {
    ValidationPolicy::default()
}

fn api_body() -> Value {
    json!({"source":"API_GATEWAY","user_id":"user_1","streaming_URL":"https://cdn.example.com/live.m3u8",
           "email":"user@example.com","Monitoring_status":true})
}

fn user(id: &str) -> Value {
    json!({"user_id":id,"streaming_URL":"https://cdn.example.com/live.m3u8","email":"u@example.com","Monitoring_status":true})
}

#[test]
fn api_gateway_direct() {
    let e = ControllerEvent::parse(&api_body(), &policy()).unwrap();
    match e {
        ControllerEvent::ApiGateway { user, request_id } => {
            assert_eq!(user.user_id, "user_1");
            assert_eq!(user.streaming_url, "https://cdn.example.com/live.m3u8");
            assert_eq!(user.email, "user@example.com");
            assert!(user.monitoring_status);
            assert_eq!(request_id, None);
        }
        other => panic!("unexpected {other:?}"),
    }
}

#[test]
fn api_gateway_proxy_v1_and_v2_and_base64() {
    let body = api_body().to_string();
    let v1 = json!({"resource":"/run","httpMethod":"POST","body":body,"isBase64Encoded":false,
                    "requestContext":{"requestId":"req-123"}});
    let e = ControllerEvent::parse(&v1, &policy()).unwrap();
    assert!(
        matches!(e, ControllerEvent::ApiGateway { ref request_id, .. } if request_id.as_deref() == Some("req-123"))
    );

    let b64 = base64::engine::general_purpose::STANDARD.encode(body.as_bytes());
    let v2 = json!({"version":"2.0","routeKey":"POST /run","body":b64,"isBase64Encoded":true,
                    "requestContext":{"requestId":"req-456","http":{"method":"POST"}}});
    let e = ControllerEvent::parse(&v2, &policy()).unwrap();
    assert_eq!(e.source(), Source::ApiGateway);

    // The API route cannot be used to start an EventBridge run.
    let eb = json!({"source":"EVENTBRIDGE","users":[user("a")]}).to_string();
    let proxy = json!({"httpMethod":"POST","body":eb,"requestContext":{"requestId":"r"}});
    assert_eq!(
        ControllerEvent::parse(&proxy, &policy())
            .unwrap_err()
            .field(),
        "source"
    );

    // Missing or non-JSON body.
    let proxy = json!({"httpMethod":"POST","requestContext":{}});
    assert_eq!(
        ControllerEvent::parse(&proxy, &policy())
            .unwrap_err()
            .field(),
        "body"
    );
    let proxy = json!({"httpMethod":"POST","body":"{not json","requestContext":{}});
    let err = ControllerEvent::parse(&proxy, &policy()).unwrap_err();
    assert!(matches!(err, PayloadError::Json { .. }));
    assert_eq!(err.field(), "body");
}

#[test]
fn eventbridge_with_users_and_scheduled() {
    let v = json!({"source":"EVENTBRIDGE","users":[user("a"),user("b")]});
    match ControllerEvent::parse(&v, &policy()).unwrap() {
        ControllerEvent::EventBridge { users, event_id } => {
            assert_eq!(users.len(), 2);
            assert_eq!(users[1].user_id, "b");
            assert_eq!(event_id, None);
        }
        other => panic!("unexpected {other:?}"),
    }
    let sched = json!({"version":"0","id":"53dc4d37-cffa-4f76-80c9-8b7d4a4d2eaa","detail-type":"Scheduled Event",
        "source":"aws.events","account":"123456789012","time":"2024-01-01T12:00:00Z","region":"us-east-1",
        "resources":["arn:aws:events:us-east-1:123456789012:rule/hourly"],"detail":{}});
    assert_eq!(
        ControllerEvent::parse(&sched, &policy()).unwrap(),
        ControllerEvent::Scheduled {
            event_id: "53dc4d37-cffa-4f76-80c9-8b7d4a4d2eaa".into(),
            time: "2024-01-01T12:00:00Z".into()
        }
    );
    let no_users = json!({"source":"EVENTBRIDGE","id":"evt-1"});
    assert!(matches!(
        ControllerEvent::parse(&no_users, &policy()).unwrap(),
        ControllerEvent::Scheduled { ref event_id, .. } if event_id == "evt-1"
    ));
    let other = json!({"source":"aws.events","detail-type":"EC2 Instance State-change Notification","id":"x"});
    assert_eq!(
        ControllerEvent::parse(&other, &policy())
            .unwrap_err()
            .field(),
        "detail-type"
    );
}

#[test]
fn errors_name_the_field() {
    let cases: Vec<(Value, &str)> = vec![
        (json!({}), "source"),
        (json!([1, 2]), "event"),
        (json!({"source":"SQS"}), "source"),
        (
            json!({"source":"API_GATEWAY","streaming_URL":"https://a.example.com/x","email":"a@example.com","Monitoring_status":true}),
            "user_id",
        ),
        (
            json!({"source":"API_GATEWAY","user_id":"../../etc/passwd","streaming_URL":"https://a.example.com/x","email":"a@example.com","Monitoring_status":true}),
            "user_id",
        ),
        (
            json!({"source":"API_GATEWAY","user_id":"u","streaming_URL":"file:///etc/passwd","email":"a@example.com","Monitoring_status":true}),
            "streaming_URL",
        ),
        (
            json!({"source":"API_GATEWAY","user_id":"u","streaming_URL":"http://169.254.169.254/latest/meta-data/iam","email":"a@example.com","Monitoring_status":true}),
            "streaming_URL",
        ),
        (
            json!({"source":"API_GATEWAY","user_id":"u","streaming_URL":"https://a.example.com/x","email":"not-an-email","Monitoring_status":true}),
            "email",
        ),
        (
            json!({"source":"API_GATEWAY","user_id":"u","streaming_URL":"https://a.example.com/x","email":"a@example.com","Monitoring_status":"maybe"}),
            "Monitoring_status",
        ),
        (
            json!({"source":"API_GATEWAY","user_id":"u","streaming_URL":"https://a.example.com/x","email":"a@example.com"}),
            "Monitoring_status",
        ),
        (
            json!({"source":"API_GATEWAY","user_id":7,"streaming_URL":"https://a.example.com/x","email":"a@example.com","Monitoring_status":true}),
            "user_id",
        ),
        (json!({"source":"EVENTBRIDGE","users":"all"}), "users"),
        (
            json!({"source":"EVENTBRIDGE","users":[user("ok"), 5]}),
            "users[1]",
        ),
        (
            json!({"source":"EVENTBRIDGE","users":[user("ok"), user("a/b")]}),
            "users[1].user_id",
        ),
        (
            json!({"source":"EVENTBRIDGE","users":[user("ok"), user("ok")]}),
            "users[1].user_id",
        ),
    ];
    for (v, field) in cases {
        let e = ControllerEvent::parse(&v, &policy()).unwrap_err();
        assert_eq!(e.field(), field, "{v} -> {e}");
        assert!(e.to_string().contains(field), "{e}");
        assert!((400..500).contains(&e.status_code()));
    }
}

#[test]
fn size_limits_before_parsing() {
    let p = ValidationPolicy {
        max_users: 3,
        ..policy()
    };
    let v = json!({"source":"EVENTBRIDGE","users":[user("a"),user("b"),user("c"),user("d")]});
    let e = ControllerEvent::parse(&v, &p).unwrap_err();
    assert!(
        matches!(e, PayloadError::TooLarge { ref field, size: 4, limit: 3 } if field == "users")
    );

    // A 2 MB event is refused without being parsed (it is not even valid JSON).
    let big = vec![b'{'; 2 * 1024 * 1024];
    let e = ControllerEvent::parse_slice(&big, &policy()).unwrap_err();
    assert!(matches!(e, PayloadError::TooLarge { .. }));
    assert_eq!(e.status_code(), 413);
}

fn notification(img: &str) -> Value {
    json!({"user_id":"user_1","DATE-TIME":"2024-01-01T12:00:00Z",
           "config":{"Monitoring_status":true,"streaming_URL":"https://cdn.example.com/live.m3u8","email":"user@example.com"},
           "result":{"people_count":20},"processed_detection_image":img})
}

#[test]
fn notification_roundtrip_exact_field_names() {
    let img = base64::engine::general_purpose::STANDARD.encode([0xff, 0xd8, 0xff, 0xd9]);
    let v = notification(&img);
    let n = NotificationPayload::parse(&v, &policy()).unwrap();
    assert_eq!(n.result.people_count, 20);
    assert_eq!(n.decode_image().unwrap(), vec![0xff, 0xd8, 0xff, 0xd9]);
    // Serialises back to exactly the design's JSON.
    assert_eq!(serde_json::to_value(&n).unwrap(), v);
}

/// A zone or line rule's alert carries what its value counts; the label is bounded and
/// printable.
#[test]
fn notification_metric_label() {
    let img = base64::engine::general_purpose::STANDARD.encode([0xff, 0xd8, 0xff, 0xd9]);
    let mut v = notification(&img);
    v["metric"] = json!("people in zone queue");
    let n = NotificationPayload::parse(&v, &policy()).unwrap();
    assert_eq!(n.metric.as_deref(), Some("people in zone queue"));
    assert_eq!(serde_json::to_value(&n).unwrap(), v);
    for bad in [
        json!(""),
        json!("x".repeat(161)),
        json!("a\nBcc: evil"),
        json!(3),
    ] {
        v["metric"] = bad.clone();
        let e = NotificationPayload::parse(&v, &policy()).unwrap_err();
        assert!(e.to_string().contains("metric"), "{bad}: {e}");
    }
}

#[test]
fn notification_hostile() {
    // 50 MB of base64 is refused by length, before decoding, from bytes and from a Value.
    let huge = "A".repeat(50 * 1024 * 1024);
    let v = notification(&huge);
    let e = NotificationPayload::parse(&v, &policy()).unwrap_err();
    assert!(
        matches!(e, PayloadError::TooLarge { ref field, .. } if field == "processed_detection_image")
    );
    let bytes = serde_json::to_vec(&v).unwrap();
    let e = NotificationPayload::parse_slice(&bytes, &policy()).unwrap_err();
    assert_eq!(e.field(), "processed_detection_image");

    let mut v = notification("AAAA");
    v["DATE-TIME"] = json!("2024-01-01T12:00:00+02:00");
    assert_eq!(
        NotificationPayload::parse(&v, &policy())
            .unwrap_err()
            .field(),
        "DATE-TIME"
    );
    v["DATE-TIME"] = json!("../../x");
    assert_eq!(
        NotificationPayload::parse(&v, &policy())
            .unwrap_err()
            .field(),
        "DATE-TIME"
    );
    let mut v = notification("AAAA");
    v["user_id"] = json!("a/../../b");
    assert_eq!(
        NotificationPayload::parse(&v, &policy())
            .unwrap_err()
            .field(),
        "user_id"
    );
    let mut v = notification("AAAA");
    v["result"]["people_count"] = json!(-3);
    assert_eq!(
        NotificationPayload::parse(&v, &policy())
            .unwrap_err()
            .field(),
        "result.people_count"
    );
    let mut v = notification("AAAA");
    v["config"]["streaming_URL"] = json!("http://127.0.0.1/");
    assert_eq!(
        NotificationPayload::parse(&v, &policy())
            .unwrap_err()
            .field(),
        "config.streaming_URL"
    );
    let n = NotificationPayload::parse(&notification("!!!notbase64"), &policy()).unwrap();
    assert_eq!(
        n.decode_image().unwrap_err().field(),
        "processed_detection_image"
    );
}

#[test]
fn task_payload_roundtrip() {
    let u = UserConfig {
        user_id: "user_1".into(),
        streaming_url: "https://cdn.example.com/live.m3u8".into(),
        email: "user@example.com".into(),
        monitoring_status: true,
        threshold: None,
        tracking: None,
    };
    let t = TaskPayload::new(Source::EventBridge, "evt-1", &u);
    let s = t.to_json();
    let v: Value = serde_json::from_str(&s).unwrap();
    assert_eq!(v["streaming_URL"], "https://cdn.example.com/live.m3u8");
    assert_eq!(v["source"], "EVENTBRIDGE");
    assert_eq!(v["run_id"], "evt-1");
    assert_eq!(TaskPayload::parse(&s, &policy()).unwrap(), t);
    // The task re-validates: a tampered payload is refused.
    let bad = s.replace("user_1", "../user_1");
    assert_eq!(
        TaskPayload::parse(&bad, &policy()).unwrap_err().field(),
        "user_id"
    );
    let bad = s.replace("evt-1", "evt 1/");
    assert_eq!(
        TaskPayload::parse(&bad, &policy()).unwrap_err().field(),
        "run_id"
    );
    // The results table keeps run ids of at most 64 characters (the domain's RunId): a longer
    // one is refused here, before a task could count and then fail to store.
    let long = TaskPayload::new(Source::EventBridge, &"r".repeat(65), &u).to_json();
    let e = TaskPayload::parse(&long, &policy()).unwrap_err();
    assert_eq!(e.field(), "run_id");
    assert!(e.to_string().contains("1 to 64"), "{e}");
    let longest = TaskPayload::new(Source::EventBridge, &"r".repeat(64), &u).to_json();
    TaskPayload::parse(&longest, &policy()).unwrap();
}

#[test]
fn per_user_threshold_travels_from_event_to_task_to_notification() {
    // Absent: the original contract, the task falls back to its ALERT_THRESHOLD.
    let mut body = api_body();
    let ControllerEvent::ApiGateway { user, .. } =
        ControllerEvent::parse(&body, &policy()).unwrap()
    else {
        panic!("not an API Gateway event")
    };
    assert_eq!(user.threshold, None);
    let json = TaskPayload::new(Source::ApiGateway, "r-1", &user).to_json();
    assert!(!json.contains("threshold"), "{json}");

    body["threshold"] = json!(40);
    let ControllerEvent::ApiGateway { user, .. } =
        ControllerEvent::parse(&body, &policy()).unwrap()
    else {
        panic!("not an API Gateway event")
    };
    assert_eq!(user.threshold, Some(40));
    let t = TaskPayload::new(Source::ApiGateway, "r-1", &user);
    let back = TaskPayload::parse(&t.to_json(), &policy()).unwrap();
    assert_eq!(back.threshold, Some(40));
    assert_eq!(back.user_config(), user);

    for bad in [
        json!(-1),
        json!(2.5),
        json!("40"),
        json!(MAX_PEOPLE as u64 + 1),
    ] {
        body["threshold"] = bad.clone();
        let e = ControllerEvent::parse(&body, &policy()).unwrap_err();
        assert_eq!(e.field(), "threshold", "{bad}");
    }
    let tampered = t
        .to_json()
        .replace("\"threshold\":40", "\"threshold\":4000000");
    assert_eq!(
        TaskPayload::parse(&tampered, &policy())
            .unwrap_err()
            .field(),
        "threshold"
    );

    let mut v = notification("AAAA");
    v["run_id"] = json!("r-1");
    v["config"]["threshold"] = json!(40);
    let n = NotificationPayload::parse(&v, &policy()).unwrap();
    assert_eq!(n.run_id.as_deref(), Some("r-1"));
    assert_eq!(n.config.threshold, Some(40));
    assert_eq!(serde_json::to_value(&n).unwrap(), v);
    v["run_id"] = json!("r 1/..");
    assert_eq!(
        NotificationPayload::parse(&v, &policy())
            .unwrap_err()
            .field(),
        "run_id"
    );
    v["run_id"] = json!("r-1");
    v["config"]["threshold"] = json!("many");
    assert_eq!(
        NotificationPayload::parse(&v, &policy())
            .unwrap_err()
            .field(),
        "config.threshold"
    );
}

#[test]
fn run_user_key_is_deterministic() {
    let a = run_user_key("run-1", "user_1");
    assert_eq!(a.len(), 32);
    assert_eq!(a, run_user_key("run-1", "user_1"));
    assert_ne!(a, run_user_key("run-1", "user_2"));
    assert_ne!(a, run_user_key("run-2", "user_1"));
    // No ambiguity between ("ab","c") and ("a","bc").
    assert_ne!(run_user_key("ab", "c"), run_user_key("a", "bc"));
}

#[test]
fn hostile_nesting_control_characters_and_loopback_urls_are_refused() {
    // Deeply nested JSON: a clear error (serde_json's recursion limit), never a stack overflow,
    // whether the whole event or one unknown field is nested.
    let deep = |depth: usize| format!("{}{}", "[".repeat(depth), "]".repeat(depth));
    for depth in [200, 100_000] {
        let bare = deep(depth);
        assert!(ControllerEvent::parse_slice(bare.as_bytes(), &policy()).is_err());
        assert!(NotificationPayload::parse_slice(bare.as_bytes(), &policy()).is_err());
        assert!(TaskPayload::parse(&bare, &policy()).is_err());
        let wrapped = format!(
            r#"{{"source":"API_GATEWAY","user_id":"u","streaming_URL":"https://a.example.com/x","email":"a@example.com","Monitoring_status":true,"extra":{}}}"#,
            deep(depth)
        );
        let e = ControllerEvent::parse_slice(wrapped.as_bytes(), &policy()).unwrap_err();
        assert!((400..500).contains(&e.status_code()), "{e}");
        assert!(e.to_string().contains("recursion"), "{e}");
    }

    // User ids with control characters or invisible/direction characters.
    for id in [
        "alice\u{0}",
        "bob\n",
        "\u{1b}[31mred",
        "a\tb",
        "evil\u{202e}gpj.exe",
        "x\r\ny",
    ] {
        let v = json!({"source":"API_GATEWAY","user_id":id,"streaming_URL":"https://a.example.com/x","email":"a@example.com","Monitoring_status":true});
        let e = ControllerEvent::parse(&v, &policy()).unwrap_err();
        assert_eq!(e.field(), "user_id", "{id:?} -> {e}");
        let mut n = notification("AAAA");
        n["user_id"] = json!(id);
        let e = NotificationPayload::parse(&n, &policy()).unwrap_err();
        assert_eq!(e.field(), "user_id", "{id:?} -> {e}");
    }

    // SSRF: loopback and link-local in every spelling the URL parser normalises.
    for url in [
        "http://127.0.0.1:22/",
        "http://[::1]/live.m3u8",
        "http://2130706433/",
        "http://0x7f000001/",
        "http://0177.0.0.1/",
        "http://169.254.169.254/latest/meta-data/",
        "rtsp://169.254.169.254/",
        "http://[::ffff:127.0.0.1]/",
        "http://0.0.0.0/",
        "file:///etc/passwd",
    ] {
        let v = json!({"source":"API_GATEWAY","user_id":"u","streaming_URL":url,"email":"a@example.com","Monitoring_status":true});
        let e = ControllerEvent::parse(&v, &policy()).unwrap_err();
        assert_eq!(e.field(), "streaming_URL", "{url} -> {e}");
    }
}

#[test]
fn notification_by_picture_key() {
    let mut v = notification("");
    v.as_object_mut()
        .unwrap()
        .remove("processed_detection_image");
    v["image_key"] = json!("pictures/user_1/run-1.jpg");
    let n = NotificationPayload::parse(&v, &policy()).unwrap();
    assert_eq!(n.image_key.as_deref(), Some("pictures/user_1/run-1.jpg"));
    assert!(n.processed_detection_image.is_empty());
    assert_eq!(serde_json::to_value(&n).unwrap(), v);
    // Another user's picture, or anything outside pictures/, is refused.
    for key in [
        "pictures/user_2/run-1.jpg",
        "alerts/user_1/run-1.jpg",
        "pictures/user_1/../user_2/run-1.jpg",
        "pictures/user_1/run-1.png",
    ] {
        v["image_key"] = json!(key);
        assert_eq!(
            NotificationPayload::parse(&v, &policy())
                .unwrap_err()
                .field(),
            "image_key",
            "{key}"
        );
    }
    // Both, or neither.
    let mut both = notification("AAAA");
    both["image_key"] = json!("pictures/user_1/run-1.jpg");
    assert_eq!(
        NotificationPayload::parse(&both, &policy())
            .unwrap_err()
            .field(),
        "image_key"
    );
    let neither = notification("");
    assert!(
        NotificationPayload::parse(&neither, &policy())
            .unwrap_err()
            .field()
            .starts_with("processed_detection_image")
    );
}

#[test]
fn picture_keys_stay_in_their_users_folder() {
    let key = picture_key("u1", "run-7");
    assert_eq!(key, "pictures/u1/run-7.jpg");
    assert!(is_picture_key_of(&key, "u1"));
    assert!(!is_picture_key_of(&key, "u"));
    assert!(!is_picture_key_of(&key, "u2"));
    for bad in [
        "pictures/u1/../u2/r.jpg",
        "pictures/u1/r.png",
        "pictures/u1/.jpg",
        "pictures/u1/..jpg",
        "alerts/u1/r.jpg",
        "pictures/u1/a/b.jpg",
        "pictures/u1/r r.jpg",
    ] {
        assert!(!is_picture_key_of(bad, "u1"), "{bad}");
    }
}

#[test]
fn a_users_job_configuration_travels_from_event_to_task_and_is_checked() {
    let tracking = json!({"fps": 5, "lines": ["door=320,0,320,480"],
        "zones": ["queue=0,0,100,0,100,100"],
        "alert": {"metric": "zone:queue", "k": 3, "n": 5, "margin": 1}});
    let mut body = api_body();
    body["tracking"] = tracking.clone();
    let ControllerEvent::ApiGateway { user: adhoc, .. } =
        ControllerEvent::parse(&body, &policy()).unwrap()
    else {
        panic!("not an API Gateway event")
    };
    let config = adhoc.tracking.clone().unwrap();
    assert_eq!(config.tracking_fps(), Some(5.0));
    assert_eq!((config.alert.k, config.alert.n), (3, 5));
    let t = TaskPayload::new(Source::ApiGateway, "r-1", &adhoc);
    let back = TaskPayload::parse(&t.to_json(), &policy()).unwrap();
    assert_eq!(back.tracking, Some(config));
    assert_eq!(back.user_config(), adhoc);
    // Without one the payload is the original contract.
    let plain = TaskPayload::new(
        Source::ApiGateway,
        "r-1",
        &UserConfig {
            tracking: None,
            ..adhoc
        },
    );
    assert!(!plain.to_json().contains("tracking"));

    // Scheduled users carry it too; errors name the user and the configuration's field.
    let mut u = user("user_2");
    u["tracking"] =
        json!({"zones": ["queue=0,0,100,0,100,100"], "alert": {"metric": "zone:lobby"}});
    let event = json!({"source": "EVENTBRIDGE", "users": [user("user_1"), u]});
    let err = ControllerEvent::parse(&event, &policy()).unwrap_err();
    assert_eq!(err.field(), "users[1].tracking.alert.metric", "{err}");
    assert!(err.to_string().contains("lobby"), "{err}");

    let bad = |tracking: Value| {
        let mut body = api_body();
        body["tracking"] = tracking;
        ControllerEvent::parse(&body, &policy()).unwrap_err()
    };
    for (tracking, field) in [
        (json!({"fps": 0}), "tracking.fps"),
        (json!({"fps": 60}), "tracking.fps"),
        (json!({"fps": "ten"}), "tracking"),
        (json!({"alert": {"k": 6, "n": 5}}), "tracking.alert.k"),
        (json!({"alert": {"k": 1.5}}), "tracking"),
        (json!({"alert": {"n": 601}}), "tracking.alert.n"),
        (json!({"alert": {"margin": -1}}), "tracking.alert.margin"),
        (
            json!({"alert": {"metric": "line:door:in"}}),
            "tracking.alert.metric",
        ),
        (json!({"lines": ["door=1,1,1,1"]}), "tracking.lines[0]"),
        (json!({"lines": ["door=a,1,2,3"]}), "tracking.lines[0]"),
        (json!({"zones": ["z=0,0,1,1"]}), "tracking.zones[0]"),
        (json!({"unknown": 1}), "tracking"),
        (json!("fps=10"), "tracking"),
    ] {
        let err = bad(tracking.clone());
        assert_eq!(err.field(), field, "{tracking}: {err}");
        assert_eq!(err.status_code(), 400);
    }
    // Limits: 16 lines, 16 zones, 64 points a zone, and the JSON size an ECS override allows.
    let lines: Vec<String> = (0..17).map(|i| format!("l{i}=0,0,1,1")).collect();
    assert_eq!(bad(json!({ "lines": lines })).field(), "tracking.lines");
    let zones: Vec<String> = (0..17).map(|i| format!("z{i}=0,0,1,0,1,1")).collect();
    assert_eq!(bad(json!({ "zones": zones })).field(), "tracking.zones");
    let points: Vec<String> = (0..65).map(|i| format!("{i},{}", i * i)).collect();
    let zone = format!("z={}", points.join(","));
    assert_eq!(bad(json!({ "zones": [zone] })).field(), "tracking.zones[0]");
    let long: Vec<String> = (0..16)
        .map(|i| {
            let pts: Vec<String> = (0..64)
                .map(|j| format!("{}.5,{}.25", 1000 + j, j * j))
                .collect();
            format!("zone{i}={}", pts.join(","))
        })
        .collect();
    let err = bad(json!({ "zones": long }));
    assert!(matches!(err, PayloadError::TooLarge { .. }), "{err}");
    assert_eq!(err.status_code(), 413);

    // The task refuses a payload whose configuration was tampered with.
    let mut raw: Value = serde_json::from_str(&t.to_json()).unwrap();
    raw["tracking"]["alert"]["n"] = json!(1000);
    let err = TaskPayload::parse(&raw.to_string(), &policy()).unwrap_err();
    assert!(err.to_string().contains("alert.n"), "{err}");
}
