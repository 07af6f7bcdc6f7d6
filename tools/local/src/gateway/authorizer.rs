//! Lambda authorizers as API Gateway runs them: identity sources, the simple response, and the
//! cache of answers by identity.

use std::collections::HashMap;
use std::future::Future;
use std::pin::Pin;
use std::sync::{Arc, Mutex};
use std::time::Instant;

use axum::http::StatusCode;
use axum::response::Response;
use lambda_http::aws_lambda_events::apigw::ApiGatewayV2httpRequest;

use super::dispatch::api_error;
use crate::template::AuthorizerDef;

/// A Lambda authorizer, called with its payload 2.0 event (JSON) and answering with its simple
/// response (JSON), as API Gateway calls it.
pub type Authorizer = Arc<
    dyn Fn(serde_json::Value) -> Pin<Box<dyn Future<Output = Result<serde_json::Value, String>> + Send>> + Send + Sync,
>;

/// An authorizer's answer for an identity, and when it was given.
type CachedAnswers = HashMap<(String, Vec<String>), (serde_json::Value, Instant)>;

/// The authorizers of the template, the functions that run them, and API Gateway's cache of their
/// answers: by authorizer and identity (the identity sources' values), for `cache_secs`.
pub struct Authorizers {
    pub(super) defs: HashMap<String, AuthorizerDef>,
    pub(super) functions: HashMap<String, Authorizer>,
    pub(super) cache: Mutex<CachedAnswers>,
}

impl Authorizers {
    /// `defs` by name (from the template); `functions` by package.
    pub fn new(defs: HashMap<String, AuthorizerDef>, functions: HashMap<String, Authorizer>) -> Authorizers {
        Authorizers { defs, functions, cache: Mutex::new(HashMap::new()) }
    }
}

/// API Gateway's authorizer step for `event`: the event with the authorizer's context, or the
/// response API Gateway gives instead of calling the function. Answers are cached by authorizer
/// and identity (headers, then context variables, as the template lists them), as API Gateway
/// caches them: an allow is reused for any route whose identity is the same.
pub(super) async fn authorize(
    authorizers: &Authorizers,
    name: &str,
    event: &ApiGatewayV2httpRequest,
) -> Result<ApiGatewayV2httpRequest, Response> {
    let internal = |e: String| {
        tracing::error!(authorizer = name, error = %e, "authorizer failed");
        api_error(StatusCode::INTERNAL_SERVER_ERROR, "Internal Server Error")
    };
    let def = authorizers.defs.get(name).ok_or_else(|| internal("unknown authorizer".into()))?;
    let headers: Option<Vec<String>> = def
        .identity_headers
        .iter()
        .map(|h| event.headers.get(h.as_str()).and_then(|v| v.to_str().ok()).map(str::to_owned))
        .collect();
    let Some(mut identity) = headers else {
        return Err(api_error(StatusCode::UNAUTHORIZED, "Unauthorized"));
    };
    for variable in &def.identity_context {
        let value = match variable.as_str() {
            "path" => event.request_context.http.path.clone(),
            "routeKey" => event.route_key.clone(),
            other => return Err(internal(format!("identity source $context.{other} is not emulated"))),
        };
        identity.push(value.unwrap_or_default());
    }
    // An event that is not JSON (a header value that is not UTF-8) is a request API Gateway would
    // not forward, as on routes without an authorizer: the client's 400, not the authorizer's 500.
    let mut value = serde_json::to_value(event).map_err(|e| {
        tracing::info!(reason = %e, "rejected a request API Gateway would not forward");
        api_error(StatusCode::BAD_REQUEST, "Bad Request")
    })?;
    let cache_key = (name.to_owned(), identity.clone());
    let cached = {
        let cache = authorizers.cache.lock().unwrap_or_else(|e| e.into_inner());
        cache.get(&cache_key).filter(|(_, until)| Instant::now() < *until).map(|(answer, _)| answer.clone())
    };
    let answer = match cached {
        Some(answer) => answer,
        None => {
            let function = authorizers
                .functions
                .get(&def.package)
                .ok_or_else(|| internal(format!("no function {}", def.package)))?;
            value["type"] = serde_json::json!("REQUEST");
            value["identitySource"] = serde_json::json!(identity);
            let answer = function(value.clone()).await.map_err(internal)?;
            if def.cache_secs > 0 {
                let until = Instant::now() + std::time::Duration::from_secs(def.cache_secs);
                authorizers.cache.lock().unwrap_or_else(|e| e.into_inner()).insert(cache_key, (answer.clone(), until));
            }
            answer
        }
    };
    if answer["isAuthorized"] != serde_json::json!(true) {
        return Err(api_error(StatusCode::FORBIDDEN, "Forbidden"));
    }
    value["requestContext"]["authorizer"] = serde_json::json!({ "lambda": answer["context"] });
    let obj = value.as_object_mut().ok_or_else(|| internal("event is not an object".into()))?;
    obj.remove("type");
    obj.remove("identitySource");
    serde_json::from_value(value).map_err(|e| internal(e.to_string()))
}
