//! The OIDC admin routes under `/_emulator/oidc/{provider}/` (JSON): create a user, mint an ID
//! token or a plain access token, rotate the signing key.

use std::sync::Arc;

use axum::body::Bytes;
use axum::extract::{Path, State};
use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};
use axum::routing::post;
use axum::{Json, Router};
use serde::de::DeserializeOwned;
use serde::Deserialize;
use serde_json::json;

use super::{OidcError, OidcProvider};
use crate::admin::{admin_body, admin_error};
use crate::state::Shared;

/// The admin routes, at their full paths (merged into the OIDC router).
pub(super) fn admin_router() -> Router<Arc<Shared>> {
    Router::new()
        .route("/_emulator/oidc/{provider}/users", post(admin_create_user))
        .route("/_emulator/oidc/{provider}/id_tokens", post(admin_issue_id_token))
        .route("/_emulator/oidc/{provider}/access_tokens", post(admin_issue_access_token))
        .route("/_emulator/oidc/{provider}/rotate", post(admin_rotate))
        .route("/_emulator/apple/notifications", post(admin_apple_notification))
}

fn admin_provider(slug: &str) -> Result<OidcProvider, Box<Response>> {
    OidcProvider::from_slug(slug).ok_or_else(|| {
        Box::new(admin_error(
            StatusCode::NOT_FOUND,
            format!("unknown OIDC provider {slug:?}; expected google, linkedin, apple or facebook-limited"),
        ))
    })
}

/// The provider named by an admin route and its parsed body; the error is the admin response to
/// send (an unknown provider's before a bad body's).
fn admin_request<T: DeserializeOwned>(slug: &str, body: &Bytes) -> Result<(OidcProvider, T), Box<Response>> {
    Ok((admin_provider(slug)?, admin_body(body)?))
}

fn default_true() -> bool {
    true
}

#[derive(Deserialize)]
struct NewUser {
    name: String,
    #[serde(default)]
    email: Option<String>,
    #[serde(default = "default_true")]
    email_verified: bool,
}

async fn admin_create_user(State(shared): State<Arc<Shared>>, Path(slug): Path<String>, body: Bytes) -> Response {
    let (provider, user) = match admin_request::<NewUser>(&slug, &body) {
        Ok(ok) => ok,
        Err(response) => return *response,
    };
    let email = user.email.as_deref().filter(|e| !e.is_empty());
    let sub = shared.oidc.create_user(provider, &user.name, email, user.email_verified);
    Json(json!({ "sub": sub })).into_response()
}

#[derive(Deserialize)]
struct NewIdToken {
    sub: String,
    aud: String,
    #[serde(default)]
    nonce: Option<String>,
}

async fn admin_issue_id_token(State(shared): State<Arc<Shared>>, Path(slug): Path<String>, body: Bytes) -> Response {
    let (provider, request) = match admin_request::<NewIdToken>(&slug, &body) {
        Ok(ok) => ok,
        Err(response) => return *response,
    };
    match shared.oidc.issue_id_token(provider, &request.sub, &request.aud, request.nonce.as_deref()) {
        Ok(id_token) => Json(json!({ "id_token": id_token })).into_response(),
        Err(e) => admin_issue_error(provider, &request.sub, e),
    }
}

#[derive(Deserialize)]
struct NewAccessToken {
    sub: String,
    aud: String,
}

async fn admin_issue_access_token(
    State(shared): State<Arc<Shared>>,
    Path(slug): Path<String>,
    body: Bytes,
) -> Response {
    let (provider, request) = match admin_request::<NewAccessToken>(&slug, &body) {
        Ok(ok) => ok,
        Err(response) => return *response,
    };
    match shared.oidc.issue_access_token(provider, &request.sub, &request.aud) {
        Ok(token) => Json(json!({ "access_token": token })).into_response(),
        Err(e) => admin_issue_error(provider, &request.sub, e),
    }
}

fn admin_issue_error(provider: OidcProvider, sub: &str, error: OidcError) -> Response {
    match error {
        OidcError::UnknownUser => admin_error(StatusCode::NOT_FOUND, format!("unknown {provider} user {sub:?}")),
        OidcError::NoAccessTokens => admin_error(StatusCode::BAD_REQUEST, format!("{provider}: {error}")),
    }
}

async fn admin_rotate(State(shared): State<Arc<Shared>>, Path(slug): Path<String>) -> Response {
    match admin_provider(&slug) {
        Ok(provider) => Json(json!({ "kid": shared.oidc.rotate(provider) })).into_response(),
        Err(response) => *response,
    }
}

#[derive(Deserialize)]
struct NewNotification {
    aud: String,
    #[serde(rename = "type")]
    kind: String,
    sub: String,
    #[serde(default)]
    email: Option<String>,
}

async fn admin_apple_notification(State(shared): State<Arc<Shared>>, body: Bytes) -> Response {
    match admin_body::<NewNotification>(&body) {
        Ok(n) => Json(shared.oidc.apple_notification(&n.aud, &n.kind, &n.sub, n.email.as_deref())).into_response(),
        Err(response) => *response,
    }
}
