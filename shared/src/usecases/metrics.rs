//! The login metrics, with no request of ours: a login's request line (`http::RequestLog`)
//! also carries CloudWatch Embedded Metric Format members, which CloudWatch Logs turns into
//! metrics under `METRICS_NAMESPACE` (the template sets `SocialLogin/<stack>`). The alarms and
//! the dashboard of `template.yaml` read these names; `tests/api/template.rs` checks they agree.

use std::sync::OnceLock;

use serde::Serialize;

use crate::domain::identity::Provider;
use crate::usecases::error::UseCaseError;

/// The environment variable naming the metrics' namespace.
pub const NAMESPACE_VARIABLE: &str = "METRICS_NAMESPACE";
/// The namespace when [`NAMESPACE_VARIABLE`] is unset (local runs).
pub const DEFAULT_NAMESPACE: &str = "SocialLogin";

/// One per login request.
pub const LOGINS: &str = "Logins";
/// The login's time in the function, in milliseconds.
pub const LOGIN_LATENCY: &str = "LoginLatency";
/// 1 when the login created its user, else 0.
pub const FIRST_LOGINS: &str = "FirstLogins";
/// 1 when the login signed in a user who already existed, else 0.
pub const RETURNING_LOGINS: &str = "ReturningLogins";

/// The dimensions every login metric is published under, each set a metric of its own.
pub const DIMENSION_SETS: [&[&str]; 4] =
    [&["Provider", "Dialect", "Outcome"], &["Provider", "Outcome"], &["Provider"], &["Outcome"]];

/// The `Provider` of a login whose provider is not known (a body without a usable service).
pub const UNKNOWN_PROVIDER: &str = "unknown";

/// The `Provider` of every custom OpenID Connect provider's login: one value for all of them, so
/// the metrics' cardinality (and their cost, per dimension value) does not grow with instances'
/// configurations; the log line names the provider (`oidc-{name}`).
pub const CUSTOM_OIDC_PROVIDER: &str = "oidc";

/// A login's `Provider` dimension value.
pub fn provider_dimension(provider: Option<Provider>) -> &'static str {
    match provider {
        None => UNKNOWN_PROVIDER,
        Some(Provider::Oidc(_)) => CUSTOM_OIDC_PROVIDER,
        Some(p) => p.as_str(),
    }
}

/// The API a login came in through.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Dialect {
    RocketChat,
    Syncano,
}

impl Dialect {
    pub fn as_str(self) -> &'static str {
        match self {
            Dialect::RocketChat => "rocketchat",
            Dialect::Syncano => "syncano",
        }
    }
}

/// How a login ended, as the alarms and the dashboard count it.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Outcome {
    /// Signed in; `first_login` when this login created the user.
    Success { first_login: bool },
    /// The caller's fault: a malformed request, a refused token or key, an unserved provider.
    Rejected,
    /// The provider failed or timed out.
    ProviderUnavailable,
    /// DynamoDB failed (5xx, unreachable, timed out, contention).
    StoreUnavailable,
    /// DynamoDB throttled us past the SDK's retries (a hot partition): 503 with `Retry-After`.
    StoreThrottled,
    /// Too many rejected logins from the caller (429).
    Throttled,
    /// Our own bug or misconfiguration.
    Error,
}

impl Outcome {
    pub const ALL: [&'static str; 7] =
        ["success", "rejected", "provider_unavailable", "store_unavailable", "store_throttled", "throttled", "error"];

    pub fn as_str(self) -> &'static str {
        match self {
            Outcome::Success { .. } => "success",
            Outcome::Rejected => "rejected",
            Outcome::ProviderUnavailable => "provider_unavailable",
            Outcome::StoreUnavailable => "store_unavailable",
            Outcome::StoreThrottled => "store_throttled",
            Outcome::Throttled => "throttled",
            Outcome::Error => "error",
        }
    }

    /// The outcome of a failed login.
    pub fn of_error(e: &UseCaseError) -> Outcome {
        match e {
            UseCaseError::ProviderUnavailable(_) | UseCaseError::ProviderTimeout => Outcome::ProviderUnavailable,
            UseCaseError::StoreUnavailable(_) => Outcome::StoreUnavailable,
            UseCaseError::StoreThrottled(_) => Outcome::StoreThrottled,
            UseCaseError::TooManyFailures(_) => Outcome::Throttled,
            UseCaseError::Internal(_) => Outcome::Error,
            UseCaseError::BadRequest(_)
            | UseCaseError::UnsupportedService(_)
            | UseCaseError::UnknownInstance
            | UseCaseError::TokenRejected(_)
            | UseCaseError::NotLoggedIn
            | UseCaseError::UserCreateDenied
            | UseCaseError::SignUpClosed
            | UseCaseError::DeletionNotConfirmed => Outcome::Rejected,
        }
    }
}

/// What a login's request line says about it.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct LoginMetrics {
    pub dialect: Dialect,
    pub provider: Option<Provider>,
    pub outcome: Outcome,
}

impl LoginMetrics {
    /// The EMF members of the line (`_aws` and one member per dimension and metric), as the
    /// JSON text `logging` merges into the line's top level.
    pub fn emf(&self, latency_ms: f64, timestamp_ms: u64) -> String {
        let (first, returning) = match self.outcome {
            Outcome::Success { first_login } => (u8::from(first_login), u8::from(!first_login)),
            _ => (0, 0),
        };
        let members = Emf {
            aws: Aws {
                timestamp: timestamp_ms,
                cloud_watch_metrics: [Directive {
                    namespace: namespace(),
                    dimensions: DIMENSION_SETS,
                    metrics: METRICS,
                }],
            },
            provider: provider_dimension(self.provider),
            dialect: self.dialect.as_str(),
            outcome: self.outcome.as_str(),
            logins: 1,
            login_latency: latency_ms,
            first_logins: first,
            returning_logins: returning,
        };
        serde_json::to_string(&members).unwrap_or_default()
    }
}

const METRICS: [Metric; 4] = [
    Metric { name: LOGINS, unit: "Count" },
    Metric { name: LOGIN_LATENCY, unit: "Milliseconds" },
    Metric { name: FIRST_LOGINS, unit: "Count" },
    Metric { name: RETURNING_LOGINS, unit: "Count" },
];

pub(crate) fn namespace() -> &'static str {
    static NAMESPACE: OnceLock<String> = OnceLock::new();
    NAMESPACE.get_or_init(|| {
        std::env::var(NAMESPACE_VARIABLE).ok().filter(|n| !n.trim().is_empty()).unwrap_or(DEFAULT_NAMESPACE.into())
    })
}

#[derive(Serialize)]
struct Emf {
    #[serde(rename = "_aws")]
    aws: Aws,
    #[serde(rename = "Provider")]
    provider: &'static str,
    #[serde(rename = "Dialect")]
    dialect: &'static str,
    #[serde(rename = "Outcome")]
    outcome: &'static str,
    #[serde(rename = "Logins")]
    logins: u8,
    #[serde(rename = "LoginLatency")]
    login_latency: f64,
    #[serde(rename = "FirstLogins")]
    first_logins: u8,
    #[serde(rename = "ReturningLogins")]
    returning_logins: u8,
}

#[derive(Serialize)]
#[serde(rename_all = "PascalCase")]
struct Aws {
    timestamp: u64,
    cloud_watch_metrics: [Directive; 1],
}

#[derive(Serialize)]
#[serde(rename_all = "PascalCase")]
struct Directive {
    namespace: &'static str,
    dimensions: [&'static [&'static str]; 4],
    metrics: [Metric; 4],
}

#[derive(Serialize)]
#[serde(rename_all = "PascalCase")]
struct Metric {
    name: &'static str,
    unit: &'static str,
}

/// The EMF specification's rules for a line (`_aws.Timestamp` a number of milliseconds;
/// `CloudWatchMetrics` directives, each a namespace, dimension sets of at most 30 names whose
/// members are strings, and metrics whose members are numbers), answering each metric's value.
/// Used by the unit tests and by the API tests that read the request lines.
pub fn check_emf(line: &serde_json::Value) -> Result<Vec<(String, f64)>, String> {
    use serde_json::Value;
    let aws = line.get("_aws").and_then(Value::as_object).ok_or("no _aws object")?;
    aws.get("Timestamp").and_then(Value::as_u64).ok_or("_aws.Timestamp is not a number of ms")?;
    let directives = aws.get("CloudWatchMetrics").and_then(Value::as_array).ok_or("no CloudWatchMetrics array")?;
    let mut values = Vec::new();
    for d in directives {
        let namespace = d.get("Namespace").and_then(Value::as_str).unwrap_or_default();
        if namespace.is_empty() || namespace.len() > 255 {
            return Err("a directive without a namespace".into());
        }
        for set in d.get("Dimensions").and_then(Value::as_array).ok_or("no Dimensions")? {
            let names = set.as_array().ok_or("a dimension set is not an array")?;
            if names.len() > 30 {
                return Err("more than 30 dimensions in a set".into());
            }
            for name in names {
                let name = name.as_str().ok_or("a dimension name is not a string")?;
                line.get(name).and_then(Value::as_str).ok_or(format!("dimension {name} is not a string member"))?;
            }
        }
        for m in d.get("Metrics").and_then(Value::as_array).ok_or("no Metrics")? {
            let name = m.get("Name").and_then(Value::as_str).ok_or("a metric without a name")?;
            let value =
                line.get(name).and_then(Value::as_f64).ok_or(format!("metric {name} is not a number member"))?;
            values.push((name.to_owned(), value));
        }
    }
    Ok(values)
}

#[cfg(test)]
mod tests {
    use serde_json::{json, Value};

    use super::*;

    /// Checks `line` against the EMF specification's rules for one directive, and answers its
    /// metrics' values by name.
    pub fn emf_values(line: &Value) -> Vec<(String, f64)> {
        crate::usecases::metrics::check_emf(line).unwrap_or_else(|e| panic!("{e}: {line}"))
    }

    /// Every custom provider's login is counted under one `Provider` value; the built-ins and
    /// Microsoft under their own names.
    #[test]
    fn custom_providers_share_one_provider_dimension_value() {
        let corp = crate::domain::identity::OidcName::configured("metrics-corp").expect("name");
        assert_eq!(provider_dimension(Some(Provider::Oidc(corp))), CUSTOM_OIDC_PROVIDER);
        assert_eq!(provider_dimension(Some(Provider::Microsoft)), "microsoft");
        assert_eq!(provider_dimension(Some(Provider::Google)), "google");
        assert_eq!(provider_dimension(None), UNKNOWN_PROVIDER);
    }

    #[test]
    fn a_login_line_is_embedded_metric_format() {
        let metrics = LoginMetrics {
            dialect: Dialect::Syncano,
            provider: Some(Provider::Facebook),
            outcome: Outcome::Success { first_login: true },
        };
        let line: Value = serde_json::from_str(&metrics.emf(12.5, 1_700_000_000_000)).expect("JSON");
        assert_eq!(
            emf_values(&line),
            [
                ("Logins".into(), 1.0),
                ("LoginLatency".into(), 12.5),
                ("FirstLogins".into(), 1.0),
                ("ReturningLogins".into(), 0.0)
            ]
        );
        assert_eq!(
            (&line["Provider"], &line["Dialect"], &line["Outcome"]),
            (&json!("facebook"), &json!("syncano"), &json!("success"))
        );
        assert_eq!(line["_aws"]["CloudWatchMetrics"][0]["Namespace"], DEFAULT_NAMESPACE);
    }

    #[test]
    fn a_failure_counts_neither_first_nor_returning() {
        let metrics =
            LoginMetrics { dialect: Dialect::RocketChat, provider: None, outcome: Outcome::ProviderUnavailable };
        let line: Value = serde_json::from_str(&metrics.emf(3.0, 1)).expect("JSON");
        assert_eq!(emf_values(&line)[2..], [("FirstLogins".into(), 0.0), ("ReturningLogins".into(), 0.0)]);
        assert_eq!((&line["Provider"], &line["Outcome"]), (&json!("unknown"), &json!("provider_unavailable")));
    }

    #[test]
    fn every_login_error_has_the_outcome_its_status_means() {
        let cases = [
            (UseCaseError::ProviderTimeout, "provider_unavailable"),
            (UseCaseError::ProviderUnavailable("x".into()), "provider_unavailable"),
            (UseCaseError::StoreUnavailable("x".into()), "store_unavailable"),
            (UseCaseError::StoreThrottled("x".into()), "store_throttled"),
            (UseCaseError::TooManyFailures(3), "throttled"),
            (UseCaseError::Internal("x".into()), "error"),
            (UseCaseError::TokenRejected("x".into()), "rejected"),
            (UseCaseError::BadRequest("x".into()), "rejected"),
        ];
        for (e, want) in cases {
            assert_eq!(Outcome::of_error(&e).as_str(), want, "{e}");
        }
        assert!(Outcome::ALL.iter().all(|o| !o.is_empty()));
    }

    #[test]
    fn the_checker_refuses_what_cloudwatch_would_drop() {
        let good: Value = serde_json::from_str(
            &LoginMetrics { dialect: Dialect::Syncano, provider: None, outcome: Outcome::Rejected }.emf(1.0, 1),
        )
        .expect("JSON");
        for (member, broken) in
            [("Outcome", json!(3)), ("Logins", json!("1")), ("_aws", json!("x")), ("Provider", Value::Null)]
        {
            let mut line = good.clone();
            line[member] = broken;
            assert!(check_emf(&line).is_err(), "{member} broken: {line}");
        }
    }
}
