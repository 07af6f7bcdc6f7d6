//! The per-cold-start application: configuration plus the clients built from it, shared by
//! every request the Lambda instance serves (and by the local gateway and the tests).

use std::collections::HashMap;
use std::time::Duration;

use aws_config::BehaviorVersion;
use aws_sdk_dynamodb::config::timeout::TimeoutConfig;

use crate::config::{self, Config, ConfigError};
use crate::parameter_store;
use crate::providers::Providers;
use crate::store::UserStore;
use crate::throttle::FailureLimiter;
use crate::tls::{self, TlsError};
use crate::tokens::UserKeys;

#[derive(Debug, thiserror::Error)]
pub enum AppError {
    #[error(transparent)]
    Config(#[from] ConfigError),
    #[error("could not build the HTTP client: {0}")]
    Http(String),
    #[error(transparent)]
    Tls(#[from] TlsError),
}

pub struct App {
    pub config: Config,
    pub store: UserStore,
    pub providers: Providers,
    pub user_keys: UserKeys,
    pub limiter: FailureLimiter,
}

impl App {
    /// In Lambda: region and credentials from the environment, where Lambda puts them
    /// (`AWS_REGION`, `AWS_ACCESS_KEY_ID`, `AWS_SECRET_ACCESS_KEY`, `AWS_SESSION_TOKEN`), secrets
    /// from SSM Parameter Store when `SECRETS_PARAMETER_PATH` is set (only the allowlisted ones
    /// `SECRET_PARAMETERS` names: [`parameter_store::merge_from_ssm`]). aws-config's whole default
    /// chain (profiles, SSO, web identity, IMDS, ...) is not built: in Lambda it would only ever
    /// end at the environment, and building it costs every cold start (docs/bench.md).
    pub async fn from_env() -> Result<App, AppError> {
        let region = std::env::var("AWS_REGION").map_err(|_| ConfigError::Missing("AWS_REGION"))?;
        let aws = aws_config::SdkConfig::builder()
            .behavior_version(BehaviorVersion::latest())
            .region(aws_config::Region::new(region))
            .credentials_provider(aws_sdk_dynamodb::config::SharedCredentialsProvider::new(
                aws_config::environment::EnvironmentVariableCredentialsProvider::new(),
            ))
            .http_client(tls::aws_http_client()?)
            .build();
        let mut vars: HashMap<String, String> = std::env::vars().collect();
        if vars.get("SECRETS_PARAMETER_PATH").is_some_and(|p| !p.trim().is_empty()) {
            // `AWS_ENDPOINT_URL_SSM`, the SDKs' standard override: the shipped-binary check
            // points it at a stand-in (unset in AWS).
            let mut ssm = aws_sdk_ssm::config::Builder::from(&aws);
            if let Some(endpoint) = vars.get("AWS_ENDPOINT_URL_SSM").map(|e| e.trim()).filter(|e| !e.is_empty()) {
                ssm = ssm.endpoint_url(endpoint);
            }
            parameter_store::merge_from_ssm(&aws_sdk_ssm::Client::from_conf(ssm.build()), &mut vars).await?;
        }
        let config = Config::from_lookup(|k| vars.get(k).cloned())?;
        let dynamo = dynamodb_client(&aws, &config);
        // Every function reads DynamoDB on every request, so its connection (TCP and TLS) is
        // opened here, in init, which runs at full CPU, not in the first invoke, which runs at
        // the function's CPU share (~7% of a core at 128 MB). Measured in docs/bench.md ("Init
        // vs. the first request"). Only over TLS: a plain-HTTP endpoint (DynamoDB Local) has no
        // handshake to move, and the `GET /` would only add a round trip to init.
        if has_a_handshake_to_move(config.dynamodb_endpoint.as_deref()) {
            preconnect_dynamodb(&dynamo).await;
        }
        App::build(config, dynamo)
    }

    /// Tests and the local stack: every setting from `vars`; with `AWS_ENDPOINT_URL_DYNAMODB`
    /// the DynamoDB client talks to that endpoint (DynamoDB Local) with static dummy credentials.
    pub async fn from_vars(vars: &HashMap<String, String>) -> Result<App, AppError> {
        let config = Config::from_lookup(|k| vars.get(k).cloned())?;
        let aws = match &config.dynamodb_endpoint {
            Some(_) => local_sdk_config(),
            // Only the operator's tools get here (a laptop with profiles or SSO): the whole chain.
            None => aws_config::defaults(BehaviorVersion::latest()).http_client(tls::aws_http_client()?).load().await,
        };
        let dynamo = dynamodb_client(&aws, &config);
        App::build(config, dynamo)
    }

    pub fn build(config: Config, dynamo: aws_sdk_dynamodb::Client) -> Result<App, AppError> {
        Ok(App {
            store: UserStore::new(dynamo, config.table_name.clone()),
            providers: Providers::new(&config)?,
            user_keys: UserKeys::new(config.token_secrets.clone()),
            limiter: FailureLimiter::new(
                config.login_failures_max,
                config.login_failures_per_user_max,
                config.login_failure_window,
            ),
            config,
        })
    }
}

/// The one place a DynamoDB client is configured: bounded attempts and operation (a hung
/// DynamoDB must not eat the whole Lambda timeout), and the endpoint override, if any.
fn dynamodb_client(aws: &aws_config::SdkConfig, config: &Config) -> aws_sdk_dynamodb::Client {
    let mut dynamo = aws_sdk_dynamodb::config::Builder::from(aws)
        .timeout_config(dynamodb_timeouts(config.dynamodb_attempt_timeout, config.dynamodb_timeout));
    if let Some(endpoint) = &config.dynamodb_endpoint {
        dynamo = dynamo.endpoint_url(endpoint);
    }
    aws_sdk_dynamodb::Client::from_conf(dynamo.build())
}

/// Whether opening the DynamoDB connection in init moves a TLS handshake out of the first
/// invoke: with the SDK's own endpoint (always `https://`) or an `https://` override, yes; with
/// a plain-HTTP override (DynamoDB Local), there is nothing to move.
fn has_a_handshake_to_move(endpoint_override: Option<&str>) -> bool {
    endpoint_override.is_none_or(|e| e.get(..8).is_some_and(|scheme| scheme.eq_ignore_ascii_case("https://")))
}

/// Opens the DynamoDB client's pooled connection (TCP and TLS) with a `GET /` to the endpoint,
/// whose answer is discarded. The SDK has no "connect" call and smithy's hyper client pools
/// connections only through requests, so the cheapest real request is sent through the client's
/// own connector (same timeouts, hence the same pool): `GET /` is DynamoDB's health check
/// ("healthy: dynamodb.REGION.amazonaws.com"), not an API operation, so it reads no table,
/// costs no request units and needs no IAM action, unlike a discarded `GetItem` or
/// `ListTables`. It is sent as a `ListTables` whose method, target and body are replaced before
/// signing; the SDK then fails to parse the answer, which is expected. Nothing here fails init:
/// whatever happens is logged, and the first request connects as before.
async fn preconnect_dynamodb(dynamo: &aws_sdk_dynamodb::Client) {
    let started = std::time::Instant::now();
    let answer = dynamo
        .list_tables()
        .customize()
        // One attempt: a retry would only lengthen init; the first request retries anyway.
        .config_override(
            aws_sdk_dynamodb::config::Builder::default()
                .retry_config(aws_sdk_dynamodb::config::retry::RetryConfig::disabled()),
        )
        .mutate_request(|req| {
            let _ = req.set_method("GET");
            req.headers_mut().remove("x-amz-target");
            req.headers_mut().remove("content-type");
            req.headers_mut().remove("content-length");
            req.take_body();
        })
        .send()
        .await;
    let ms = started.elapsed().as_secs_f64() * 1000.0;
    match answer {
        Err(aws_sdk_dynamodb::error::SdkError::DispatchFailure(e)) => {
            tracing::warn!(ms, error = ?e, "DynamoDB preconnect failed; the first request connects")
        }
        Err(aws_sdk_dynamodb::error::SdkError::TimeoutError(_)) => {
            tracing::warn!(ms, "DynamoDB preconnect timed out; the first request connects")
        }
        // Any answer at all means the connection is open and back in the pool.
        _ => tracing::debug!(ms, "DynamoDB connection opened in init"),
    }
}

/// DynamoDB Local's settings: static dummy credentials, us-east-1.
fn local_sdk_config() -> aws_config::SdkConfig {
    aws_config::SdkConfig::builder()
        .behavior_version(BehaviorVersion::latest())
        .region(aws_config::Region::new("us-east-1"))
        .credentials_provider(aws_sdk_dynamodb::config::SharedCredentialsProvider::new(
            aws_sdk_dynamodb::config::Credentials::new("local", "local", None, None, "local"),
        ))
        .build()
}

/// A DynamoDB client for DynamoDB Local at `endpoint` with the default timeouts (tools, tests).
pub fn local_dynamodb_client(endpoint: &str) -> aws_sdk_dynamodb::Client {
    let conf = aws_sdk_dynamodb::config::Builder::from(&local_sdk_config())
        .endpoint_url(endpoint)
        .timeout_config(dynamodb_timeouts(
            Duration::from_millis(config::DEFAULT_DYNAMODB_ATTEMPT_TIMEOUT_MS),
            Duration::from_millis(config::DEFAULT_DYNAMODB_TIMEOUT_MS),
        ))
        .build();
    aws_sdk_dynamodb::Client::from_conf(conf)
}

fn dynamodb_timeouts(attempt: Duration, operation: Duration) -> TimeoutConfig {
    TimeoutConfig::builder()
        .connect_timeout(Duration::from_secs(1))
        .operation_attempt_timeout(attempt)
        .operation_timeout(operation)
        .build()
}

#[cfg(test)]
mod tests {
    use super::has_a_handshake_to_move;

    #[test]
    fn the_dynamodb_connection_is_opened_in_init_only_over_tls() {
        assert!(has_a_handshake_to_move(None), "the SDK's own endpoint is https");
        assert!(has_a_handshake_to_move(Some("https://localhost:8443")));
        assert!(has_a_handshake_to_move(Some("HTTPS://dynamodb.eu-west-1.amazonaws.com")));
        assert!(!has_a_handshake_to_move(Some("http://127.0.0.1:8000")), "DynamoDB Local: nothing to move");
        assert!(!has_a_handshake_to_move(Some("http")));
    }
}
