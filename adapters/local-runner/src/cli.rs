//! Command-line pieces shared by the `footfall` subcommands `count`, `users` and `run-schedule`
//! (clap argument groups and their behaviour), independent of the detector.

use std::io::Write;
use std::path::PathBuf;
use std::time::Duration;

use clap::{Args, Subcommand};
use frame_source::SamplingPolicy;
use results_store::{NewUser, Store, StoreError, User};

#[derive(Debug, thiserror::Error)]
pub enum CliError {
    #[error(transparent)]
    Store(#[from] StoreError),
    #[error("{0}")]
    Usage(String),
    #[error("I/O error: {0}")]
    Io(#[from] std::io::Error),
}

/// Parses `500ms`, `10s`, `5m`, `1h`, `2d` or a bare number of seconds.
pub fn parse_duration(text: &str) -> Result<Duration, String> {
    let text = text.trim();
    let split = text
        .find(|c: char| !c.is_ascii_digit() && c != '.')
        .unwrap_or(text.len());
    let (number, unit) = text.split_at(split);
    let value: f64 = number
        .parse()
        .map_err(|_| format!("`{text}` is not a duration (e.g. 500ms, 10s, 5m, 1h, 2d)"))?;
    let seconds = match unit.trim() {
        "ms" => value / 1000.0,
        "" | "s" | "sec" | "secs" => value,
        "m" | "min" | "mins" => value * 60.0,
        "h" | "hour" | "hours" => value * 3600.0,
        "d" | "day" | "days" => value * 86_400.0,
        other => {
            return Err(format!(
                "unknown duration unit `{other}` in `{text}` (use ms, s, m, h, d)"
            ));
        }
    };
    if !seconds.is_finite() || seconds <= 0.0 {
        return Err(format!("duration `{text}` must be positive"));
    }
    Duration::try_from_secs_f64(seconds).map_err(|err| format!("duration `{text}`: {err}"))
}

/// `--frames N --window D` | `--every T` | `--every-nth K`.
#[derive(Debug, Clone, Args)]
pub struct SamplingArgs {
    /// Frames to sample, spread over --window.
    #[arg(long, requires = "window", conflicts_with_all = ["every", "every_nth"])]
    pub frames: Option<u32>,
    /// Window for --frames (e.g. 60s).
    #[arg(long, value_parser = parse_duration, requires = "frames")]
    pub window: Option<Duration>,
    /// One frame every T of stream time (e.g. 10s). Default: 1s.
    #[arg(long, value_parser = parse_duration, conflicts_with = "every_nth")]
    pub every: Option<Duration>,
    /// Every k-th decoded frame.
    #[arg(long)]
    pub every_nth: Option<u32>,
}

impl SamplingArgs {
    pub fn policy(&self) -> SamplingPolicy {
        match (self.frames, self.window, self.every, self.every_nth) {
            (Some(frames), Some(window), _, _) => SamplingPolicy::Spread { frames, window },
            (_, _, Some(every), _) => SamplingPolicy::Every(every),
            (_, _, _, Some(k)) => SamplingPolicy::EveryNth(k),
            _ => SamplingPolicy::Every(Duration::from_secs(1)),
        }
    }
}

/// Where data lives: the database and the data folder (results/, images/).
#[derive(Debug, Clone, Args)]
pub struct StoreArgs {
    /// Data folder holding results/{user_id}.csv, images/ and the default database.
    #[arg(long, env = "FOOTFALL_DATA_DIR", default_value = "footfall-data")]
    pub data_dir: PathBuf,
    /// Database URL: sqlite://PATH or mysql://USER:PASS@HOST/DB. Default: sqlite in --data-dir.
    #[arg(long, env = "FOOTFALL_DB")]
    pub db: Option<String>,
}

impl StoreArgs {
    pub fn database_url(&self) -> String {
        self.db
            .clone()
            .unwrap_or_else(|| format!("sqlite://{}", self.data_dir.join("footfall.db").display()))
    }

    pub async fn connect(&self) -> Result<Store, CliError> {
        if self.db.is_none() {
            std::fs::create_dir_all(&self.data_dir)?;
        }
        Ok(Store::connect(&self.database_url()).await?)
    }
}

#[derive(Debug, Clone, Args)]
pub struct UsersArgs {
    #[command(flatten)]
    pub store: StoreArgs,
    #[command(subcommand)]
    pub action: UsersAction,
}

#[derive(Debug, Clone, Subcommand)]
pub enum UsersAction {
    /// Add a user to monitor.
    Add {
        user_id: String,
        /// Stream to watch (file, http(s), HLS, rtsp, or a page URL resolved by yt-dlp).
        #[arg(long = "url", alias = "streaming-url")]
        url: String,
        /// Where alerts go.
        #[arg(long)]
        email: String,
        /// Alert when more people than this are counted.
        #[arg(long, default_value_t = results_store::DEFAULT_THRESHOLD)]
        threshold: u32,
        /// Add without monitoring (enable later).
        #[arg(long)]
        disabled: bool,
    },
    /// List users.
    List {
        /// JSON array of config rows.
        #[arg(long)]
        json: bool,
    },
    /// Start monitoring a user.
    Enable { user_id: String },
    /// Stop monitoring a user (keeps the user and results).
    Disable { user_id: String },
    /// Delete a user (results stay).
    Remove { user_id: String },
}

/// Runs `footfall users ...`, printing to `out`.
pub async fn run_users(args: &UsersArgs, out: &mut dyn Write) -> Result<(), CliError> {
    // Validate the source text before storing it, so a typo fails now, not at 3 a.m.
    if let UsersAction::Add { url, .. } = &args.action {
        frame_source::SourceSpec::parse(url).map_err(|err| CliError::Usage(err.to_string()))?;
    }
    let store = args.store.connect().await?;
    let result = users_action(&store, &args.action, out).await;
    store.close().await;
    result
}

async fn users_action(
    store: &Store,
    action: &UsersAction,
    out: &mut dyn Write,
) -> Result<(), CliError> {
    match action {
        UsersAction::Add {
            user_id,
            url,
            email,
            threshold,
            disabled,
        } => {
            let user = NewUser {
                user_id: user_id.clone(),
                streaming_url: url.clone(),
                email: email.clone(),
                threshold: *threshold,
                monitored: !disabled,
            };
            let added = store.add_user(&user).await?;
            writeln!(
                out,
                "added user {} ({})",
                added.user_id,
                if added.monitored() {
                    "monitored"
                } else {
                    "disabled"
                }
            )?;
        }
        UsersAction::List { json } => {
            let users = store.list_users().await?;
            if *json {
                serde_json::to_writer_pretty(&mut *out, &users).map_err(std::io::Error::other)?;
                writeln!(out)?;
            } else {
                write_user_table(&users, out)?;
            }
        }
        UsersAction::Enable { user_id } => {
            store.enable_user(user_id).await?;
            writeln!(out, "enabled {user_id}")?;
        }
        UsersAction::Disable { user_id } => {
            store.disable_user(user_id).await?;
            writeln!(out, "disabled {user_id}")?;
        }
        UsersAction::Remove { user_id } => {
            store.remove_user(user_id).await?;
            writeln!(out, "removed {user_id}")?;
        }
    }
    Ok(())
}

fn write_user_table(users: &[User], out: &mut dyn Write) -> std::io::Result<()> {
    if users.is_empty() {
        return writeln!(out, "no users");
    }
    writeln!(
        out,
        "{:<20} {:<9} {:>9}  {:<30} streaming_URL",
        "user_id", "monitored", "threshold", "email"
    )?;
    for user in users {
        writeln!(
            out,
            "{:<20} {:<9} {:>9}  {:<30} {}",
            user.user_id,
            if user.monitored() { "yes" } else { "no" },
            user.threshold,
            user.email,
            user.streaming_url
        )?;
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn durations() {
        assert_eq!(parse_duration("10s"), Ok(Duration::from_secs(10)));
        assert_eq!(parse_duration("60"), Ok(Duration::from_secs(60)));
        assert_eq!(parse_duration("500ms"), Ok(Duration::from_millis(500)));
        assert_eq!(parse_duration("1.5m"), Ok(Duration::from_secs(90)));
        assert_eq!(parse_duration("2h"), Ok(Duration::from_secs(7200)));
        assert_eq!(parse_duration("1d"), Ok(Duration::from_secs(86_400)));
        assert!(parse_duration("0s").is_err());
        assert!(parse_duration("ten").is_err());
        assert!(parse_duration("5 fortnights").unwrap_err().contains("unit"));
    }
}
