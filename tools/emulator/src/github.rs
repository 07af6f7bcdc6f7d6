//! The GitHub part, served under `/github`: OAuth apps, users with their email addresses, user
//! access tokens (`gho_...`) and the REST endpoints social-login calls, with GitHub's error
//! shapes (`{"message", "documentation_url", "status"}`):
//!
//! - `POST /github/applications/{client_id}/token` `{"access_token"}` with basic auth (that
//!   app's client id and secret): "check a token"
//! - `GET /github/user/emails` and `GET /github/user` with `Authorization: Bearer|token ...`
//!
//! Admin routes (JSON, under `/_emulator/github`): `POST users` `{"login", "name"?, "emails":
//! [{"email", "verified", "primary"}]}` → `{"id"}`; `POST tokens` `{"user", "client_id",
//! "scopes"?}` → `{"access_token"}`; `POST tokens/revoke` `{"access_token"}` → `{"revoked": true}`.

mod admin;

use std::collections::HashMap;
use std::fmt;
use std::sync::{Arc, Mutex};

use axum::body::Bytes;
use axum::extract::{Path, Request, State};
use axum::http::{header, HeaderMap, StatusCode};
use axum::middleware::{self, Next};
use axum::response::{IntoResponse, Response};
use axum::routing::{get, post};
use axum::{Json, Router};
use base64::engine::general_purpose::STANDARD;
use base64::Engine;
use serde_json::{json, Value};
use sha2::{Digest, Sha256};

use crate::faults::Fault;
use crate::state::Shared;
use crate::util::{lock, random_alnum};

pub(crate) use admin::admin_router;

/// Scopes of the tokens [`crate::Emulator::issue_github_token`] issues (a login asking for the
/// profile and email addresses).
pub(crate) const DEFAULT_SCOPES: [&str; 2] = ["read:user", "user:email"];

const DOCS: &str = "https://docs.github.com/rest";
const CHECK_TOKEN_DOCS: &str = "https://docs.github.com/rest/apps/oauth-applications#check-a-token";
const EMAILS_DOCS: &str = "https://docs.github.com/rest/users/emails#list-email-addresses-for-the-authenticated-user";

/// A GitHub OAuth app the emulator knows: its client id and client secret.
#[derive(Clone, PartialEq, Eq)]
pub struct GitHubApp {
    pub client_id: String,
    pub client_secret: String,
}

impl fmt::Debug for GitHubApp {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("GitHubApp").field("client_id", &self.client_id).field("client_secret", &"<redacted>").finish()
    }
}

#[derive(Clone, Debug)]
struct Email {
    email: String,
    verified: bool,
    primary: bool,
}

#[derive(Clone, Debug)]
struct User {
    login: String,
    name: Option<String>,
    emails: Vec<Email>,
}

#[derive(Clone, Debug)]
struct TokenRecord {
    id: u64,
    user: u64,
    client_id: String,
    scopes: Vec<String>,
    revoked: bool,
}

struct Data {
    users: HashMap<u64, User>,
    tokens: HashMap<String, TokenRecord>,
    next_user_id: u64,
    next_token_id: u64,
}

/// Why a token could not be issued.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) enum IssueError {
    UnknownUser,
    UnknownApp,
}

/// The GitHub state: the configured apps (fixed) and the users and tokens created since.
pub(crate) struct GitHub {
    /// client id -> (app name, client secret).
    apps: HashMap<String, (String, String)>,
    data: Mutex<Data>,
}

impl GitHub {
    pub(crate) fn new(apps: impl IntoIterator<Item = GitHubApp>) -> GitHub {
        let apps = apps
            .into_iter()
            .enumerate()
            .map(|(i, app)| (app.client_id, (format!("Emulated app {}", i + 1), app.client_secret)))
            .collect();
        let data = Data { users: HashMap::new(), tokens: HashMap::new(), next_user_id: 583_231, next_token_id: 1 };
        GitHub { apps, data: Mutex::new(data) }
    }

    /// Every user as `(id, name or login)`, by name (the consent page's list).
    pub(crate) fn people(&self) -> Vec<(u64, String)> {
        let data = lock(&self.data);
        let mut people: Vec<_> =
            data.users.iter().map(|(id, u)| (*id, u.name.clone().unwrap_or_else(|| u.login.clone()))).collect();
        people.sort_by(|a, b| a.1.cmp(&b.1).then(a.0.cmp(&b.0)));
        people
    }

    /// Whether `client_id` is a configured OAuth app.
    pub(crate) fn has_app(&self, client_id: &str) -> bool {
        self.apps.contains_key(client_id)
    }

    pub(crate) fn create_user(&self, login: &str, name: Option<&str>, emails: &[(&str, bool, bool)]) -> u64 {
        let mut data = lock(&self.data);
        let id = data.next_user_id;
        data.next_user_id += 1;
        let emails = emails
            .iter()
            .map(|&(email, verified, primary)| Email { email: email.to_string(), verified, primary })
            .collect();
        data.users.insert(id, User { login: login.to_string(), name: name.map(str::to_string), emails });
        id
    }

    pub(crate) fn issue_token(&self, user: u64, client_id: &str, scopes: &[&str]) -> Result<String, IssueError> {
        self.issue_token_as(user, client_id, scopes, None)
    }

    /// Like `issue_token`, with the token chosen by the caller when `fixed` is given.
    pub(crate) fn issue_token_as(
        &self,
        user: u64,
        client_id: &str,
        scopes: &[&str],
        fixed: Option<&str>,
    ) -> Result<String, IssueError> {
        if !self.apps.contains_key(client_id) {
            return Err(IssueError::UnknownApp);
        }
        let mut data = lock(&self.data);
        if !data.users.contains_key(&user) {
            return Err(IssueError::UnknownUser);
        }
        let token = loop {
            if let Some(fixed) = fixed {
                break fixed.to_string();
            }
            let token = format!("gho_{}", random_alnum(36));
            if !data.tokens.contains_key(&token) {
                break token;
            }
        };
        let id = data.next_token_id;
        data.next_token_id += 1;
        let record = TokenRecord {
            id,
            user,
            client_id: client_id.to_string(),
            scopes: scopes.iter().map(|s| s.to_string()).collect(),
            revoked: false,
        };
        data.tokens.insert(token.clone(), record);
        Ok(token)
    }

    pub(crate) fn revoke_token(&self, token: &str) {
        if let Some(record) = lock(&self.data).tokens.get_mut(token) {
            record.revoked = true;
        }
    }

    /// A live token and its user.
    fn token(&self, token: &str) -> Option<(TokenRecord, User)> {
        let data = lock(&self.data);
        let record = data.tokens.get(token).filter(|r| !r.revoked)?;
        let user = data.users.get(&record.user)?;
        Some((record.clone(), user.clone()))
    }
}

/// A GitHub error answer.
fn error(status: StatusCode, message: &str, docs: &str) -> Response {
    let body = json!({ "message": message, "documentation_url": docs, "status": status.as_u16().to_string() });
    (status, Json(body)).into_response()
}

fn bad_credentials() -> Response {
    error(StatusCode::UNAUTHORIZED, "Bad credentials", DOCS)
}

fn not_found(docs: &str) -> Response {
    error(StatusCode::NOT_FOUND, "Not Found", docs)
}

fn avatar_url(id: u64) -> String {
    format!("https://avatars.githubusercontent.com/u/{id}?v=4")
}

/// The "simple user" object.
fn simple_user(id: u64, user: &User) -> Value {
    json!({
        "login": user.login,
        "id": id,
        "node_id": format!("MDQ6VXNlcj{id}"),
        "avatar_url": avatar_url(id),
        "gravatar_id": "",
        "url": format!("https://api.github.com/users/{}", user.login),
        "html_url": format!("https://github.com/{}", user.login),
        "type": "User",
        "site_admin": false,
        "name": user.name,
    })
}

/// The GitHub API routes (mounted at `/github`): every request is counted and subject to the
/// emulator's fault.
pub(crate) fn router(shared: Arc<Shared>) -> Router<Arc<Shared>> {
    Router::new()
        .route("/applications/{client_id}/token", post(check_token))
        .route("/user/emails", get(user_emails))
        .route("/user", get(user))
        .fallback(|| async { not_found(DOCS) })
        .layer(middleware::from_fn_with_state(shared, gate))
}

/// Counts the request and applies the fault, GitHub-shaped for 500 and the rate limit.
async fn gate(State(shared): State<Arc<Shared>>, req: Request, next: Next) -> Response {
    let fault = shared.provider_fault(req.extensions(), |fault| match fault {
        Fault::Status500 => Some(error(StatusCode::INTERNAL_SERVER_ERROR, "Server Error", DOCS)),
        Fault::RateLimited => {
            let mut response = error(
                StatusCode::FORBIDDEN,
                "API rate limit exceeded for user ID 1. If you reach out to GitHub Support for help, please include the request ID.",
                "https://docs.github.com/rest/overview/rate-limits-for-the-rest-api",
            );
            let headers = response.headers_mut();
            headers.insert("x-ratelimit-limit", header::HeaderValue::from_static("5000"));
            headers.insert("x-ratelimit-remaining", header::HeaderValue::from_static("0"));
            headers.insert("x-ratelimit-resource", header::HeaderValue::from_static("core"));
            Some(response)
        }
        _ => None,
    })
    .await;
    match fault {
        Some(response) => response,
        None => next.run(req).await,
    }
}

/// `(client id, secret)` from `Authorization: Basic ...`.
fn basic_auth(headers: &HeaderMap) -> Option<(String, String)> {
    let value = headers.get(header::AUTHORIZATION)?.to_str().ok()?.trim();
    let (scheme, encoded) = value.split_once(' ')?;
    if !scheme.eq_ignore_ascii_case("basic") {
        return None;
    }
    let decoded = String::from_utf8(STANDARD.decode(encoded.trim()).ok()?).ok()?;
    let (id, secret) = decoded.split_once(':')?;
    Some((id.to_string(), secret.to_string()))
}

/// The token from `Authorization: Bearer|token ...`.
fn bearer(headers: &HeaderMap) -> Option<&str> {
    let value = headers.get(header::AUTHORIZATION)?.to_str().ok()?.trim();
    let (scheme, token) = value.split_once(' ')?;
    let known = scheme.eq_ignore_ascii_case("bearer") || scheme.eq_ignore_ascii_case("token");
    known.then(|| token.trim()).filter(|t| !t.is_empty())
}

/// `POST /applications/{client_id}/token`
async fn check_token(
    State(shared): State<Arc<Shared>>,
    Path(client_id): Path<String>,
    headers: HeaderMap,
    body: Bytes,
) -> Response {
    let github = &shared.github;
    let Some((app_name, secret)) = github.apps.get(&client_id) else {
        return not_found(CHECK_TOKEN_DOCS);
    };
    match basic_auth(&headers) {
        Some((id, given)) if id == client_id && &given == secret => {}
        _ => return bad_credentials(),
    }
    let Ok(body) = serde_json::from_slice::<Value>(&body) else {
        return error(StatusCode::BAD_REQUEST, "Problems parsing JSON", CHECK_TOKEN_DOCS);
    };
    let Some(token) = body.get("access_token").and_then(Value::as_str) else {
        return error(
            StatusCode::UNPROCESSABLE_ENTITY,
            "Invalid request.\n\n\"access_token\" wasn't supplied.",
            CHECK_TOKEN_DOCS,
        );
    };
    let Some((record, user)) = github.token(token).filter(|(r, _)| r.client_id == client_id) else {
        return not_found(CHECK_TOKEN_DOCS);
    };
    let last_eight = &token[token.len().saturating_sub(8)..];
    Json(json!({
        "id": record.id,
        "url": format!("https://api.github.com/authorizations/{}", record.id),
        "app": { "name": app_name, "url": "https://example.com/app", "client_id": client_id },
        "token": token,
        "hashed_token": hex::encode(Sha256::digest(token.as_bytes())),
        "token_last_eight": last_eight,
        "note": null,
        "note_url": null,
        "created_at": "2024-01-01T00:00:00Z",
        "updated_at": "2024-01-01T00:00:00Z",
        "scopes": record.scopes,
        "fingerprint": null,
        "expires_at": null,
        "user": simple_user(record.user, &user),
    }))
    .into_response()
}

/// The token's user, or GitHub's 401.
fn authenticated(shared: &Shared, headers: &HeaderMap) -> Result<(TokenRecord, User), Box<Response>> {
    let Some(token) = bearer(headers) else {
        return Err(Box::new(error(StatusCode::UNAUTHORIZED, "Requires authentication", DOCS)));
    };
    shared.github.token(token).ok_or_else(|| Box::new(bad_credentials()))
}

/// `GET /user/emails`: needs the `user:email` or `user` scope (404 without, as GitHub answers).
async fn user_emails(State(shared): State<Arc<Shared>>, headers: HeaderMap) -> Response {
    let (record, user) = match authenticated(&shared, &headers) {
        Ok(found) => found,
        Err(response) => return *response,
    };
    if !record.scopes.iter().any(|s| s == "user" || s == "user:email") {
        return not_found(EMAILS_DOCS);
    }
    let emails: Vec<Value> = user
        .emails
        .iter()
        .map(|e| {
            json!({
                "email": e.email,
                "primary": e.primary,
                "verified": e.verified,
                "visibility": if e.primary { Value::from("private") } else { Value::Null },
            })
        })
        .collect();
    Json(emails).into_response()
}

/// `GET /user`
async fn user(State(shared): State<Arc<Shared>>, headers: HeaderMap) -> Response {
    let (record, user) = match authenticated(&shared, &headers) {
        Ok(found) => found,
        Err(response) => return *response,
    };
    let mut body = simple_user(record.user, &user);
    body["email"] = Value::Null;
    body["public_repos"] = Value::from(0);
    body["followers"] = Value::from(0);
    body["created_at"] = Value::from("2024-01-01T00:00:00Z");
    Json(body).into_response()
}
