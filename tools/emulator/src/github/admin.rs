//! The GitHub admin routes under `/_emulator/github` (JSON): create a user with email addresses,
//! issue or revoke a user access token.

use std::sync::Arc;

use axum::body::Bytes;
use axum::extract::State;
use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};
use axum::routing::post;
use axum::{Json, Router};
use serde::Deserialize;
use serde_json::json;

use super::{IssueError, DEFAULT_SCOPES};
use crate::admin::{admin_error, revoke_with, AdminJson};
use crate::state::Shared;

/// The admin routes, mounted at `/_emulator/github` (not counted, never faulted).
pub(crate) fn admin_router() -> Router<Arc<Shared>> {
    Router::new()
        .route("/users", post(admin_create_user))
        .route("/tokens", post(admin_issue_token))
        .route("/tokens/revoke", post(admin_revoke_token))
}

#[derive(Deserialize)]
struct NewEmail {
    email: String,
    #[serde(default)]
    verified: bool,
    #[serde(default)]
    primary: bool,
}

#[derive(Deserialize)]
struct NewUser {
    login: String,
    #[serde(default)]
    name: Option<String>,
    #[serde(default)]
    emails: Vec<NewEmail>,
}

async fn admin_create_user(State(shared): State<Arc<Shared>>, AdminJson(user): AdminJson<NewUser>) -> Response {
    let emails: Vec<(&str, bool, bool)> =
        user.emails.iter().map(|e| (e.email.as_str(), e.verified, e.primary)).collect();
    let id = shared.github.create_user(&user.login, user.name.as_deref(), &emails);
    Json(json!({ "id": id })).into_response()
}

#[derive(Deserialize)]
struct NewToken {
    user: u64,
    client_id: String,
    #[serde(default)]
    scopes: Option<Vec<String>>,
}

async fn admin_issue_token(State(shared): State<Arc<Shared>>, AdminJson(request): AdminJson<NewToken>) -> Response {
    let scopes: Vec<&str> = match &request.scopes {
        Some(scopes) => scopes.iter().map(String::as_str).collect(),
        None => DEFAULT_SCOPES.to_vec(),
    };
    match shared.github.issue_token(request.user, &request.client_id, &scopes) {
        Ok(token) => {
            Json(json!({ "access_token": token, "token_type": "bearer", "scope": scopes.join(",") })).into_response()
        }
        Err(IssueError::UnknownUser) => admin_error(StatusCode::NOT_FOUND, format!("unknown user {}", request.user)),
        Err(IssueError::UnknownApp) => {
            admin_error(StatusCode::BAD_REQUEST, format!("app {:?} is not configured", request.client_id))
        }
    }
}

async fn admin_revoke_token(State(shared): State<Arc<Shared>>, body: Bytes) -> Response {
    revoke_with(&body, |t| shared.github.revoke_token(t))
}
