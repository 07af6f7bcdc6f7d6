//! Configuration, read once per cold start from named variables (the process environment in
//! AWS, an explicit map in tests and the local stack). Required values have no default; optional
//! ones default to production values, and a value that is present but malformed is an error,
//! never silently replaced.
//!
//! Providers fail closed: a provider is served only when its app/client id is configured, and
//! then every other value it needs (its secret) is required. In AWS each function is given only
//! the ids of the providers it serves (and so needs only their secrets); one given none, such as
//! `me`, serves no login.

use std::time::Duration;

use crate::domain::identity::Provider;
use crate::domain::instance::InstanceName;
use crate::domain::sealing::{SealingKey, SealingKeys};
use crate::domain::secret::Secret;
pub use crate::domain::tokens::TokenSecrets;
use vars::{is_graph_version, url, Vars};

mod oidc;
pub mod parameter_store;
mod providers;
mod vars;

pub use oidc::*;
pub use providers::*;

/// The endpoints a deployment leaves empty, so that the functions talk to AWS's and the
/// providers' real hosts. The template declares each of them empty (`Globals`): SAM's `sam local`
/// only overrides variables the template declares, and the local tools (the local stack, the
/// shipped-binary check, `sam local`'s env-vars file) point them at loopback. An empty value is
/// unset; the DynamoDB and SSM clients read no endpoint from the environment themselves.
pub const ENDPOINT_VARIABLES: [&str; 17] = [
    "AWS_ENDPOINT_URL_DYNAMODB",
    "AWS_ENDPOINT_URL_SSM",
    "ALLOW_INSECURE_PROVIDER_URLS",
    "FACEBOOK_GRAPH_URL",
    "FACEBOOK_LIMITED_JWKS_URL",
    "GOOGLE_JWKS_URL",
    "GOOGLE_TOKENINFO_URL",
    "GOOGLE_USERINFO_URL",
    "TWITTER_API_URL",
    "LINKEDIN_JWKS_URL",
    "LINKEDIN_USERINFO_URL",
    "LINKEDIN_INTROSPECT_URL",
    "APPLE_JWKS_URL",
    "APPLE_TOKEN_URL",
    "APPLE_REVOKE_URL",
    "GITHUB_API_URL",
    "MICROSOFT_AUTHORITY_URL",
];

/// First wait before a failed provider revocation is tried again (`REVOCATION_RETRY_SECS`); it
/// doubles with each attempt up to [`MAX_REVOCATION_BACKOFF_SECS`].
pub const DEFAULT_REVOCATION_RETRY_SECS: u64 = 15 * 60;
pub const MAX_REVOCATION_BACKOFF_SECS: u64 = 86_400;
/// How long a pending revocation is retried before DynamoDB's TTL drops it.
pub const REVOCATION_TTL_DAYS: u64 = 30;
pub const DEFAULT_PROVIDER_TIMEOUT_MS: u64 = 3_000;
pub const DEFAULT_DYNAMODB_ATTEMPT_TIMEOUT_MS: u64 = 2_000;
pub const DEFAULT_DYNAMODB_TIMEOUT_MS: u64 = 5_000;
pub const DEFAULT_SESSION_TTL_DAYS: u64 = 90;
/// How long the audit item of an account deletion is kept (`AUDIT_RETENTION_DAYS`).
pub const DEFAULT_AUDIT_RETENTION_DAYS: u64 = 365;
/// Rejected logins from one source IP (IPv6: one /64) in a window before it gets 429.
pub const DEFAULT_LOGIN_FAILURES_MAX: u64 = 20;
/// Rejected logins claiming one provider user from one source IP in a window before 429.
pub const DEFAULT_LOGIN_FAILURES_PER_USER_MAX: u64 = 5;
/// Missed `{"resume": token}` logins from one source IP (IPv6: one /64) in a window before its
/// resumes get 429 (docs/sessions-and-limits.md: against load, not guessing).
pub const DEFAULT_LOGIN_RESUME_MISSES_MAX: u64 = 300;
/// The failure counters' window.
pub const DEFAULT_LOGIN_FAILURE_WINDOW_SECS: u64 = 300;
pub const DEFAULT_JWKS_MIN_REFETCH_MS: u64 = 10_000;
/// Floor of `JWKS_MIN_REFETCH_MS`: below it, made-up key ids could make every Lambda instance
/// fetch a provider's keys many times a second.
pub const MIN_JWKS_MIN_REFETCH_MS: u64 = 1_000;
/// How long a JWKS whose cache time has run out may still verify tokens while the provider
/// cannot be reached; after that, its logins are refused as the provider being unavailable.
pub const DEFAULT_JWKS_MAX_STALE_SECS: u64 = 86_400;
/// Upper bound of `JWKS_MAX_STALE_SECS` (30 days).
pub const MAX_JWKS_MAX_STALE_SECS: u64 = 30 * 86_400;
/// Syncano user ids an execution environment reserves at once (`USER_ID_BLOCK`, issue 30): the
/// instance's counter item takes one write per this many sign-ups of an environment, and a
/// recycled environment leaves at most this many less one unused (docs/key-design.md).
pub const DEFAULT_USER_ID_BLOCK: u64 = 100;
/// Largest `USER_ID_BLOCK`: the ids a recycled environment may leave unused stay few.
pub const MAX_USER_ID_BLOCK: u64 = 10_000;
/// How long an execution environment keeps a positive API key check (a client key and its
/// permissions) and an instance's settings: how long a revoked client key may still work in an
/// environment that checked it, and a changed sign-up policy take to be seen (docs/security.md,
/// "API key cache"). With 1,000 environments alive, 30 s reads the instance's partition about 33
/// times a second whatever the traffic.
pub const DEFAULT_API_KEY_CACHE_SECS: u64 = 30;
/// Upper bound of `API_KEY_CACHE_SECS`: a revoked key must not work for longer.
pub const MAX_API_KEY_CACHE_SECS: u64 = 300;
/// How long an environment keeps a negative answer (unknown key, unknown instance): how long a
/// new key may still be refused where it was tried before it existed. At most
/// `API_KEY_CACHE_SECS`.
pub const DEFAULT_API_KEY_NEGATIVE_CACHE_SECS: u64 = 5;

#[derive(Debug, thiserror::Error, PartialEq, Eq)]
pub enum ConfigError {
    #[error("configuration variable {0} is required")]
    Missing(&'static str),
    #[error("configuration variable {name} is invalid: {reason}")]
    Invalid { name: &'static str, reason: &'static str },
    #[error("could not read secrets from SSM Parameter Store: {0}")]
    Secrets(String),
}

#[derive(Debug, Clone)]
pub struct Config {
    pub table_name: String,
    /// Where clients reach this deployment, without trailing slash (avatar URLs are built on it).
    pub public_base_url: String,
    /// The instance the Rocket.Chat route logs users into.
    pub default_instance: InstanceName,
    pub facebook: Option<FacebookConfig>,
    pub google: Option<GoogleConfig>,
    pub twitter: Option<TwitterConfig>,
    pub linkedin: Option<LinkedInConfig>,
    pub apple: Option<AppleConfig>,
    pub apple_revocation: Option<AppleRevocationConfig>,
    pub github: Option<GitHubConfig>,
    /// Microsoft (`MICROSOFT_CLIENT_IDS`, `MICROSOFT_TENANT`, `MICROSOFT_AUTHORITY_URL`).
    pub microsoft: Option<MicrosoftConfig>,
    /// Whether provider URLs may be `http://` on loopback (`ALLOW_INSECURE_PROVIDER_URLS`): the
    /// rule for the issuers and JWKS URLs of OpenID Connect providers.
    pub url_policy: UrlPolicy,
    /// Server-side keys from which Syncano user keys are derived (HMAC); never stored in the
    /// table. `None` in the functions that derive no user key (`me`, `logout`, ...), which
    /// therefore read no `token-secret` from SSM; deriving one there is an internal error.
    pub token_secrets: Option<TokenSecrets>,
    pub provider_timeout: Duration,
    /// Least time between two JWKS fetches caused by unknown key ids (flood protection).
    pub jwks_min_refetch: Duration,
    /// How long an expired key set is still used while its refetch fails (provider outage).
    pub jwks_max_stale: Duration,
    pub session_ttl: Duration,
    /// How long an account deletion's audit item is kept before DynamoDB's TTL removes it.
    pub audit_retention: Duration,
    /// First wait before a failed revocation at a provider is retried (then doubling, at most a day).
    pub revocation_retry: Duration,
    /// Rejected logins from one IP within `login_failure_window` before it gets 429.
    pub login_failures_max: u64,
    /// Rejected logins claiming one provider user, from one IP, before that pair gets 429.
    pub login_failures_per_user_max: u64,
    /// Missed resumes from one IP within `login_failure_window` before its resumes get 429.
    pub login_resume_misses_max: u64,
    pub login_failure_window: Duration,
    /// DynamoDB endpoint override (DynamoDB Local); `None` in AWS.
    pub dynamodb_endpoint: Option<String>,
    /// Bound on one DynamoDB attempt, and on a whole operation with the SDK's retries: a hung
    /// DynamoDB must not eat the Lambda's timeout.
    pub dynamodb_attempt_timeout: Duration,
    pub dynamodb_timeout: Duration,
    /// `ORIGIN_SECRET`: the per-client front is on (`crate::entry::front`); `None` = off.
    pub origin_secret: Option<Secret>,
    /// Syncano user ids an execution environment reserves with one write of the counter.
    pub user_id_block: u64,
    /// How long an environment keeps a client key's positive check and an instance's settings
    /// (`API_KEY_CACHE_SECS`; 0 = every request reads them).
    pub api_key_cache: Duration,
    /// How long it keeps an unknown key or instance (`API_KEY_NEGATIVE_CACHE_SECS`), at most
    /// `api_key_cache`.
    pub api_key_negative_cache: Duration,
    /// `INSTANCE_SECRETS_KEY` (versioned, from SSM): opens the secrets of instances' own provider
    /// apps (docs/security.md "Per-instance provider apps"); `None`: an instance's own app with
    /// a secret is not served (fail closed).
    pub instance_secrets_key: Option<SealingKeys>,
    /// Every provider's endpoints, also of the providers this deployment has no app at: an
    /// instance's own app is checked at them.
    pub provider_urls: ProviderUrls,
}

impl Config {
    /// Reads every setting through `var`, which answers a variable's value or `None`.
    pub fn from_lookup(var: impl Fn(&str) -> Option<String>) -> Result<Config, ConfigError> {
        let vars = Vars { var: &var, insecure_provider_urls: false };
        let vars = Vars { insecure_provider_urls: vars.flag("ALLOW_INSECURE_PROVIDER_URLS")?, ..vars };
        let table_name = vars.required("TABLE_NAME")?;
        let public_base_url = url("PUBLIC_BASE_URL", vars.required("PUBLIC_BASE_URL")?)?;
        let default_instance =
            InstanceName::parse(&vars.required("DEFAULT_INSTANCE")?).ok_or(ConfigError::Invalid {
                name: "DEFAULT_INSTANCE",
                reason: "lowercase letters, digits and '-', at most 64",
            })?;
        let token_secrets = TokenSecrets::from_vars(&vars)?;
        let facebook = match vars.id("FACEBOOK_APP_ID")? {
            None => None,
            Some(app_id) => {
                let graph_version =
                    vars.get("FACEBOOK_GRAPH_VERSION").unwrap_or_else(|| DEFAULT_FACEBOOK_GRAPH_VERSION.into());
                if !is_graph_version(&graph_version) {
                    return Err(ConfigError::Invalid {
                        name: "FACEBOOK_GRAPH_VERSION",
                        reason: "expected a version like v22.0",
                    });
                }
                Some(FacebookConfig {
                    app_id,
                    app_secret: Secret::new(vars.required("FACEBOOK_APP_SECRET")?),
                    graph_url: vars.url("FACEBOOK_GRAPH_URL", DEFAULT_FACEBOOK_GRAPH_URL)?,
                    graph_version,
                    limited_jwks_url: vars.url("FACEBOOK_LIMITED_JWKS_URL", DEFAULT_FACEBOOK_LIMITED_JWKS_URL)?,
                })
            }
        };
        let google = match vars.id_list("GOOGLE_CLIENT_IDS")? {
            None => None,
            Some(client_ids) => Some(GoogleConfig {
                client_ids,
                jwks_url: vars.url("GOOGLE_JWKS_URL", DEFAULT_GOOGLE_JWKS_URL)?,
                tokeninfo_url: vars.url("GOOGLE_TOKENINFO_URL", DEFAULT_GOOGLE_TOKENINFO_URL)?,
                userinfo_url: vars.url("GOOGLE_USERINFO_URL", DEFAULT_GOOGLE_USERINFO_URL)?,
            }),
        };
        let twitter = match vars.id("TWITTER_CONSUMER_KEY")? {
            None => None,
            Some(consumer_key) => Some(TwitterConfig {
                consumer_key,
                consumer_secret: Secret::new(vars.required("TWITTER_CONSUMER_SECRET")?),
                accept_oauth2_bearer: vars.flag("TWITTER_ACCEPT_OAUTH2_BEARER")?,
                api_url: vars.url("TWITTER_API_URL", DEFAULT_TWITTER_API_URL)?,
            }),
        };
        let linkedin = match vars.id("LINKEDIN_CLIENT_ID")? {
            None => None,
            Some(client_id) => Some(LinkedInConfig {
                client_id,
                client_secret: vars.get("LINKEDIN_CLIENT_SECRET").map(Secret::new),
                jwks_url: vars.url("LINKEDIN_JWKS_URL", DEFAULT_LINKEDIN_JWKS_URL)?,
                introspect_url: vars.url("LINKEDIN_INTROSPECT_URL", DEFAULT_LINKEDIN_INTROSPECT_URL)?,
                userinfo_url: vars.url("LINKEDIN_USERINFO_URL", DEFAULT_LINKEDIN_USERINFO_URL)?,
            }),
        };
        let apple = match vars.id_list("APPLE_CLIENT_IDS")? {
            None => None,
            Some(client_ids) => {
                Some(AppleConfig { client_ids, jwks_url: vars.url("APPLE_JWKS_URL", DEFAULT_APPLE_JWKS_URL)? })
            }
        };
        let apple_revocation = apple_revocation(&vars)?;
        let github = match vars.id("GITHUB_CLIENT_ID")? {
            None => None,
            Some(client_id) => Some(GitHubConfig {
                client_id,
                client_secret: Secret::new(vars.required("GITHUB_CLIENT_SECRET")?),
                api_url: vars.url("GITHUB_API_URL", DEFAULT_GITHUB_API_URL)?,
            }),
        };
        let url_policy = UrlPolicy { allow_loopback_http: vars.insecure_provider_urls };
        let microsoft = microsoft(&vars, url_policy)?;
        let timeout_ms = vars.number("PROVIDER_TIMEOUT_MS", DEFAULT_PROVIDER_TIMEOUT_MS, 100..=30_000)?;
        let refetch_ms =
            vars.number("JWKS_MIN_REFETCH_MS", DEFAULT_JWKS_MIN_REFETCH_MS, MIN_JWKS_MIN_REFETCH_MS..=3_600_000)?;
        let max_stale_secs =
            vars.number("JWKS_MAX_STALE_SECS", DEFAULT_JWKS_MAX_STALE_SECS, 0..=MAX_JWKS_MAX_STALE_SECS)?;
        let ttl_days = vars.number("SESSION_TTL_DAYS", DEFAULT_SESSION_TTL_DAYS, 1..=3_650)?;
        let audit_days = vars.number("AUDIT_RETENTION_DAYS", DEFAULT_AUDIT_RETENTION_DAYS, 1..=3_650)?;
        let revocation_retry_secs =
            vars.number("REVOCATION_RETRY_SECS", DEFAULT_REVOCATION_RETRY_SECS, 0..=MAX_REVOCATION_BACKOFF_SECS)?;
        let login_failures_max = vars.number("LOGIN_FAILURES_MAX", DEFAULT_LOGIN_FAILURES_MAX, 1..=1_000_000)?;
        let login_failures_per_user_max =
            vars.number("LOGIN_FAILURES_PER_USER_MAX", DEFAULT_LOGIN_FAILURES_PER_USER_MAX, 1..=1_000_000)?;
        let login_resume_misses_max =
            vars.number("LOGIN_RESUME_MISSES_MAX", DEFAULT_LOGIN_RESUME_MISSES_MAX, 1..=1_000_000)?;
        let login_failure_window =
            vars.number("LOGIN_FAILURE_WINDOW_SECS", DEFAULT_LOGIN_FAILURE_WINDOW_SECS, 1..=86_400)?;
        let dynamodb_attempt_ms =
            vars.number("DYNAMODB_ATTEMPT_TIMEOUT_MS", DEFAULT_DYNAMODB_ATTEMPT_TIMEOUT_MS, 100..=30_000)?;
        let dynamodb_ms = vars.number("DYNAMODB_TIMEOUT_MS", DEFAULT_DYNAMODB_TIMEOUT_MS, 100..=60_000)?;
        if dynamodb_ms < dynamodb_attempt_ms {
            return Err(ConfigError::Invalid {
                name: "DYNAMODB_TIMEOUT_MS",
                reason: "shorter than DYNAMODB_ATTEMPT_TIMEOUT_MS",
            });
        }
        let api_key_cache_secs =
            vars.number("API_KEY_CACHE_SECS", DEFAULT_API_KEY_CACHE_SECS, 0..=MAX_API_KEY_CACHE_SECS)?;
        let api_key_negative_cache_secs = vars.number(
            "API_KEY_NEGATIVE_CACHE_SECS",
            DEFAULT_API_KEY_NEGATIVE_CACHE_SECS.min(api_key_cache_secs),
            0..=api_key_cache_secs,
        )?;
        let dynamodb_endpoint = match vars.get("AWS_ENDPOINT_URL_DYNAMODB") {
            Some(v) => Some(url("AWS_ENDPOINT_URL_DYNAMODB", v)?),
            None => None,
        };

        Ok(Config {
            table_name,
            public_base_url,
            default_instance,
            facebook,
            google,
            twitter,
            linkedin,
            apple,
            apple_revocation,
            github,
            microsoft,
            url_policy,
            token_secrets,
            provider_timeout: Duration::from_millis(timeout_ms),
            jwks_min_refetch: Duration::from_millis(refetch_ms),
            jwks_max_stale: Duration::from_secs(max_stale_secs),
            session_ttl: Duration::from_secs(ttl_days * 86_400),
            audit_retention: Duration::from_secs(audit_days * 86_400),
            revocation_retry: Duration::from_secs(revocation_retry_secs),
            login_failures_max,
            login_failures_per_user_max,
            login_resume_misses_max,
            login_failure_window: Duration::from_secs(login_failure_window),
            dynamodb_endpoint,
            dynamodb_attempt_timeout: Duration::from_millis(dynamodb_attempt_ms),
            dynamodb_timeout: Duration::from_millis(dynamodb_ms),
            origin_secret: origin_secret(vars.get("ORIGIN_SECRET"))?,
            user_id_block: vars.number("USER_ID_BLOCK", DEFAULT_USER_ID_BLOCK, 1..=MAX_USER_ID_BLOCK)?,
            api_key_cache: Duration::from_secs(api_key_cache_secs),
            api_key_negative_cache: Duration::from_secs(api_key_negative_cache_secs),
            instance_secrets_key: instance_secrets_key(&vars)?,
            provider_urls: provider_urls(&vars)?,
        })
    }

    /// Whether this deployment serves `provider` (its app/client id is configured).
    pub fn serves(&self, provider: Provider) -> bool {
        match provider {
            Provider::Facebook => self.facebook.is_some(),
            Provider::Google => self.google.is_some(),
            Provider::Twitter => self.twitter.is_some(),
            Provider::LinkedIn => self.linkedin.is_some(),
            Provider::Apple => self.apple.is_some(),
            Provider::GitHub => self.github.is_some(),
            Provider::Microsoft => self.microsoft.is_some(),
            // Custom providers have no deployment-wide settings (yet): not served.
            Provider::Oidc(_) => false,
        }
    }
}

/// The Microsoft preset: served when `MICROSOFT_CLIENT_IDS` is set; `MICROSOFT_TENANT` is
/// `common` unless set.
fn microsoft<F: Fn(&str) -> Option<String>>(
    vars: &Vars<'_, F>,
    policy: UrlPolicy,
) -> Result<Option<MicrosoftConfig>, ConfigError> {
    let Some(client_ids) = vars.id_list("MICROSOFT_CLIENT_IDS")? else { return Ok(None) };
    let tenant = vars.get("MICROSOFT_TENANT").unwrap_or_else(|| "common".to_string());
    let authority = vars.get("MICROSOFT_AUTHORITY_URL").unwrap_or_else(|| DEFAULT_MICROSOFT_AUTHORITY_URL.to_string());
    MicrosoftConfig::new(&tenant, client_ids, &authority, policy).map(Some).map_err(|e| match e {
        OidcConfigError::Tenant(_) => ConfigError::Invalid {
            name: "MICROSOFT_TENANT",
            reason: "common, organizations, consumers or a tenant id (GUID)",
        },
        _ => ConfigError::Invalid {
            name: "MICROSOFT_AUTHORITY_URL",
            reason: "an https:// URL (http:// on loopback only with ALLOW_INSECURE_PROVIDER_URLS=true)",
        },
    })
}

/// `INSTANCE_SECRETS_KEY` and its versions (`None` if unset).
fn instance_secrets_key<F: Fn(&str) -> Option<String>>(vars: &Vars<'_, F>) -> Result<Option<SealingKeys>, ConfigError> {
    let key = |name: &'static str, value: String| {
        SealingKey::from_base64(&value).map_err(|_| ConfigError::Invalid { name, reason: "32 bytes, standard base64" })
    };
    Ok(versioned(vars, &INSTANCE_SECRETS_KEY_NAMES, key)?
        .map(|(current, previous)| SealingKeys::new(current, previous)))
}

/// The instance secrets key of this process's environment, for the operator's tools (which get
/// it from the environment, never from a command line). `None` if `INSTANCE_SECRETS_KEY` is unset.
pub fn instance_secrets_key_from_env() -> Result<Option<SealingKeys>, ConfigError> {
    let get = |name: &str| std::env::var(name).ok();
    instance_secrets_key(&Vars { var: &get, insecure_provider_urls: false })
}

/// Every provider's endpoints (the `*_URL` variables or the real ones).
fn provider_urls<F: Fn(&str) -> Option<String>>(vars: &Vars<'_, F>) -> Result<ProviderUrls, ConfigError> {
    Ok(ProviderUrls {
        facebook_graph: vars.url("FACEBOOK_GRAPH_URL", DEFAULT_FACEBOOK_GRAPH_URL)?,
        facebook_graph_version: vars
            .get("FACEBOOK_GRAPH_VERSION")
            .filter(|v| is_graph_version(v))
            .unwrap_or_else(|| DEFAULT_FACEBOOK_GRAPH_VERSION.into()),
        facebook_limited_jwks: vars.url("FACEBOOK_LIMITED_JWKS_URL", DEFAULT_FACEBOOK_LIMITED_JWKS_URL)?,
        google_jwks: vars.url("GOOGLE_JWKS_URL", DEFAULT_GOOGLE_JWKS_URL)?,
        google_tokeninfo: vars.url("GOOGLE_TOKENINFO_URL", DEFAULT_GOOGLE_TOKENINFO_URL)?,
        google_userinfo: vars.url("GOOGLE_USERINFO_URL", DEFAULT_GOOGLE_USERINFO_URL)?,
        twitter_api: vars.url("TWITTER_API_URL", DEFAULT_TWITTER_API_URL)?,
        linkedin_jwks: vars.url("LINKEDIN_JWKS_URL", DEFAULT_LINKEDIN_JWKS_URL)?,
        linkedin_introspect: vars.url("LINKEDIN_INTROSPECT_URL", DEFAULT_LINKEDIN_INTROSPECT_URL)?,
        linkedin_userinfo: vars.url("LINKEDIN_USERINFO_URL", DEFAULT_LINKEDIN_USERINFO_URL)?,
        apple_jwks: vars.url("APPLE_JWKS_URL", DEFAULT_APPLE_JWKS_URL)?,
        github_api: vars.url("GITHUB_API_URL", DEFAULT_GITHUB_API_URL)?,
        // Checked where it is used (`MicrosoftConfig::new`): for an instance's own Microsoft app.
        microsoft_authority: vars
            .get("MICROSOFT_AUTHORITY_URL")
            .unwrap_or_else(|| DEFAULT_MICROSOFT_AUTHORITY_URL.to_string()),
    })
}

/// The Apple revocation group: all of `APPLE_TEAM_ID`, `APPLE_KEY_ID`, `APPLE_PRIVATE_KEY`,
/// `REFRESH_TOKEN_KEY`, or none of them.
fn apple_revocation<F: Fn(&str) -> Option<String>>(
    vars: &Vars<'_, F>,
) -> Result<Option<AppleRevocationConfig>, ConfigError> {
    const GROUP: [&str; 4] = ["APPLE_TEAM_ID", "APPLE_KEY_ID", "APPLE_PRIVATE_KEY", "REFRESH_TOKEN_KEY"];
    if GROUP.iter().all(|name| vars.get(name).is_none()) {
        return Ok(None);
    }
    let team_id = vars.id("APPLE_TEAM_ID")?.ok_or(ConfigError::Missing("APPLE_TEAM_ID"))?;
    let key_id = vars.id("APPLE_KEY_ID")?.ok_or(ConfigError::Missing("APPLE_KEY_ID"))?;
    // SSM and some consoles keep a PEM on one line with literal `\n`s.
    let pem = vars.required("APPLE_PRIVATE_KEY")?.replace("\\n", "\n");
    if crate::domain::apple_key::signing_key(&pem).is_none() {
        return Err(ConfigError::Invalid {
            name: "APPLE_PRIVATE_KEY",
            reason: "expected the Sign in with Apple key: a P-256 private key, PKCS#8 PEM (the .p8 file)",
        });
    }
    let key = |name: &'static str, value: String| {
        SealingKey::from_base64(&value).map_err(|_| ConfigError::Invalid { name, reason: "32 bytes, standard base64" })
    };
    let (current, previous) =
        versioned(vars, &REFRESH_TOKEN_KEY_NAMES, key)?.ok_or(ConfigError::Missing("REFRESH_TOKEN_KEY"))?;
    let refresh_token_key = SealingKeys::new(current, previous);
    Ok(Some(AppleRevocationConfig {
        team_id,
        key_id,
        private_key: Secret::new(pem),
        token_url: vars.url("APPLE_TOKEN_URL", DEFAULT_APPLE_TOKEN_URL)?,
        revoke_url: vars.url("APPLE_REVOKE_URL", DEFAULT_APPLE_REVOKE_URL)?,
        refresh_token_key,
    }))
}

/// The four variables of a versioned secret: the current value and its version (default 1),
/// the value before the last rotation and its version (required with it, and different).
struct VersionedNames {
    current: &'static str,
    current_version: &'static str,
    previous: &'static str,
    previous_version: &'static str,
}

const TOKEN_SECRET_NAMES: VersionedNames = VersionedNames {
    current: "TOKEN_SECRET",
    current_version: "TOKEN_SECRET_VERSION",
    previous: "TOKEN_SECRET_PREVIOUS",
    previous_version: "TOKEN_SECRET_PREVIOUS_VERSION",
};

const REFRESH_TOKEN_KEY_NAMES: VersionedNames = VersionedNames {
    current: "REFRESH_TOKEN_KEY",
    current_version: "REFRESH_TOKEN_KEY_VERSION",
    previous: "REFRESH_TOKEN_KEY_PREVIOUS",
    previous_version: "REFRESH_TOKEN_KEY_PREVIOUS_VERSION",
};

const INSTANCE_SECRETS_KEY_NAMES: VersionedNames = VersionedNames {
    current: "INSTANCE_SECRETS_KEY",
    current_version: "INSTANCE_SECRETS_KEY_VERSION",
    previous: "INSTANCE_SECRETS_KEY_PREVIOUS",
    previous_version: "INSTANCE_SECRETS_KEY_PREVIOUS_VERSION",
};

/// A current value with its version and, after a rotation, the previous one with its own.
type Versioned<T> = ((u32, T), Option<(u32, T)>);

/// Reads a versioned secret (`names`), each value checked by `parse`; `None` if neither value
/// is set (a previous value without a current one is an error).
fn versioned<T, F: Fn(&str) -> Option<String>>(
    vars: &Vars<'_, F>,
    names: &VersionedNames,
    parse: impl Fn(&'static str, String) -> Result<T, ConfigError>,
) -> Result<Option<Versioned<T>>, ConfigError> {
    if vars.get(names.current).is_none() {
        return match vars.get(names.previous) {
            Some(_) => Err(ConfigError::Missing(names.current)),
            None => Ok(None),
        };
    }
    let version = |name: &'static str| -> Result<Option<u32>, ConfigError> {
        vars.get(name)
            .map(|v| {
                v.parse::<u32>()
                    .ok()
                    .filter(|n| *n >= 1)
                    .ok_or(ConfigError::Invalid { name, reason: "a version number from 1" })
            })
            .transpose()
    };
    let current = (version(names.current_version)?.unwrap_or(1), parse(names.current, vars.required(names.current)?)?);
    let previous = match vars.get(names.previous) {
        None => None,
        Some(value) => {
            let v = version(names.previous_version)?.ok_or(ConfigError::Missing(names.previous_version))?;
            if v == current.0 {
                return Err(ConfigError::Invalid {
                    name: names.previous_version,
                    reason: "must differ from the current version",
                });
            }
            Some((v, parse(names.previous, value)?))
        }
    };
    Ok(Some((current, previous)))
}

/// Shortest origin secret accepted (a guessable one would let anyone around the WAF).
pub const MIN_ORIGIN_SECRET_LEN: usize = 32;

/// `ORIGIN_SECRET` (the per-client front, `entry::front`): unset or empty = no front.
pub fn origin_secret(value: Option<String>) -> Result<Option<Secret>, ConfigError> {
    match value {
        None => Ok(None),
        Some(v) if v.len() < MIN_ORIGIN_SECRET_LEN || v.len() > 256 || !v.bytes().all(|b| b.is_ascii_graphic()) => {
            Err(ConfigError::Invalid { name: "ORIGIN_SECRET", reason: "32 to 256 printable ASCII characters" })
        }
        Some(v) => Ok(Some(Secret::new(v))),
    }
}

/// Reading [`TokenSecrets`] (a domain type, `domain::tokens`) from the settings.
impl TokenSecrets {
    fn from_vars<F: Fn(&str) -> Option<String>>(vars: &Vars<'_, F>) -> Result<Option<TokenSecrets>, ConfigError> {
        let secret = |name: &'static str, value: String| {
            if value.len() < 32 {
                return Err(ConfigError::Invalid { name, reason: "at least 32 characters" });
            }
            Ok(Secret::new(value))
        };
        Ok(versioned(vars, &TOKEN_SECRET_NAMES, secret)?.map(|(current, previous)| TokenSecrets { current, previous }))
    }

    /// The token secrets of this process's environment (`TOKEN_SECRET` and the rest, as a
    /// function reads them): for the operator's tools, which get them from the environment,
    /// never from a command line. `None` if `TOKEN_SECRET` is not set.
    pub fn from_env() -> Result<Option<TokenSecrets>, ConfigError> {
        let get = |name: &str| std::env::var(name).ok();
        TokenSecrets::from_vars(&Vars { var: &get, insecure_provider_urls: false })
    }
}

#[cfg(test)]
pub(crate) mod tests {
    use super::*;
    use std::collections::HashMap;

    pub(crate) fn vars() -> HashMap<String, String> {
        [
            ("TABLE_NAME", "users"),
            ("PUBLIC_BASE_URL", "https://login.example.com/"),
            ("DEFAULT_INSTANCE", "demo"),
            ("FACEBOOK_APP_ID", "1234567890"),
            ("FACEBOOK_APP_SECRET", "app-secret"),
            ("TOKEN_SECRET", "0123456789abcdef0123456789abcdef"),
        ]
        .into_iter()
        .map(|(k, v)| (k.to_string(), v.to_string()))
        .collect()
    }

    fn load(v: &HashMap<String, String>) -> Result<Config, ConfigError> {
        Config::from_lookup(|k| v.get(k).cloned())
    }

    #[test]
    fn production_defaults_for_optional_values() {
        let c = load(&vars()).expect("valid config");
        let fb = c.facebook.as_ref().expect("facebook");
        assert_eq!(fb.graph_url, "https://graph.facebook.com");
        assert_eq!(fb.graph_version, "v22.0");
        assert_eq!(fb.limited_jwks_url, "https://limited.facebook.com/.well-known/oauth/openid/jwks/");
        assert_eq!(c.public_base_url, "https://login.example.com");
        assert_eq!(c.provider_timeout, Duration::from_secs(3));
        assert_eq!(c.session_ttl, Duration::from_secs(90 * 86_400));
        assert_eq!(c.audit_retention, Duration::from_secs(365 * 86_400));
        assert!(c.dynamodb_endpoint.is_none());
        assert_eq!((c.dynamodb_attempt_timeout, c.dynamodb_timeout), (Duration::from_secs(2), Duration::from_secs(5)));
    }

    #[test]
    fn the_api_key_cache_is_bounded_and_negative_answers_are_kept_no_longer() {
        let c = load(&vars()).expect("valid");
        assert_eq!((c.api_key_cache, c.api_key_negative_cache), (Duration::from_secs(30), Duration::from_secs(5)));
        let with = |pairs: &[(&str, &str)]| {
            let mut v = vars();
            v.extend(pairs.iter().map(|(k, val)| (k.to_string(), val.to_string())));
            load(&v)
        };
        let off = with(&[("API_KEY_CACHE_SECS", "0")]).expect("0 turns the cache off");
        assert_eq!((off.api_key_cache, off.api_key_negative_cache), (Duration::ZERO, Duration::ZERO));
        let out_of_range = |name| Some(ConfigError::Invalid { name, reason: "out of range" });
        assert_eq!(with(&[("API_KEY_CACHE_SECS", "301")]).err(), out_of_range("API_KEY_CACHE_SECS"));
        let longer = [("API_KEY_CACHE_SECS", "10"), ("API_KEY_NEGATIVE_CACHE_SECS", "11")];
        assert_eq!(with(&longer).err(), out_of_range("API_KEY_NEGATIVE_CACHE_SECS"));
        let c = with(&[("API_KEY_CACHE_SECS", "10"), ("API_KEY_NEGATIVE_CACHE_SECS", "10")]).expect("valid");
        assert_eq!(c.api_key_negative_cache, Duration::from_secs(10));
    }

    fn with_apple_revocation() -> HashMap<String, String> {
        let mut v = vars();
        v.insert("APPLE_TEAM_ID".into(), "TEAM123456".into());
        v.insert("APPLE_KEY_ID".into(), "KEY1234567".into());
        v.insert("APPLE_PRIVATE_KEY".into(), include_str!("../../../tools/emulator/keys/apple-sign-in.p8").into());
        v.insert("REFRESH_TOKEN_KEY".into(), "MDEyMzQ1Njc4OWFiY2RlZjAxMjM0NTY3ODlhYmNkZWY=".into());
        v
    }

    #[test]
    fn apple_revocation_is_configured_as_a_group_or_not_at_all() {
        assert!(load(&vars()).expect("valid").apple_revocation.is_none(), "off without the group");
        let c = load(&with_apple_revocation()).expect("valid");
        let apple = c.apple_revocation.expect("configured");
        assert_eq!(apple.token_url, "https://appleid.apple.com/auth/token");
        assert_eq!(apple.revoke_url, "https://appleid.apple.com/auth/revoke");
        assert_eq!(c.revocation_retry, Duration::from_secs(900));
        assert!(!format!("{apple:?}").contains("PRIVATE KEY-----\nMIG"), "the key is never printed");
        for name in ["APPLE_TEAM_ID", "APPLE_KEY_ID", "APPLE_PRIVATE_KEY", "REFRESH_TOKEN_KEY"] {
            let mut v = with_apple_revocation();
            v.remove(name);
            assert_eq!(load(&v).err(), Some(ConfigError::Missing(name)), "{name}");
        }
        // A PEM stored on one line with literal \n (as some consoles keep it) reads.
        let mut v = with_apple_revocation();
        let one_line = v["APPLE_PRIVATE_KEY"].replace('\n', "\\n");
        v.insert("APPLE_PRIVATE_KEY".into(), one_line);
        assert!(load(&v).expect("valid").apple_revocation.is_some());
    }

    #[test]
    fn the_instance_secrets_key_is_optional_and_versioned_like_the_token_secret() {
        let mut v = vars();
        assert!(load(&v).expect("valid").instance_secrets_key.is_none(), "unset: no instance app secret opens");
        v.insert("INSTANCE_SECRETS_KEY".into(), "MDEyMzQ1Njc4OWFiY2RlZjAxMjM0NTY3ODlhYmNkZWY=".into());
        let version = |c: &Config| c.instance_secrets_key.as_ref().expect("configured").current_version();
        assert_eq!(version(&load(&v).expect("valid")), 1);
        v.insert("INSTANCE_SECRETS_KEY_VERSION".into(), "3".into());
        v.insert("INSTANCE_SECRETS_KEY_PREVIOUS".into(), "QUFBQUFBQUFBQUFBQUFBQUFBQUFBQUFBQUFBQUFBQUE=".into());
        v.insert("INSTANCE_SECRETS_KEY_PREVIOUS_VERSION".into(), "2".into());
        assert_eq!(version(&load(&v).expect("valid")), 3);
        for (name, value) in [
            ("INSTANCE_SECRETS_KEY", "c2hvcnQ="),
            ("INSTANCE_SECRETS_KEY_PREVIOUS_VERSION", "3"),
            ("INSTANCE_SECRETS_KEY_VERSION", "0"),
        ] {
            let mut bad = v.clone();
            bad.insert(name.into(), value.into());
            assert!(matches!(load(&bad), Err(ConfigError::Invalid { name: n, .. }) if n == name), "{name}={value}");
        }
    }

    /// An instance's own app replaces the deployment's at its provider only, at the same
    /// endpoints; the others stay the deployment's; an own X app takes no bearer tokens.
    #[test]
    fn an_instance_sees_its_own_apps_in_place_of_the_deployments() {
        use crate::domain::instance_apps::{InstanceApps, OwnApp};
        let mut v = vars();
        v.insert("TWITTER_CONSUMER_KEY".into(), "ours".into());
        v.insert("TWITTER_CONSUMER_SECRET".into(), "our-secret".into());
        v.insert("TWITTER_ACCEPT_OAUTH2_BEARER".into(), "true".into());
        v.insert("GOOGLE_JWKS_URL".into(), "https://keys.example.com/google".into());
        let c = load(&v).expect("valid");
        let apps = InstanceApps {
            apps: vec![
                OwnApp::new(Provider::Twitter, vec!["theirs".into()], Some(Secret::new("their-secret"))).expect("app"),
                OwnApp::new(Provider::Google, vec!["g1".into(), "g2".into()], None).expect("app"),
            ],
        };
        let own = c.for_instance(&apps);
        let twitter = own.twitter.as_ref().expect("twitter");
        assert_eq!((twitter.consumer_key.as_str(), twitter.consumer_secret.expose()), ("theirs", "their-secret"));
        assert!(!twitter.accept_oauth2_bearer);
        let google = own.google.as_ref().expect("served by the instance's own app alone");
        assert_eq!(
            (google.client_ids.clone(), google.jwks_url.as_str()),
            (vec!["g1".to_string(), "g2".to_string()], "https://keys.example.com/google")
        );
        assert_eq!(own.facebook.as_ref().map(|f| f.app_id.as_str()), c.facebook.as_ref().map(|f| f.app_id.as_str()));
        assert_eq!(own.apple.is_some(), c.apple.is_some());
    }

    #[test]
    fn the_refresh_token_key_is_versioned_like_the_token_secret() {
        let mut v = with_apple_revocation();
        let key = |c: &Config| c.apple_revocation.as_ref().expect("configured").refresh_token_key.current_version();
        assert_eq!(key(&load(&v).expect("valid")), 1, "version 1 by default");
        v.insert("REFRESH_TOKEN_KEY_VERSION".into(), "2".into());
        v.insert("REFRESH_TOKEN_KEY_PREVIOUS".into(), "QUFBQUFBQUFBQUFBQUFBQUFBQUFBQUFBQUFBQUFBQUE=".into());
        v.insert("REFRESH_TOKEN_KEY_PREVIOUS_VERSION".into(), "1".into());
        assert_eq!(key(&load(&v).expect("valid")), 2);
        let cases = [
            ("REFRESH_TOKEN_KEY_PREVIOUS_VERSION", "2"),
            ("REFRESH_TOKEN_KEY_PREVIOUS_VERSION", "0"),
            ("REFRESH_TOKEN_KEY_VERSION", "x"),
            ("REFRESH_TOKEN_KEY_PREVIOUS", "c2hvcnQ="),
        ];
        for (name, value) in cases {
            let mut bad = v.clone();
            bad.insert(name.into(), value.into());
            assert!(matches!(load(&bad), Err(ConfigError::Invalid { name: n, .. }) if n == name), "{name}={value}");
        }
        v.remove("REFRESH_TOKEN_KEY_PREVIOUS_VERSION");
        assert_eq!(load(&v).err(), Some(ConfigError::Missing("REFRESH_TOKEN_KEY_PREVIOUS_VERSION")));
    }

    #[test]
    fn invalid_apple_revocation_values_stop_the_cold_start() {
        let cases = [
            ("APPLE_PRIVATE_KEY", "not a key"),
            ("APPLE_PRIVATE_KEY", include_str!("../../../tools/emulator/keys/key-1.pem")),
            ("REFRESH_TOKEN_KEY", "c2hvcnQ="),
            ("REFRESH_TOKEN_KEY", "not base64!"),
            ("APPLE_TEAM_ID", "TEAM 1"),
            ("APPLE_REVOKE_URL", "http://appleid.apple.com/auth/revoke"),
        ];
        for (name, value) in cases {
            let mut v = with_apple_revocation();
            v.insert(name.into(), value.into());
            assert!(matches!(load(&v), Err(ConfigError::Invalid { name: n, .. }) if n == name), "{name}={value}");
        }
    }

    #[test]
    fn required_values_have_no_default() {
        for name in ["TABLE_NAME", "PUBLIC_BASE_URL", "DEFAULT_INSTANCE", "FACEBOOK_APP_SECRET"] {
            let mut v = vars();
            v.remove(name);
            assert!(matches!(load(&v), Err(ConfigError::Missing(n)) if n == name), "{name}");
        }
    }

    #[test]
    fn providers_fail_closed() {
        let mut v = vars();
        v.remove("FACEBOOK_APP_ID");
        // No provider id (a function that logs no one in, like `me`): no provider secret needed.
        v.remove("FACEBOOK_APP_SECRET");
        let c = load(&v).expect("no provider");
        assert!(Provider::ALL.iter().all(|p| !c.serves(*p)));
        v.insert("GOOGLE_CLIENT_IDS".into(), "web.apps.googleusercontent.com, ios.apps.googleusercontent.com".into());
        let c = load(&v).expect("google only");
        assert!(!c.serves(Provider::Facebook) && c.serves(Provider::Google) && !c.serves(Provider::Apple));
        assert_eq!(c.google.expect("google").client_ids.len(), 2);
        // A provider with an id needs its secret.
        v.insert("GITHUB_CLIENT_ID".into(), "Iv1.abc".into());
        assert_eq!(load(&v).err(), Some(ConfigError::Missing("GITHUB_CLIENT_SECRET")));
        v.insert("TWITTER_CONSUMER_KEY".into(), "ck".into());
        v.insert("GITHUB_CLIENT_SECRET".into(), "gs".into());
        assert_eq!(load(&v).err(), Some(ConfigError::Missing("TWITTER_CONSUMER_SECRET")));
    }

    #[test]
    fn microsoft_is_served_with_its_client_ids_and_checked_tenant_and_authority() {
        let mut v = vars();
        let c = load(&v).expect("valid");
        assert!(!c.serves(Provider::Microsoft) && c.microsoft.is_none());
        assert!(!c.url_policy.allow_loopback_http);
        v.insert("MICROSOFT_CLIENT_IDS".into(), "11111111-2222-3333-4444-555555555555".into());
        let ms = load(&v).expect("microsoft").microsoft.expect("served");
        assert_eq!(ms.tenant, MicrosoftTenant::Common, "common unless set");
        assert_eq!(ms.authority, DEFAULT_MICROSOFT_AUTHORITY_URL);
        v.insert("MICROSOFT_TENANT".into(), "contoso.example".into());
        assert!(matches!(load(&v), Err(ConfigError::Invalid { name: "MICROSOFT_TENANT", .. })));
        v.insert("MICROSOFT_TENANT".into(), "consumers".into());
        v.insert("MICROSOFT_AUTHORITY_URL".into(), "http://127.0.0.1:9000/microsoft".into());
        assert!(matches!(load(&v), Err(ConfigError::Invalid { name: "MICROSOFT_AUTHORITY_URL", .. })));
        v.insert("ALLOW_INSECURE_PROVIDER_URLS".into(), "true".into());
        let c = load(&v).expect("loopback http with the local setting");
        assert!(c.serves(Provider::Microsoft) && c.url_policy.allow_loopback_http);
        let ms = c.microsoft.expect("served");
        assert_eq!(ms.tenant, MicrosoftTenant::Consumers);
        assert_eq!(
            ms.discovery_url(),
            "http://127.0.0.1:9000/microsoft/consumers/v2.0/.well-known/openid-configuration"
        );
        v.insert("MICROSOFT_AUTHORITY_URL".into(), "http://login.example.com".into());
        assert!(load(&v).is_err(), "http:// only on loopback, even with the local setting");
    }

    #[test]
    fn malformed_values_are_errors_not_defaults() {
        for (name, bad) in [
            ("PROVIDER_TIMEOUT_MS", "soon"),
            ("PROVIDER_TIMEOUT_MS", "0"),
            ("SESSION_TTL_DAYS", "-1"),
            ("FACEBOOK_GRAPH_VERSION", "latest"),
            ("FACEBOOK_GRAPH_URL", "graph.facebook.com"),
            ("GOOGLE_JWKS_URL", "ftp://x"),
            ("FACEBOOK_APP_ID", "12 34"),
            ("APPLE_CLIENT_IDS", " , "),
            ("TWITTER_ACCEPT_OAUTH2_BEARER", "yes"),
            ("TOKEN_SECRET", "short"),
            ("DEFAULT_INSTANCE", "Has Spaces"),
            ("DYNAMODB_ATTEMPT_TIMEOUT_MS", "50"),
            ("DYNAMODB_TIMEOUT_MS", "1000"),
            ("JWKS_MIN_REFETCH_MS", "0"),
            ("JWKS_MIN_REFETCH_MS", "999"),
            ("JWKS_MAX_STALE_SECS", "soon"),
            ("JWKS_MAX_STALE_SECS", "99999999"),
            ("ALLOW_INSECURE_PROVIDER_URLS", "yes"),
        ] {
            let mut v = vars();
            v.insert("GOOGLE_CLIENT_IDS".into(), "g".into());
            v.insert("TWITTER_CONSUMER_KEY".into(), "ck".into());
            v.insert("TWITTER_CONSUMER_SECRET".into(), "cs".into());
            v.insert(name.into(), bad.into());
            assert!(matches!(load(&v), Err(ConfigError::Invalid { name: n, .. }) if n == name), "{name}={bad}");
        }
    }

    #[test]
    fn jwks_refetch_has_a_floor_and_stale_keys_a_bound() {
        let mut v = vars();
        v.insert("JWKS_MIN_REFETCH_MS".into(), "1000".into());
        let c = load(&v).expect("the floor itself is allowed");
        assert_eq!(c.jwks_min_refetch, Duration::from_secs(1));
        assert_eq!(c.jwks_max_stale, Duration::from_secs(86_400));
        v.insert("JWKS_MAX_STALE_SECS".into(), "0".into());
        assert_eq!(load(&v).expect("no stale keys at all").jwks_max_stale, Duration::ZERO);
        for bad in ["0", "1", "999"] {
            v.insert("JWKS_MIN_REFETCH_MS".into(), bad.into());
            assert!(
                matches!(load(&v), Err(ConfigError::Invalid { name: "JWKS_MIN_REFETCH_MS", .. })),
                "JWKS_MIN_REFETCH_MS={bad}"
            );
        }
    }

    #[test]
    fn provider_urls_must_be_https_unless_the_local_tools_allow_http() {
        // Every provider endpoint but Apple's token and revoke URLs, which are read only with the
        // revocation settings (`apple_revocation_is_configured_as_a_group_or_not_at_all`).
        let provider_urls = ENDPOINT_VARIABLES.into_iter().filter(|n| !n.starts_with("AWS_") && n.ends_with("_URL"));
        for name in provider_urls.filter(|n| !["APPLE_TOKEN_URL", "APPLE_REVOKE_URL"].contains(n)) {
            let mut v = vars();
            for (k, val) in [
                ("GOOGLE_CLIENT_IDS", "g"),
                ("TWITTER_CONSUMER_KEY", "ck"),
                ("TWITTER_CONSUMER_SECRET", "cs"),
                ("LINKEDIN_CLIENT_ID", "li"),
                ("APPLE_CLIENT_IDS", "com.example.app"),
                ("GITHUB_CLIENT_ID", "Iv1.abc"),
                ("GITHUB_CLIENT_SECRET", "gs"),
                ("MICROSOFT_CLIENT_IDS", "m"),
            ] {
                v.insert(k.into(), val.into());
            }
            v.insert(name.into(), "http://127.0.0.1:9".into());
            assert!(matches!(load(&v), Err(ConfigError::Invalid { name: n, .. }) if n == name), "{name} over http");
            v.insert("ALLOW_INSECURE_PROVIDER_URLS".into(), "false".into());
            assert!(matches!(load(&v), Err(ConfigError::Invalid { name: n, .. }) if n == name), "{name}, flag false");
            v.insert("ALLOW_INSECURE_PROVIDER_URLS".into(), "true".into());
            assert!(load(&v).is_ok(), "{name} over http with ALLOW_INSECURE_PROVIDER_URLS=true");
            v.remove("ALLOW_INSECURE_PROVIDER_URLS");
            v.insert(name.into(), "https://provider.example.com".into());
            assert!(load(&v).is_ok(), "{name} over https");
        }
        // Not provider URLs: the public URL and DynamoDB Local stay as they are.
        let mut v = vars();
        v.insert("PUBLIC_BASE_URL".into(), "http://127.0.0.1:3000".into());
        v.insert("AWS_ENDPOINT_URL_DYNAMODB".into(), "http://127.0.0.1:8000".into());
        assert!(load(&v).is_ok());
    }

    #[test]
    fn token_secrets_are_versioned_with_an_optional_previous_one() {
        let c = load(&vars()).expect("loads");
        let secrets = c.token_secrets.expect("configured");
        assert_eq!(secrets.current.0, 1);
        assert!(secrets.previous.is_none());
        let mut v = vars();
        v.insert("TOKEN_SECRET_VERSION".into(), "3".into());
        v.insert("TOKEN_SECRET_PREVIOUS".into(), "p".repeat(32));
        v.insert("TOKEN_SECRET_PREVIOUS_VERSION".into(), "2".into());
        let secrets = load(&v).expect("loads").token_secrets.expect("configured");
        assert_eq!(secrets.get(2).map(Secret::expose), Some("p".repeat(32).as_str()));
        assert!(secrets.get(3).is_some() && secrets.get(1).is_none());
        for (name, value) in [
            ("TOKEN_SECRET_PREVIOUS_VERSION", "3"),
            ("TOKEN_SECRET_PREVIOUS_VERSION", "0"),
            ("TOKEN_SECRET_VERSION", "x"),
            ("TOKEN_SECRET_PREVIOUS", "short"),
        ] {
            let mut bad = v.clone();
            bad.insert(name.into(), value.into());
            assert!(load(&bad).is_err(), "{name}={value}");
        }
        v.remove("TOKEN_SECRET_PREVIOUS_VERSION");
        assert_eq!(load(&v).err(), Some(ConfigError::Missing("TOKEN_SECRET_PREVIOUS_VERSION")));
        // A function that derives no user key reads no token secret.
        let mut none = vars();
        none.remove("TOKEN_SECRET");
        assert!(load(&none).expect("loads").token_secrets.is_none());
        none.insert("TOKEN_SECRET_PREVIOUS".into(), "p".repeat(32));
        assert_eq!(load(&none).err(), Some(ConfigError::Missing("TOKEN_SECRET")));
    }

    #[test]
    fn debug_output_hides_secrets() {
        let c = load(&vars()).expect("valid config");
        let shown = format!("{c:?}");
        assert!(!shown.contains("app-secret") && !shown.contains("0123456789abcdef"));
    }
}
