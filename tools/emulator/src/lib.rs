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
//!     ..Default::default()
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
//! - `GET /me?fields=...[&appsecret_proof=...][&metadata=1]`: the user of a user token, the
//!   Page of a Page token, the application of an app token; `metadata=1` adds
//!   `"metadata": {"type": "user"|"page"|"application"}`
//! - `GET /debug_token?input_token=...` with an app token `APPID|APPSECRET`
//! - `POST /{app_id}/accounts/test-users?installed=true&name=...` with that app's token
//!
//! The access token is read from `access_token=` or `Authorization: Bearer|OAuth <token>`.

mod facebook;
mod faults;
mod github;
mod oidc;
mod twitter;
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
pub use github::GitHubApp;
pub use oidc::LinkedInApp;
pub use oidc::{OidcProvider, SigningMode};
pub use twitter::TwitterApp;

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
    /// The Twitter/X apps (consumer key and secret) the emulator knows.
    pub twitter_apps: Vec<TwitterApp>,
    /// The GitHub OAuth apps (client id and secret) the emulator knows.
    pub github_apps: Vec<GitHubApp>,
    /// The LinkedIn apps allowed to introspect access tokens (client id and secret).
    pub linkedin_apps: Vec<LinkedInApp>,
}

/// The shared state behind every clone of an [`Emulator`] and its servers.
struct Shared {
    facebook: Facebook,
    fault: Mutex<Fault>,
    requests: AtomicU64,
    /// Google, LinkedIn, Apple and Facebook Limited Login (see the `oidc` module).
    oidc: oidc::Oidc,
    twitter: twitter::Twitter,
    github: github::GitHub,
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
                oidc: oidc::Oidc::new(config.linkedin_apps),
                twitter: twitter::Twitter::new(config.twitter_apps),
                github: github::GitHub::new(config.github_apps),
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
    /// - `POST /_emulator/fault` `{"fault": "none"|"status500"|"hang"|"invalid_json"|"rate_limited"|"close"|"reset_mid_body"|"slow_drip"|"huge_body"}`
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
            .merge(oidc::router())
            .nest(twitter::PREFIX, twitter::router(self.shared.clone()))
            .nest("/github", github::router(self.shared.clone()))
            .nest("/_emulator/twitter", twitter::admin_router())
            .nest("/_emulator/github", github::admin_router())
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
            Err(e) => panic!("issue_facebook_token: {e:?}"),
        }
    }

    /// Registers `token` as a user access token of `person` for `app_id` (fixed demo tokens of
    /// the `events/` samples and the local stack). Panics like [`Emulator::issue_facebook_token`].
    pub fn register_facebook_token(&self, person: &str, app_id: &str, token: &str, ttl_secs: i64) {
        if let Err(e) = self.shared.facebook.issue_token_as(person, app_id, ttl_secs, Some(token)) {
            panic!("register_facebook_token: {e:?}");
        }
    }

    /// Creates a Facebook Page managed by `manager` (a person of this emulator); returns the
    /// Page's id.
    ///
    /// # Panics
    /// If `manager` was not created by this emulator.
    pub fn create_facebook_page(&self, manager: &str, name: &str) -> String {
        match self.shared.facebook.create_page(manager, name) {
            Ok(id) => id,
            Err(e) => panic!("create_facebook_page: {e:?} (manager {manager:?})"),
        }
    }

    /// Issues a Page access token of `page` for the app `app_id`, as `person`, a manager of the
    /// Page, gets it through the app. `/me` with it answers the Page (with `metadata=1`,
    /// `metadata.type` is `page`); an app token `APPID|APPSECRET` answers the application
    /// (`application`); a user token the user (`user`).
    ///
    /// # Panics
    /// If `app_id` is not a configured app, `page` unknown, or `person` does not manage it.
    pub fn issue_facebook_page_token(&self, person: &str, page: &str, app_id: &str) -> String {
        match self.shared.facebook.issue_page_token(person, page, app_id) {
            Ok(token) => token,
            Err(e) => panic!("issue_facebook_page_token: {e:?} (person {person:?}, page {page:?}, app {app_id:?})"),
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

    /// Creates a Twitter/X user; returns their `id_str` (19 digits).
    pub fn create_twitter_user(&self, name: &str, screen_name: &str, email: Option<&str>) -> String {
        self.shared.twitter.create_user(name, screen_name, email)
    }

    /// Issues an OAuth 1.0a user access token of `user` for the app `consumer_key`: returns
    /// `(oauth_token, oauth_token_secret)`.
    ///
    /// # Panics
    /// If `user` was not created by this emulator or `consumer_key` is not a configured app.
    pub fn issue_twitter_token(&self, user: &str, consumer_key: &str) -> (String, String) {
        match self.shared.twitter.issue_token(user, consumer_key) {
            Ok(pair) => pair,
            Err(e) => panic!("issue_twitter_token: {e:?} (user {user:?}, consumer key {consumer_key:?})"),
        }
    }

    /// Issues an OAuth 2.0 user bearer token of `user` for the app `consumer_key` (for
    /// `/2/users/me`). Panics like [`Emulator::issue_twitter_token`].
    pub fn issue_twitter_bearer(&self, user: &str, consumer_key: &str) -> String {
        match self.shared.twitter.issue_bearer(user, consumer_key) {
            Ok(token) => token,
            Err(e) => panic!("issue_twitter_bearer: {e:?} (user {user:?}, consumer key {consumer_key:?})"),
        }
    }

    /// Revokes a Twitter token of either kind (then code 89 / v2 401). Unknown tokens are ignored.
    pub fn revoke_twitter_token(&self, token: &str) {
        self.shared.twitter.revoke_token(token);
    }

    /// Creates a GitHub user with `emails` as `(address, verified, primary)`; returns their id.
    pub fn create_github_user(&self, login: &str, name: Option<&str>, emails: &[(&str, bool, bool)]) -> u64 {
        self.shared.github.create_user(login, name, emails)
    }

    /// Issues a user access token (`gho_` + 36 alphanumerics) of `user` for the OAuth app
    /// `client_id`, with the scopes `read:user` and `user:email`.
    ///
    /// # Panics
    /// If `user` was not created by this emulator or `client_id` is not a configured app.
    pub fn issue_github_token(&self, user: u64, client_id: &str) -> String {
        self.issue_github_token_with_scopes(user, client_id, &github::DEFAULT_SCOPES)
    }

    /// Like [`Emulator::issue_github_token`], with the given OAuth scopes (without `user:email`
    /// or `user`, `/user/emails` answers 404).
    pub fn issue_github_token_with_scopes(&self, user: u64, client_id: &str, scopes: &[&str]) -> String {
        match self.shared.github.issue_token(user, client_id, scopes) {
            Ok(token) => token,
            Err(e) => panic!("issue_github_token: {e:?} (user {user}, client id {client_id:?})"),
        }
    }

    /// Registers `token` as `user`'s token of the OAuth app `client_id` (fixed demo credentials).
    pub fn register_github_token(&self, user: u64, client_id: &str, token: &str) {
        if let Err(e) = self.shared.github.issue_token_as(user, client_id, &["read:user", "user:email"], Some(token)) {
            panic!("register_github_token: {e:?}");
        }
    }

    /// Registers an OAuth 1.0a token pair of `user` for the consumer `consumer_key` (fixed demo
    /// credentials).
    pub fn register_twitter_token(&self, user: &str, consumer_key: &str, token: &str, secret: &str) {
        if let Err(e) = self.shared.twitter.register_token(user, consumer_key, token, secret) {
            panic!("register_twitter_token: {e:?}");
        }
    }

    /// Revokes a GitHub token (the token check then answers 404). Unknown tokens are ignored.
    pub fn revoke_github_token(&self, token: &str) {
        self.shared.github.revoke_token(token);
    }

    /// Creates a user of an OIDC `provider`; returns their `sub` (shaped like the provider's:
    /// Google 21 digits, Apple `001234.<32 hex>.1234`, ...).
    pub fn create_oidc_user(
        &self,
        provider: OidcProvider,
        name: &str,
        email: Option<&str>,
        email_verified: bool,
    ) -> String {
        self.shared.oidc.create_user(provider, name, email, email_verified)
    }

    /// Mints a valid ID token for `sub` with audience `aud`, expiring in 1 h, signed RS256 with the
    /// provider's current key. `nonce`: for Apple the RAW nonce (the claim gets its lowercase hex
    /// SHA-256), for FacebookLimited the claim value itself (pass the hash your client sends);
    /// Google and LinkedIn echo it as given.
    ///
    /// # Panics
    /// If `sub` was not created for `provider` by this emulator (a mistake in the calling test).
    pub fn issue_id_token(&self, provider: OidcProvider, sub: &str, aud: &str, nonce: Option<&str>) -> String {
        match self.shared.oidc.issue_id_token(provider, sub, aud, nonce) {
            Ok(token) => token,
            Err(e) => panic!("issue_id_token: {provider} user {sub:?}: {e}"),
        }
    }

    /// Mints a token from explicit claims (sent exactly as given: set exp/nbf/iss/aud/sub/nonce
    /// as the test wishes) signed as `mode` says, for the verifier's security matrix.
    pub fn sign_id_token(&self, provider: OidcProvider, claims: serde_json::Value, mode: SigningMode) -> String {
        self.shared.oidc.sign(provider, &claims, mode)
    }

    /// The kid `provider` signs new tokens with.
    pub fn current_kid(&self, provider: OidcProvider) -> String {
        self.shared.oidc.current_kid(provider)
    }

    /// Switches `provider` to its next fixture key: new tokens carry the new kid, and its JWKS
    /// lists the new key and the previous one.
    pub fn rotate_keys(&self, provider: OidcProvider) {
        self.shared.oidc.rotate(provider);
    }

    /// Requests received by `provider`'s JWKS route (faulted ones included).
    pub fn jwks_fetches(&self, provider: OidcProvider) -> u64 {
        self.shared.oidc.jwks_fetches(provider)
    }

    /// Sets the `max-age` of every JWKS answer's `Cache-Control` (default 300 s).
    pub fn set_jwks_max_age(&self, secs: u64) {
        self.shared.oidc.set_jwks_max_age(secs);
    }

    /// A plain OAuth access token of a Google or LinkedIn user, for tokeninfo/userinfo, issued
    /// to the client id `aud` (Google: `ya29.` + random, valid 3599 s; LinkedIn: 60 days).
    ///
    /// # Panics
    /// For Apple and FacebookLimited (no such tokens), or if `sub` is not a user of `provider`.
    pub fn issue_oauth_access_token(&self, provider: OidcProvider, sub: &str, aud: &str) -> String {
        match self.shared.oidc.issue_access_token(provider, sub, aud) {
            Ok(token) => token,
            Err(e) => panic!("issue_oauth_access_token: {provider} user {sub:?}: {e}"),
        }
    }

    /// Revokes a Google or LinkedIn access token (tokeninfo/userinfo then reject it). Unknown
    /// tokens are ignored.
    pub fn revoke_oauth_access_token(&self, token: &str) {
        self.shared.oidc.revoke_access_token(token);
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
        Err(e) => admin_error(StatusCode::BAD_REQUEST, format!("{e:?}")),
    }
}

/// The body of every `…/tokens/revoke` admin route: `{"access_token"}` (or `{"token"}`).
#[derive(Deserialize)]
struct RevokeToken {
    #[serde(alias = "token")]
    access_token: String,
}

/// An admin revoke route: parses the body and hands the token to `revoke`.
pub(crate) fn revoke_with(body: &Bytes, revoke: impl FnOnce(&str)) -> Response {
    match admin_body::<RevokeToken>(body) {
        Ok(request) => {
            revoke(&request.access_token);
            Json(json!({ "revoked": true })).into_response()
        }
        Err(response) => *response,
    }
}

async fn admin_revoke_token(State(shared): State<Arc<Shared>>, body: Bytes) -> Response {
    revoke_with(&body, |t| shared.facebook.revoke_token(t))
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
