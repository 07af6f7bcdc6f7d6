//! The per-cold-start application: configuration plus the clients built from it, shared by
//! every request the Lambda instance serves (and by the local gateway and the tests).

use std::collections::HashMap;
use std::time::Duration;

use aws_config::BehaviorVersion;
use aws_sdk_dynamodb::config::timeout::TimeoutConfig;

use crate::config::parameter_store;
use crate::config::{self, Config, ConfigError};
use crate::domain::tokens::UserKeys;
use crate::net::preconnect;
use crate::net::tls::{self, TlsError};
use crate::providers::{HttpClientError, ProviderClients, Providers};
use crate::store::UserStore;
use crate::usecases::access_cache::AccessCache;
use crate::usecases::instance_providers::InstanceProviders;
use crate::usecases::limiter::FailureLimiter;
use crate::usecases::replication;

#[derive(Debug, thiserror::Error)]
pub enum AppError {
    #[error(transparent)]
    Config(#[from] ConfigError),
    #[error("could not build the HTTP client: {0}")]
    Http(String),
    #[error(transparent)]
    Tls(#[from] TlsError),
}

impl From<HttpClientError> for AppError {
    fn from(e: HttpClientError) -> Self {
        match e {
            HttpClientError::Http(why) => AppError::Http(why),
            HttpClientError::Tls(e) => AppError::Tls(e),
        }
    }
}

pub struct App {
    pub config: Config,
    pub store: UserStore,
    pub providers: Providers,
    pub user_keys: UserKeys,
    pub limiter: FailureLimiter,
    /// This execution environment's memory of API key checks and instance settings
    /// (`API_KEY_CACHE_SECS`, [`AccessCache`]).
    pub access_cache: AccessCache,
    /// The HTTP client and key caches every verifier of this environment shares.
    pub provider_clients: ProviderClients,
    /// Instances' own provider apps and their verifiers, as this environment keeps them
    /// (`API_KEY_CACHE_SECS`, [`InstanceProviders`]).
    pub instance_providers: InstanceProviders,
}

impl App {
    /// In Lambda: region and credentials from the environment, where Lambda puts them
    /// (`AWS_REGION`, `AWS_ACCESS_KEY_ID`, `AWS_SECRET_ACCESS_KEY`, `AWS_SESSION_TOKEN`), secrets
    /// from SSM Parameter Store when `SECRETS_PARAMETER_PATH` is set (only the allowlisted ones
    /// `SECRET_PARAMETERS` names: [`parameter_store::secrets_to_read`]). aws-config's whole default
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
        if let Some((path, leaves)) = parameter_store::secrets_to_read(&vars)? {
            let secrets = secrets_from_ssm(&aws, &vars, &path, &leaves).await?;
            vars.extend(secrets);
        }
        let config = Config::from_lookup(|k| vars.get(k).cloned())?;
        let dynamo = dynamodb_client(&aws, &config);
        let app = App::build(config, dynamo.clone())?;
        // The connections the first request is certain to open, opened in init instead.
        preconnect::open_connections(&dynamo, app.config.dynamodb_endpoint.as_deref(), &app.providers).await;
        Ok(app)
    }

    /// Tests and the local stack: every setting from `vars`; with `AWS_ENDPOINT_URL_DYNAMODB`
    /// the DynamoDB client talks to that endpoint (DynamoDB Local) with static dummy credentials.
    pub async fn from_vars(vars: &HashMap<String, String>) -> Result<App, AppError> {
        let config = Config::from_lookup(|k| vars.get(k).cloned())?;
        let aws = match &config.dynamodb_endpoint {
            // The local regions of the multi-region tests (issue 33) name their own `AWS_REGION`.
            Some(_) => local_sdk_config(vars.get("AWS_REGION").map_or("us-east-1", String::as_str)),
            // Only the operator's tools get here (a laptop with profiles or SSO): the whole chain.
            None => aws_config::defaults(BehaviorVersion::latest()).http_client(tls::aws_http_client()?).load().await,
        };
        let dynamo = dynamodb_client(&aws, &config);
        App::build(config, dynamo)
    }

    pub fn build(config: Config, dynamo: aws_sdk_dynamodb::Client) -> Result<App, AppError> {
        let provider_clients = ProviderClients::new(&config)?;
        Ok(App {
            store: UserStore::new(dynamo, config.table_name.clone()).with_user_id_block(config.user_id_block),
            providers: provider_clients.providers(&config)?,
            user_keys: UserKeys::new(config.token_secrets.clone()),
            limiter: FailureLimiter::new(
                config.login_failures_max,
                config.login_failures_per_user_max,
                config.login_failure_window,
            )
            .with_resume_misses_max(config.login_resume_misses_max),
            access_cache: AccessCache::new(config.api_key_cache, config.api_key_negative_cache),
            instance_providers: InstanceProviders::new(config.api_key_cache),
            provider_clients,
            config,
        })
    }
}

/// The secrets `leaves` under `path`, through an SSM client built for them. With
/// `AWS_ENDPOINT_URL_SSM`, the SDKs' standard override, at that endpoint: the shipped-binary
/// check points it at a stand-in (unset in AWS). A build without the `ssm` feature of `shared`
/// is a function whose `SECRET_PARAMETERS` is empty (a test holds the two together): a
/// deployment naming a secret for it is refused at init, not run without the secret.
async fn secrets_from_ssm(
    aws: &aws_config::SdkConfig,
    vars: &HashMap<String, String>,
    path: &str,
    leaves: &[String],
) -> Result<Vec<(String, String)>, ConfigError> {
    #[cfg(feature = "ssm")]
    {
        let mut ssm = aws_sdk_ssm::config::Builder::from(aws);
        if let Some(endpoint) = vars.get("AWS_ENDPOINT_URL_SSM").map(|e| e.trim()).filter(|e| !e.is_empty()) {
            ssm = ssm.endpoint_url(endpoint);
        }
        parameter_store::load_from_ssm(&aws_sdk_ssm::Client::from_conf(ssm.build()), path, leaves).await
    }
    #[cfg(not(feature = "ssm"))]
    {
        let _ = (aws, vars, path, leaves);
        Err(ConfigError::Invalid {
            name: "SECRET_PARAMETERS",
            reason: "names secrets, but this function is built without the SSM client (the ssm feature of shared)",
        })
    }
}

/// The one place a DynamoDB client is configured: bounded attempts and operation (a hung
/// DynamoDB must not eat the whole Lambda timeout), and the endpoint override, if any. Retries
/// are the SDK's standard strategy (3 attempts, exponential backoff with jitter, the retry token
/// bucket), which retries an MRSC table's `ReplicatedWriteConflictException` as modelled
/// retryable; [`replication::ConflictCounter`] counts each conflict ([`replication`]).
fn dynamodb_client(aws: &aws_config::SdkConfig, config: &Config) -> aws_sdk_dynamodb::Client {
    let mut dynamo = aws_sdk_dynamodb::config::Builder::from(aws)
        .timeout_config(dynamodb_timeouts(config.dynamodb_attempt_timeout, config.dynamodb_timeout))
        .interceptor(replication::ConflictCounter);
    if let Some(endpoint) = &config.dynamodb_endpoint {
        dynamo = dynamo.endpoint_url(endpoint);
    }
    aws_sdk_dynamodb::Client::from_conf(dynamo.build())
}

/// DynamoDB Local's settings: static dummy credentials, `region`.
fn local_sdk_config(region: &str) -> aws_config::SdkConfig {
    aws_config::SdkConfig::builder()
        .behavior_version(BehaviorVersion::latest())
        .region(aws_config::Region::new(region.to_owned()))
        .credentials_provider(aws_sdk_dynamodb::config::SharedCredentialsProvider::new(
            aws_sdk_dynamodb::config::Credentials::new("local", "local", None, None, "local"),
        ))
        .build()
}

/// A DynamoDB client for DynamoDB Local at `endpoint` with the default timeouts (tools, tests).
pub fn local_dynamodb_client(endpoint: &str) -> aws_sdk_dynamodb::Client {
    let conf = aws_sdk_dynamodb::config::Builder::from(&local_sdk_config("us-east-1"))
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
