//! The HTTP side of the OIDC providers: JWKS, Google's tokeninfo and userinfo, LinkedIn's
//! userinfo, and the `/_emulator/oidc/` admin routes. Error bodies are the providers' own.

use std::collections::HashMap;
use std::sync::atomic::Ordering;
use std::sync::Arc;

use axum::body::Bytes;
use axum::extract::{Path, Request, State};
use axum::http::{header, request::Parts, HeaderMap, HeaderValue, Method, StatusCode};
use axum::response::{IntoResponse, Response};
use axum::routing::{any, post};
use axum::{Json, Router};
use serde::Deserialize;
use serde_json::{json, Map, Value};

use super::{OidcError, OidcProvider};
use crate::faults::{self, CloseHandle};
use crate::util::{lock, now};
use crate::{admin_body, admin_error, Shared};

/// The provider routes and their admin routes, to merge into the emulator's router.
pub(crate) fn router() -> Router<Arc<Shared>> {
    let mut router = Router::new()
        .route("/google/oauth2/v3/certs", any(google_certs))
        .route("/google/tokeninfo", any(google_tokeninfo))
        .route("/google/v1/userinfo", any(google_userinfo))
        .route("/linkedin/oauth/openid/jwks", any(linkedin_jwks))
        .route("/linkedin/v2/userinfo", any(linkedin_userinfo))
        .route("/linkedin/oauth/v2/introspectToken", any(linkedin_introspect))
        .route("/apple/auth/keys", any(apple_keys))
        .route("/facebook-limited/.well-known/oauth/openid/jwks/", any(facebook_limited_jwks))
        .route("/facebook-limited/.well-known/oauth/openid/jwks", any(facebook_limited_jwks))
        .route("/_emulator/oidc/{provider}/users", post(admin_create_user))
        .route("/_emulator/oidc/{provider}/id_tokens", post(admin_issue_id_token))
        .route("/_emulator/oidc/{provider}/access_tokens", post(admin_issue_access_token))
        .route("/_emulator/oidc/{provider}/rotate", post(admin_rotate));
    // Anything else under a provider prefix: that provider's 404, counted and faulted too.
    for provider in OidcProvider::ALL {
        let handler = move |State(shared): State<Arc<Shared>>, req: Request| async move {
            let (parts, _) = req.into_parts();
            match gate(&shared, &parts).await {
                Some(response) => response,
                None => not_found(provider),
            }
        };
        router = router
            .route(&format!("/{}", provider.slug()), any(handler))
            .route(&format!("/{}/{{*rest}}", provider.slug()), any(handler));
    }
    router
}

/// What every provider request goes through first: it is counted, then the fault (if any)
/// answers instead of the provider.
async fn gate(shared: &Shared, parts: &Parts) -> Option<Response> {
    shared.requests.fetch_add(1, Ordering::SeqCst);
    let fault = *lock(&shared.fault);
    let close = parts.extensions.get::<CloseHandle>().cloned();
    faults::apply(fault, close).await
}

fn not_found(provider: OidcProvider) -> Response {
    let body = match provider {
        OidcProvider::Google => json!({ "error": { "code": 404, "message": "Not Found", "status": "NOT_FOUND" } }),
        OidcProvider::LinkedIn => json!({ "status": 404, "message": "Resource not found" }),
        OidcProvider::Apple | OidcProvider::FacebookLimited => json!({ "error": "not_found" }),
    };
    (StatusCode::NOT_FOUND, Json(body)).into_response()
}

fn method_not_allowed(allowed: &'static str) -> Response {
    (StatusCode::METHOD_NOT_ALLOWED, [(header::ALLOW, allowed)], Json(json!({ "error": "method_not_allowed" })))
        .into_response()
}

// ---- JWKS ----

async fn google_certs(State(shared): State<Arc<Shared>>, req: Request) -> Response {
    jwks(&shared, OidcProvider::Google, req).await
}

async fn linkedin_jwks(State(shared): State<Arc<Shared>>, req: Request) -> Response {
    jwks(&shared, OidcProvider::LinkedIn, req).await
}

async fn apple_keys(State(shared): State<Arc<Shared>>, req: Request) -> Response {
    jwks(&shared, OidcProvider::Apple, req).await
}

async fn facebook_limited_jwks(State(shared): State<Arc<Shared>>, req: Request) -> Response {
    jwks(&shared, OidcProvider::FacebookLimited, req).await
}

async fn jwks(shared: &Shared, provider: OidcProvider, req: Request) -> Response {
    shared.oidc.count_jwks_fetch(provider);
    let (parts, _) = req.into_parts();
    if let Some(response) = gate(shared, &parts).await {
        return response;
    }
    if parts.method != Method::GET && parts.method != Method::HEAD {
        return method_not_allowed("GET, HEAD");
    }
    let max_age = shared.oidc.jwks_max_age();
    let cache_control = match provider {
        OidcProvider::Google => format!("public, max-age={max_age}, must-revalidate, no-transform"),
        _ => format!("public, max-age={max_age}"),
    };
    let mut response = Json(shared.oidc.jwks(provider)).into_response();
    if let Ok(value) = HeaderValue::from_str(&cache_control) {
        response.headers_mut().insert(header::CACHE_CONTROL, value);
    }
    response
}

// ---- Google ----

/// `GET|POST /google/tokeninfo?access_token=...` (like `https://oauth2.googleapis.com/tokeninfo`).
async fn google_tokeninfo(State(shared): State<Arc<Shared>>, req: Request) -> Response {
    let (parts, body) = req.into_parts();
    if let Some(response) = gate(&shared, &parts).await {
        return response;
    }
    if parts.method != Method::GET && parts.method != Method::POST {
        return method_not_allowed("GET, POST");
    }
    let body = axum::body::to_bytes(body, 1 << 20).await.unwrap_or_default();
    let params = params(&parts, &body);
    let no_store = |mut response: Response| {
        response
            .headers_mut()
            .insert(header::CACHE_CONTROL, HeaderValue::from_static("no-cache, no-store, max-age=0, must-revalidate"));
        response
    };
    let Some(token) = params.get("access_token").filter(|t| !t.is_empty()) else {
        return no_store(google_error(
            StatusCode::BAD_REQUEST,
            "invalid_request",
            "Either access_token, id_token, or token_handle required",
        ));
    };
    let now = now();
    let Some((record, user)) = shared.oidc.check_access_token(OidcProvider::Google, token, now) else {
        return no_store(google_error(StatusCode::BAD_REQUEST, "invalid_token", "Invalid Value"));
    };
    // Google answers every value as a string here, email_verified and the times included.
    let mut out = Map::new();
    out.insert("azp".into(), Value::from(record.aud.clone()));
    out.insert("aud".into(), Value::from(record.aud.clone()));
    out.insert("sub".into(), Value::from(record.sub.clone()));
    out.insert("scope".into(), Value::from(super::GOOGLE_SCOPES));
    out.insert("exp".into(), Value::from(record.expires_at.to_string()));
    out.insert("expires_in".into(), Value::from((record.expires_at - now).to_string()));
    if let Some(email) = &user.email {
        out.insert("email".into(), Value::from(email.clone()));
        out.insert("email_verified".into(), super::string_bool(user.email_verified));
    }
    out.insert("access_type".into(), Value::from("online"));
    no_store(Json(Value::Object(out)).into_response())
}

/// `GET /google/v1/userinfo` with `Authorization: Bearer` (or `?access_token=`), like
/// `https://openidconnect.googleapis.com/v1/userinfo`.
async fn google_userinfo(State(shared): State<Arc<Shared>>, req: Request) -> Response {
    let (parts, _) = req.into_parts();
    if let Some(response) = gate(&shared, &parts).await {
        return response;
    }
    if parts.method != Method::GET && parts.method != Method::POST {
        return method_not_allowed("GET, POST");
    }
    let token = bearer(&parts.headers).or_else(|| params(&parts, &Bytes::new()).remove("access_token"));
    let found = token.and_then(|t| shared.oidc.check_access_token(OidcProvider::Google, &t, now()));
    let Some((record, user)) = found else {
        let mut response = google_error(StatusCode::UNAUTHORIZED, "invalid_request", "Invalid Credentials");
        response.headers_mut().insert(
            header::WWW_AUTHENTICATE,
            HeaderValue::from_static("Bearer realm=\"https://accounts.google.com/\", error=\"invalid_token\""),
        );
        return response;
    };
    let mut out = Map::new();
    out.insert("sub".into(), Value::from(record.sub));
    out.insert("name".into(), Value::from(user.name.clone()));
    if let Some(given) = user.given_name() {
        out.insert("given_name".into(), Value::from(given));
    }
    if let Some(family) = user.family_name() {
        out.insert("family_name".into(), Value::from(family));
    }
    if let Some(picture) = &user.picture {
        out.insert("picture".into(), Value::from(picture.clone()));
    }
    if let Some(email) = &user.email {
        out.insert("email".into(), Value::from(email.clone()));
        out.insert("email_verified".into(), Value::from(user.email_verified));
    }
    Json(Value::Object(out)).into_response()
}

fn google_error(status: StatusCode, error: &str, description: &str) -> Response {
    (status, Json(json!({ "error": error, "error_description": description }))).into_response()
}

// ---- LinkedIn ----

/// `GET /linkedin/v2/userinfo` with `Authorization: Bearer`.
/// `POST /linkedin/oauth/v2/introspectToken` (form: `client_id`, `client_secret`, `token`), as
/// LinkedIn's token introspection answers: `{"active": true, "client_id", ...}` for a live token,
/// `{"active": false}` otherwise; 401 `invalid_client` for wrong app credentials.
async fn linkedin_introspect(State(shared): State<Arc<Shared>>, req: Request) -> Response {
    let (parts, body) = req.into_parts();
    if let Some(response) = gate(&shared, &parts).await {
        return response;
    }
    if parts.method != Method::POST {
        return method_not_allowed("POST");
    }
    let bytes = axum::body::to_bytes(body, 64 * 1024).await.unwrap_or_default();
    let form: HashMap<String, String> = serde_urlencoded::from_bytes(&bytes).unwrap_or_default();
    let field = |k: &str| form.get(k).map(String::as_str).unwrap_or("");
    match shared.oidc.introspect_linkedin(field("client_id"), field("client_secret"), field("token"), now()) {
        None => (
            StatusCode::UNAUTHORIZED,
            Json(json!({"error": "invalid_client", "error_description": "Client authentication failed"})),
        )
            .into_response(),
        Some(None) => Json(json!({"active": false})).into_response(),
        Some(Some((client_id, expires_at))) => Json(json!({
            "active": true, "client_id": client_id, "authorized_at": expires_at - 5_184_000,
            "created_at": expires_at - 5_184_000, "status": "active", "expires_at": expires_at,
            "scope": "openid,profile,email", "auth_type": "3L",
        }))
        .into_response(),
    }
}

async fn linkedin_userinfo(State(shared): State<Arc<Shared>>, req: Request) -> Response {
    let (parts, _) = req.into_parts();
    if let Some(response) = gate(&shared, &parts).await {
        return response;
    }
    if parts.method != Method::GET {
        return method_not_allowed("GET");
    }
    let Some(token) = bearer(&parts.headers) else {
        return linkedin_error(65604, "Empty oauth2 access token");
    };
    let Some((record, user)) = shared.oidc.check_access_token(OidcProvider::LinkedIn, &token, now()) else {
        return linkedin_error(65600, "Invalid access token");
    };
    let mut out = Map::new();
    out.insert("sub".into(), Value::from(record.sub));
    if user.email.is_some() {
        out.insert("email_verified".into(), Value::from(user.email_verified));
    }
    out.insert("name".into(), Value::from(user.name.clone()));
    out.insert("locale".into(), json!({ "country": "US", "language": "en" }));
    if let Some(given) = user.given_name() {
        out.insert("given_name".into(), Value::from(given));
    }
    if let Some(family) = user.family_name() {
        out.insert("family_name".into(), Value::from(family));
    }
    if let Some(email) = &user.email {
        out.insert("email".into(), Value::from(email.clone()));
    }
    if let Some(picture) = &user.picture {
        out.insert("picture".into(), Value::from(picture.clone()));
    }
    Json(Value::Object(out)).into_response()
}

fn linkedin_error(code: u32, message: &str) -> Response {
    let body = json!({ "serviceErrorCode": code, "message": message, "status": 401 });
    (StatusCode::UNAUTHORIZED, Json(body)).into_response()
}

// ---- request helpers ----

/// The token of `Authorization: Bearer <token>`.
fn bearer(headers: &HeaderMap) -> Option<String> {
    let value = headers.get(header::AUTHORIZATION)?.to_str().ok()?.trim();
    let (scheme, token) = value.split_once(' ')?;
    let token = token.trim();
    (scheme.eq_ignore_ascii_case("bearer") && !token.is_empty()).then(|| token.to_string())
}

/// Query parameters, plus a form body.
fn params(parts: &Parts, body: &Bytes) -> HashMap<String, String> {
    let mut params = HashMap::new();
    if let Some(query) = parts.uri.query() {
        params.extend(serde_urlencoded::from_str::<Vec<(String, String)>>(query).unwrap_or_default());
    }
    let is_form = parts
        .headers
        .get(header::CONTENT_TYPE)
        .and_then(|v| v.to_str().ok())
        .is_some_and(|v| v.starts_with("application/x-www-form-urlencoded"));
    if is_form && !body.is_empty() {
        params.extend(serde_urlencoded::from_bytes::<Vec<(String, String)>>(body).unwrap_or_default());
    }
    params
}

// ---- admin ----

fn admin_provider(slug: &str) -> Result<OidcProvider, Box<Response>> {
    OidcProvider::from_slug(slug).ok_or_else(|| {
        Box::new(admin_error(
            StatusCode::NOT_FOUND,
            format!("unknown OIDC provider {slug:?}; expected google, linkedin, apple or facebook-limited"),
        ))
    })
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
    let (provider, user) = match admin_provider(&slug).and_then(|p| admin_body::<NewUser>(&body).map(|u| (p, u))) {
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
    let (provider, request) = match admin_provider(&slug).and_then(|p| admin_body::<NewIdToken>(&body).map(|r| (p, r)))
    {
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
    let (provider, request) =
        match admin_provider(&slug).and_then(|p| admin_body::<NewAccessToken>(&body).map(|r| (p, r))) {
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

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn bearer_tokens() {
        let mut headers = HeaderMap::new();
        assert_eq!(bearer(&headers), None);
        headers.insert(header::AUTHORIZATION, HeaderValue::from_static("Bearer  ya29.abc "));
        assert_eq!(bearer(&headers).as_deref(), Some("ya29.abc"));
        headers.insert(header::AUTHORIZATION, HeaderValue::from_static("Basic abc"));
        assert_eq!(bearer(&headers), None);
        headers.insert(header::AUTHORIZATION, HeaderValue::from_static("Bearer "));
        assert_eq!(bearer(&headers), None);
    }
}
