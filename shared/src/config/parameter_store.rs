//! Secrets in AWS: SecureString parameters under one SSM Parameter Store path, read once per
//! cold start. `<path>/facebook-app-secret` becomes the variable `FACEBOOK_APP_SECRET`, and so on.
//!
//! Only the allowlist [`SECRET_VARIABLES`] can come from SSM, and each function reads only the
//! parameters its `SECRET_PARAMETERS` names (the template grants `ssm:GetParameters` on exactly
//! those): a parameter that happens to sit under the path (say `<path>/aws-endpoint-url-dynamodb`)
//! can never override a setting.

use std::collections::HashMap;

use crate::config::ConfigError;

/// Every variable that carries a secret: in AWS these come from SSM, never from the environment,
/// and nothing else comes from SSM. Parameter leaf = the name in lowercase with `-` for `_`.
pub const SECRET_VARIABLES: &[&str] = &[
    "FACEBOOK_APP_SECRET",
    "TOKEN_SECRET",
    "TOKEN_SECRET_PREVIOUS",
    "TWITTER_CONSUMER_SECRET",
    "LINKEDIN_CLIENT_SECRET",
    "GITHUB_CLIENT_SECRET",
    "APPLE_PRIVATE_KEY",
    "REFRESH_TOKEN_KEY",
    "REFRESH_TOKEN_KEY_PREVIOUS",
    "INSTANCE_SECRETS_KEY",
    "INSTANCE_SECRETS_KEY_PREVIOUS",
];

/// `GetParameters` takes at most this many names per call.
#[cfg(feature = "ssm")]
const MAX_NAMES_PER_CALL: usize = 10;

/// The configuration variable a parameter's last path segment stands for, if it is a plain
/// lowercase name (`facebook-app-secret` → `FACEBOOK_APP_SECRET`). Says nothing about whether
/// the variable may come from SSM: see [`allowed_variable`].
pub fn variable_for_parameter(name: &str) -> Option<String> {
    let leaf = name.rsplit('/').next()?;
    let ok = !leaf.is_empty() && leaf.bytes().all(|b| b.is_ascii_lowercase() || b.is_ascii_digit() || b == b'-');
    ok.then(|| leaf.replace('-', "_").to_ascii_uppercase())
}

/// The allowlisted secret variable a parameter stands for; `None` for anything else.
pub fn allowed_variable(name: &str) -> Option<&'static str> {
    let var = variable_for_parameter(name)?;
    SECRET_VARIABLES.iter().copied().find(|v| *v == var)
}

/// The parameter leaf of an allowlisted variable (`TOKEN_SECRET` → `token-secret`).
pub fn parameter_leaf(variable: &str) -> String {
    variable.replace('_', "-").to_ascii_lowercase()
}

/// Parses `SECRET_PARAMETERS`: comma-separated parameter leaves (`token-secret,facebook-app-secret`),
/// each one of the allowlist. Returns the leaves, deduplicated, in order.
pub fn parse_secret_parameters(value: &str) -> Result<Vec<String>, ConfigError> {
    let mut leaves: Vec<String> = Vec::new();
    for leaf in value.split(',').map(str::trim).filter(|l| !l.is_empty()) {
        if leaf.contains('/') || allowed_variable(leaf).is_none() {
            return Err(ConfigError::Invalid {
                name: "SECRET_PARAMETERS",
                reason: "names a parameter that is not one of the allowed secrets",
            });
        }
        if !leaves.iter().any(|l| l == leaf) {
            leaves.push(leaf.to_string());
        }
    }
    Ok(leaves)
}

/// What `App::from_env` is to read from SSM: with `SECRETS_PARAMETER_PATH` set in `vars`, the
/// path and the parameters `SECRET_PARAMETERS` names, checked before any request; `None` without
/// a path, or when the list is empty (a function that reads no secret makes no request and need
/// not link the SSM client). A secret variable may then not also be in `vars` (the environment).
pub fn secrets_to_read(vars: &HashMap<String, String>) -> Result<Option<(String, Vec<String>)>, ConfigError> {
    let Some(path) = vars.get("SECRETS_PARAMETER_PATH").map(|p| p.trim()).filter(|p| !p.is_empty()) else {
        return Ok(None);
    };
    if SECRET_VARIABLES.iter().any(|v| vars.contains_key(*v)) {
        return Err(ConfigError::Invalid {
            name: "SECRETS_PARAMETER_PATH",
            reason: "secrets must come from SSM only, not also from the environment",
        });
    }
    let leaves =
        parse_secret_parameters(vars.get("SECRET_PARAMETERS").ok_or(ConfigError::Missing("SECRET_PARAMETERS"))?)?;
    Ok((!leaves.is_empty()).then(|| (path.to_string(), leaves)))
}

/// Reads the parameters `<path>/<leaf>` for `leaves` (already checked by
/// [`parse_secret_parameters`]), decrypted, as (variable, value) pairs. A listed parameter that
/// does not exist is skipped (the configuration reports a required one missing); an answered
/// parameter that was not asked for, or is not on the allowlist, is ignored with a warning that
/// names it (never its value).
#[cfg(feature = "ssm")]
pub async fn load_from_ssm(
    client: &aws_sdk_ssm::Client,
    path: &str,
    leaves: &[String],
) -> Result<Vec<(String, String)>, ConfigError> {
    let path = path.trim_end_matches('/');
    let wanted: HashMap<String, &'static str> =
        leaves.iter().filter_map(|leaf| Some((format!("{path}/{leaf}"), allowed_variable(leaf)?))).collect();
    let mut names: Vec<&String> = wanted.keys().collect();
    names.sort();
    let mut out = Vec::new();
    for chunk in names.chunks(MAX_NAMES_PER_CALL) {
        let page = client
            .get_parameters()
            .set_names(Some(chunk.iter().map(|n| n.to_string()).collect()))
            .with_decryption(true)
            .send()
            .await
            .map_err(|e| ConfigError::Secrets(aws_sdk_ssm::error::DisplayErrorContext(&e).to_string()))?;
        for p in page.parameters.unwrap_or_default() {
            let name = p.name.unwrap_or_default();
            match (wanted.get(&name), p.value) {
                (Some(var), Some(value)) => out.push((var.to_string(), value)),
                (Some(_), None) => tracing::warn!(parameter = %name, "SSM answered a secret parameter without a value"),
                (None, _) => tracing::warn!(parameter = %name, "ignored an SSM parameter that was not asked for"),
            }
        }
        for missing in page.invalid_parameters.unwrap_or_default() {
            tracing::info!(parameter = %missing, "secret parameter does not exist");
        }
    }
    Ok(out)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parameter_names_map_to_variables() {
        assert_eq!(
            variable_for_parameter("/social-login/prod/facebook-app-secret").as_deref(),
            Some("FACEBOOK_APP_SECRET")
        );
        assert_eq!(variable_for_parameter("/social-login/prod/token-secret").as_deref(), Some("TOKEN_SECRET"));
        assert_eq!(variable_for_parameter("/x/Weird_Name"), None);
        assert_eq!(variable_for_parameter("/x/"), None);
    }

    #[test]
    fn only_the_allowlist_maps_to_a_secret_variable() {
        assert_eq!(allowed_variable("/p/token-secret"), Some("TOKEN_SECRET"));
        assert_eq!(allowed_variable("github-client-secret"), Some("GITHUB_CLIENT_SECRET"));
        for other in ["/p/aws-endpoint-url-dynamodb", "/p/facebook-graph-url", "/p/table-name", "/p/TOKEN_SECRET"] {
            assert_eq!(allowed_variable(other), None, "{other}");
        }
        for var in SECRET_VARIABLES {
            assert_eq!(allowed_variable(&parameter_leaf(var)), Some(*var));
        }
    }

    #[test]
    fn secret_parameters_accept_only_allowlisted_leaves() {
        assert_eq!(
            parse_secret_parameters(" token-secret, facebook-app-secret,token-secret ,").expect("valid"),
            ["token-secret", "facebook-app-secret"]
        );
        assert_eq!(parse_secret_parameters("").expect("empty"), Vec::<String>::new());
        for bad in ["token-secret,facebook-graph-url", "aws-endpoint-url-dynamodb", "x/token-secret", "TOKEN_SECRET"] {
            assert!(
                matches!(parse_secret_parameters(bad), Err(ConfigError::Invalid { name: "SECRET_PARAMETERS", .. })),
                "{bad}"
            );
        }
    }

    /// Loading from SSM: only with the client (the `ssm` feature).
    #[cfg(feature = "ssm")]
    mod from_ssm {
        use super::*;

        /// Every call a stub received: the target and the names asked for.
        type Calls = std::sync::Arc<std::sync::Mutex<Vec<(String, Vec<String>)>>>;

        struct StubSsm {
            calls: Calls,
            client: aws_sdk_ssm::Client,
        }

        /// A stand-in for SSM's JSON protocol: answers `GetParameters` from `stored`, and (like a
        /// misbehaving or compromised endpoint) always adds `extra`; records every call.
        async fn stub_ssm(stored: &[(&str, &str)], extra: &[(&str, &str)]) -> StubSsm {
            use axum::http::{HeaderMap, HeaderValue};
            use axum::response::IntoResponse;
            let stored: HashMap<String, String> = stored.iter().map(|(k, v)| (k.to_string(), v.to_string())).collect();
            let extra: Vec<(String, String)> = extra.iter().map(|(k, v)| (k.to_string(), v.to_string())).collect();
            let calls = std::sync::Arc::new(std::sync::Mutex::new(Vec::new()));
            let seen = calls.clone();
            let app = axum::Router::new().fallback(move |headers: HeaderMap, body: axum::body::Bytes| {
                let (stored, extra, seen) = (stored.clone(), extra.clone(), seen.clone());
                async move {
                    let target = headers.get("x-amz-target").and_then(|v| v.to_str().ok()).unwrap_or_default().to_string();
                    let request: serde_json::Value = serde_json::from_slice(&body).unwrap_or_default();
                    let names: Vec<String> = request["Names"]
                        .as_array()
                        .map(|a| a.iter().filter_map(|n| n.as_str().map(String::from)).collect())
                        .unwrap_or_default();
                    seen.lock().expect("lock").push((target, names.clone()));
                    let param =
                        |n: &str, v: &str| serde_json::json!({"Name": n, "Type": "SecureString", "Value": v, "Version": 1});
                    let mut found: Vec<serde_json::Value> =
                        names.iter().filter_map(|n| stored.get(n).map(|v| param(n, v))).collect();
                    found.extend(extra.iter().map(|(n, v)| param(n, v)));
                    let invalid: Vec<&String> = names.iter().filter(|n| !stored.contains_key(*n)).collect();
                    let mut response =
                        serde_json::json!({"Parameters": found, "InvalidParameters": invalid}).to_string().into_response();
                    response.headers_mut().insert("content-type", HeaderValue::from_static("application/x-amz-json-1.1"));
                    response
                }
            });
            let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.expect("bind");
            let addr = listener.local_addr().expect("addr");
            tokio::spawn(async move { axum::serve(listener, app).await });
            let conf = aws_sdk_ssm::Config::builder()
                .behavior_version(aws_sdk_ssm::config::BehaviorVersion::latest())
                .region(aws_sdk_ssm::config::Region::new("us-east-1"))
                .credentials_provider(aws_sdk_ssm::config::Credentials::new("test", "test", None, None, "test"))
                .endpoint_url(format!("http://{addr}"))
                .build();
            StubSsm { calls, client: aws_sdk_ssm::Client::from_conf(conf) }
        }

        fn env(pairs: &[(&str, &str)]) -> HashMap<String, String> {
            pairs.iter().map(|(k, v)| (k.to_string(), v.to_string())).collect()
        }

        /// Log lines written while `f` runs (this thread only).
        #[derive(Clone, Default)]
        struct Captured(std::sync::Arc<std::sync::Mutex<Vec<u8>>>);

        impl std::io::Write for Captured {
            fn write(&mut self, buf: &[u8]) -> std::io::Result<usize> {
                self.0.lock().expect("lock").extend_from_slice(buf);
                Ok(buf.len())
            }
            fn flush(&mut self) -> std::io::Result<()> {
                Ok(())
            }
        }

        /// What `App::from_env` does with `vars`: [`secrets_to_read`], then [`load_from_ssm`].
        async fn merge_from_ssm(
            ssm: &aws_sdk_ssm::Client,
            vars: &mut HashMap<String, String>,
        ) -> Result<(), ConfigError> {
            if let Some((path, leaves)) = secrets_to_read(vars)? {
                vars.extend(load_from_ssm(ssm, &path, &leaves).await?);
            }
            Ok(())
        }

        #[tokio::test]
        async fn only_the_listed_allowlisted_parameters_are_requested_and_taken() {
            let ssm = stub_ssm(
                &[
                    ("/sl/test/token-secret", "token-secret-value-0123456789abcdef"),
                    ("/sl/test/facebook-app-secret", "fb-secret-value"),
                    ("/sl/test/twitter-consumer-secret", "tw-secret-value"),
                    ("/sl/test/aws-endpoint-url-dynamodb", "http://evil.example"),
                ],
                &[
                    ("/sl/test/aws-endpoint-url-dynamodb", "http://evil.example"),
                    ("/sl/test/facebook-graph-url", "http://evil.example"),
                    ("/sl/test/twitter-consumer-secret", "tw-secret-value"),
                ],
            )
            .await;
            let mut vars = env(&[
                ("SECRETS_PARAMETER_PATH", "/sl/test"),
                ("SECRET_PARAMETERS", "token-secret,facebook-app-secret,github-client-secret"),
                ("TABLE_NAME", "users"),
            ]);
            let logs = Captured::default();
            let sink = logs.clone();
            let subscriber = tracing_subscriber::fmt().with_writer(move || sink.clone()).with_ansi(false).finish();
            let guard = tracing::subscriber::set_default(subscriber);
            merge_from_ssm(&ssm.client, &mut vars).await.expect("loaded");
            drop(guard);

            let calls = ssm.calls.lock().expect("lock").clone();
            assert_eq!(calls.len(), 1, "{calls:?}");
            assert_eq!(calls[0].0, "AmazonSSM.GetParameters");
            let mut asked = calls[0].1.clone();
            asked.sort();
            assert_eq!(
                asked,
                ["/sl/test/facebook-app-secret", "/sl/test/github-client-secret", "/sl/test/token-secret"]
            );
            assert_eq!(vars["TOKEN_SECRET"], "token-secret-value-0123456789abcdef");
            assert_eq!(vars["FACEBOOK_APP_SECRET"], "fb-secret-value");
            // Answered but not asked for: ignored, whether on the allowlist or not.
            for ignored in
                ["AWS_ENDPOINT_URL_DYNAMODB", "FACEBOOK_GRAPH_URL", "TWITTER_CONSUMER_SECRET", "GITHUB_CLIENT_SECRET"]
            {
                assert!(!vars.contains_key(ignored), "{ignored}");
            }
            let logs = String::from_utf8(logs.0.lock().expect("lock").clone()).expect("utf-8");
            assert!(logs.contains("WARN") && logs.contains("/sl/test/aws-endpoint-url-dynamodb"), "{logs}");
            assert!(logs.contains("/sl/test/facebook-graph-url"), "{logs}");
            assert!(!logs.contains("evil.example") && !logs.contains("secret-value"), "{logs}");
        }

        #[tokio::test]
        async fn a_parameter_outside_the_allowlist_is_refused_before_any_request() {
            let ssm = stub_ssm(&[("/sl/test/aws-endpoint-url-dynamodb", "http://evil.example")], &[]).await;
            for listed in ["token-secret,aws-endpoint-url-dynamodb", "facebook-graph-url"] {
                let mut vars = env(&[("SECRETS_PARAMETER_PATH", "/sl/test"), ("SECRET_PARAMETERS", listed)]);
                let err = merge_from_ssm(&ssm.client, &mut vars).await.expect_err(listed);
                assert!(matches!(err, ConfigError::Invalid { name: "SECRET_PARAMETERS", .. }), "{err}");
            }
            // With the path set, the list is required, and secrets may not also be in the environment.
            let mut vars = env(&[("SECRETS_PARAMETER_PATH", "/sl/test")]);
            assert_eq!(merge_from_ssm(&ssm.client, &mut vars).await, Err(ConfigError::Missing("SECRET_PARAMETERS")));
            let mut vars = env(&[
                ("SECRETS_PARAMETER_PATH", "/sl/test"),
                ("SECRET_PARAMETERS", "token-secret"),
                ("TOKEN_SECRET", "from-the-environment-0123456789abcdef"),
            ]);
            assert!(matches!(
                merge_from_ssm(&ssm.client, &mut vars).await,
                Err(ConfigError::Invalid { name: "SECRETS_PARAMETER_PATH", .. })
            ));
            // Without a path, nothing is read.
            let mut vars = env(&[("SECRET_PARAMETERS", "token-secret")]);
            merge_from_ssm(&ssm.client, &mut vars).await.expect("no-op");
            assert_eq!(vars.len(), 1);
            assert!(ssm.calls.lock().expect("lock").is_empty());
        }

        #[tokio::test]
        async fn every_allowlisted_leaf_is_asked_once_and_missing_ones_are_skipped() {
            let ssm = stub_ssm(&[("/sl/test/token-secret", "t")], &[]).await;
            let leaves: Vec<String> = SECRET_VARIABLES.iter().map(|v| parameter_leaf(v)).collect();
            let loaded = load_from_ssm(&ssm.client, "/sl/test/", &leaves).await.expect("loaded");
            assert_eq!(loaded, [("TOKEN_SECRET".to_string(), "t".to_string())]);
            let calls = ssm.calls.lock().expect("lock").clone();
            assert!(calls.iter().all(|(_, names)| names.len() <= MAX_NAMES_PER_CALL));
            assert_eq!(calls.iter().map(|(_, n)| n.len()).sum::<usize>(), SECRET_VARIABLES.len());
        }
    }
}
