//! `footfall db migrate` on a real SQLite file: what it prints the first time and the second.

use clap::Parser;
use footfall::cli::{DbArgs, run_db};

#[derive(Parser)]
struct Cli {
    #[command(flatten)]
    db: DbArgs,
}

async fn db(data_dir: &std::path::Path, args: &[&str]) -> String {
    let mut argv = vec!["db", "--data-dir", data_dir.to_str().unwrap()];
    argv.extend_from_slice(args);
    let cli = Cli::try_parse_from(argv).unwrap();
    let mut out = Vec::new();
    run_db(&cli.db, &mut out).await.unwrap();
    String::from_utf8(out).unwrap()
}

#[tokio::test]
async fn migrate_prints_each_applied_migration_then_nothing_to_do() {
    let dir = std::env::temp_dir().join(format!("db-cli-{}", std::process::id()));
    std::fs::remove_dir_all(&dir).ok();
    let last = results_store::MIGRATOR.iter().last().unwrap().version;

    let first = db(&dir, &["migrate"]).await;
    let lines: Vec<&str> = first.lines().collect();
    assert_eq!(
        lines.len(),
        results_store::MIGRATOR.iter().count() + 1,
        "{first}"
    );
    for (line, migration) in lines.iter().zip(results_store::MIGRATOR.iter()) {
        assert_eq!(
            *line,
            format!("applied {} {}", migration.version, migration.description)
        );
    }
    assert_eq!(
        lines.last().copied(),
        Some(format!("schema up to date (version {last})").as_str())
    );
    assert!(dir.join("footfall.db").exists());

    let url = format!("sqlite://{}", dir.join("footfall.db").display());
    let again = db(&dir, &["migrate", "--db", &url]).await;
    assert_eq!(again, format!("schema up to date (version {last})\n"));
    std::fs::remove_dir_all(&dir).ok();
}
