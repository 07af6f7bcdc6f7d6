//! The HTTP API's Lambda authorizers ([`AuthorizerDef`]): the function each names, its
//! identity sources and how long its answers are cached.

use std::collections::HashMap;

use serde_yaml::Value;

use super::{literal_string, TemplateError};

/// A Lambda authorizer of the HTTP API, as API Gateway runs it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct AuthorizerDef {
    /// `Identity.Headers`, lowercase: a request without one of them is 401 without a call.
    pub identity_headers: Vec<String>,
    /// `Identity.Context`: context variables (`path`, `routeKey`, ...) that are part of the
    /// identity, hence of the cache key.
    pub identity_context: Vec<String>,
    /// The Cargo package of the function `FunctionArn` names (`!Ref <Function>.Alias`, the
    /// published alias, or `!GetAtt <Function>.Arn`).
    pub package: String,
    /// `Identity.ReauthorizeEvery` (a literal, or a parameter's default): how long an answer
    /// is cached per identity; 0 = not cached.
    pub cache_secs: u64,
}

/// `Properties.Auth.Authorizers` of an `AWS::Serverless::HttpApi`, by name.
pub(super) fn http_api_authorizers(
    id: &str,
    resource: &Value,
    packages: &HashMap<String, String>,
    parameters: Option<&Value>,
) -> Result<Vec<(String, AuthorizerDef)>, TemplateError> {
    let Some(map) = resource
        .get("Properties")
        .and_then(|p| p.get("Auth"))
        .and_then(|a| a.get("Authorizers"))
        .and_then(Value::as_mapping)
    else {
        return Ok(Vec::new());
    };
    let invalid = |name: &str, message: &str| TemplateError::Invalid {
        resource: id.to_owned(),
        message: format!("authorizer `{name}`: {message}"),
    };
    let list = |identity: Option<&Value>, key: &str| -> Vec<String> {
        identity
            .and_then(|i| i.get(key))
            .and_then(Value::as_sequence)
            .map(|items| items.iter().filter_map(Value::as_str).map(str::to_owned).collect())
            .unwrap_or_default()
    };
    let mut out = Vec::new();
    for (name, def) in map {
        let name = name.as_str().ok_or_else(|| invalid("?", "name is not a string"))?;
        // The function's published alias (`AutoPublishAlias`), as deployed, or the function itself.
        let function = match def.get("FunctionArn") {
            Some(Value::Tagged(t)) if t.tag == "Ref" => {
                t.value.as_str().and_then(|v| v.strip_suffix(".Alias")).map(str::to_owned)
            }
            Some(Value::Tagged(t)) if t.tag == "GetAtt" => {
                t.value.as_str().and_then(|v| v.strip_suffix(".Arn")).map(str::to_owned)
            }
            _ => None,
        }
        .ok_or_else(|| invalid(name, "`FunctionArn` must be `!Ref <Function>.Alias` or `!GetAtt <Function>.Arn`"))?;
        let package = packages
            .get(&function)
            .cloned()
            .ok_or_else(|| invalid(name, "its function is not in the template, or names no package"))?;
        let identity = def.get("Identity");
        let cache_secs = match identity.and_then(|i| i.get("ReauthorizeEvery")) {
            None => 300,
            Some(Value::Tagged(t)) if t.tag == "Ref" => t
                .value
                .as_str()
                .and_then(|p| parameters?.get(p)?.get("Default"))
                .and_then(literal_string)
                .and_then(|v| v.parse().ok())
                .ok_or_else(|| invalid(name, "`ReauthorizeEvery` refers to a parameter without a numeric default"))?,
            Some(v) => literal_string(v)
                .and_then(|v| v.parse().ok())
                .ok_or_else(|| invalid(name, "`ReauthorizeEvery` must be a number"))?,
        };
        out.push((
            name.to_owned(),
            AuthorizerDef {
                identity_headers: list(identity, "Headers").iter().map(|h| h.to_ascii_lowercase()).collect(),
                identity_context: list(identity, "Context"),
                package,
                cache_secs,
            },
        ));
    }
    Ok(out)
}
