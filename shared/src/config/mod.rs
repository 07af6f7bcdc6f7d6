//! Configuration, read once per cold start from named variables (the process environment in
//! AWS, an explicit map in tests and the local stack). Required values have no default; optional
//! ones default to production values, and a value that is present but malformed is an error,
//! never silently replaced.
//!
//! Providers fail closed: a provider is served only when its app/client id is configured, and
//! then every other value it needs (its secret) is required. In AWS each function is given only
//! the ids of the providers it serves (and so needs only their secrets); one given none, such as
//! `me`, serves no login.
//!
//! Here: [`Config`], [`ConfigError`] and the reading of every setting in one place
//! ([`Config::from_lookup`]); by concept: [`vars`] (typed access to the named variables),
//! [`defaults`] (the named defaults and bounds), [`providers`] (each provider's settings and
//! their reading), [`oidc`] (OpenID Connect providers' settings, [`UrlPolicy`]), [`secrets`]
//! (versioned secrets, `ORIGIN_SECRET`), [`parameter_store`] (secrets from SSM). Their public
//! names are re-exported here: `shared::config::…` paths do not name the submodules.

use std::time::Duration;

use crate::domain::identity::Provider;
use crate::domain::instance::InstanceName;
use crate::domain::sealing::SealingKeys;
use crate::domain::secret::Secret;
pub use crate::domain::tokens::TokenSecrets;
use providers::{apple, apple_revocation, facebook, github, google, linkedin, microsoft, provider_urls, twitter};
use secrets::instance_secrets_key;
use vars::{url, Vars};

mod defaults;
mod oidc;
pub mod parameter_store;
mod providers;
mod secrets;
mod vars;

pub use defaults::*;
pub use oidc::*;
pub use providers::*;
pub use secrets::{instance_secrets_key_from_env, origin_secret, MIN_ORIGIN_SECRET_LEN};

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
        let facebook = facebook(&vars)?;
        let google = google(&vars)?;
        let twitter = twitter(&vars)?;
        let linkedin = linkedin(&vars)?;
        let apple = apple(&vars)?;
        let apple_revocation = apple_revocation(&vars)?;
        let github = github(&vars)?;
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
