//! `footfall users add|list|enable|disable|remove`: the `config` table.

pub use local_runner::cli::UsersArgs;

pub fn run(args: UsersArgs) -> anyhow::Result<bool> {
    let runtime = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()?;
    let stdout = std::io::stdout();
    runtime.block_on(local_runner::cli::run_users(&args, &mut stdout.lock()))?;
    Ok(true)
}
