//! The X API endpoints social-login calls (`/1.1/account/verify_credentials.json`,
//! `/2/users/me`), behind a gate that counts each request and applies the fault in X's shape.

use std::collections::HashMap;
use std::sync::Arc;

use axum::extract::{Request, State};
use axum::http::{header, request::Parts, HeaderMap, Method, StatusCode};
use axum::middleware::{self, Next};
use axum::response::{IntoResponse, Response};
use axum::routing::any;
use axum::{Json, Router};
use serde_json::{json, Value};

use super::errors::{v2_problem, v2_unauthorized, V1Error};
use crate::faults::Fault;
use crate::state::Shared;

/// The Twitter API routes (mounted at [`super::PREFIX`]): every request is counted and subject to the
/// emulator's fault.
pub(crate) fn router(shared: Arc<Shared>) -> Router<Arc<Shared>> {
    Router::new()
        .route("/1.1/account/verify_credentials.json", any(verify_credentials))
        .route("/2/users/me", any(users_me))
        .fallback(|| async { V1Error::not_found() })
        .layer(middleware::from_fn_with_state(shared, gate))
}

/// Counts the request and applies the fault, X-shaped where X's shape differs from Graph's.
async fn gate(State(shared): State<Arc<Shared>>, req: Request, next: Next) -> Response {
    let v2 = req.uri().path().starts_with("/2/");
    let fault = shared
        .provider_fault(req.extensions(), |fault| match fault {
            Fault::Status500 if v2 => {
                Some(v2_problem(StatusCode::INTERNAL_SERVER_ERROR, "Internal Server Error", "Internal Server Error"))
            }
            Fault::Status500 => Some(
                V1Error { status: StatusCode::INTERNAL_SERVER_ERROR, code: 131, message: "Internal error" }
                    .into_response(),
            ),
            Fault::RateLimited if v2 => {
                Some(v2_problem(StatusCode::TOO_MANY_REQUESTS, "Too Many Requests", "Too Many Requests"))
            }
            Fault::RateLimited => Some(
                V1Error { status: StatusCode::TOO_MANY_REQUESTS, code: 88, message: "Rate limit exceeded" }
                    .into_response(),
            ),
            _ => None,
        })
        .await;
    match fault {
        Some(response) => response,
        None => next.run(req).await,
    }
}

fn authorization(headers: &HeaderMap) -> Option<&str> {
    headers.get(header::AUTHORIZATION)?.to_str().ok().map(str::trim)
}

fn query_params(parts: &Parts) -> HashMap<String, String> {
    parts.uri.query().and_then(|q| serde_urlencoded::from_str(q).ok()).unwrap_or_default()
}

/// `GET /1.1/account/verify_credentials.json`
async fn verify_credentials(State(shared): State<Arc<Shared>>, req: Request) -> Response {
    let (parts, _) = req.into_parts();
    if parts.method != Method::GET {
        return V1Error::not_found().into_response();
    }
    let Some(auth) = authorization(&parts.headers).filter(|a| a.len() > 6 && a[..6].eq_ignore_ascii_case("oauth "))
    else {
        return V1Error::bad_auth_data().into_response();
    };
    let user_id = match shared.twitter.check_oauth1(&parts, auth) {
        Ok(user) => user,
        Err(e) => return e.into_response(),
    };
    let Some(user) = shared.twitter.user(&user_id) else {
        return V1Error::invalid_token().into_response();
    };
    let params = query_params(&parts);
    let flag = |k: &str| params.get(k).is_some_and(|v| v == "true" || v == "1" || v == "t");
    let id: u64 = user_id.parse().unwrap_or_default();
    let mut body = json!({
        "id": id,
        "id_str": user_id,
        "name": user.name,
        "screen_name": user.screen_name,
        "location": "",
        "description": "",
        "url": null,
        "protected": false,
        "followers_count": 0,
        "friends_count": 0,
        "listed_count": 0,
        "created_at": user.created_at,
        "favourites_count": 0,
        "verified": false,
        "statuses_count": 0,
        "profile_image_url": user.avatar.replacen("https://", "http://", 1),
        "profile_image_url_https": user.avatar,
        "default_profile": true,
        "default_profile_image": false,
        "suspended": false,
        "needs_phone_verification": false,
    });
    if !flag("skip_status") {
        body["status"] = Value::Null;
    }
    if flag("include_email") {
        body["email"] = user.email.map(Value::from).unwrap_or(Value::Null);
    }
    Json(body).into_response()
}

/// `GET /2/users/me`: a user bearer token, or an OAuth 1.0a signed request.
async fn users_me(State(shared): State<Arc<Shared>>, req: Request) -> Response {
    let (parts, _) = req.into_parts();
    if parts.method != Method::GET {
        return v2_problem(StatusCode::NOT_FOUND, "Not Found Error", "Sorry, that page does not exist.");
    }
    let user_id = match authorization(&parts.headers) {
        Some(a) if a.len() > 7 && a[..7].eq_ignore_ascii_case("bearer ") => shared.twitter.check_bearer(a[7..].trim()),
        Some(a) if a.len() > 6 && a[..6].eq_ignore_ascii_case("oauth ") => shared.twitter.check_oauth1(&parts, a).ok(),
        _ => None,
    };
    let Some((user_id, user)) = user_id.and_then(|id| shared.twitter.user(&id).map(|u| (id, u))) else {
        return v2_unauthorized();
    };
    let params = query_params(&parts);
    let fields: Vec<&str> = params.get("user.fields").map(|f| f.split(',').collect()).unwrap_or_default();
    let mut data = json!({ "id": user_id, "name": user.name, "username": user.screen_name });
    if fields.contains(&"profile_image_url") {
        data["profile_image_url"] = Value::from(user.avatar);
    }
    if fields.contains(&"created_at") {
        data["created_at"] = Value::from("2018-10-10T20:19:24.000Z");
    }
    Json(json!({ "data": data })).into_response()
}
