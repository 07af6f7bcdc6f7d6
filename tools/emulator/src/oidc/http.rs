//! The HTTP side of the OIDC providers: JWKS, Google's tokeninfo and userinfo, LinkedIn's
//! userinfo and token introspection, and the route table (with the `/_emulator/oidc/` admin
//! routes of `admin`). Error bodies are the providers' own.

use std::collections::HashMap;
use std::sync::Arc;

use axum::body::{Body, Bytes};
use axum::extract::{Request, State};
use axum::http::{header, request::Parts, HeaderMap, HeaderValue, StatusCode};
use axum::response::{IntoResponse, Response};
use axum::routing::any;
use axum::{Json, Router};
use serde_json::{json, Map, Value};

use super::admin::admin_router;
use super::{OidcProvider, OidcUser};
use crate::state::Shared;
use crate::util::{form_body, now};

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
        .merge(admin_router())
        .merge(super::custom_http::router());
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
    shared.provider_fault(&parts.extensions, |_| None).await
}

fn not_found(provider: OidcProvider) -> Response {
    let body = match provider {
        OidcProvider::Google => json!({ "error": { "code": 404, "message": "Not Found", "status": "NOT_FOUND" } }),
        OidcProvider::LinkedIn => json!({ "status": 404, "message": "Resource not found" }),
        OidcProvider::Apple | OidcProvider::FacebookLimited => json!({ "error": "not_found" }),
    };
    (StatusCode::NOT_FOUND, Json(body)).into_response()
}

/// A provider request past the [`gate`] whose method is one of `allowed` (as the `Allow` header
/// lists them: `"GET, POST"`), split into its parts and body; or the response to send instead: the
/// fault's, or 405 with that `Allow`.
async fn admit(shared: &Shared, req: Request, allowed: &'static str) -> Result<(Parts, Body), Response> {
    let (parts, body) = req.into_parts();
    if let Some(response) = gate(shared, &parts).await {
        return Err(response);
    }
    if !allowed.split(", ").any(|method| method == parts.method.as_str()) {
        return Err(method_not_allowed(allowed));
    }
    Ok((parts, body))
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
    if let Err(response) = admit(shared, req, "GET, HEAD").await {
        return response;
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
    let (parts, body) = match admit(&shared, req, "GET, POST").await {
        Ok(admitted) => admitted,
        Err(response) => return response,
    };
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
    out.insert("scope".into(), Value::from(super::access_tokens::GOOGLE_SCOPES));
    out.insert("exp".into(), Value::from(record.expires_at.to_string()));
    out.insert("expires_in".into(), Value::from((record.expires_at - now).to_string()));
    if let Some(email) = &user.email {
        out.insert("email".into(), Value::from(email.clone()));
        out.insert("email_verified".into(), super::claims::string_bool(user.email_verified));
    }
    out.insert("access_type".into(), Value::from("online"));
    no_store(Json(Value::Object(out)).into_response())
}

/// `GET /google/v1/userinfo` with `Authorization: Bearer` (or `?access_token=`), like
/// `https://openidconnect.googleapis.com/v1/userinfo`.
async fn google_userinfo(State(shared): State<Arc<Shared>>, req: Request) -> Response {
    let (parts, _) = match admit(&shared, req, "GET, POST").await {
        Ok(admitted) => admitted,
        Err(response) => return response,
    };
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
    Json(Value::Object(userinfo(record.sub, &user))).into_response()
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
    let (_, body) = match admit(&shared, req, "POST").await {
        Ok(admitted) => admitted,
        Err(response) => return response,
    };
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
    let (parts, _) = match admit(&shared, req, "GET").await {
        Ok(admitted) => admitted,
        Err(response) => return response,
    };
    let Some(token) = bearer(&parts.headers) else {
        return linkedin_error(65604, "Empty oauth2 access token");
    };
    let Some((record, user)) = shared.oidc.check_access_token(OidcProvider::LinkedIn, &token, now()) else {
        return linkedin_error(65600, "Invalid access token");
    };
    let mut out = userinfo(record.sub, &user);
    out.insert("locale".into(), json!({ "country": "US", "language": "en" }));
    Json(Value::Object(out)).into_response()
}

/// The userinfo fields Google and LinkedIn both answer: `sub`, `name`, `given_name`,
/// `family_name`, `picture`, and `email` with `email_verified` (a JSON bool), each when known.
fn userinfo(sub: String, user: &OidcUser) -> Map<String, Value> {
    let mut out = Map::new();
    out.insert("sub".into(), Value::from(sub));
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
    out
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
    if let Some(form) = form_body(parts, body) {
        params.extend(serde_urlencoded::from_bytes::<Vec<(String, String)>>(form).unwrap_or_default());
    }
    params
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
