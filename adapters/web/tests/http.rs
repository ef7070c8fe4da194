//! Every route through the router (`tower::ServiceExt::oneshot`) against a real SQLite store
//! filled through `results_store`, and the real server on loopback (health, pages, live events,
//! shutdown).

mod common;

use std::io::{Read, Write};
use std::time::Duration;

use axum::body::Body;
use axum::http::{Request, StatusCode, header};
use chrono::Utc;
use common::{World, XSS_URL, http_get, record, world};
use footfall_domain::Health;
use footfall_web::{AppState, ServeConfig, ServeError, Server, router};
use http_body_util::BodyExt;
use tower::ServiceExt;

const TOKEN: &str = "test-token-0123456789";

fn config(w: &World) -> ServeConfig {
    let mut config = ServeConfig::new("127.0.0.1:0".parse().unwrap());
    config.data_dir = Some(w.dir.clone());
    config.poll_interval = Duration::from_millis(100);
    config
}

fn app(w: &World) -> axum::Router {
    router(AppState::new(w.store.clone(), &config(w)))
}

struct Reply {
    status: StatusCode,
    headers: axum::http::HeaderMap,
    body: Vec<u8>,
}

impl Reply {
    fn text(&self) -> String {
        String::from_utf8(self.body.clone()).unwrap()
    }
    fn json(&self) -> serde_json::Value {
        serde_json::from_slice(&self.body).unwrap()
    }
    fn header(&self, name: header::HeaderName) -> &str {
        self.headers.get(name).unwrap().to_str().unwrap()
    }
}

async fn send(app: &axum::Router, request: Request<Body>) -> Reply {
    let response = app.clone().oneshot(request).await.unwrap();
    let status = response.status();
    let headers = response.headers().clone();
    let body = response
        .into_body()
        .collect()
        .await
        .unwrap()
        .to_bytes()
        .to_vec();
    Reply {
        status,
        headers,
        body,
    }
}

async fn get(app: &axum::Router, uri: &str) -> Reply {
    send(app, Request::get(uri).body(Body::empty()).unwrap()).await
}

async fn post(app: &axum::Router, uri: &str, form: &str) -> Reply {
    let request = Request::post(uri)
        .header(header::CONTENT_TYPE, "application/x-www-form-urlencoded")
        .body(Body::from(form.to_string()))
        .unwrap();
    send(app, request).await
}

fn enc(text: &str) -> String {
    url::form_urlencoded::byte_serialize(text.as_bytes()).collect()
}

/// The CSRF token of the manage page's forms.
async fn csrf(app: &axum::Router) -> String {
    let page = get(app, "/manage").await.text();
    let at = page.find("name=\"csrf\" value=\"").unwrap() + 19;
    page[at..].split('"').next().unwrap().to_string()
}

#[tokio::test]
async fn overview_shows_a_tile_per_user_with_no_data_distinct_from_zero() {
    let w = world("overview").await;
    let app = app(&w);
    let r = get(&app, "/").await;
    assert_eq!(r.status, StatusCode::OK);
    assert!(r.header(header::CONTENT_TYPE).starts_with("text/html"));
    let html = r.text();
    for id in [
        "front-door",
        "loading-bay",
        "back-yard",
        "new-cam",
        "xss.cam",
    ] {
        assert!(html.contains(&format!("id=\"tile-{id}\"")), "{id}");
    }
    assert_eq!(html.matches("<article class=\"tile").count(), 5);
    assert_eq!(html.matches("<svg class=\"spark\"").count(), 5);
    // back-yard's latest run had no data: not a 0.
    let yard = &html[html.find("id=\"tile-back-yard\"").unwrap()..];
    let yard = &yard[..yard.find("</article>").unwrap()];
    assert!(yard.contains("no data: stream stalled"), "{yard}");
    assert!(yard.contains("<span class=\"n none\">—</span>"));
    assert!(yard.contains("no picture yet"));
    // new-cam never ran, and is disabled.
    let new = &html[html.find("id=\"tile-new-cam\"").unwrap()..];
    assert!(new.contains("no runs yet") && new.contains("disabled"));
    // loading-bay is over its threshold, with its last alert.
    let bay = &html[html.find("id=\"tile-loading-bay\"").unwrap()..];
    let bay = &bay[..bay.find("</article>").unwrap()];
    assert!(bay.starts_with("id=\"tile-loading-bay\"") || bay.contains("over threshold (5)"));
    assert!(bay.contains("over threshold (5)"), "{bay}");
    let alert_at =
        (w.now - chrono::Duration::minutes(20)).to_rfc3339_opts(chrono::SecondsFormat::Secs, true);
    assert!(
        bay.contains(&format!(
            "<dt>Last alert</dt><dd><time datetime=\"{alert_at}\""
        )),
        "{bay}"
    );
    assert!(bay.contains("/api/users/loading-bay/latest.jpg?run="));
    // The fragment the live update swaps in.
    let r = get(&app, "/tiles/front-door").await;
    assert_eq!(r.status, StatusCode::OK);
    assert!(
        r.text()
            .trim_start()
            .starts_with("<article class=\"tile ok")
    );
    assert_eq!(
        get(&app, "/tiles/nobody").await.status,
        StatusCode::NOT_FOUND
    );
}

#[tokio::test]
async fn every_stored_string_is_escaped_and_stream_credentials_hidden() {
    let w = world("escape").await;
    // An email with markup, stored directly (the store only wants an `@`).
    let mut user = results_store::NewUser::new(
        "mail.cam",
        "videos/a.mp4",
        "<img src=x onerror=alert(2)>@example.com",
    );
    user.monitored = false;
    w.store.add_user(&user).await.unwrap();
    let app = app(&w);
    for page in ["/", "/users/xss.cam", "/manage", "/users/mail.cam"] {
        let html = get(&app, page).await.text();
        assert!(!html.contains("<script>alert(1)"), "{page}");
        assert!(!html.contains("<img src=x"), "{page}");
        assert!(!html.contains("hunter2"), "{page}: password shown");
        assert!(!html.contains("s3cr3t"), "{page}: token shown");
        assert!(!html.contains("admin:pw"), "{page}: password shown");
    }
    let html = get(&app, "/").await.text();
    let shown = &html[html
        .find("<p class=\"src\" title=\"http://***@cam.example")
        .expect("xss.cam's stream")..];
    assert!(
        shown.contains(">http://***@cam.example/&#60;script&#62;alert(1)&#60;/script&#62;.m3u8?token=***&#38;q=&#34;x&#34;</p>"),
        "shown as text: {}",
        &shown[..300]
    );
    let html = get(&app, "/manage").await.text();
    assert!(html.contains("&#60;img src=x onerror=alert(2)&#62;@example.com"));
    // The API and the CSV redact too.
    let api = get(&app, "/api/users").await.text();
    assert!(!api.contains("hunter2") && !api.contains("s3cr3t"));
    let csv = get(&app, "/users/xss.cam/export.csv?range=day")
        .await
        .text();
    assert!(!csv.contains("hunter2"));
    assert_ne!(XSS_URL, "");
}

#[tokio::test]
async fn stream_page_chart_runs_and_ranges() {
    let w = world("stream").await;
    let app = app(&w);
    for range in ["hour", "day", "week", "month", "year"] {
        let r = get(&app, &format!("/users/front-door?range={range}")).await;
        assert_eq!(r.status, StatusCode::OK, "{range}");
        let html = r.text();
        assert!(html.contains("<svg class=\"chart\""), "{range}");
        assert!(html.contains(&format!("class=\"on\" aria-current=\"page\">{range}<")));
        assert!(html.contains(&format!("export.csv?range={range}")));
    }
    let html = get(&app, "/users/front-door?range=week").await.text();
    assert!(html.contains("threshold 15"));
    assert!(html.contains("<table class=\"runs\">"));
    // A week of hourly runs (168, one maybe just outside the window).
    let rows = html.matches("<td class=\"mono\">").count();
    assert!((167..=168).contains(&rows), "{rows}");
    // Runs with a picture link to it; no-data runs say so.
    assert!(html.matches("/api/users/front-door/runs/").count() >= 5);
    assert!(html.contains(">no data</td>"));
    // Default range is a day.
    let html = get(&app, "/users/front-door").await.text();
    assert!(html.contains("class=\"on\" aria-current=\"page\">day<"));
    // A user without runs still has a page.
    let html = get(&app, "/users/new-cam").await.text();
    assert!(html.contains("No runs in this range."));
    assert_eq!(
        get(&app, "/users/front-door?range=decade").await.status,
        StatusCode::BAD_REQUEST
    );
    assert_eq!(
        get(&app, "/users/nobody").await.status,
        StatusCode::NOT_FOUND
    );
    assert_eq!(
        get(&app, "/users/..%2Fetc").await.status,
        StatusCode::NOT_FOUND
    );
    assert_eq!(
        get(&app, "/no/such/page").await.status,
        StatusCode::NOT_FOUND
    );
}

#[tokio::test]
async fn csv_export_of_a_range() {
    let w = world("csv").await;
    let app = app(&w);
    let r = get(&app, "/users/back-yard/export.csv?range=day").await;
    assert_eq!(r.status, StatusCode::OK);
    assert_eq!(r.header(header::CONTENT_TYPE), "text/csv; charset=utf-8");
    assert!(
        r.header(header::CONTENT_DISPOSITION)
            .contains("back-yard-day-")
    );
    let text = r.text();
    let mut lines = text.lines();
    assert_eq!(lines.next(), Some(footfall_domain::csv::RESULT_CSV_HEADER));
    let rows: Vec<&str> = lines.collect();
    assert!((24..=25).contains(&rows.len()), "{}", rows.len());
    // No data is an empty field, never 0.
    assert!(rows.last().unwrap().contains(",back-yard,,stalled,0,"));
    assert_eq!(
        get(&app, "/users/nobody/export.csv").await.status,
        StatusCode::NOT_FOUND
    );
}

#[tokio::test]
async fn api_users_and_results() {
    let w = world("api").await;
    let app = app(&w);
    let r = get(&app, "/api/users").await;
    assert_eq!(r.status, StatusCode::OK);
    assert!(
        r.header(header::CONTENT_TYPE)
            .starts_with("application/json")
    );
    let users = r.json();
    let users = users.as_array().unwrap();
    assert_eq!(users.len(), 5);
    let by_id = |id: &str| users.iter().find(|u| u["user_id"] == id).unwrap().clone();
    let door = by_id("front-door");
    assert_eq!(door["streaming_URL"], serde_json::Value::Null, "renamed");
    assert_eq!(door["streaming_url"], "rtsp://***@10.0.0.5:554/door");
    assert_eq!(door["monitored"], true);
    assert_eq!(door["threshold"], 15);
    assert!(door["latest"]["people_count"].is_u64());
    assert_eq!(door["latest"]["health"], "ok");
    assert!(
        door["latest"]["picture"]
            .as_str()
            .unwrap()
            .ends_with(".jpg")
    );
    let yard = by_id("back-yard");
    assert_eq!(yard["latest"]["people_count"], serde_json::Value::Null);
    assert_eq!(yard["latest"]["health"], "stalled");
    assert_eq!(by_id("new-cam")["latest"], serde_json::Value::Null);
    assert_eq!(by_id("new-cam")["monitored"], false);
    assert!(by_id("loading-bay")["last_alert_at"].is_string());

    let r = get(&app, "/api/users/front-door/results").await;
    assert_eq!(r.status, StatusCode::OK);
    let body = r.json();
    assert_eq!(body["user_id"], "front-door");
    assert_eq!(body["limit"], 1000);
    let results = body["results"].as_array().unwrap();
    assert_eq!(results.len(), 168);
    for key in [
        "run_id",
        "taken_at",
        "people_count",
        "health",
        "frames",
        "source",
        "image_ref",
        "picture",
    ] {
        assert!(results[0].get(key).is_some(), "{key}");
    }
    // limit: the newest, oldest first.
    let body = get(&app, "/api/users/front-door/results?limit=2")
        .await
        .json();
    let two = body["results"].as_array().unwrap();
    assert_eq!(two.len(), 2);
    assert!(two[0]["taken_at"].as_str() < two[1]["taken_at"].as_str());
    assert_eq!(two[1]["run_id"], results[167]["run_id"]);
    // from/to: [from, to).
    let from = (w.now - chrono::Duration::hours(3)).to_rfc3339();
    let to = (w.now - chrono::Duration::hours(1)).to_rfc3339();
    let uri = format!(
        "/api/users/front-door/results?from={}&to={}",
        enc(&from),
        enc(&to)
    );
    let body = get(&app, &uri).await.json();
    assert_eq!(body["results"].as_array().unwrap().len(), 2);
    let today = w.now.format("%Y-%m-%d").to_string();
    let body = get(&app, &format!("/api/users/front-door/results?from={today}"))
        .await
        .json();
    assert!(!body["results"].as_array().unwrap().is_empty());
    for bad in [
        "limit=0",
        "limit=10001",
        "limit=x",
        "from=yesterday",
        "to=2026-13-01",
    ] {
        let r = get(&app, &format!("/api/users/front-door/results?{bad}")).await;
        assert_eq!(r.status, StatusCode::BAD_REQUEST, "{bad}");
        assert!(r.json()["error"].is_string());
    }
    let uri = format!(
        "/api/users/front-door/results?from={to_}&to={from_}",
        to_ = enc(&to),
        from_ = enc(&from)
    );
    assert_eq!(get(&app, &uri).await.status, StatusCode::BAD_REQUEST);
    assert_eq!(
        get(&app, "/api/users/nobody/results").await.status,
        StatusCode::NOT_FOUND
    );
    assert_eq!(
        get(&app, "/api/users/a..b/results").await.status,
        StatusCode::NOT_FOUND
    );
}

#[tokio::test]
async fn pictures_only_from_the_images_folder() {
    let w = world("pictures").await;
    let app = app(&w);
    let r = get(&app, "/api/users/front-door/latest.jpg").await;
    assert_eq!(r.status, StatusCode::OK);
    assert_eq!(r.header(header::CONTENT_TYPE), "image/jpeg");
    assert_eq!(&r.body[..2], &[0xFF, 0xD8], "a JPEG");
    let latest = w.store.latest_picture("front-door").await.unwrap().unwrap();
    assert_eq!(
        r.body,
        std::fs::read(w.dir.join(latest.image_ref.unwrap())).unwrap()
    );
    let uri = format!("/api/users/front-door/runs/{}.jpg", latest.run_id);
    assert_eq!(get(&app, &uri).await.status, StatusCode::OK);
    // back-yard kept no picture.
    let r = get(&app, "/api/users/back-yard/latest.jpg").await;
    assert_eq!(r.status, StatusCode::NOT_FOUND);
    assert!(r.json()["error"].is_string());
    // Ids that cannot exist, and traversal through the URL.
    for uri in [
        "/api/users/..%2F..%2Fetc/latest.jpg",
        "/api/users/front-door/runs/..%2F..%2Ffootfall.db",
        "/api/users/front-door/runs/x.png",
        "/api/users/front-door/runs/nosuchrun.jpg",
        "/api/users/nobody/latest.jpg",
    ] {
        assert_eq!(get(&app, uri).await.status, StatusCode::NOT_FOUND, "{uri}");
    }
    // Stored references that point outside images/: a `..`, an absolute path, a symlink, an
    // S3 key.
    std::fs::write(w.dir.join("secret.jpg"), b"not for the web").unwrap();
    std::os::unix::fs::symlink(
        w.dir.join("secret.jpg"),
        w.dir.join("images/front-door/link.jpg"),
    )
    .unwrap();
    let t0 = w.now - chrono::Duration::days(30);
    let refs = [
        "images/../secret.jpg".to_string(),
        w.dir.join("secret.jpg").display().to_string(),
        "images/front-door/link.jpg".to_string(),
        "pictures/front-door/x.jpg".to_string(),
    ];
    for (i, image_ref) in refs.iter().enumerate() {
        let t = t0 + chrono::Duration::hours(i as i64);
        let r = record(
            "front-door",
            t,
            Some(1),
            Health::Ok,
            Some(image_ref.clone()),
        );
        w.store.insert_result(&r).await.unwrap();
        let uri = format!("/api/users/front-door/runs/{}.jpg", r.run_id);
        let reply = get(&app, &uri).await;
        assert_eq!(reply.status, StatusCode::NOT_FOUND, "{image_ref}");
        assert!(!reply.text().contains("not for the web"));
    }
    let reply = get(
        &app,
        &format!(
            "/api/users/front-door/runs/{}.jpg",
            footfall_domain::RunId::for_tick(t0 + chrono::Duration::hours(3))
        ),
    )
    .await;
    assert!(reply.json()["error"].as_str().unwrap().contains("S3"));
    // Without a data folder no picture is served.
    let mut bare = config(&w);
    bare.data_dir = None;
    let app = router(AppState::new(w.store.clone(), &bare));
    let r = get(&app, "/api/users/front-door/latest.jpg").await;
    assert_eq!(r.status, StatusCode::NOT_FOUND);
    assert!(r.json()["error"].as_str().unwrap().contains("data folder"));
}

#[tokio::test]
async fn healthz_metrics_assets_and_headers() {
    let w = world("metrics").await;
    let app = app(&w);
    let r = get(&app, "/healthz").await;
    assert_eq!(r.status, StatusCode::OK);
    assert_eq!(r.json()["status"], "ok");
    assert_eq!(r.json()["database"], "SQLite");

    let r = get(&app, "/metrics").await;
    assert_eq!(r.status, StatusCode::OK);
    assert!(
        r.header(header::CONTENT_TYPE)
            .starts_with("application/openmetrics-text")
    );
    let text = r.text();
    let door = w.store.latest_result("front-door").await.unwrap().unwrap();
    assert!(text.contains(&format!(
        "footfall_people{{user_id=\"front-door\"}} {}",
        door.people_count.unwrap()
    )));
    // No data is no sample.
    assert!(!text.contains("footfall_people{user_id=\"back-yard\"}"));
    assert!(text.contains("footfall_stream_health{user_id=\"back-yard\",health=\"stalled\"} 1"));
    assert!(text.contains("footfall_stream_health{user_id=\"back-yard\",health=\"ok\"} 0"));
    assert!(text.contains("footfall_stream_health{user_id=\"new-cam\",health=\"no_runs\"} 1"));
    assert!(text.contains("footfall_stream_up{user_id=\"front-door\"} 1"));
    assert!(text.contains("footfall_stream_up{user_id=\"back-yard\"} 0"));
    assert!(text.contains("footfall_run_frames{user_id=\"front-door\"} 12"));
    assert!(text.contains("footfall_alerts_sent_total 1"));
    assert!(text.contains("footfall_last_alert_timestamp_seconds{user_id=\"loading-bay\"}"));
    assert!(text.contains("footfall_monitored{user_id=\"new-cam\"} 0"));
    assert!(text.contains("footfall_users 5"));
    assert!(text.trim_end().ends_with("# EOF"));

    let r = get(&app, "/static/app.css").await;
    assert_eq!(r.status, StatusCode::OK);
    assert!(r.header(header::CONTENT_TYPE).starts_with("text/css"));
    let r = get(&app, "/static/app.js").await;
    assert!(
        r.header(header::CONTENT_TYPE)
            .starts_with("text/javascript")
    );
    assert!(r.text().contains("EventSource"));
    let r = get(&app, "/").await;
    assert!(
        r.header(header::CONTENT_SECURITY_POLICY)
            .contains("script-src 'self'")
    );
    assert_eq!(r.header(header::X_FRAME_OPTIONS), "DENY");
}

#[tokio::test]
async fn a_token_guards_every_route_but_healthz() {
    let w = world("auth").await;
    // Off loopback, a token is required.
    let mut open = config(&w);
    open.bind = "0.0.0.0:0".parse().unwrap();
    assert!(matches!(open.check(), Err(ServeError::TokenRequired(_))));
    assert!(matches!(
        Server::bind(w.store.clone(), &open).await,
        Err(ServeError::TokenRequired(_))
    ));
    open.token = Some("short".into());
    assert!(matches!(open.check(), Err(ServeError::WeakToken)));
    open.token = Some(TOKEN.into());
    open.check().unwrap();
    let app = router(AppState::new(w.store.clone(), &open));

    for uri in [
        "/",
        "/users/front-door",
        "/tiles/front-door",
        "/users/front-door/export.csv",
        "/manage",
        "/events",
        "/api/users",
        "/api/users/front-door/results",
        "/api/users/front-door/latest.jpg",
        "/metrics",
        "/static/app.css",
    ] {
        let r = get(&app, uri).await;
        assert_eq!(r.status, StatusCode::UNAUTHORIZED, "{uri}");
        assert!(r.headers.contains_key(header::WWW_AUTHENTICATE));
        let with = |value: &str| {
            Request::get(uri)
                .header(header::AUTHORIZATION, value)
                .body(Body::empty())
                .unwrap()
        };
        let r = send(&app, with("Bearer not-the-token-at-all")).await;
        assert_eq!(r.status, StatusCode::UNAUTHORIZED, "{uri}");
        if uri != "/events" {
            let r = send(&app, with(&format!("Bearer {TOKEN}"))).await;
            assert_eq!(r.status, StatusCode::OK, "{uri}");
        }
    }
    assert_eq!(
        get(&app, "/api/users").await.json()["error"]
            .as_str()
            .map(|s| s.contains("token")),
        Some(true)
    );
    assert!(get(&app, "/").await.text().contains("Sign in"));
    assert_eq!(get(&app, "/healthz").await.status, StatusCode::OK);
    // POSTs are refused before the CSRF check.
    assert_eq!(
        post(&app, "/manage/users", "user_id=x").await.status,
        StatusCode::UNAUTHORIZED
    );

    // /login: a wrong token is refused; the right one sets a cookie that works.
    assert_eq!(
        get(&app, "/login?token=wrong").await.status,
        StatusCode::UNAUTHORIZED
    );
    assert_eq!(get(&app, "/login").await.status, StatusCode::OK);
    let r = get(&app, &format!("/login?token={TOKEN}")).await;
    assert_eq!(r.status, StatusCode::SEE_OTHER);
    let cookie = r.header(header::SET_COOKIE).to_string();
    assert!(cookie.contains("HttpOnly") && cookie.contains("SameSite=Strict"));
    assert!(!cookie.contains(TOKEN), "the cookie is not the token");
    let pair = cookie.split(';').next().unwrap().to_string();
    let r = send(
        &app,
        Request::get("/")
            .header(header::COOKIE, &pair)
            .body(Body::empty())
            .unwrap(),
    )
    .await;
    assert_eq!(r.status, StatusCode::OK);
    assert!(r.text().contains("id=\"tile-front-door\""));
}

#[tokio::test]
async fn forms_need_a_csrf_token_and_validate_like_the_cli() {
    let w = world("manage").await;
    let app = app(&w);
    let r = get(&app, "/manage").await;
    assert_eq!(r.status, StatusCode::OK);
    assert_eq!(r.text().matches("name=\"csrf\"").count(), 5 * 2 + 1);
    let token = csrf(&app).await;
    let add = |csrf: &str, id: &str, url: &str, email: &str, threshold: &str| {
        format!(
            "csrf={}&user_id={}&url={}&email={}&threshold={}&monitored=1",
            enc(csrf),
            enc(id),
            enc(url),
            enc(email),
            enc(threshold)
        )
    };
    // Without or with a forged token: 403, nothing stored.
    let form = add("", "side-door", "http://cam/side.m3u8", "a@b.example", "7");
    assert_eq!(
        post(&app, "/manage/users", &form).await.status,
        StatusCode::FORBIDDEN
    );
    let form = "user_id=side-door&url=http%3A%2F%2Fcam%2Fs.m3u8&email=a%40b.example";
    assert_eq!(
        post(&app, "/manage/users", form).await.status,
        StatusCode::FORBIDDEN
    );
    let forged = add(
        "1700000000.deadbeef",
        "side-door",
        "http://cam/s.m3u8",
        "a@b.example",
        "7",
    );
    assert_eq!(
        post(&app, "/manage/users", &forged).await.status,
        StatusCode::FORBIDDEN
    );
    for uri in [
        "/manage/users/front-door/monitoring",
        "/manage/users/front-door/threshold",
    ] {
        let r = post(&app, uri, "monitored=0&threshold=1").await;
        assert_eq!(r.status, StatusCode::FORBIDDEN, "{uri}");
    }
    assert!(w.store.get_user("side-door").await.unwrap().is_none());
    assert!(
        w.store
            .get_user("front-door")
            .await
            .unwrap()
            .unwrap()
            .monitored()
    );

    // Refused input, with the reason and the typed values kept.
    for (id, url, email, threshold, words) in [
        (
            "../x",
            "http://cam/s.m3u8",
            "a@b.example",
            "7",
            "invalid user id",
        ),
        (
            "side-door",
            "ftp://cam/s",
            "a@b.example",
            "7",
            "unsupported scheme",
        ),
        (
            "side-door",
            "http://",
            "a@b.example",
            "7",
            "not a valid URL",
        ),
        ("side-door", "  ", "a@b.example", "7", "empty"),
        (
            "side-door",
            "http://cam/s.m3u8",
            "Name <a@b.example>",
            "7",
            "not allowed",
        ),
        (
            "side-door",
            "http://cam/s.m3u8",
            "a@b.example, c@d.example",
            "7",
            "not allowed",
        ),
        ("side-door", "http://cam/s.m3u8", "nobody", "7", "@"),
        (
            "side-door",
            "http://cam/s.m3u8",
            "a@b.example",
            "-3",
            "threshold",
        ),
    ] {
        let r = post(
            &app,
            "/manage/users",
            &add(&token, id, url, email, threshold),
        )
        .await;
        assert_eq!(r.status, StatusCode::BAD_REQUEST, "{id} {url} {email}");
        let html = r.text();
        assert!(html.contains("class=\"msg error\""), "{html}");
        assert!(html.contains(words), "{words}: {html}");
    }
    // Accepted.
    let form = add(
        &token,
        "side-door",
        " http://cam/side.m3u8 ",
        "ops+door@shop.example",
        "7",
    );
    let r = post(&app, "/manage/users", &form).await;
    assert_eq!(r.status, StatusCode::SEE_OTHER);
    assert_eq!(
        r.header(header::LOCATION),
        "/manage?done=added&user=side-door"
    );
    let added = w.store.get_user("side-door").await.unwrap().unwrap();
    assert_eq!(added.streaming_url, "http://cam/side.m3u8");
    assert_eq!(added.threshold, 7);
    assert!(added.monitored());
    assert!(
        get(&app, "/manage?done=added&user=side-door")
            .await
            .text()
            .contains("Added side-door.")
    );
    // Again: 409.
    let r = post(&app, "/manage/users", &form).await;
    assert_eq!(r.status, StatusCode::CONFLICT);
    assert!(r.text().contains("already exists"));

    // Disable, enable, threshold.
    let r = post(
        &app,
        "/manage/users/side-door/monitoring",
        &format!("csrf={}&monitored=0", enc(&token)),
    )
    .await;
    assert_eq!(r.status, StatusCode::SEE_OTHER);
    assert!(
        !w.store
            .get_user("side-door")
            .await
            .unwrap()
            .unwrap()
            .monitored()
    );
    let r = post(
        &app,
        "/manage/users/side-door/monitoring",
        &format!("csrf={}&monitored=1", enc(&token)),
    )
    .await;
    assert_eq!(r.status, StatusCode::SEE_OTHER);
    assert!(
        w.store
            .get_user("side-door")
            .await
            .unwrap()
            .unwrap()
            .monitored()
    );
    let r = post(
        &app,
        "/manage/users/side-door/threshold",
        &format!("csrf={}&threshold=42", enc(&token)),
    )
    .await;
    assert_eq!(r.status, StatusCode::SEE_OTHER);
    assert_eq!(
        w.store
            .get_user("side-door")
            .await
            .unwrap()
            .unwrap()
            .threshold,
        42
    );
    let r = post(
        &app,
        "/manage/users/side-door/threshold",
        &format!("csrf={}&threshold=lots", enc(&token)),
    )
    .await;
    assert_eq!(r.status, StatusCode::BAD_REQUEST);
    let r = post(
        &app,
        "/manage/users/nobody/monitoring",
        &format!("csrf={}&monitored=0", enc(&token)),
    )
    .await;
    assert_eq!(r.status, StatusCode::NOT_FOUND);
    let r = post(
        &app,
        "/manage/users/nobody/threshold",
        &format!("csrf={}&threshold=3", enc(&token)),
    )
    .await;
    assert_eq!(r.status, StatusCode::NOT_FOUND);
    // Another server's token is no good here.
    let other = router(AppState::new(w.store.clone(), &config(&w)));
    let r = post(
        &other,
        "/manage/users/side-door/threshold",
        &format!("csrf={}&threshold=1", enc(&token)),
    )
    .await;
    assert_eq!(r.status, StatusCode::FORBIDDEN);
}

/// Reads from `stream` until `needle` arrives or `timeout` passes.
fn read_until(
    stream: &mut std::net::TcpStream,
    seen: &mut String,
    needle: &str,
    timeout: Duration,
) -> bool {
    let deadline = std::time::Instant::now() + timeout;
    let mut buf = [0u8; 4096];
    while !seen.contains(needle) {
        if std::time::Instant::now() > deadline {
            return false;
        }
        match stream.read(&mut buf) {
            Ok(0) => return seen.contains(needle),
            Ok(n) => seen.push_str(&String::from_utf8_lossy(&buf[..n])),
            Err(e)
                if matches!(
                    e.kind(),
                    std::io::ErrorKind::WouldBlock | std::io::ErrorKind::TimedOut
                ) => {}
            Err(e) => panic!("{e}"),
        }
    }
    true
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn real_server_on_loopback_pushes_new_results_and_shuts_down() {
    let w = world("server").await;
    let server = Server::bind(w.store.clone(), &config(&w)).await.unwrap();
    let addr = server.local_addr();
    assert!(addr.ip().is_loopback());
    let (stop, stopped) = tokio::sync::oneshot::channel::<()>();
    let running = tokio::spawn(server.run(async {
        let _ = stopped.await;
    }));

    let (status, head, body) = tokio::task::spawn_blocking(move || http_get(addr, "/healthz", ""))
        .await
        .unwrap();
    assert_eq!(status, 200, "{head}");
    assert!(String::from_utf8_lossy(&body).contains("\"ok\""));
    let (status, _, body) = tokio::task::spawn_blocking(move || http_get(addr, "/", ""))
        .await
        .unwrap();
    assert_eq!(status, 200);
    assert!(String::from_utf8_lossy(&body).contains("tile-front-door"));

    // Live: subscribe, store a new result, receive its user.
    let mut events = std::net::TcpStream::connect(addr).unwrap();
    events
        .set_read_timeout(Some(Duration::from_millis(200)))
        .unwrap();
    write!(
        events,
        "GET /events HTTP/1.1\r\nHost: {addr}\r\nAccept: text/event-stream\r\n\r\n"
    )
    .unwrap();
    let (mut events, mut seen) = tokio::task::spawn_blocking(move || {
        let mut seen = String::new();
        assert!(
            read_until(
                &mut events,
                &mut seen,
                "event: ready",
                Duration::from_secs(5)
            ),
            "{seen}"
        );
        (events, seen)
    })
    .await
    .unwrap();
    assert!(seen.contains("text/event-stream"));
    // Let the poller take its first snapshot before the new result.
    tokio::time::sleep(Duration::from_millis(400)).await;
    let t = Utc::now();
    w.store
        .insert_result(&record("back-yard", t, Some(4), Health::Ok, None))
        .await
        .unwrap();
    let (mut events, seen) = tokio::task::spawn_blocking(move || {
        let ok = read_until(
            &mut events,
            &mut seen,
            "data: back-yard",
            Duration::from_secs(5),
        );
        (events, seen, ok)
    })
    .await
    .map(|(e, s, ok)| {
        assert!(ok, "no event for back-yard: {s}");
        (e, s)
    })
    .unwrap();
    assert!(seen.contains("event: result\ndata: back-yard"), "{seen}");
    assert!(
        !seen.contains("data: front-door"),
        "only the user with a new result"
    );

    // Shutdown ends the event stream and the server.
    stop.send(()).unwrap();
    tokio::time::timeout(Duration::from_secs(10), running)
        .await
        .expect("server stops with an open event stream")
        .unwrap()
        .unwrap();
    let mut rest = String::new();
    let _ = read_until(
        &mut events,
        &mut rest,
        "\u{0}never",
        Duration::from_millis(500),
    );
}
