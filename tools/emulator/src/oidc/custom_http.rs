//! The HTTP side of the custom issuers and the Microsoft-like issuer: discovery, JWKS, and their
//! admin routes under `/_emulator/issuers` and `/_emulator/microsoft` (see the `oidc` module).

use std::sync::Arc;

use axum::extract::{Path, Request, State};
use axum::http::{header, request::Parts, HeaderValue, StatusCode};
use axum::response::{IntoResponse, Response};
use axum::routing::{any, get, post};
use axum::{Json, Router};
use serde::Deserialize;
use serde_json::{json, Map, Value};

use super::custom::{microsoft_tenant_known, Endpoint, FaultOn, IssuerError, OidcIssuerOptions, SigningAlg, MICROSOFT};
use super::SigningMode;
use crate::admin::{admin_error, AdminJson};
use crate::faults::Fault;
use crate::state::Shared;

/// The issuers' routes and their admin routes, to merge into the OIDC router.
pub(super) fn router() -> Router<Arc<Shared>> {
    Router::new()
        .route("/oidc/{name}/.well-known/openid-configuration", any(discovery))
        .route("/oidc/{name}/jwks", any(jwks))
        .route("/oidc/{name}", any(other))
        .route("/oidc/{name}/{*rest}", any(other_nested))
        .route("/microsoft/{tenant}/v2.0/.well-known/openid-configuration", any(microsoft_discovery))
        .route("/microsoft/{tenant}/discovery/v2.0/keys", any(microsoft_jwks))
        .route("/microsoft/{tenant}/discovery/keys", any(microsoft_jwks))
        .route("/microsoft", any(microsoft_other))
        .route("/microsoft/{tenant}", any(microsoft_other))
        .route("/microsoft/{tenant}/{*rest}", any(microsoft_other))
        .route("/_emulator/issuers", post(admin_create))
        .route("/_emulator/issuers/{name}", get(admin_info))
        .route("/_emulator/issuers/{name}/id_tokens", post(admin_id_token))
        .route("/_emulator/issuers/{name}/rotate", post(admin_rotate))
        .route("/_emulator/issuers/{name}/fault", post(admin_fault))
        .route("/_emulator/issuers/{name}/stats", get(admin_stats))
        .route("/_emulator/microsoft/users", post(admin_microsoft_user))
        .route("/_emulator/microsoft/id_tokens", post(admin_microsoft_id_token))
}

/// Counts the request (emulator-wide and per issuer), then answers the issuer's own fault for
/// this endpoint if it has one, else the emulator-wide fault; `None` to serve the request.
/// `Err(())`: there is no issuer `name` (and no fault to answer).
async fn gate(shared: &Shared, parts: &Parts, name: &str, endpoint: Endpoint) -> Result<Option<Response>, ()> {
    let own = shared.oidc.custom.hit(name, endpoint);
    let known = own.is_ok();
    let response = shared.provider_fault_as(&parts.extensions, own.ok().flatten()).await;
    match (known, response) {
        (_, Some(response)) => Ok(Some(response)),
        (true, None) => Ok(None),
        (false, None) => Err(()),
    }
}

fn not_found() -> Response {
    (StatusCode::NOT_FOUND, Json(json!({ "error": "not_found" }))).into_response()
}

fn only_get(parts: &Parts) -> Option<Response> {
    if parts.method == axum::http::Method::GET || parts.method == axum::http::Method::HEAD {
        return None;
    }
    Some(
        (
            StatusCode::METHOD_NOT_ALLOWED,
            [(header::ALLOW, "GET, HEAD")],
            Json(json!({ "error": "method_not_allowed" })),
        )
            .into_response(),
    )
}

/// A JSON answer with the JWKS `Cache-Control` (`public, max-age=N`).
fn cached(shared: &Shared, body: Value) -> Response {
    let mut response = Json(body).into_response();
    if let Ok(value) = HeaderValue::from_str(&format!("public, max-age={}", shared.oidc.jwks_max_age())) {
        response.headers_mut().insert(header::CACHE_CONTROL, value);
    }
    response
}

/// Serves `endpoint` of the issuer `name` with `body` once past the gate.
async fn serve(
    shared: &Shared,
    req: Request,
    name: &str,
    endpoint: Endpoint,
    body: impl FnOnce() -> Result<Value, IssuerError>,
) -> Response {
    let (parts, _) = req.into_parts();
    match gate(shared, &parts, name, endpoint).await {
        Ok(Some(response)) => return response,
        Ok(None) => {}
        Err(()) => return not_found(),
    }
    if let Some(response) = only_get(&parts) {
        return response;
    }
    match body() {
        Ok(body) => cached(shared, body),
        Err(IssuerError::NoBase) => admin_error(StatusCode::INTERNAL_SERVER_ERROR, IssuerError::NoBase.to_string()),
        Err(_) => not_found(),
    }
}

/// The issuer a `/oidc/{name}` path names: Microsoft's lives under `/microsoft` only.
fn custom_name(name: String) -> String {
    if name == MICROSOFT {
        String::new()
    } else {
        name
    }
}

async fn discovery(State(shared): State<Arc<Shared>>, Path(name): Path<String>, req: Request) -> Response {
    note_base(&shared, &req);
    let name = custom_name(name);
    serve(&shared, req, &name, Endpoint::Discovery, || shared.oidc.custom.discovery(&name)).await
}

async fn jwks(State(shared): State<Arc<Shared>>, Path(name): Path<String>, req: Request) -> Response {
    let name = custom_name(name);
    serve(&shared, req, &name, Endpoint::Jwks, || shared.oidc.custom.jwks(&name)).await
}

async fn other(State(shared): State<Arc<Shared>>, Path(name): Path<String>, req: Request) -> Response {
    let name = custom_name(name);
    serve(&shared, req, &name, Endpoint::Other, || Err(IssuerError::Unknown(String::new()))).await
}

async fn other_nested(
    State(shared): State<Arc<Shared>>,
    Path((name, _)): Path<(String, String)>,
    req: Request,
) -> Response {
    let name = custom_name(name);
    serve(&shared, req, &name, Endpoint::Other, || Err(IssuerError::Unknown(String::new()))).await
}

/// Microsoft's answer for a tenant it does not know (`AADSTS90002`).
fn invalid_tenant(tenant: &str) -> Response {
    let description = format!(
        "AADSTS90002: Tenant '{tenant}' not found. Check to make sure you have the correct tenant ID and are signing into the correct cloud."
    );
    let body = json!({
        "error": "invalid_tenant",
        "error_description": description,
        "error_codes": [90002],
        "error_uri": "https://login.microsoftonline.com/error?code=90002",
    });
    (StatusCode::BAD_REQUEST, Json(body)).into_response()
}

async fn microsoft_discovery(State(shared): State<Arc<Shared>>, Path(tenant): Path<String>, req: Request) -> Response {
    note_base(&shared, &req);
    if !microsoft_tenant_known(&tenant) {
        let (parts, _) = req.into_parts();
        return match gate(&shared, &parts, MICROSOFT, Endpoint::Discovery).await {
            Ok(Some(response)) => response,
            _ => invalid_tenant(&tenant),
        };
    }
    serve(&shared, req, MICROSOFT, Endpoint::Discovery, || shared.oidc.custom.microsoft_discovery(&tenant)).await
}

async fn microsoft_jwks(State(shared): State<Arc<Shared>>, Path(tenant): Path<String>, req: Request) -> Response {
    if !microsoft_tenant_known(&tenant) {
        let (parts, _) = req.into_parts();
        return match gate(&shared, &parts, MICROSOFT, Endpoint::Jwks).await {
            Ok(Some(response)) => response,
            _ => invalid_tenant(&tenant),
        };
    }
    serve(&shared, req, MICROSOFT, Endpoint::Jwks, || shared.oidc.custom.microsoft_jwks()).await
}

async fn microsoft_other(State(shared): State<Arc<Shared>>, req: Request) -> Response {
    serve(&shared, req, MICROSOFT, Endpoint::Other, || Err(IssuerError::Unknown(String::new()))).await
}

/// Without a base URL yet (the router served by someone else's server), the first request's
/// `Host` gives it: `http://{host}`.
fn note_base(shared: &Shared, req: &Request) {
    if let Some(host) = req.headers().get(header::HOST).and_then(|h| h.to_str().ok()) {
        shared.oidc.custom.note_base(&format!("http://{host}"));
    }
}

// ---- admin ----

fn issuer_error(error: IssuerError) -> Response {
    let status = match error {
        IssuerError::InvalidName(_) | IssuerError::InvalidTenant(_) | IssuerError::NotCustom => StatusCode::BAD_REQUEST,
        IssuerError::Exists(_) => StatusCode::CONFLICT,
        IssuerError::Unknown(_) | IssuerError::UnknownUser(_) => StatusCode::NOT_FOUND,
        IssuerError::NoBase => StatusCode::INTERNAL_SERVER_ERROR,
    };
    admin_error(status, error.to_string())
}

fn info_json(info: &super::custom::OidcIssuerInfo) -> Value {
    json!({
        "name": info.name,
        "issuer": info.issuer,
        "discovery_url": info.discovery_url,
        "jwks_uri": info.jwks_uri,
        "alg": info.alg.name(),
        "kid": info.kid,
    })
}

#[derive(Deserialize)]
struct NewIssuer {
    name: String,
    #[serde(default)]
    alg: Option<String>,
    #[serde(default)]
    discovery: Map<String, Value>,
}

/// `POST /_emulator/issuers` `{"name", "alg"?, "discovery"?}`
async fn admin_create(State(shared): State<Arc<Shared>>, req: Request) -> Response {
    note_base(&shared, &req);
    let body = match axum::body::to_bytes(req.into_body(), 1 << 20).await {
        Ok(body) => body,
        Err(e) => return admin_error(StatusCode::BAD_REQUEST, e.to_string()),
    };
    let request: NewIssuer = match crate::admin::admin_body(&body) {
        Ok(request) => request,
        Err(response) => return *response,
    };
    let alg = match request.alg.as_deref().map(str::parse::<SigningAlg>).transpose() {
        Ok(alg) => alg.unwrap_or_default(),
        Err(e) => return admin_error(StatusCode::BAD_REQUEST, e),
    };
    match shared.oidc.custom.create(&request.name, OidcIssuerOptions { alg, discovery: request.discovery }) {
        Ok(info) => Json(info_json(&info)).into_response(),
        Err(e) => issuer_error(e),
    }
}

/// `GET /_emulator/issuers/{name}`
async fn admin_info(State(shared): State<Arc<Shared>>, Path(name): Path<String>) -> Response {
    if name == MICROSOFT {
        return issuer_error(IssuerError::NotCustom);
    }
    match shared.oidc.custom.info_of(&name) {
        Ok(info) => Json(info_json(&info)).into_response(),
        Err(e) => issuer_error(e),
    }
}

/// The admin names of the [`SigningMode`]s.
fn signing_mode(name: &str) -> Option<SigningMode> {
    match name {
        "current" => Some(SigningMode::Current),
        "unknown_kid" => Some(SigningMode::UnknownKid),
        "none_alg" | "none" => Some(SigningMode::NoneAlg),
        "hs256_with_public_key" => Some(SigningMode::Hs256WithPublicKey),
        "bad_signature" => Some(SigningMode::BadSignature),
        "other_alg" => Some(SigningMode::OtherAlg),
        _ => None,
    }
}

#[derive(Deserialize)]
struct NewIdToken {
    aud: String,
    #[serde(default)]
    claims: Option<Value>,
    #[serde(default)]
    mode: Option<String>,
}

/// `POST /_emulator/issuers/{name}/id_tokens` `{"aud", "claims"?, "mode"?}`
async fn admin_id_token(
    State(shared): State<Arc<Shared>>,
    Path(name): Path<String>,
    AdminJson(request): AdminJson<NewIdToken>,
) -> Response {
    let mode = match request.mode.as_deref().map(|m| signing_mode(m).ok_or(m)).transpose() {
        Ok(mode) => mode.unwrap_or(SigningMode::Current),
        Err(m) => return admin_error(
            StatusCode::BAD_REQUEST,
            format!("unknown mode {m:?}; expected current, unknown_kid, none_alg, hs256_with_public_key, bad_signature or other_alg"),
        ),
    };
    let claims = request.claims.unwrap_or(Value::Null);
    if !(claims.is_null() || claims.is_object()) {
        return admin_error(StatusCode::BAD_REQUEST, "claims must be a JSON object");
    }
    match shared.oidc.custom.issue(&name, &request.aud, &claims, mode) {
        Ok(id_token) => Json(json!({ "id_token": id_token })).into_response(),
        Err(e) => issuer_error(e),
    }
}

/// `POST /_emulator/issuers/{name}/rotate` → `{"kid"}`
async fn admin_rotate(State(shared): State<Arc<Shared>>, Path(name): Path<String>) -> Response {
    match shared.oidc.custom.rotate(&name) {
        Ok(kid) => Json(json!({ "kid": kid })).into_response(),
        Err(e) => issuer_error(e),
    }
}

#[derive(Deserialize)]
struct SetFault {
    fault: String,
    #[serde(default)]
    on: Option<String>,
}

/// `POST /_emulator/issuers/{name}/fault` `{"fault", "on"?: "all"|"discovery"|"jwks"}`
async fn admin_fault(
    State(shared): State<Arc<Shared>>,
    Path(name): Path<String>,
    AdminJson(request): AdminJson<SetFault>,
) -> Response {
    let fault = match request.fault.parse::<Fault>() {
        Ok(fault) => fault,
        Err(e) => return admin_error(StatusCode::BAD_REQUEST, e.to_string()),
    };
    let on = match request.on.as_deref().map(str::parse::<FaultOn>).transpose() {
        Ok(on) => on.unwrap_or_default(),
        Err(e) => return admin_error(StatusCode::BAD_REQUEST, e),
    };
    match shared.oidc.custom.set_fault(&name, fault, on) {
        Ok(()) => Json(json!({ "fault": fault.name(), "on": on.name() })).into_response(),
        Err(e) => issuer_error(e),
    }
}

/// `GET /_emulator/issuers/{name}/stats` → `{"discovery_fetches", "jwks_fetches"}`
async fn admin_stats(State(shared): State<Arc<Shared>>, Path(name): Path<String>) -> Response {
    match shared.oidc.custom.fetches(&name) {
        Ok((discovery, jwks)) => Json(json!({ "discovery_fetches": discovery, "jwks_fetches": jwks })).into_response(),
        Err(e) => issuer_error(e),
    }
}

#[derive(Deserialize)]
struct NewMicrosoftUser {
    name: String,
    #[serde(default)]
    tenant: Option<String>,
    #[serde(default)]
    preferred_username: Option<String>,
    #[serde(default)]
    email: Option<String>,
}

/// `POST /_emulator/microsoft/users` `{"name", "tenant"?, "preferred_username"?, "email"?}` →
/// `{"oid", "tid"}`
async fn admin_microsoft_user(
    State(shared): State<Arc<Shared>>,
    AdminJson(request): AdminJson<NewMicrosoftUser>,
) -> Response {
    let preferred =
        request.preferred_username.clone().or_else(|| request.email.clone()).unwrap_or_else(|| request.name.clone());
    match shared.oidc.custom.create_microsoft_user(
        request.tenant.as_deref(),
        &request.name,
        &preferred,
        request.email.as_deref(),
    ) {
        Ok(user) => Json(json!({ "oid": user.oid, "tid": user.tid })).into_response(),
        Err(e) => issuer_error(e),
    }
}

#[derive(Deserialize)]
struct NewMicrosoftIdToken {
    oid: String,
    aud: String,
    #[serde(default)]
    nonce: Option<String>,
    #[serde(default)]
    claims: Option<Value>,
}

/// `POST /_emulator/microsoft/id_tokens` `{"oid", "aud", "nonce"?, "claims"?}` → `{"id_token"}`
async fn admin_microsoft_id_token(
    State(shared): State<Arc<Shared>>,
    AdminJson(request): AdminJson<NewMicrosoftIdToken>,
) -> Response {
    let claims = request.claims.unwrap_or(Value::Null);
    if !(claims.is_null() || claims.is_object()) {
        return admin_error(StatusCode::BAD_REQUEST, "claims must be a JSON object");
    }
    match shared.oidc.custom.issue_microsoft(&request.oid, &request.aud, request.nonce.as_deref(), &claims) {
        Ok(id_token) => Json(json!({ "id_token": id_token })).into_response(),
        Err(e) => issuer_error(e),
    }
}
