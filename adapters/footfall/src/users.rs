//! `footfall users add|list|enable|disable|remove`: the `config` table.

pub use footfall::cli::UsersArgs;

pub fn run(args: UsersArgs) -> anyhow::Result<u8> {
    let runtime = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()?;
    let stdout = std::io::stdout();
    runtime.block_on(footfall::cli::run_users(&args, &mut stdout.lock()))?;
    Ok(0)
}
