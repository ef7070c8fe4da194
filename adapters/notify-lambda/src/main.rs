//! Wires [`notify_lambda::handle`] to the Lambda runtime. Configuration: see
//! [`notify_lambda::NotifyConfig`]; AWS endpoints come from the standard AWS configuration.

use footfall_runtime::logging::{LogFormat, LogTarget};
use lambda_runtime::{Error, LambdaEvent, service_fn};
use notify_lambda::{Notifier, NotifyConfig, handle};
use serde_json::Value;

#[tokio::main]
async fn main() -> Result<(), Error> {
    let started = std::time::Instant::now();
    footfall_runtime::logging::init(LogFormat::Json, LogTarget::CloudWatchStdout, false);
    let config = NotifyConfig::from_env()?;
    let sdk = aws_config::load_from_env().await;
    let secrets = aws_sdk_secretsmanager::Client::new(&sdk);
    let notifier = Notifier::new(&sdk, config).load_link_key(&secrets).await?;
    let notifier = &notifier;
    // Cold start (issue 14): main to ready for the first event (secrets, clients).
    tracing::info!(
        init_ms = started.elapsed().as_secs_f64() * 1000.0,
        // Wall clock, so that whoever started the process can add exec and loading.
        ready_unix_ms = footfall_runtime::unix_ms_now(),
        "notifier ready"
    );
    lambda_runtime::run(service_fn(move |ev: LambdaEvent<Value>| async move {
        handle(notifier, ev.payload).await.map_err(Error::from)
    }))
    .await
}
