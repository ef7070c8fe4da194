//! `footfall db migrate`: applies the schema migrations (MySQL's explicit step).

pub use footfall::cli::DbArgs;

pub fn run(args: DbArgs) -> anyhow::Result<u8> {
    let runtime = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()?;
    let stdout = std::io::stdout();
    runtime.block_on(footfall::cli::run_db(&args, &mut stdout.lock()))?;
    Ok(0)
}
