//! The Twitter/X part, served under `/twitter`: users, OAuth 1.0a user tokens (checked for real:
//! HMAC-SHA1 signature over the request as the client addressed it, consumer and token secret),
//! OAuth 2.0 user bearer tokens, and the endpoints social-login calls, with X's error shapes:
//!
//! - `GET /twitter/1.1/account/verify_credentials.json[?include_email=true&skip_status=true]`
//!   with `Authorization: OAuth ...`
//! - `GET /twitter/2/users/me[?user.fields=profile_image_url]` with `Authorization: Bearer ...`
//!   (or an OAuth 1.0a header)
//!
//! Admin routes (JSON, under `/_emulator/twitter`): `POST users` `{"name", "screen_name",
//! "email"?}` → `{"id_str"}`; `POST tokens` `{"user", "consumer_key"}` → `{"oauth_token",
//! "oauth_token_secret"}`; `POST bearer` `{"user", "consumer_key"}` → `{"access_token"}`;
//! `POST tokens/revoke` `{"token"}` → `{"revoked": true}` (either kind).

use std::collections::{HashMap, HashSet};
use std::fmt;
use std::sync::atomic::Ordering;
use std::sync::{Arc, Mutex};

use axum::body::Bytes;
use axum::extract::{Request, State};
use axum::http::{header, request::Parts, HeaderMap, HeaderValue, Method, StatusCode};
use axum::middleware::{self, Next};
use axum::response::{IntoResponse, Response};
use axum::routing::{any, post};
use axum::{Json, Router};
use base64::engine::general_purpose::STANDARD;
use base64::Engine;
use hmac::{Hmac, Mac};
use serde::Deserialize;
use serde_json::{json, Value};
use sha1::Sha1;

use crate::faults::{self, CloseHandle, Fault};
use crate::util::{lock, now, random_alnum, random_digits};
use crate::{admin_body, admin_error, Shared};

/// Where the Twitter API is mounted in the emulator's router. OAuth 1.0a signatures cover the
/// full path the client used, which includes it.
pub(crate) const PREFIX: &str = "/twitter";

/// How far an `oauth_timestamp` may be from the emulator's clock (X answers code 135 past it).
const TIMESTAMP_WINDOW_SECS: i64 = 15 * 60;

/// A Twitter/X app the emulator knows: its consumer key (API key) and consumer secret.
#[derive(Clone, PartialEq, Eq)]
pub struct TwitterApp {
    pub consumer_key: String,
    pub consumer_secret: String,
}

impl fmt::Debug for TwitterApp {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("TwitterApp")
            .field("consumer_key", &self.consumer_key)
            .field("consumer_secret", &"<redacted>")
            .finish()
    }
}

#[derive(Clone, Debug)]
struct User {
    name: String,
    screen_name: String,
    email: Option<String>,
    avatar: String,
    created_at: String,
}

/// An OAuth 1.0a access token (with its secret) or an OAuth 2.0 bearer token.
#[derive(Clone, Debug)]
struct TokenRecord {
    user: String,
    consumer_key: String,
    /// The OAuth 1.0a token secret; `None` for a bearer token.
    secret: Option<String>,
    revoked: bool,
}

#[derive(Default)]
struct Data {
    users: HashMap<String, User>,
    tokens: HashMap<String, TokenRecord>,
    /// `(consumer key, nonce)` pairs already used: X refuses a replayed nonce.
    nonces: HashSet<(String, String)>,
}

/// Why a token could not be issued.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) enum IssueError {
    UnknownUser,
    UnknownApp,
}

/// The Twitter state: the configured apps (fixed) and the users and tokens created since.
pub(crate) struct Twitter {
    /// consumer key -> consumer secret.
    apps: HashMap<String, String>,
    data: Mutex<Data>,
}

impl Twitter {
    pub(crate) fn new(apps: impl IntoIterator<Item = TwitterApp>) -> Twitter {
        Twitter {
            apps: apps.into_iter().map(|a| (a.consumer_key, a.consumer_secret)).collect(),
            data: Mutex::new(Data::default()),
        }
    }

    pub(crate) fn create_user(&self, name: &str, screen_name: &str, email: Option<&str>) -> String {
        let mut data = lock(&self.data);
        let id = loop {
            // Snowflake-sized ids (19 digits): too large for a double, hence `id_str`.
            let id = format!("1{}", random_digits(18));
            if !data.users.contains_key(&id) {
                break id;
            }
        };
        let avatar =
            format!("https://pbs.twimg.com/profile_images/{}/{}_normal.jpg", random_digits(19), random_alnum(8));
        let created_at = "Wed Oct 10 20:19:24 +0000 2018".to_string();
        let user = User {
            name: name.to_string(),
            screen_name: screen_name.to_string(),
            email: email.map(str::to_string),
            avatar,
            created_at,
        };
        data.users.insert(id.clone(), user);
        id
    }

    fn issue(&self, user: &str, consumer_key: &str, oauth1: bool) -> Result<(String, Option<String>), IssueError> {
        if !self.apps.contains_key(consumer_key) {
            return Err(IssueError::UnknownApp);
        }
        let mut data = lock(&self.data);
        if !data.users.contains_key(user) {
            return Err(IssueError::UnknownUser);
        }
        let (token, secret) = loop {
            let (token, secret) = if oauth1 {
                // X's user access tokens start with the user id.
                (format!("{user}-{}", random_alnum(40)), Some(random_alnum(45)))
            } else {
                (random_alnum(91), None)
            };
            if !data.tokens.contains_key(&token) {
                break (token, secret);
            }
        };
        let record = TokenRecord {
            user: user.to_string(),
            consumer_key: consumer_key.to_string(),
            secret: secret.clone(),
            revoked: false,
        };
        data.tokens.insert(token.clone(), record);
        Ok((token, secret))
    }

    pub(crate) fn issue_token(&self, user: &str, consumer_key: &str) -> Result<(String, String), IssueError> {
        let (token, secret) = self.issue(user, consumer_key, true)?;
        Ok((token, secret.unwrap_or_default()))
    }

    /// Registers a token pair chosen by the caller (the local stack's fixed demo credentials).
    pub(crate) fn register_token(
        &self,
        user: &str,
        consumer_key: &str,
        token: &str,
        secret: &str,
    ) -> Result<(), IssueError> {
        if !self.apps.contains_key(consumer_key) {
            return Err(IssueError::UnknownApp);
        }
        let mut data = lock(&self.data);
        if !data.users.contains_key(user) {
            return Err(IssueError::UnknownUser);
        }
        let record = TokenRecord {
            user: user.to_string(),
            consumer_key: consumer_key.to_string(),
            secret: Some(secret.to_string()),
            revoked: false,
        };
        data.tokens.insert(token.to_string(), record);
        Ok(())
    }

    pub(crate) fn issue_bearer(&self, user: &str, consumer_key: &str) -> Result<String, IssueError> {
        Ok(self.issue(user, consumer_key, false)?.0)
    }

    pub(crate) fn revoke_token(&self, token: &str) {
        if let Some(record) = lock(&self.data).tokens.get_mut(token) {
            record.revoked = true;
        }
    }

    fn user(&self, id: &str) -> Option<User> {
        lock(&self.data).users.get(id).cloned()
    }

    /// Checks an OAuth 1.0a signed request the way X does; returns the user id.
    fn check_oauth1(&self, parts: &Parts, header_value: &str) -> Result<String, V1Error> {
        let oauth = parse_oauth_header(header_value).ok_or_else(V1Error::bad_auth_data)?;
        let get = |k: &str| oauth.iter().find(|(key, _)| key == k).map(|(_, v)| v.as_str());
        let (Some(consumer_key), Some(signature), Some(nonce), Some(timestamp)) =
            (get("oauth_consumer_key"), get("oauth_signature"), get("oauth_nonce"), get("oauth_timestamp"))
        else {
            return Err(V1Error::bad_auth_data());
        };
        if get("oauth_signature_method") != Some("HMAC-SHA1") || get("oauth_version").is_some_and(|v| v != "1.0") {
            return Err(V1Error::could_not_authenticate());
        }
        let consumer_secret = self.apps.get(consumer_key).ok_or_else(V1Error::could_not_authenticate)?;
        let timestamp: i64 = timestamp.parse().map_err(|_| V1Error::could_not_authenticate())?;
        if (now() - timestamp).abs() > TIMESTAMP_WINDOW_SECS {
            return Err(V1Error::timestamp_out_of_bounds());
        }
        let token = get("oauth_token").ok_or_else(V1Error::bad_auth_data)?;
        let record = lock(&self.data).tokens.get(token).cloned().ok_or_else(V1Error::invalid_token)?;
        if record.revoked {
            return Err(V1Error::invalid_token());
        }
        let token_secret = match (&record.secret, record.consumer_key == consumer_key) {
            (Some(secret), true) => secret,
            // A bearer token in an OAuth 1.0a header, or a token of another consumer: the
            // signature cannot match what X holds for this consumer.
            _ => return Err(V1Error::could_not_authenticate()),
        };
        let base = signature_base_string(parts, &oauth).ok_or_else(V1Error::bad_auth_data)?;
        if !signature_matches(consumer_secret, token_secret, &base, signature) {
            return Err(V1Error::could_not_authenticate());
        }
        if !lock(&self.data).nonces.insert((consumer_key.to_string(), nonce.to_string())) {
            return Err(V1Error::could_not_authenticate());
        }
        Ok(record.user)
    }

    /// Checks an OAuth 2.0 user bearer token; returns the user id.
    fn check_bearer(&self, token: &str) -> Option<String> {
        let data = lock(&self.data);
        let record = data.tokens.get(token)?;
        (!record.revoked && record.secret.is_none()).then(|| record.user.clone())
    }
}

/// RFC 3986 percent-encoding as OAuth 1.0a wants it: everything but `A-Z a-z 0-9 - . _ ~`.
fn encode(s: &str) -> String {
    let mut out = String::with_capacity(s.len());
    for b in s.bytes() {
        if b.is_ascii_alphanumeric() || matches!(b, b'-' | b'.' | b'_' | b'~') {
            out.push(char::from(b));
        } else {
            out.push_str(&format!("%{b:02X}"));
        }
    }
    out
}

/// Percent-decoding (no `+` rule: header values are RFC 3986 encoded).
fn decode(s: &str) -> Option<String> {
    let bytes = s.as_bytes();
    let mut out = Vec::with_capacity(bytes.len());
    let mut i = 0;
    while i < bytes.len() {
        if bytes[i] == b'%' {
            let hex = s.get(i + 1..i + 3)?;
            out.push(u8::from_str_radix(hex, 16).ok()?);
            i += 3;
        } else {
            out.push(bytes[i]);
            i += 1;
        }
    }
    String::from_utf8(out).ok()
}

/// The `oauth_*` parameters of `OAuth k="v", ...` (decoded; `realm` dropped).
fn parse_oauth_header(value: &str) -> Option<Vec<(String, String)>> {
    let (scheme, rest) = value.trim().split_once(' ')?;
    if !scheme.eq_ignore_ascii_case("oauth") {
        return None;
    }
    let mut params = Vec::new();
    for item in rest.split(',') {
        let item = item.trim();
        if item.is_empty() {
            continue;
        }
        let (key, value) = item.split_once('=')?;
        let value = value.trim().strip_prefix('"')?.strip_suffix('"')?;
        let key = decode(key.trim())?;
        if key != "realm" {
            params.push((key, decode(value)?));
        }
    }
    Some(params)
}

/// RFC 5849 §3.4.1: method, base string URI (as the client addressed us: `http://`, the `Host`
/// header, the full path) and the normalized parameters (query, form body, `oauth_*` but the
/// signature).
fn signature_base_string(parts: &Parts, oauth: &[(String, String)]) -> Option<String> {
    let host = parts.headers.get(header::HOST)?.to_str().ok()?.to_ascii_lowercase();
    let host = host.strip_suffix(":80").unwrap_or(&host);
    let uri = format!("http://{host}{PREFIX}{}", parts.uri.path());
    let mut params: Vec<(String, String)> = match parts.uri.query() {
        Some(q) => serde_urlencoded::from_str(q).ok()?,
        None => Vec::new(),
    };
    params.extend(oauth.iter().filter(|(k, _)| k != "oauth_signature").cloned());
    let mut encoded: Vec<(String, String)> = params.iter().map(|(k, v)| (encode(k), encode(v))).collect();
    encoded.sort();
    let normalized = encoded.iter().map(|(k, v)| format!("{k}={v}")).collect::<Vec<_>>().join("&");
    Some(format!("{}&{}&{}", parts.method.as_str(), encode(&uri), encode(&normalized)))
}

/// Whether `signature` (base64) is the HMAC-SHA1 of `base` under `consumer_secret&token_secret`.
fn signature_matches(consumer_secret: &str, token_secret: &str, base: &str, signature: &str) -> bool {
    let Ok(signature) = STANDARD.decode(signature) else {
        return false;
    };
    let key = format!("{}&{}", encode(consumer_secret), encode(token_secret));
    let mut mac = Hmac::<Sha1>::new_from_slice(key.as_bytes()).expect("HMAC accepts keys of any length");
    mac.update(base.as_bytes());
    mac.verify_slice(&signature).is_ok()
}

/// A v1.1 error: `{"errors": [{"code", "message"}]}`.
#[derive(Debug)]
pub(crate) struct V1Error {
    status: StatusCode,
    code: u32,
    message: &'static str,
}

impl V1Error {
    fn could_not_authenticate() -> V1Error {
        V1Error { status: StatusCode::UNAUTHORIZED, code: 32, message: "Could not authenticate you." }
    }

    fn invalid_token() -> V1Error {
        V1Error { status: StatusCode::UNAUTHORIZED, code: 89, message: "Invalid or expired token." }
    }

    fn bad_auth_data() -> V1Error {
        V1Error { status: StatusCode::BAD_REQUEST, code: 215, message: "Bad Authentication data." }
    }

    fn timestamp_out_of_bounds() -> V1Error {
        V1Error { status: StatusCode::UNAUTHORIZED, code: 135, message: "Timestamp out of bounds." }
    }

    fn not_found() -> V1Error {
        V1Error { status: StatusCode::NOT_FOUND, code: 34, message: "Sorry, that page does not exist." }
    }
}

impl IntoResponse for V1Error {
    fn into_response(self) -> Response {
        let body = json!({ "errors": [{ "code": self.code, "message": self.message }] });
        let mut response = (self.status, Json(body)).into_response();
        if self.status == StatusCode::UNAUTHORIZED {
            response
                .headers_mut()
                .insert(header::WWW_AUTHENTICATE, HeaderValue::from_static("OAuth realm=\"https://api.twitter.com\""));
        }
        response
    }
}

/// A v2 problem: `{"title", "type", "status", "detail"}`.
fn v2_problem(status: StatusCode, title: &str, detail: &str) -> Response {
    let body = json!({ "title": title, "type": "about:blank", "status": status.as_u16(), "detail": detail });
    (status, [(header::CONTENT_TYPE, "application/problem+json")], body.to_string()).into_response()
}

fn v2_unauthorized() -> Response {
    v2_problem(StatusCode::UNAUTHORIZED, "Unauthorized", "Unauthorized")
}

/// The Twitter API routes (mounted at [`PREFIX`]): every request is counted and subject to the
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
    let fault = provider_fault(&shared, &req, |fault| match fault {
        Fault::Status500 if v2 => {
            Some(v2_problem(StatusCode::INTERNAL_SERVER_ERROR, "Internal Server Error", "Internal Server Error"))
        }
        Fault::Status500 => Some(
            V1Error { status: StatusCode::INTERNAL_SERVER_ERROR, code: 131, message: "Internal error" }.into_response(),
        ),
        Fault::RateLimited if v2 => {
            Some(v2_problem(StatusCode::TOO_MANY_REQUESTS, "Too Many Requests", "Too Many Requests"))
        }
        Fault::RateLimited => Some(
            V1Error { status: StatusCode::TOO_MANY_REQUESTS, code: 88, message: "Rate limit exceeded" }.into_response(),
        ),
        _ => None,
    })
    .await;
    match fault {
        Some(response) => response,
        None => next.run(req).await,
    }
}

/// Shared by the Twitter and GitHub routers: counts a provider request, then returns the response
/// the current fault calls for (`shaped` gives the provider's own shape for a fault, else the
/// emulator's generic one), or `None` to serve the request. The returned future does not borrow
/// the request.
pub(crate) fn provider_fault(
    shared: &Shared,
    req: &Request,
    shaped: impl FnOnce(Fault) -> Option<Response>,
) -> impl std::future::Future<Output = Option<Response>> {
    shared.requests.fetch_add(1, Ordering::SeqCst);
    let fault = *lock(&shared.fault);
    let shaped = shaped(fault);
    // Taken before awaiting: a `&Request` is not `Send`.
    let close = req.extensions().get::<CloseHandle>().cloned();
    async move {
        match shaped {
            Some(response) => Some(response),
            None => faults::apply(fault, close).await,
        }
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

async fn admin_create_user(State(shared): State<Arc<Shared>>, body: Bytes) -> Response {
    let user: NewUser = match admin_body(&body) {
        Ok(user) => user,
        Err(response) => return *response,
    };
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

async fn admin_issue_token(State(shared): State<Arc<Shared>>, body: Bytes) -> Response {
    let request: NewToken = match admin_body(&body) {
        Ok(request) => request,
        Err(response) => return *response,
    };
    match shared.twitter.issue_token(&request.user, &request.consumer_key) {
        Ok((token, secret)) => Json(json!({ "oauth_token": token, "oauth_token_secret": secret })).into_response(),
        Err(e) => issue_error(e, &request),
    }
}

async fn admin_issue_bearer(State(shared): State<Arc<Shared>>, body: Bytes) -> Response {
    let request: NewToken = match admin_body(&body) {
        Ok(request) => request,
        Err(response) => return *response,
    };
    match shared.twitter.issue_bearer(&request.user, &request.consumer_key) {
        Ok(token) => Json(json!({ "access_token": token, "token_type": "bearer" })).into_response(),
        Err(e) => issue_error(e, &request),
    }
}

async fn admin_revoke_token(State(shared): State<Arc<Shared>>, body: Bytes) -> Response {
    crate::revoke_with(&body, |t| shared.twitter.revoke_token(t))
}

#[cfg(test)]
mod tests {
    use super::*;
    use axum::http::Request as HttpRequest;

    fn parts(method: &str, uri: &str, host: &str) -> Parts {
        let (parts, ()) =
            HttpRequest::builder().method(method).uri(uri).header("host", host).body(()).expect("request").into_parts();
        parts
    }

    /// X's "Creating a signature" guide: its request, parameters and expected signature.
    #[test]
    fn base_string_and_signature_match_the_documented_example() {
        let mut oauth = vec![
            ("oauth_consumer_key".to_string(), "xvz1evFS4wEEPTGEFPHBog".to_string()),
            ("oauth_nonce".into(), "kYjzVBB8Y0ZFabxSWbWovY3uYSQ2pTgmZeNu2VS4cg".into()),
            ("oauth_signature_method".into(), "HMAC-SHA1".into()),
            ("oauth_timestamp".into(), "1318622958".into()),
            ("oauth_token".into(), "370773112-GmHxMAgYyLbNEtIKZeRNFsMKPR9EyMZeS9weJAEb".into()),
            ("oauth_version".into(), "1.0".into()),
        ];
        oauth.push(("oauth_signature".into(), "ignored".into()));
        // The guide's status is a form body; a query parameter is signed the same way.
        let p = parts(
            "POST",
            "/1.1/statuses/update.json?include_entities=true&status=Hello%20Ladies%20%2b%20Gentlemen%2c%20a%20signed%20OAuth%20request%21",
            "API.twitter.com:80",
        );
        let base = signature_base_string(&p, &oauth).expect("base string");
        assert_eq!(
            base,
            "POST&http%3A%2F%2Fapi.twitter.com%2Ftwitter%2F1.1%2Fstatuses%2Fupdate.json&include_entities%3Dtrue%26oauth_consumer_key%3Dxvz1evFS4wEEPTGEFPHBog%26oauth_nonce%3DkYjzVBB8Y0ZFabxSWbWovY3uYSQ2pTgmZeNu2VS4cg%26oauth_signature_method%3DHMAC-SHA1%26oauth_timestamp%3D1318622958%26oauth_token%3D370773112-GmHxMAgYyLbNEtIKZeRNFsMKPR9EyMZeS9weJAEb%26oauth_version%3D1.0%26status%3DHello%2520Ladies%2520%252B%2520Gentlemen%252C%2520a%2520signed%2520OAuth%2520request%2521"
        );
        // The guide's exact base string (https, no mount prefix) and signature.
        let documented = base.replace("http%3A%2F%2Fapi.twitter.com%2Ftwitter%2F", "https%3A%2F%2Fapi.twitter.com%2F");
        let consumer = "kAcSOqF21Fu85e7zjz7ZN2U4ZRhfV3WpwPAoE3Z7kBw";
        let token = "LswwdoUaIvS8ltyTt5jkRh4J50vUPVVHtR2YPi5kE";
        assert!(signature_matches(consumer, token, &documented, "hCtSmYh+iHYCEqBWrE7C7hYmtUk="));
        assert!(!signature_matches(consumer, "other", &documented, "hCtSmYh+iHYCEqBWrE7C7hYmtUk="));
        assert!(!signature_matches(consumer, token, &documented, "not base64!"));
    }

    #[test]
    fn oauth_header_is_parsed_and_decoded() {
        let params = parse_oauth_header(r#"OAuth realm="x", oauth_consumer_key="a%20b",oauth_signature="c%2Bd%3D""#)
            .expect("params");
        assert_eq!(
            params,
            vec![("oauth_consumer_key".to_string(), "a b".to_string()), ("oauth_signature".into(), "c+d=".into())]
        );
        assert_eq!(parse_oauth_header("Bearer abc"), None);
        assert_eq!(parse_oauth_header(r#"OAuth oauth_token=unquoted"#), None);
        assert_eq!(parse_oauth_header(r#"OAuth oauth_token="%zz""#), None);
    }

    #[test]
    fn encoding_is_rfc3986() {
        assert_eq!(encode("Ladies + Gentlemen!*~._-"), "Ladies%20%2B%20Gentlemen%21%2A~._-");
        assert_eq!(encode("🦀"), "%F0%9F%A6%80");
        assert_eq!(decode("%F0%9F%A6%80").as_deref(), Some("🦀"));
    }
}
