//! Wires [`controller_lambda::handle`] to the Lambda runtime. Configuration: see
//! [`controller_lambda::ControllerConfig`]; AWS endpoints come from the standard AWS
//! configuration (`AWS_ENDPOINT_URL`, region, role credentials).

#![recursion_limit = "256"]
use controller_lambda::{
    Controller, ControllerConfig, StoreUsers, database_url, handle, picture_links,
};
use footfall_runtime::logging::{LogFormat, LogTarget};
use lambda_runtime::{Error, LambdaEvent, service_fn};
use serde_json::Value;

#[tokio::main]
async fn main() -> Result<(), Error> {
    let started = std::time::Instant::now();
    footfall_runtime::logging::init(LogFormat::Json, LogTarget::CloudWatchStdout, false);
    let config = ControllerConfig::from_env()?;
    let sdk = aws_config::load_from_env().await;
    // Secrets are read once, at start: a missing or unreadable one fails the init, loudly.
    let secrets = aws_sdk_secretsmanager::Client::new(&sdk);
    let database_url = database_url(&config, &secrets).await?;
    let s3 = aws_sdk_s3::Client::from_conf(
        aws_sdk_s3::config::Builder::from(&sdk)
            .force_path_style(true)
            .build(),
    );
    let ctl = Controller {
        pictures: picture_links(&config, s3, &secrets).await?,
        ecs: aws_sdk_ecs::Client::new(&sdk),
        users: StoreUsers::new(database_url),
        config,
    };
    let ctl = &ctl;
    // Cold start (issue 14): main to ready for the first event (secrets, clients).
    tracing::info!(
        init_ms = started.elapsed().as_secs_f64() * 1000.0,
        // Wall clock, so that whoever started the process can add exec and loading.
        ready_unix_ms = footfall_runtime::unix_ms_now(),
        "controller ready"
    );
    lambda_runtime::run(service_fn(move |ev: LambdaEvent<Value>| async move {
        let id = ev.context.request_id.clone();
        handle(ctl, ev.payload, &id).await.map_err(Error::from)
    }))
    .await
}
