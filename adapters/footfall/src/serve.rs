//! `footfall serve`: the web pages, API and metrics over the results store.

pub use footfall::cli::ServeArgs;

pub fn run(args: ServeArgs) -> anyhow::Result<u8> {
    let runtime = tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()?;
    runtime.block_on(footfall::cli::run_serve(&args))?;
    Ok(0)
}
