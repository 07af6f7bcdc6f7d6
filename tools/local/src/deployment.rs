//! The template deployed on loopback, as the shipped binaries see it: each function's
//! environment exactly as SAM would set it from `template.yaml` (its `Globals` and its own
//! variables, with the parameter overrides a deployment of the local stack uses), its secrets
//! in an SSM Parameter Store stand-in under `SecretsParameterPath`, and the endpoints a real
//! deployment leaves at their AWS and provider defaults pointed at DynamoDB Local and the
//! provider emulator.

use std::collections::{BTreeMap, HashMap};

use axum::http::{HeaderMap, HeaderValue};
use axum::response::IntoResponse;

use crate::template::{Template, TemplateError};

/// `SecretsParameterPath` of a loopback deployment.
pub const SECRETS_PATH: &str = "/social-login/local";

/// The stack name (`AWS::StackName`) of a loopback deployment.
pub const STACK_NAME: &str = "social-login-local";

/// The template parameter each configuration variable comes from (what `sam deploy
/// --parameter-overrides` sets for this deployment).
const PARAMETERS: [(&str, &str); 12] = [
    ("PublicBaseUrl", "PUBLIC_BASE_URL"),
    ("DefaultInstance", "DEFAULT_INSTANCE"),
    ("FacebookAppId", "FACEBOOK_APP_ID"),
    ("GoogleClientIds", "GOOGLE_CLIENT_IDS"),
    ("TwitterConsumerKey", "TWITTER_CONSUMER_KEY"),
    ("LinkedInClientId", "LINKEDIN_CLIENT_ID"),
    ("AppleClientIds", "APPLE_CLIENT_IDS"),
    ("AppleTeamId", "APPLE_TEAM_ID"),
    ("AppleKeyId", "APPLE_KEY_ID"),
    ("GitHubClientId", "GITHUB_CLIENT_ID"),
    ("MicrosoftClientIds", "MICROSOFT_CLIENT_IDS"),
    ("MicrosoftTenant", "MICROSOFT_TENANT"),
];

/// A deployment of `template` whose settings are `vars` (the local stack's: provider ids and
/// URLs, secrets, `TABLE_NAME`, `PUBLIC_BASE_URL`, `DEFAULT_INSTANCE`, the DynamoDB endpoint).
pub struct Deployment<'a> {
    pub template: &'a Template,
    pub vars: &'a HashMap<String, String>,
    /// Template parameters set beyond [`PARAMETERS`] (e.g. `ProviderTimeoutMs`).
    pub parameter_overrides: HashMap<String, String>,
    /// The SSM stand-in's endpoint ([`serve_ssm`]).
    pub ssm_endpoint: String,
}

impl Deployment<'_> {
    /// What a template `!Ref` names, for this deployment.
    fn reference(&self, name: &str) -> Option<String> {
        if let Some(v) = self.parameter_overrides.get(name) {
            return Some(v.clone());
        }
        match name {
            "UsersTable" => self.vars.get("TABLE_NAME").cloned(),
            "SecretsParameterPath" => Some(SECRETS_PATH.to_owned()),
            "AWS::StackName" => Some(STACK_NAME.to_owned()),
            _ => PARAMETERS.iter().find(|(p, _)| *p == name).and_then(|(_, var)| self.vars.get(*var).cloned()),
        }
    }

    /// The environment of the function `logical_id`: the template's, then the endpoints.
    pub fn environment(&self, logical_id: &str) -> Result<BTreeMap<String, String>, TemplateError> {
        let mut env = self.template.environment(logical_id, &|name| self.reference(name))?;
        env.extend(self.endpoints());
        Ok(env)
    }

    /// What a real deployment leaves at its default (AWS's endpoints, the providers' URLs:
    /// [`shared::config::ENDPOINT_VARIABLES`], which the template declares empty), pointed at
    /// loopback: those of `vars`, plus the SSM endpoint.
    pub fn endpoints(&self) -> BTreeMap<String, String> {
        let mut out: BTreeMap<String, String> = self
            .vars
            .iter()
            .filter(|(k, _)| shared::config::ENDPOINT_VARIABLES.contains(&k.as_str()))
            .map(|(k, v)| (k.clone(), v.clone()))
            .collect();
        out.insert("AWS_ENDPOINT_URL_SSM".into(), self.ssm_endpoint.clone());
        out
    }

    /// The `sam local invoke|start-api --env-vars` file of this deployment: every function's
    /// environment exactly as [`Self::environment`] gives it to the shipped binaries, with each
    /// endpoint's loopback host (`127.0.0.1`, `localhost`) replaced by `container_host`, the name under
    /// which a container reaches this machine (`host.docker.internal` with Docker Desktop;
    /// `127.0.0.1` with `--docker-network host` on Linux).
    pub fn sam_env_vars(&self, container_host: &str) -> Result<serde_json::Value, TemplateError> {
        let mut file = serde_json::Map::new();
        for def in self.template.function_defs() {
            let env = self.environment(&def.logical_id)?;
            let env: serde_json::Map<String, serde_json::Value> = env
                .into_iter()
                .map(|(k, v)| {
                    let endpoint = shared::config::ENDPOINT_VARIABLES.contains(&k.as_str());
                    let v = if endpoint { in_container(&v, container_host) } else { v };
                    (k, serde_json::Value::String(v))
                })
                .collect();
            file.insert(def.logical_id.clone(), serde_json::Value::Object(env));
        }
        Ok(serde_json::Value::Object(file))
    }

    /// The SSM parameters of this deployment: every secret of `vars`, under [`SECRETS_PATH`].
    pub fn ssm_parameters(&self) -> HashMap<String, String> {
        self.vars
            .iter()
            .filter(|(k, _)| shared::config::parameter_store::SECRET_VARIABLES.contains(&k.as_str()))
            .map(|(k, v)| (format!("{SECRETS_PATH}/{}", shared::config::parameter_store::parameter_leaf(k)), v.clone()))
            .collect()
    }
}

/// `value` with a loopback URL's host (`http://127.0.0.1:…`, `http://localhost:…`) replaced by
/// `host`; any other value as it is.
pub fn in_container(value: &str, host: &str) -> String {
    for loopback in ["127.0.0.1", "localhost"] {
        for scheme in ["http://", "https://"] {
            if let Some(rest) = value.strip_prefix(&format!("{scheme}{loopback}")) {
                if rest.is_empty() || rest.starts_with([':', '/']) {
                    return format!("{scheme}{host}{rest}");
                }
            }
        }
    }
    value.to_owned()
}

/// Serves SSM Parameter Store's `GetParameters` (AWS JSON 1.1) from `parameters` on loopback,
/// as SecureStrings; names it does not hold are `InvalidParameters`, as SSM answers them.
/// Returns the endpoint URL.
pub async fn serve_ssm(parameters: HashMap<String, String>) -> std::io::Result<String> {
    let app = axum::Router::new().fallback(move |headers: HeaderMap, body: axum::body::Bytes| {
        let parameters = parameters.clone();
        async move {
            let target = headers.get("x-amz-target").and_then(|v| v.to_str().ok()).unwrap_or_default();
            let request: serde_json::Value = serde_json::from_slice(&body).unwrap_or_default();
            let answer = if target != "AmazonSSM.GetParameters" {
                let error = serde_json::json!({"__type": "UnknownOperationException", "message": target});
                (axum::http::StatusCode::BAD_REQUEST, error.to_string())
            } else {
                let names: Vec<&str> = request["Names"]
                    .as_array()
                    .map(|a| a.iter().filter_map(|n| n.as_str()).collect())
                    .unwrap_or_default();
                let found: Vec<serde_json::Value> = names
                    .iter()
                    .filter_map(|n| {
                        let value = parameters.get(*n)?;
                        Some(serde_json::json!({"Name": n, "Type": "SecureString", "Value": value, "Version": 1}))
                    })
                    .collect();
                let invalid: Vec<&&str> = names.iter().filter(|n| !parameters.contains_key(**n)).collect();
                let body = serde_json::json!({"Parameters": found, "InvalidParameters": invalid});
                (axum::http::StatusCode::OK, body.to_string())
            };
            let mut response = answer.into_response();
            response.headers_mut().insert("content-type", HeaderValue::from_static("application/x-amz-json-1.1"));
            response
        }
    });
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await?;
    let addr = listener.local_addr()?;
    tokio::spawn(async move { axum::serve(listener, app).await });
    Ok(format!("http://{addr}"))
}
