//! The Facebook admin routes under `/_emulator/facebook/` (JSON): create a person, issue or
//! revoke a user access token, sign a `signed_request` for an app's callbacks.

use std::sync::Arc;

use axum::body::Bytes;
use axum::extract::State;
use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};
use axum::routing::post;
use axum::{Json, Router};
use serde::Deserialize;
use serde_json::json;

use super::IssueError;
use crate::admin::{admin_error, revoke_with, AdminJson};
use crate::state::Shared;

/// The admin routes, at their full paths (merged into the emulator's router).
pub(crate) fn admin_router() -> Router<Arc<Shared>> {
    Router::new()
        .route("/_emulator/facebook/users", post(admin_create_user))
        .route("/_emulator/facebook/tokens", post(admin_issue_token))
        .route("/_emulator/facebook/tokens/revoke", post(admin_revoke_token))
        .route("/_emulator/facebook/signed_requests", post(admin_signed_request))
}

#[derive(Deserialize)]
struct NewUser {
    name: String,
    #[serde(default)]
    email: Option<String>,
}

async fn admin_create_user(State(shared): State<Arc<Shared>>, AdminJson(user): AdminJson<NewUser>) -> Response {
    let email = user.email.as_deref().filter(|e| !e.is_empty());
    let id = shared.facebook.create_person(&user.name, email);
    Json(json!({ "id": id })).into_response()
}

fn default_ttl() -> i64 {
    3600
}

#[derive(Deserialize)]
struct NewToken {
    user: String,
    app_id: String,
    #[serde(default = "default_ttl")]
    ttl_secs: i64,
}

async fn admin_issue_token(State(shared): State<Arc<Shared>>, AdminJson(request): AdminJson<NewToken>) -> Response {
    match shared.facebook.issue_token(&request.user, &request.app_id, request.ttl_secs) {
        Ok(token) => Json(json!({ "access_token": token })).into_response(),
        Err(IssueError::UnknownPerson) => {
            admin_error(StatusCode::NOT_FOUND, format!("unknown user {:?}", request.user))
        }
        Err(IssueError::UnknownApp) => {
            admin_error(StatusCode::BAD_REQUEST, format!("app {:?} is not configured", request.app_id))
        }
        Err(e) => admin_error(StatusCode::BAD_REQUEST, format!("{e:?}")),
    }
}

async fn admin_revoke_token(State(shared): State<Arc<Shared>>, body: Bytes) -> Response {
    revoke_with(&body, |t| shared.facebook.revoke_token(t))
}

#[derive(Deserialize)]
struct NewSignedRequest {
    app_id: String,
    user_id: String,
    #[serde(default)]
    algorithm: Option<String>,
    #[serde(default)]
    issued_at: Option<i64>,
}

async fn admin_signed_request(
    State(shared): State<Arc<Shared>>,
    AdminJson(request): AdminJson<NewSignedRequest>,
) -> Response {
    let issued_at = request.issued_at.unwrap_or_else(crate::util::now);
    match shared.facebook.signed_request(&request.app_id, &request.user_id, request.algorithm.as_deref(), issued_at) {
        Ok(signed) => Json(json!({ "signed_request": signed })).into_response(),
        Err(_) => admin_error(StatusCode::BAD_REQUEST, format!("app {:?} is not configured", request.app_id)),
    }
}
