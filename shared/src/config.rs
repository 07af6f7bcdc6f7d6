//! Configuration, read once per cold start from named variables (the process environment in
//! AWS, an explicit map in tests and the local stack). Required values have no default; optional
//! ones default to production values, and a value that is present but malformed is an error,
//! never silently replaced.

use std::time::Duration;

use crate::instance::InstanceName;
use crate::secret::Secret;

/// Real Graph API endpoint; tests and the local stack point `FACEBOOK_GRAPH_URL` at the emulator.
pub const DEFAULT_FACEBOOK_GRAPH_URL: &str = "https://graph.facebook.com";
/// The Graph API version the verifier is written against (pinned, not "latest").
pub const DEFAULT_FACEBOOK_GRAPH_VERSION: &str = "v22.0";
pub const DEFAULT_PROVIDER_TIMEOUT_MS: u64 = 3_000;
pub const DEFAULT_SESSION_TTL_DAYS: u64 = 90;

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
pub struct FacebookConfig {
    pub app_id: String,
    pub app_secret: Secret,
    /// Base URL without the version, e.g. `https://graph.facebook.com`.
    pub graph_url: String,
    pub graph_version: String,
}

#[derive(Debug, Clone)]
pub struct Config {
    pub table_name: String,
    /// Where clients reach this deployment, without trailing slash (avatar URLs are built on it).
    pub public_base_url: String,
    /// The instance the Rocket.Chat route logs users into.
    pub default_instance: InstanceName,
    pub facebook: FacebookConfig,
    /// Server-side key from which Syncano user keys are derived (HMAC); never stored in the table.
    pub token_secret: Secret,
    pub provider_timeout: Duration,
    pub session_ttl: Duration,
    /// DynamoDB endpoint override (DynamoDB Local); `None` in AWS.
    pub dynamodb_endpoint: Option<String>,
}

impl Config {
    /// Reads every setting through `var`, which answers a variable's value or `None`.
    pub fn from_lookup(var: impl Fn(&str) -> Option<String>) -> Result<Config, ConfigError> {
        let get = |name: &'static str| var(name).filter(|v| !v.trim().is_empty());
        let required = |name: &'static str| get(name).ok_or(ConfigError::Missing(name));

        let table_name = required("TABLE_NAME")?;
        let public_base_url = url("PUBLIC_BASE_URL", required("PUBLIC_BASE_URL")?)?;
        let default_instance = InstanceName::parse(&required("DEFAULT_INSTANCE")?).ok_or(ConfigError::Invalid {
            name: "DEFAULT_INSTANCE",
            reason: "lowercase letters, digits and '-', at most 64",
        })?;
        let app_id = required("FACEBOOK_APP_ID")?;
        if !app_id.bytes().all(|b| b.is_ascii_alphanumeric() || b == b'-' || b == b'_') {
            return Err(ConfigError::Invalid { name: "FACEBOOK_APP_ID", reason: "letters, digits, '-' and '_' only" });
        }
        let app_secret = Secret::new(required("FACEBOOK_APP_SECRET")?);
        let graph_url = match get("FACEBOOK_GRAPH_URL") {
            Some(v) => url("FACEBOOK_GRAPH_URL", v)?,
            None => DEFAULT_FACEBOOK_GRAPH_URL.to_string(),
        };
        let graph_version = get("FACEBOOK_GRAPH_VERSION").unwrap_or_else(|| DEFAULT_FACEBOOK_GRAPH_VERSION.into());
        if !is_graph_version(&graph_version) {
            return Err(ConfigError::Invalid {
                name: "FACEBOOK_GRAPH_VERSION",
                reason: "expected a version like v22.0",
            });
        }
        let token_secret = Secret::new(required("TOKEN_SECRET")?);
        if token_secret.expose().len() < 32 {
            return Err(ConfigError::Invalid { name: "TOKEN_SECRET", reason: "at least 32 characters" });
        }
        let timeout_ms =
            number("PROVIDER_TIMEOUT_MS", get("PROVIDER_TIMEOUT_MS"), DEFAULT_PROVIDER_TIMEOUT_MS, 100..=30_000)?;
        let ttl_days = number("SESSION_TTL_DAYS", get("SESSION_TTL_DAYS"), DEFAULT_SESSION_TTL_DAYS, 1..=3_650)?;
        let dynamodb_endpoint = match get("AWS_ENDPOINT_URL_DYNAMODB") {
            Some(v) => Some(url("AWS_ENDPOINT_URL_DYNAMODB", v)?),
            None => None,
        };

        Ok(Config {
            table_name,
            public_base_url,
            default_instance,
            facebook: FacebookConfig { app_id, app_secret, graph_url, graph_version },
            token_secret,
            provider_timeout: Duration::from_millis(timeout_ms),
            session_ttl: Duration::from_secs(ttl_days * 86_400),
            dynamodb_endpoint,
        })
    }
}

fn url(name: &'static str, value: String) -> Result<String, ConfigError> {
    let v = value.trim().trim_end_matches('/').to_string();
    if (v.starts_with("https://") || v.starts_with("http://")) && v.len() > "https://".len() {
        Ok(v)
    } else {
        Err(ConfigError::Invalid { name, reason: "expected an http(s) URL" })
    }
}

fn number(
    name: &'static str,
    value: Option<String>,
    default: u64,
    range: std::ops::RangeInclusive<u64>,
) -> Result<u64, ConfigError> {
    let n = match value {
        None => default,
        Some(v) => v.trim().parse().map_err(|_| ConfigError::Invalid { name, reason: "expected a whole number" })?,
    };
    if range.contains(&n) {
        Ok(n)
    } else {
        Err(ConfigError::Invalid { name, reason: "out of range" })
    }
}

fn is_graph_version(v: &str) -> bool {
    let Some(rest) = v.strip_prefix('v') else { return false };
    let mut parts = rest.split('.');
    let ok = |p: Option<&str>| p.is_some_and(|p| !p.is_empty() && p.bytes().all(|b| b.is_ascii_digit()));
    ok(parts.next()) && ok(parts.next()) && parts.next().is_none()
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
        assert_eq!(c.facebook.graph_url, "https://graph.facebook.com");
        assert_eq!(c.facebook.graph_version, "v22.0");
        assert_eq!(c.public_base_url, "https://login.example.com");
        assert_eq!(c.provider_timeout, Duration::from_secs(3));
        assert_eq!(c.session_ttl, Duration::from_secs(90 * 86_400));
        assert!(c.dynamodb_endpoint.is_none());
    }

    #[test]
    fn required_values_have_no_default() {
        for name in [
            "TABLE_NAME",
            "PUBLIC_BASE_URL",
            "DEFAULT_INSTANCE",
            "FACEBOOK_APP_ID",
            "FACEBOOK_APP_SECRET",
            "TOKEN_SECRET",
        ] {
            let mut v = vars();
            v.remove(name);
            assert!(matches!(load(&v), Err(ConfigError::Missing(n)) if n == name), "{name}");
        }
    }

    #[test]
    fn malformed_values_are_errors_not_defaults() {
        for (name, bad) in [
            ("PROVIDER_TIMEOUT_MS", "soon"),
            ("PROVIDER_TIMEOUT_MS", "0"),
            ("SESSION_TTL_DAYS", "-1"),
            ("FACEBOOK_GRAPH_VERSION", "latest"),
            ("FACEBOOK_GRAPH_URL", "graph.facebook.com"),
            ("TOKEN_SECRET", "short"),
            ("DEFAULT_INSTANCE", "Has Spaces"),
        ] {
            let mut v = vars();
            v.insert(name.into(), bad.into());
            assert!(matches!(load(&v), Err(ConfigError::Invalid { name: n, .. }) if n == name), "{name}={bad}");
        }
    }

    #[test]
    fn debug_output_hides_secrets() {
        let c = load(&vars()).expect("valid config");
        let shown = format!("{c:?}");
        assert!(!shown.contains("app-secret") && !shown.contains("0123456789abcdef"));
    }
}
