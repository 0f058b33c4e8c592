//! AWS SDK clients, built once per execution environment from one [`SdkConfig`].
//!
//! The standard `AWS_ENDPOINT_URL` (and the per-service `AWS_ENDPOINT_URL_<SERVICE>`)
//! variables are honoured by `aws-config`; when an endpoint is set, S3 is addressed
//! path-style so a local emulator on `127.0.0.1:PORT` works without DNS tricks.

use aws_config::{BehaviorVersion, SdkConfig};

/// Every client a dmslake binary may need (the CLI, the tests; each function builds only the
/// clients it calls). Cheap to clone (each client is an `Arc`).
#[cfg(feature = "clients")]
#[derive(Clone, Debug)]
pub struct Clients {
    pub s3: aws_sdk_s3::Client,
    pub glue: aws_sdk_glue::Client,
    pub athena: aws_sdk_athena::Client,
    pub dms: aws_sdk_databasemigration::Client,
    pub sns: aws_sdk_sns::Client,
    pub eventbridge: aws_sdk_eventbridge::Client,
}

/// Loads the shared SDK configuration from the environment (region, credentials, endpoint).
pub async fn load_sdk_config() -> SdkConfig {
    aws_config::defaults(BehaviorVersion::latest()).load().await
}

#[cfg(feature = "clients")]
impl Clients {
    /// Builds every client from the environment.
    pub async fn from_env() -> Self {
        Self::with_config(&load_sdk_config().await)
    }

    /// Builds every client from an explicit configuration (tests inject an endpoint here).
    pub fn with_config(config: &SdkConfig) -> Self {
        Self {
            s3: s3_client(config),
            glue: aws_sdk_glue::Client::new(config),
            athena: aws_sdk_athena::Client::new(config),
            dms: aws_sdk_databasemigration::Client::new(config),
            sns: aws_sdk_sns::Client::new(config),
            eventbridge: aws_sdk_eventbridge::Client::new(config),
        }
    }
}

/// An S3 client that uses path-style addressing whenever a custom endpoint is configured.
pub fn s3_client(config: &SdkConfig) -> aws_sdk_s3::Client {
    let builder =
        aws_sdk_s3::config::Builder::from(config).force_path_style(config.endpoint_url().is_some());
    aws_sdk_s3::Client::from_conf(builder.build())
}
