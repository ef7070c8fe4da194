//! Page-load benchmark of `footfall serve` (a measurement, not a test): fills a SQLite store
//! through `results_store` with USERS users × DAYS days of hourly results (default 20 × 365 =
//! 175,200 rows; kept between runs at PATH), serves it on loopback and times each page over
//! plain HTTP/1.1, printing median, p95 and max.
//!
//! `cargo run --release -p footfall-web --bin footfall-web-bench -- [--users N] [--days N]
//! [--db PATH] [--rounds N]`

use std::io::{Read, Write};
use std::net::{SocketAddr, TcpStream};
use std::time::{Duration, Instant};

use chrono::{DurationRound, Utc};
use footfall_domain::{Health, ResultRecord, RunId, UserId};
use footfall_web::{ServeConfig, Server};
use results_store::{NewUser, Store};

fn arg(args: &[String], name: &str) -> Option<String> {
    args.iter()
        .position(|a| a == name)
        .and_then(|i| args.get(i + 1).cloned())
}

/// A plausible footfall curve: quiet at night, busy at noon and in the evening, some runs
/// without data.
fn count(user: usize, hour_index: i64) -> Option<u32> {
    let h = hour_index.rem_euclid(24) as f64;
    let noise = ((hour_index * 7919 + user as i64 * 104_729) % 97) as f64 / 97.0;
    if (hour_index + user as i64) % 53 == 0 {
        return None;
    }
    let day = (-(h - 12.5).powi(2) / 8.0).exp() * 14.0 + (-(h - 18.0).powi(2) / 3.0).exp() * 9.0;
    Some((day + noise * 4.0) as u32)
}

async fn fill(store: &Store, users: usize, days: i64) -> Result<(), Box<dyn std::error::Error>> {
    let end = Utc::now().duration_trunc(chrono::Duration::hours(1))?;
    let hours = days * 24;
    let started = Instant::now();
    for u in 0..users {
        let user_id = format!("shop-{u:02}");
        let mut new = NewUser::new(
            &user_id,
            &format!("rtsp://admin:secret@cam{u}.local:554/live"),
            &format!("{user_id}@example.com"),
        );
        new.threshold = 15;
        store.add_user(&new).await?;
        let uid = UserId::parse(&user_id)?;
        // Concurrent inserts over the store's pool, in slices.
        let mut k = 0;
        while k < hours {
            let slice: Vec<ResultRecord> = (k..(k + 256).min(hours))
                .map(|i| {
                    let t = end - chrono::Duration::hours(hours - 1 - i);
                    let people = count(u, i);
                    ResultRecord {
                        run_id: RunId::for_tick(t),
                        user_id: uid.clone(),
                        taken_at: t,
                        people_count: people,
                        health: if people.is_some() {
                            Health::Ok
                        } else {
                            Health::Stalled
                        },
                        frames: if people.is_some() { 12 } else { 0 },
                        source: "rtsp://***@cam.local:554/live".into(),
                        image_ref: people
                            .map(|_| format!("images/{user_id}/{}.jpg", RunId::for_tick(t))),
                    }
                })
                .collect();
            futures::future::try_join_all(slice.iter().map(|r| store.insert_result(r))).await?;
            k += 256;
        }
        eprintln!(
            "filled {user_id}: {hours} rows ({:.1} s so far)",
            started.elapsed().as_secs_f64()
        );
    }
    Ok(())
}

/// One GET over a fresh connection; returns (status line, body bytes).
fn get(addr: SocketAddr, path: &str) -> std::io::Result<(String, usize)> {
    let mut stream = TcpStream::connect(addr)?;
    write!(
        stream,
        "GET {path} HTTP/1.1\r\nHost: {addr}\r\nConnection: close\r\n\r\n"
    )?;
    let mut buf = Vec::new();
    stream.read_to_end(&mut buf)?;
    let text = String::from_utf8_lossy(&buf);
    let status = text.lines().next().unwrap_or_default().to_string();
    let body = text.split_once("\r\n\r\n").map_or(0, |(_, b)| b.len());
    Ok((status, body))
}

#[tokio::main]
async fn main() -> Result<(), Box<dyn std::error::Error>> {
    let args: Vec<String> = std::env::args().collect();
    let users: usize = arg(&args, "--users").map_or(Ok(20), |s| s.parse())?;
    let days: i64 = arg(&args, "--days").map_or(Ok(365), |s| s.parse())?;
    let rounds: usize = arg(&args, "--rounds").map_or(Ok(30), |s| s.parse())?;
    let path = arg(&args, "--db").unwrap_or_else(|| {
        std::env::temp_dir()
            .join(format!("footfall-web-bench-{users}x{days}.db"))
            .display()
            .to_string()
    });
    let fresh = !std::path::Path::new(&path).exists();
    let store = Store::connect(&format!("sqlite://{path}")).await?;
    let existing = store.list_users().await?.len();
    if fresh || existing != users {
        if !fresh {
            return Err(format!("{path} holds {existing} users, not {users}: remove it").into());
        }
        fill(&store, users, days).await?;
    }
    let rows: usize = {
        let mut n = 0;
        for u in store.list_users().await? {
            n += store
                .results_between(&u.user_id, None, None, None)
                .await?
                .len();
        }
        n
    };
    println!("store: {path}: {users} users, {rows} result rows");

    let mut config = ServeConfig::new("127.0.0.1:0".parse()?);
    config.data_dir = Some(std::env::temp_dir());
    let server = Server::bind(store, &config).await?;
    let addr = server.local_addr();
    let (stop, stopped) = tokio::sync::oneshot::channel::<()>();
    let running = tokio::spawn(server.run(async {
        let _ = stopped.await;
    }));

    let pages = [
        "/",
        "/users/shop-07?range=hour",
        "/users/shop-07?range=day",
        "/users/shop-07?range=week",
        "/users/shop-07?range=month",
        "/users/shop-07?range=year",
        "/users/shop-07/export.csv?range=year",
        "/api/users",
        "/api/users/shop-07/results?limit=1000",
        "/metrics",
        "/manage",
    ];
    println!(
        "{:<42} {:>8} {:>8} {:>8} {:>10}",
        "page", "median", "p95", "max", "bytes"
    );
    for page in pages {
        let page = page.to_string();
        let times = tokio::task::spawn_blocking(move || {
            let mut times = Vec::with_capacity(rounds);
            let mut bytes = 0;
            // One warm-up request.
            let _ = get(addr, &page);
            for _ in 0..rounds {
                let t = Instant::now();
                let (status, n) = get(addr, &page).expect("request");
                times.push(t.elapsed());
                assert!(status.contains("200"), "{page}: {status}");
                bytes = n;
            }
            times.sort();
            (page, times, bytes)
        })
        .await?;
        let (page, times, bytes) = times;
        let ms = |d: Duration| d.as_secs_f64() * 1000.0;
        println!(
            "{:<42} {:>6.1}ms {:>6.1}ms {:>6.1}ms {:>10}",
            page,
            ms(times[times.len() / 2]),
            ms(times[(times.len() * 95 / 100).min(times.len() - 1)]),
            ms(*times.last().expect("rounds > 0")),
            bytes
        );
    }
    let _ = stop.send(());
    running.await??;
    Ok(())
}
