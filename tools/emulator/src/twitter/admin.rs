//! The Twitter admin routes under `/_emulator/twitter` (JSON): create a user, issue an OAuth 1.0a
//! token pair or an OAuth 2.0 bearer token, revoke either.

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

/// The admin routes, mounted at `/_emulator/twitter` (not counted, never faulted).
pub(crate) fn admin_router() -> Router<Arc<Shared>> {
    Router::new()
        .route("/users", post(admin_create_user))
        .route("/tokens", post(admin_issue_token))
        .route("/bearer", post(admin_issue_bearer))
        .route("/tokens/revoke", post(admin_revoke_token))
}

#[derive(Deserialize)]
struct NewUser {
    name: String,
    screen_name: String,
    #[serde(default)]
    email: Option<String>,
}

async fn admin_create_user(State(shared): State<Arc<Shared>>, AdminJson(user): AdminJson<NewUser>) -> Response {
    let email = user.email.as_deref().filter(|e| !e.is_empty());
    let id = shared.twitter.create_user(&user.name, &user.screen_name, email);
    Json(json!({ "id_str": id })).into_response()
}

#[derive(Deserialize)]
struct NewToken {
    user: String,
    consumer_key: String,
}

fn issue_error(e: IssueError, request: &NewToken) -> Response {
    match e {
        IssueError::UnknownUser => admin_error(StatusCode::NOT_FOUND, format!("unknown user {:?}", request.user)),
        IssueError::UnknownApp => {
            admin_error(StatusCode::BAD_REQUEST, format!("app {:?} is not configured", request.consumer_key))
        }
    }
}

async fn admin_issue_token(State(shared): State<Arc<Shared>>, AdminJson(request): AdminJson<NewToken>) -> Response {
    match shared.twitter.issue_token(&request.user, &request.consumer_key) {
        Ok((token, secret)) => Json(json!({ "oauth_token": token, "oauth_token_secret": secret })).into_response(),
        Err(e) => issue_error(e, &request),
    }
}

async fn admin_issue_bearer(State(shared): State<Arc<Shared>>, AdminJson(request): AdminJson<NewToken>) -> Response {
    match shared.twitter.issue_bearer(&request.user, &request.consumer_key) {
        Ok(token) => Json(json!({ "access_token": token, "token_type": "bearer" })).into_response(),
        Err(e) => issue_error(e, &request),
    }
}

async fn admin_revoke_token(State(shared): State<Arc<Shared>>, body: Bytes) -> Response {
    revoke_with(&body, |t| shared.twitter.revoke_token(t))
}
