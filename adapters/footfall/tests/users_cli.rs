//! `footfall users ...` behaviour on a real SQLite file.

use clap::Parser;
use footfall::cli::{CliError, UsersArgs, run_users};

#[derive(Parser)]
struct Cli {
    #[command(flatten)]
    users: UsersArgs,
}

async fn users(data_dir: &std::path::Path, args: &[&str]) -> Result<String, CliError> {
    let mut argv = vec!["users", "--data-dir", data_dir.to_str().unwrap()];
    argv.extend_from_slice(args);
    let cli = Cli::try_parse_from(argv).map_err(|err| CliError::Usage(err.to_string()))?;
    let mut out = Vec::new();
    run_users(&cli.users, &mut out).await?;
    Ok(String::from_utf8(out).unwrap())
}

#[tokio::test]
async fn add_list_enable_disable_remove() {
    let dir = std::env::temp_dir().join(format!("users-cli-{}", std::process::id()));
    std::fs::remove_dir_all(&dir).ok();
    let out = users(
        &dir,
        &[
            "add",
            "alice",
            "--url",
            "http://127.0.0.1:8/p.m3u8",
            "--email",
            "a@example.com",
            "--threshold",
            "4",
        ],
    )
    .await
    .unwrap();
    assert_eq!(out, "added user alice (monitored)\n");
    users(
        &dir,
        &[
            "add",
            "bob",
            "--url",
            "rtsp://cam/1",
            "--email",
            "b@example.com",
            "--disabled",
        ],
    )
    .await
    .unwrap();
    let json: serde_json::Value =
        serde_json::from_str(&users(&dir, &["list", "--json"]).await.unwrap()).unwrap();
    assert_eq!(json[0]["user_id"], "alice");
    assert_eq!(json[0]["streaming_URL"], "http://127.0.0.1:8/p.m3u8");
    assert_eq!(json[0]["Monitoring_status"], 1);
    assert_eq!(json[0]["threshold"], 4);
    assert_eq!(json[1]["Monitoring_status"], 0);
    assert_eq!(json[1]["threshold"], 15);
    users(&dir, &["enable", "bob"]).await.unwrap();
    users(&dir, &["disable", "alice"]).await.unwrap();
    let table = users(&dir, &["list"]).await.unwrap();
    assert!(
        table.lines().nth(1).unwrap().starts_with("alice")
            && table.lines().nth(1).unwrap().contains(" no "),
        "{table}"
    );
    users(&dir, &["remove", "alice"]).await.unwrap();
    assert_eq!(
        users(&dir, &["list", "--json"])
            .await
            .unwrap()
            .matches("user_id")
            .count(),
        1
    );
    assert!(dir.join("footfall.db").exists());

    // Bad input: unknown user, duplicate, unsupported scheme, bad email.
    let err = users(&dir, &["enable", "nobody"]).await.unwrap_err();
    assert_eq!(err.to_string(), "unknown user `nobody`");
    let err = users(&dir, &["add", "bob", "--url", "rtsp://x", "--email", "b@x"])
        .await
        .unwrap_err();
    assert_eq!(err.to_string(), "user `bob` already exists");
    let err = users(
        &dir,
        &["add", "eve", "--url", "ftp://x/v.mp4", "--email", "e@x"],
    )
    .await
    .unwrap_err();
    assert!(
        err.to_string().contains("unsupported URL scheme `ftp`"),
        "{err}"
    );
    let err = users(&dir, &["add", "eve", "--url", "v.mp4", "--email", "nope"])
        .await
        .unwrap_err();
    assert!(err.to_string().contains("email"), "{err}");
    std::fs::remove_dir_all(&dir).ok();
}

#[tokio::test]
async fn addresses_the_sender_would_refuse_are_refused_when_added() {
    let dir = std::env::temp_dir().join(format!("users-cli-email-{}", std::process::id()));
    std::fs::remove_dir_all(&dir).ok();
    for bad in [
        "a@b.c, evil@x.com",
        "a@b.com\r\nBcc: evil@x.com",
        "\"quoted local\"@example.com",
        "Alice <a@example.com>",
    ] {
        let err = users(&dir, &["add", "eve", "--url", "v.mp4", "--email", bad])
            .await
            .unwrap_err()
            .to_string();
        assert!(err.starts_with("invalid email address"), "{bad:?}: {err}");
    }
    let listed = users(&dir, &["list", "--json"]).await.unwrap();
    assert_eq!(listed.trim(), "[]", "nothing was stored");
    std::fs::remove_dir_all(&dir).ok();
}

#[tokio::test]
async fn the_listing_hides_stream_credentials_and_takes_the_data_dir_after_the_action() {
    let dir = std::env::temp_dir().join(format!("users-cli-secret-{}", std::process::id()));
    std::fs::remove_dir_all(&dir).ok();
    let url = "rtsp://admin:hunter2@cam.local/live?token=abc";
    users(
        &dir,
        &["add", "cam", "--url", url, "--email", "c@example.com"],
    )
    .await
    .unwrap();
    // `users list --data-dir D`: the folder after the action, as people type it.
    let cli = Cli::try_parse_from(["users", "list", "--data-dir", dir.to_str().unwrap()]).unwrap();
    let mut out = Vec::new();
    run_users(&cli.users, &mut out).await.unwrap();
    let table = String::from_utf8(out).unwrap();
    assert!(
        table.contains("rtsp://***@cam.local/live?token=***"),
        "{table}"
    );
    assert!(
        !table.contains("hunter2") && !table.contains("abc"),
        "{table}"
    );
    // The JSON export is the config as stored: the stream must open with it.
    let json = users(&dir, &["list", "--json"]).await.unwrap();
    assert!(json.contains(url), "{json}");
    std::fs::remove_dir_all(&dir).ok();
}

/// `users set-tracking` / `show-tracking` (issue 12): the configuration is checked by the one
/// parser before anything is stored, shown back as JSON, and cleared.
#[tokio::test]
async fn set_show_and_clear_a_users_tracking_configuration() {
    let dir = std::env::temp_dir().join(format!("users-cli-tracking-{}", std::process::id()));
    std::fs::remove_dir_all(&dir).ok();
    users(
        &dir,
        &[
            "add",
            "lobby",
            "--url",
            "rtsp://cam/1",
            "--email",
            "ops@example.com",
        ],
    )
    .await
    .unwrap();
    users(
        &dir,
        &[
            "set-tracking",
            "lobby",
            "--line",
            "door=320,0,320,480",
            "--zone",
            "queue=0,240,320,240,320,480,0,480",
            "--alert",
            "zone:queue",
            "--k",
            "3",
            "--n",
            "5",
            "--margin",
            "1",
        ],
    )
    .await
    .unwrap();
    let shown: serde_json::Value =
        serde_json::from_str(&users(&dir, &["show-tracking", "lobby"]).await.unwrap()).unwrap();
    assert_eq!(shown["lines"][0], "door=320,0,320,480", "{shown}");
    assert_eq!(shown["alert"]["metric"], "zone:queue", "{shown}");
    assert_eq!(
        (shown["alert"]["k"].as_u64(), shown["alert"]["n"].as_u64()),
        (Some(3), Some(5))
    );
    let listed: serde_json::Value =
        serde_json::from_str(&users(&dir, &["list", "--json"]).await.unwrap()).unwrap();
    assert_eq!(
        listed[0]["tracking"]["alert"]["metric"], "zone:queue",
        "{listed}"
    );

    // Refused before anything is stored: a metric naming no zone, k above n.
    for bad in [
        &["set-tracking", "lobby", "--alert", "zone:nowhere"][..],
        &["set-tracking", "lobby", "--k", "6", "--n", "5"][..],
    ] {
        let err = users(&dir, bad).await.unwrap_err();
        assert!(matches!(err, CliError::Usage(_)), "{bad:?}: {err}");
    }
    let still: serde_json::Value =
        serde_json::from_str(&users(&dir, &["show-tracking", "lobby"]).await.unwrap()).unwrap();
    assert_eq!(still, shown, "a refused configuration changes nothing");

    users(&dir, &["set-tracking", "lobby", "--clear"])
        .await
        .unwrap();
    assert_eq!(
        users(&dir, &["show-tracking", "lobby"])
            .await
            .unwrap()
            .trim(),
        "null"
    );
    std::fs::remove_dir_all(&dir).ok();
}
