//! Provider emulator: a small HTTP server that speaks the Facebook Graph API endpoints
//! social-login calls, for people and tokens it creates itself, with Graph's real response
//! and error shapes (like Firebase's Auth emulator).
//!
//! Used in-process by the integration tests:
//!
//! ```no_run
//! # async fn demo() -> std::io::Result<()> {
//! use emulator::{Emulator, EmulatorConfig, FacebookApp};
//! let emulator = Emulator::new(EmulatorConfig {
//!     facebook_apps: vec![FacebookApp { id: "1234".into(), secret: "s3cret".into() }],
//! });
//! let base_url = emulator.spawn(0).await?; // "http://127.0.0.1:PORT"
//! let person = emulator.create_facebook_user("Ada Lovelace", Some("ada@example.com"));
//! let token = emulator.issue_facebook_token(&person, "1234", 3600);
//! // GET {base_url}/v22.0/me?fields=id,name,email with `Authorization: Bearer {token}`
//! # Ok(()) }
//! ```
//!
//! and as the standalone binary `provider-emulator` by the local dev stack, which drives it
//! through the admin routes under `/_emulator/` (see [`Emulator::router`]).
//!
//! Graph endpoints (any `/v\d+.\d+` prefix, or none):
//! - `GET /me?fields=...[&appsecret_proof=...]`
//! - `GET /debug_token?input_token=...` with an app token `APPID|APPSECRET`
//! - `POST /{app_id}/accounts/test-users?installed=true&name=...` with that app's token
//!
//! The access token is read from `access_token=` or `Authorization: Bearer|OAuth <token>`.

mod facebook;
mod faults;
mod util;

use std::fmt;
use std::net::{Ipv4Addr, SocketAddr};
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use axum::body::Bytes;
use axum::extract::{Request, State};
use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};
use axum::routing::{any, get, post};
use axum::{Json, Router};
use hyper_util::rt::TokioIo;
use serde::Deserialize;
use serde_json::json;
use tokio::net::TcpListener;
use tokio::sync::Notify;

pub use faults::{Fault, UnknownFault};

use facebook::{Facebook, IssueError};
use faults::CloseHandle;
use util::lock;

/// A Facebook app the emulator knows: its id and app secret.
#[derive(Clone, PartialEq, Eq)]
pub struct FacebookApp {
    pub id: String,
    pub secret: String,
}

impl fmt::Debug for FacebookApp {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("FacebookApp").field("id", &self.id).field("secret", &"<redacted>").finish()
    }
}

/// What the emulator knows up front.
#[derive(Clone, Debug, Default)]
pub struct EmulatorConfig {
    /// The apps the emulator knows (typically our app and "another app").
    pub facebook_apps: Vec<FacebookApp>,
}

/// The shared state behind every clone of an [`Emulator`] and its servers.
struct Shared {
    facebook: Facebook,
    fault: Mutex<Fault>,
    requests: AtomicU64,
}

/// The emulator. Cheap to clone; clones share people, tokens, the fault and the counter.
#[derive(Clone)]
pub struct Emulator {
    shared: Arc<Shared>,
}

impl fmt::Debug for Emulator {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Emulator")
            .field("fault", &*lock(&self.shared.fault))
            .field("requests", &self.request_count())
            .finish_non_exhaustive()
    }
}

impl Emulator {
    pub fn new(config: EmulatorConfig) -> Emulator {
        let apps = config.facebook_apps.into_iter().map(|app| (app.id, app.secret));
        Emulator {
            shared: Arc::new(Shared {
                facebook: Facebook::new(apps),
                fault: Mutex::new(Fault::None),
                requests: AtomicU64::new(0),
            }),
        }
    }

    /// Binds 127.0.0.1:`port` (0 = any free port), serves in a background tokio task, and
    /// returns the base URL `http://127.0.0.1:PORT`. Must be called within a tokio runtime;
    /// the server lives as long as that runtime.
    pub async fn spawn(&self, port: u16) -> std::io::Result<String> {
        let listener = TcpListener::bind(SocketAddr::from((Ipv4Addr::LOCALHOST, port))).await?;
        let addr = listener.local_addr()?;
        tokio::spawn(serve(listener, self.router()));
        Ok(format!("http://{addr}"))
    }

    /// The whole app (Graph endpoints and `/_emulator/` admin routes), for serving it
    /// yourself. Admin routes (JSON):
    /// - `POST /_emulator/facebook/users` `{"name", "email"?}` → `{"id"}`
    /// - `POST /_emulator/facebook/tokens` `{"user", "app_id", "ttl_secs"?}` → `{"access_token"}`
    /// - `POST /_emulator/facebook/tokens/revoke` `{"access_token"}` → `{"revoked": true}`
    /// - `POST /_emulator/fault` `{"fault": "none"|"status500"|"hang"|"invalid_json"|"rate_limited"|"close"}`
    /// - `GET /_emulator/stats` → `{"requests": n, "fault": name}`
    ///
    /// [`Fault::CloseConnection`] needs the socket, which only [`Emulator::spawn`]'s server
    /// hands over; served elsewhere, the router answers 200 with a body that fails at once,
    /// so the server aborts the connection mid-response instead.
    pub fn router(&self) -> Router {
        Router::new()
            .route("/_emulator/facebook/users", post(admin_create_user))
            .route("/_emulator/facebook/tokens", post(admin_issue_token))
            .route("/_emulator/facebook/tokens/revoke", post(admin_revoke_token))
            .route("/_emulator/fault", post(admin_set_fault).get(admin_get_fault))
            .route("/_emulator/stats", get(admin_stats))
            .route("/_emulator", any(admin_not_found))
            .route("/_emulator/{*rest}", any(admin_not_found))
            .fallback(graph)
            .with_state(self.shared.clone())
    }

    /// Creates a person; returns their global emulator id (not what Graph shows an app:
    /// see [`Emulator::app_scoped_user_id`]).
    pub fn create_facebook_user(&self, name: &str, email: Option<&str>) -> String {
        self.shared.facebook.create_person(name, email)
    }

    /// Issues a user access token for `person`, for the app `app_id`, valid `ttl_secs`
    /// from now (zero or negative = already expired).
    ///
    /// # Panics
    /// If `person` was not created by this emulator or `app_id` is not a configured app:
    /// both are mistakes in the calling test.
    pub fn issue_facebook_token(&self, person: &str, app_id: &str, ttl_secs: i64) -> String {
        match self.shared.facebook.issue_token(person, app_id, ttl_secs) {
            Ok(token) => token,
            Err(IssueError::UnknownPerson) => {
                panic!("issue_facebook_token: unknown person {person:?}")
            }
            Err(IssueError::UnknownApp) => {
                panic!("issue_facebook_token: app {app_id:?} is not in the emulator's config")
            }
        }
    }

    /// Registers `token` as a user access token of `person` for `app_id` (fixed demo tokens of
    /// the `events/` samples and the local stack). Panics like [`Emulator::issue_facebook_token`].
    pub fn register_facebook_token(&self, person: &str, app_id: &str, token: &str, ttl_secs: i64) {
        if let Err(e) = self.shared.facebook.issue_token_as(person, app_id, ttl_secs, Some(token)) {
            panic!("register_facebook_token: {e:?}");
        }
    }

    /// Revokes a token (Graph then answers code 190, subcode 460). Unknown tokens are ignored.
    pub fn revoke_facebook_token(&self, token: &str) {
        self.shared.facebook.revoke_token(token);
    }

    /// The `id` that `/me` answers for `person` to the app `app_id`: stable, and
    /// different for every app, as on Facebook.
    pub fn app_scoped_user_id(&self, person: &str, app_id: &str) -> String {
        self.shared.facebook.app_scoped_user_id(person, app_id)
    }

    /// Sets the fault applied to every Graph request from now on ([`Fault::None`] clears it).
    pub fn set_fault(&self, fault: Fault) {
        *lock(&self.shared.fault) = fault;
    }

    /// The fault currently set.
    pub fn fault(&self) -> Fault {
        *lock(&self.shared.fault)
    }

    /// Graph requests received (admin calls under `/_emulator/` not counted).
    pub fn request_count(&self) -> u64 {
        self.shared.requests.load(Ordering::SeqCst)
    }
}

/// The accept loop. Each connection is served by hyper directly (rather than through
/// `axum::serve`) so that [`Fault::CloseConnection`] can drop its socket unanswered.
async fn serve(listener: TcpListener, router: Router) {
    loop {
        let stream = match listener.accept().await {
            Ok((stream, _)) => stream,
            Err(e) => {
                // E.g. out of file descriptors: wait a little rather than spin.
                eprintln!("provider emulator: accept failed: {e}");
                tokio::time::sleep(Duration::from_millis(100)).await;
                continue;
            }
        };
        let router = router.clone();
        tokio::spawn(async move {
            let close = Arc::new(Notify::new());
            let handle = CloseHandle(close.clone());
            let service = hyper::service::service_fn(move |mut req: hyper::Request<hyper::body::Incoming>| {
                req.extensions_mut().insert(handle.clone());
                tower::ServiceExt::oneshot(router.clone(), req)
            });
            let connection = hyper::server::conn::http1::Builder::new().serve_connection(TokioIo::new(stream), service);
            tokio::select! {
                // Errors here are the client's (reset, bad request): nothing to do.
                _ = connection => {}
                // Dropping the connection closes the socket without an answer.
                _ = close.notified() => {}
            }
        });
    }
}

/// Every request outside `/_emulator/`: count it, apply the fault, then serve Graph.
async fn graph(State(shared): State<Arc<Shared>>, req: Request) -> Response {
    shared.requests.fetch_add(1, Ordering::SeqCst);
    let (parts, body) = req.into_parts();
    let fault = *lock(&shared.fault);
    let close = parts.extensions.get::<CloseHandle>().cloned();
    if let Some(response) = faults::apply(fault, close).await {
        return response;
    }
    let body = match axum::body::to_bytes(body, 1 << 20).await {
        Ok(body) => body,
        Err(_) => {
            return facebook::GraphError::new(
                StatusCode::BAD_REQUEST,
                "OAuthException",
                100,
                "(#100) The request body could not be read",
            )
            .into_response()
        }
    };
    match facebook::handle(&shared.facebook, &parts, &body) {
        Ok(response) => response,
        Err(error) => error.into_response(),
    }
}

/// An admin error: `{"error": "..."}`.
fn admin_error(status: StatusCode, message: impl Into<String>) -> Response {
    (status, Json(json!({ "error": message.into() }))).into_response()
}

/// Parses an admin request body; the error is the admin response to send.
fn admin_body<T: serde::de::DeserializeOwned>(body: &Bytes) -> Result<T, Box<Response>> {
    serde_json::from_slice(body)
        .map_err(|e| Box::new(admin_error(StatusCode::BAD_REQUEST, format!("invalid JSON body: {e}"))))
}

#[derive(Deserialize)]
struct NewUser {
    name: String,
    #[serde(default)]
    email: Option<String>,
}

async fn admin_create_user(State(shared): State<Arc<Shared>>, body: Bytes) -> Response {
    let user: NewUser = match admin_body(&body) {
        Ok(user) => user,
        Err(response) => return *response,
    };
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

async fn admin_issue_token(State(shared): State<Arc<Shared>>, body: Bytes) -> Response {
    let request: NewToken = match admin_body(&body) {
        Ok(request) => request,
        Err(response) => return *response,
    };
    match shared.facebook.issue_token(&request.user, &request.app_id, request.ttl_secs) {
        Ok(token) => Json(json!({ "access_token": token })).into_response(),
        Err(IssueError::UnknownPerson) => {
            admin_error(StatusCode::NOT_FOUND, format!("unknown user {:?}", request.user))
        }
        Err(IssueError::UnknownApp) => {
            admin_error(StatusCode::BAD_REQUEST, format!("app {:?} is not configured", request.app_id))
        }
    }
}

#[derive(Deserialize)]
struct RevokeToken {
    access_token: String,
}

async fn admin_revoke_token(State(shared): State<Arc<Shared>>, body: Bytes) -> Response {
    let request: RevokeToken = match admin_body(&body) {
        Ok(request) => request,
        Err(response) => return *response,
    };
    shared.facebook.revoke_token(&request.access_token);
    Json(json!({ "revoked": true })).into_response()
}

#[derive(Deserialize)]
struct SetFault {
    fault: String,
}

async fn admin_set_fault(State(shared): State<Arc<Shared>>, body: Bytes) -> Response {
    let request: SetFault = match admin_body(&body) {
        Ok(request) => request,
        Err(response) => return *response,
    };
    match request.fault.parse::<Fault>() {
        Ok(fault) => {
            *lock(&shared.fault) = fault;
            Json(json!({ "fault": fault.name() })).into_response()
        }
        Err(e) => admin_error(StatusCode::BAD_REQUEST, e.to_string()),
    }
}

async fn admin_get_fault(State(shared): State<Arc<Shared>>) -> Response {
    let fault = *lock(&shared.fault);
    Json(json!({ "fault": fault.name() })).into_response()
}

async fn admin_stats(State(shared): State<Arc<Shared>>) -> Response {
    let fault = *lock(&shared.fault);
    Json(json!({
        "requests": shared.requests.load(Ordering::SeqCst),
        "fault": fault.name(),
    }))
    .into_response()
}

async fn admin_not_found() -> Response {
    admin_error(StatusCode::NOT_FOUND, "unknown admin route")
}
