//! Graph requests: everything the emulator serves outside `/_emulator/` and the other providers'
//! prefixes. Strips the version prefix, reads the parameters and the access token, and routes to
//! the endpoint.

use std::collections::HashMap;
use std::sync::Arc;

use axum::body::Bytes;
use axum::extract::{Request, State};
use axum::http::{header, request::Parts, HeaderMap, Method, StatusCode};
use axum::response::{IntoResponse, Response};

use super::debug_token::debug_token;
use super::me::me;
use super::test_users::create_test_user;
use super::{Facebook, GraphError};
use crate::state::Shared;
use crate::util::form_body;

/// Every request outside `/_emulator/`: count it, apply the fault, then serve Graph.
pub(crate) async fn graph(State(shared): State<Arc<Shared>>, req: Request) -> Response {
    let (parts, body) = req.into_parts();
    if let Some(response) = shared.provider_fault(&parts.extensions, |_| None).await {
        return response;
    }
    let body = match axum::body::to_bytes(body, 1 << 20).await {
        Ok(body) => body,
        Err(_) => {
            return GraphError::new(
                StatusCode::BAD_REQUEST,
                "OAuthException",
                100,
                "(#100) The request body could not be read",
            )
            .into_response()
        }
    };
    match handle(&shared.facebook, &parts, &body) {
        Ok(response) => response,
        Err(error) => error.into_response(),
    }
}

/// Serves one Graph request (faults already applied by the caller).
fn handle(fb: &Facebook, parts: &Parts, body: &Bytes) -> Result<Response, GraphError> {
    let params = params(parts, body)?;
    let token = access_token(&params, &parts.headers);
    let mut segments: Vec<&str> = parts.uri.path().split('/').filter(|s| !s.is_empty()).collect();
    if segments.first().is_some_and(|s| is_version(s)) {
        segments.remove(0);
    }
    let method = &parts.method;
    match segments.as_slice() {
        ["me"] if method == Method::GET => me(fb, &params, token).map(IntoResponse::into_response),
        ["debug_token"] if method == Method::GET => debug_token(fb, &params, token).map(IntoResponse::into_response),
        [app_id, "accounts", "test-users"] if method == Method::POST => {
            create_test_user(fb, app_id, &params, token).map(IntoResponse::into_response)
        }
        [user_id, "permissions"] if method == Method::DELETE => {
            let token = token.ok_or_else(GraphError::cannot_parse)?;
            match fb.delete_permissions(&token, params.get("appsecret_proof").map(String::as_str), user_id)? {
                true => {
                    fb.permission_deletions.fetch_add(1, std::sync::atomic::Ordering::SeqCst);
                    Ok(axum::Json(serde_json::json!({ "success": true })).into_response())
                }
                false => Err(GraphError::unsupported(method, Some(user_id))),
            }
        }
        ["me"] | ["debug_token"] => Err(GraphError::unsupported(method, None)),
        [app_id, "accounts", "test-users"] => Err(GraphError::unsupported(method, Some(app_id))),
        [_, rest @ ..] if !rest.is_empty() => Err(GraphError::unknown_path(&format!("/{}", rest.join("/")))),
        _ => Err(GraphError::unknown_path(&format!("/{}", segments.join("/")))),
    }
}

/// `v\d+\.\d+`
fn is_version(segment: &str) -> bool {
    let Some(rest) = segment.strip_prefix('v') else {
        return false;
    };
    let Some((major, minor)) = rest.split_once('.') else {
        return false;
    };
    let digits = |s: &str| !s.is_empty() && s.bytes().all(|b| b.is_ascii_digit());
    digits(major) && digits(minor)
}

/// Query parameters, plus the form body of a POST (Graph accepts parameters in either).
fn params(parts: &Parts, body: &Bytes) -> Result<HashMap<String, String>, GraphError> {
    let mut params = HashMap::new();
    if let Some(query) = parts.uri.query() {
        let pairs: Vec<(String, String)> =
            serde_urlencoded::from_str(query).map_err(|_| GraphError::param("(#100) Invalid query string"))?;
        params.extend(pairs);
    }
    if let Some(form) = form_body(parts, body) {
        let pairs: Vec<(String, String)> =
            serde_urlencoded::from_bytes(form).map_err(|_| GraphError::param("(#100) Invalid form body"))?;
        params.extend(pairs);
    }
    Ok(params)
}

/// The access token from `access_token=`, else from `Authorization: Bearer|OAuth <token>`.
fn access_token(params: &HashMap<String, String>, headers: &HeaderMap) -> Option<String> {
    if let Some(token) = params.get("access_token").filter(|t| !t.is_empty()) {
        return Some(token.clone());
    }
    let value = headers.get(header::AUTHORIZATION)?.to_str().ok()?.trim();
    let (scheme, token) = value.split_once(' ')?;
    let token = token.trim();
    let known = scheme.eq_ignore_ascii_case("bearer") || scheme.eq_ignore_ascii_case("oauth");
    (known && !token.is_empty()).then(|| token.to_string())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn versions() {
        assert!(is_version("v22.0"));
        assert!(is_version("v2.12"));
        assert!(!is_version("v22"));
        assert!(!is_version("22.0"));
        assert!(!is_version("v.0"));
        assert!(!is_version("me"));
    }
}
