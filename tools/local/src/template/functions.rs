//! The template's functions: each `AWS::Serverless::Function`'s Cargo package
//! ([`FunctionDef`]), its HTTP API routes ([`Route`], from its `HttpApi` events) and whether
//! EventBridge runs it on a schedule.

use serde_yaml::Value;

use super::{literal_string, TemplateError};

/// An HTTP API route: an `Events` entry of `Type: HttpApi` on a function.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Route {
    /// Upper-cased HTTP method, or `ANY`.
    pub method: String,
    /// The path as written in the template, e.g. `/v1.1/instances/{instance}/user/auth/facebook/`,
    /// or `$default` for an event without `Path`/`Method` (the catch-all route).
    pub path: String,
    /// Logical id of the function resource.
    pub function_logical_id: String,
    /// Cargo package of the function (`BuildProperties.Binary`, else the last component of `CodeUri`).
    pub package: String,
    /// The HTTP API authorizer the event names (`Auth.Authorizer`), if any.
    pub authorizer: Option<String>,
}

impl Route {
    /// The path of the catch-all route.
    pub const DEFAULT_PATH: &'static str = "$default";

    /// The API Gateway route key: `"POST /path/{x}"`, or `"$default"`.
    pub fn route_key(&self) -> String {
        if self.path == Self::DEFAULT_PATH {
            Self::DEFAULT_PATH.to_owned()
        } else {
            format!("{} {}", self.method, self.path)
        }
    }
}

/// An `AWS::Serverless::Function` of the template.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct FunctionDef {
    /// Its logical id (`FacebookLoginFunction`): `sam build` writes `.aws-sam/build/<id>/bootstrap`.
    pub logical_id: String,
    /// Its Cargo package (`facebook-login`): `events/<package>/` holds its samples.
    pub package: String,
}

/// Whether a function has an `Events` entry of `Type: Schedule`.
pub(super) fn has_schedule(resource: &Value) -> bool {
    resource
        .get("Properties")
        .and_then(|p| p.get("Events"))
        .and_then(Value::as_mapping)
        .is_some_and(|events| events.values().any(|e| e.get("Type").and_then(Value::as_str) == Some("Schedule")))
}

/// The routes of one `AWS::Serverless::Function` (only `HttpApi` events; others are ignored).
pub(super) fn function_routes(
    id: &str,
    resource: &Value,
    global_code_uri: Option<&Value>,
) -> Result<Vec<Route>, TemplateError> {
    let invalid = |message: String| TemplateError::Invalid { resource: id.to_owned(), message };
    let properties = resource.get("Properties");
    let Some(events) = properties.and_then(|p| p.get("Events")) else {
        return Ok(Vec::new());
    };
    let events = events.as_mapping().ok_or_else(|| invalid("`Events` is not a mapping".into()))?;

    let mut endpoints = Vec::new();
    for (name, event) in events {
        let name = name.as_str().unwrap_or("?");
        if event.get("Type").and_then(Value::as_str) != Some("HttpApi") {
            continue;
        }
        let props = event.get("Properties");
        let field = |key: &str| -> Result<Option<String>, TemplateError> {
            match props.and_then(|p| p.get(key)) {
                None => Ok(None),
                Some(v) => literal_string(v)
                    .map(Some)
                    .ok_or_else(|| invalid(format!("event `{name}`: `{key}` must be a literal string"))),
            }
        };
        let authorizer = props.and_then(|p| p.get("Auth")).and_then(|a| a.get("Authorizer")).and_then(literal_string);
        endpoints.push(match (field("Method")?, field("Path")?) {
            (Some(method), Some(path)) => (method.to_ascii_uppercase(), path, authorizer),
            (None, None) => ("ANY".to_owned(), Route::DEFAULT_PATH.to_owned(), authorizer),
            _ => return Err(invalid(format!("event `{name}`: needs both `Path` and `Method`, or neither"))),
        });
    }
    if endpoints.is_empty() {
        return Ok(Vec::new());
    }

    let package = function_package(id, resource, global_code_uri)?;
    Ok(endpoints
        .into_iter()
        .map(|(method, path, authorizer)| Route {
            method,
            path,
            function_logical_id: id.to_owned(),
            package: package.clone(),
            authorizer,
        })
        .collect())
}

/// The Cargo package a function is built from: `Metadata.BuildProperties.Binary` if present
/// (cargo-lambda builds), else the last path component of `CodeUri`.
pub(super) fn function_package(
    id: &str,
    resource: &Value,
    global_code_uri: Option<&Value>,
) -> Result<String, TemplateError> {
    let invalid = |message: &str| TemplateError::Invalid { resource: id.to_owned(), message: message.to_owned() };
    let binary = resource.get("Metadata").and_then(|m| m.get("BuildProperties")).and_then(|b| b.get("Binary"));
    if let Some(binary) = binary {
        return literal_string(binary)
            .ok_or_else(|| invalid("`Metadata.BuildProperties.Binary` must be a literal string"));
    }
    let code_uri = resource
        .get("Properties")
        .and_then(|p| p.get("CodeUri"))
        .or(global_code_uri)
        .ok_or_else(|| invalid("function has neither `CodeUri` nor `Metadata.BuildProperties.Binary`"))?;
    let code_uri = literal_string(code_uri).ok_or_else(|| invalid("`CodeUri` must be a literal path"))?;
    code_uri
        .trim_end_matches('/')
        .rsplit('/')
        .next()
        .filter(|last| !last.is_empty() && *last != ".")
        .map(str::to_owned)
        .ok_or_else(|| invalid("`CodeUri` does not name a package directory; set `Metadata.BuildProperties.Binary`"))
}
