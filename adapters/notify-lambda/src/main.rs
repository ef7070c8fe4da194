//! Wires [`notify_lambda::handle`] to the Lambda runtime. Configuration: see
//! [`notify_lambda::NotifyConfig`]; AWS endpoints come from the standard AWS configuration.

use footfall_runtime::logging::{LogFormat, LogTarget};
use lambda_runtime::{Error, LambdaEvent, service_fn};
use notify_lambda::{Notifier, NotifyConfig, handle};
use serde_json::Value;

#[tokio::main]
async fn main() -> Result<(), Error> {
    footfall_runtime::logging::init(LogFormat::Json, LogTarget::CloudWatchStdout, false);
    let config = NotifyConfig::from_env()?;
    let sdk = aws_config::load_from_env().await;
    let secrets = aws_sdk_secretsmanager::Client::new(&sdk);
    let notifier = Notifier::new(&sdk, config).load_link_key(&secrets).await?;
    let notifier = &notifier;
    lambda_runtime::run(service_fn(move |ev: LambdaEvent<Value>| async move {
        handle(notifier, ev.payload).await.map_err(Error::from)
    }))
    .await
}
