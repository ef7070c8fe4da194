//! A data folder and SQLite store filled through `results_store` the way the local runner fills
//! them: users, a week of hourly results (some without data), the last runs' pictures at
//! `images/{user_id}/{run_id}.jpg` (copies of the shared photos), an alert sent.

#![allow(dead_code)]

use std::io::{Read, Write};
use std::net::{SocketAddr, TcpStream};
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicUsize, Ordering};

use chrono::{DateTime, Duration, DurationRound, Utc};
use footfall_domain::{Health, ResultRecord, RunId, UserId};
use results_store::{NewUser, OutboxAlert, Store};

/// A stream URL with a password, a token and markup: none of it may reach a page unescaped.
pub const XSS_URL: &str =
    "http://admin:hunter2@cam.example/<script>alert(1)</script>.m3u8?token=s3cr3t&q=\"x\"";

/// A fresh folder under the target dir (kept after the test, for inspection).
pub fn temp_dir(name: &str) -> PathBuf {
    static N: AtomicUsize = AtomicUsize::new(0);
    let dir = Path::new(env!("CARGO_TARGET_TMPDIR")).join(format!(
        "footfall-web-{name}-{}-{}",
        std::process::id(),
        N.fetch_add(1, Ordering::SeqCst)
    ));
    let _ = std::fs::remove_dir_all(&dir);
    std::fs::create_dir_all(&dir).unwrap();
    dir
}

/// The shared photos (`$FOOTFALL_SHARED/images` or `../shared/images` from the repository), or
/// the fuzz corpus' small JPEG where they are missing.
pub fn sample_jpegs() -> Vec<PathBuf> {
    let repo = Path::new(env!("CARGO_MANIFEST_DIR")).join("../..");
    let shared = std::env::var_os("FOOTFALL_SHARED")
        .map(PathBuf::from)
        .unwrap_or_else(|| repo.join("../shared"));
    let mut found: Vec<PathBuf> = std::fs::read_dir(shared.join("images"))
        .into_iter()
        .flatten()
        .flatten()
        .map(|e| e.path())
        .filter(|p| p.extension().is_some_and(|e| e == "jpg"))
        .collect();
    found.sort();
    if found.is_empty() {
        found.push(repo.join("fuzz/corpus/image_letterbox/seed_rgb.jpg"));
    }
    found
}

pub struct World {
    pub dir: PathBuf,
    pub store: Store,
    pub now: DateTime<Utc>,
}

pub async fn store_in(dir: &Path) -> Store {
    Store::connect(&format!("sqlite://{}", dir.join("footfall.db").display()))
        .await
        .unwrap()
}

pub fn record(
    user: &str,
    t: DateTime<Utc>,
    people: Option<u32>,
    health: Health,
    image_ref: Option<String>,
) -> ResultRecord {
    ResultRecord {
        run_id: RunId::for_tick(t),
        user_id: UserId::parse(user).unwrap(),
        taken_at: t,
        people_count: people,
        health,
        frames: if people.is_some() { 12 } else { 0 },
        source: "http://***@cam.example/live.m3u8".into(),
        image_ref,
    }
}

/// Users:
/// - `front-door`: a week of hourly counts, healthy, pictures of the last 6 runs;
/// - `loading-bay`: busy, the latest count over its threshold of 5, an alert sent;
/// - `back-yard`: counts, then the latest 3 runs stalled (no data, no picture);
/// - `new-cam`: disabled, no runs;
/// - `xss.cam`: the stream URL [`XSS_URL`], two runs.
pub async fn world(name: &str) -> World {
    let dir = temp_dir(name);
    let store = store_in(&dir).await;
    let now = Utc::now().duration_trunc(Duration::hours(1)).unwrap();
    let jpegs = sample_jpegs();
    let add = |id: &str, url: &str, threshold: u32, monitored: bool| {
        let mut user = NewUser::new(id, url, &format!("{id}@example.com"));
        user.threshold = threshold;
        user.monitored = monitored;
        user
    };
    for user in [
        add("front-door", "rtsp://admin:pw@10.0.0.5:554/door", 15, true),
        add("loading-bay", "http://cam.example/bay.m3u8", 5, true),
        add("back-yard", "videos/yard.mp4", 15, true),
        add("new-cam", "http://cam.example/new.m3u8", 15, false),
        add("xss.cam", XSS_URL, 15, true),
    ] {
        store.add_user(&user).await.unwrap();
    }
    let mut picture = 0;
    let mut keep_picture = |dir: &Path, user: &str, t: DateTime<Utc>| {
        let reference = format!("images/{user}/{}.jpg", RunId::for_tick(t));
        let path = dir.join(&reference);
        std::fs::create_dir_all(path.parent().unwrap()).unwrap();
        std::fs::copy(&jpegs[picture % jpegs.len()], &path).unwrap();
        picture += 1;
        reference
    };
    let hours = 7 * 24;
    for i in 0..hours {
        let t = now - Duration::hours(hours - 1 - i);
        let h = (t.timestamp() / 3600 % 24) as f64;
        let wave = (-(h - 13.0).powi(2) / 10.0).exp();
        // front-door: 0..12 with a gap now and then.
        let people = if i % 41 == 7 {
            None
        } else {
            Some((wave * 12.0) as u32)
        };
        let image =
            (people.is_some() && i >= hours - 6).then(|| keep_picture(&dir, "front-door", t));
        let health = if people.is_some() {
            Health::Ok
        } else {
            Health::Unavailable
        };
        store
            .insert_result(&record("front-door", t, people, health, image))
            .await
            .unwrap();
        // loading-bay: busier, over 5 at the end.
        let people = Some((wave * 8.0) as u32 + u32::from(i == hours - 1) * 9);
        let image = (i >= hours - 3).then(|| keep_picture(&dir, "loading-bay", t));
        store
            .insert_result(&record("loading-bay", t, people, Health::Ok, image))
            .await
            .unwrap();
        // back-yard: stalled for the last 3 runs.
        let (people, health) = if i >= hours - 3 {
            (None, Health::Stalled)
        } else {
            (Some((wave * 4.0) as u32), Health::Ok)
        };
        store
            .insert_result(&record("back-yard", t, people, health, None))
            .await
            .unwrap();
    }
    for i in 0..2 {
        let t = now - Duration::hours(1 - i);
        let image = keep_picture(&dir, "xss.cam", t);
        store
            .insert_result(&record("xss.cam", t, Some(3), Health::Ok, Some(image)))
            .await
            .unwrap();
    }
    // An alert for loading-bay went out.
    let bay = UserId::parse("loading-bay").unwrap();
    let alert = OutboxAlert {
        run_id: RunId::for_tick(now),
        user_id: bay.clone(),
        email: "loading-bay@example.com".into(),
        people: 17,
        threshold: 5,
        source: "http://cam.example/bay.m3u8".into(),
        taken_at: now,
        image_ref: None,
        attempts: 0,
        metric: None,
    };
    store.enqueue_alert(&alert).await.unwrap();
    store
        .claim_due_alert(Utc::now() + Duration::minutes(1))
        .await
        .unwrap()
        .unwrap();
    store.alert_sent(&alert.run_id, &bay).await.unwrap();
    store
        .record_alert(&bay, now - Duration::minutes(20))
        .await
        .unwrap();
    World { dir, store, now }
}

/// A GET over a fresh loopback connection: (status code, headers text, body).
pub fn http_get(addr: SocketAddr, path: &str, headers: &str) -> (u16, String, Vec<u8>) {
    let mut stream = TcpStream::connect(addr).unwrap();
    write!(
        stream,
        "GET {path} HTTP/1.1\r\nHost: {addr}\r\nConnection: close\r\n{headers}\r\n"
    )
    .unwrap();
    let mut buf = Vec::new();
    stream.read_to_end(&mut buf).unwrap();
    let split = buf.windows(4).position(|w| w == b"\r\n\r\n").unwrap();
    let head = String::from_utf8_lossy(&buf[..split]).to_string();
    let status = head.split(' ').nth(1).unwrap().parse().unwrap();
    (status, head, buf[split + 4..].to_vec())
}
