//! Syncano v1.1: `POST /v1.1/instances/{instance}/user/auth/{backend}/` with `X-API-KEY` and
//! `access_token` (JSON or form-encoded), answering the Syncano user object; errors are
//! `{"detail": "..."}`.

use lambda_http::http::{header, HeaderValue, Method, StatusCode};
use lambda_http::request::RequestContext;
use lambda_http::{Body, Request, RequestExt, Response};
use serde::Serialize;
use serde_json::Value;

use super::{access_token, printable};
use crate::app::App;
use crate::clock::rfc3339_micros;
use crate::http::{body_bytes, header_str, json_response, media_type, set_retry_after, RequestLog, MAX_BODY_BYTES};
use crate::identity::Provider;
use crate::login::{LoginError, SyncanoLogin, SyncanoLoginRequest};
use crate::providers::Credentials;
use crate::secret::Secret;
use crate::throttle::login_keys;

#[derive(Debug, Serialize)]
pub struct UserLinks {
    #[serde(rename = "self")]
    pub self_: String,
    #[serde(rename = "reset-key")]
    pub reset_key: String,
    pub groups: String,
    /// The platform's link to the profile data object (`UserSerializer.hyperlinks`).
    pub profile: String,
}

#[derive(Debug, Serialize)]
pub struct ProfileLinks {
    /// The platform's `DataObjectSerializer` link to the profile itself.
    #[serde(rename = "self")]
    pub self_: String,
    pub owner: String,
}

#[derive(Debug, Serialize)]
pub struct Profile {
    pub id: u64,
    pub owner: u64,
    pub owner_permissions: &'static str,
    pub group_permissions: &'static str,
    pub other_permissions: &'static str,
    pub channel: Option<String>,
    pub channel_room: Option<String>,
    pub group: Option<u64>,
    pub avatar: Option<String>,
    pub created_at: String,
    pub updated_at: String,
    pub revision: u64,
    pub links: ProfileLinks,
}

/// The user object of the seed's 200 answer, plus the platform's fields the seed lacks
/// (`UserFullSerializer`): `groups`, `links.profile`, `profile.links.self`.
#[derive(Debug, Serialize)]
pub struct User {
    pub id: u64,
    pub username: String,
    pub user_key: String,
    pub profile: Profile,
    /// The user's groups: this service has none (`GroupSerializer` objects on the platform).
    pub groups: [(); 0],
    pub links: UserLinks,
}

#[derive(Debug, Serialize)]
pub struct ErrorBody {
    pub detail: String,
}

impl User {
    pub fn from_login(login: &SyncanoLogin) -> User {
        let u = &login.user;
        let base = format!("/v1.1/instances/{}/users/{}/", u.instance, u.user_id);
        // One profile per user: it shares the user's id. Profiles are data objects of the
        // `user_profile` class on the platform.
        let profile = format!("/v1.1/instances/{}/classes/user_profile/objects/{}/", u.instance, u.user_id);
        User {
            id: u.user_id,
            username: u.username.clone(),
            user_key: login.user_key.expose().to_string(),
            profile: Profile {
                // One profile per user: it shares the user's id.
                id: u.user_id,
                owner: u.user_id,
                owner_permissions: "full",
                group_permissions: "none",
                other_permissions: "none",
                channel: None,
                channel_room: None,
                group: None,
                avatar: u.avatar_url.clone(),
                created_at: rfc3339_micros(u.created_at),
                updated_at: rfc3339_micros(u.updated_at),
                revision: u.revision,
                links: ProfileLinks { self_: profile.clone(), owner: base.clone() },
            },
            groups: [],
            links: UserLinks {
                reset_key: format!("{base}reset_key/"),
                groups: format!("{base}groups/"),
                profile,
                self_: base,
            },
        }
    }
}

/// Reads the path's `{instance}`, the API key (wherever the platform accepts it: [`api_key`])
/// and the body: `access_token` (the provider token; for Twitter `token:secret`), and for Apple
/// and Facebook Limited Login the raw `nonce`, for Apple the `name` it gave the app at first
/// sign-in. Body errors that the platform only meets after the key check are kept in
/// `credentials` (a body the key itself had to be read from fails here, as there).
pub fn parse_login(req: &Request, provider: Provider) -> Result<SyncanoLoginRequest, LoginError> {
    let instance = path_param(req, "instance", LoginError::InvalidApiKey)?;
    let data = request_data(req);
    let api_key = api_key(req, &data)?;
    let credentials = data.map_err(|e| e.into_login()).and_then(|d| credentials(&d, provider));
    Ok(SyncanoLoginRequest { instance, api_key, credentials })
}

/// The credentials of the body, as the platform's `SocialAuthSerializer` (a `CharField`) reads
/// `access_token`; the optional `nonce` and `name` are this service's additions.
fn credentials(data: &Data, provider: Provider) -> Result<Credentials, LoginError> {
    let fields = data.fields().ok_or(LoginError::MalformedCredentials)?;
    let token = fields.char_field("access_token").ok_or(LoginError::MalformedCredentials)?;
    let mut credentials = Credentials::from_single_token(provider, access_token(&token)?);
    credentials.nonce = fields.optional("nonce")?.map(|n| access_token(&n)).transpose()?;
    credentials.name = fields.optional("name")?;
    Ok(credentials)
}

/// The request's data as the platform's parsers read it (`settings.REST_FRAMEWORK`:
/// JSON, `text/plain` read as JSON by `PreflightParser`, form, multipart). A request without a
/// body or without a `Content-Type` has empty data, as in Django REST framework.
enum Data {
    Fields(Fields),
    /// JSON that is not an object (a list, a number): no field can be read from it.
    NotAnObject,
}

impl Data {
    fn fields(&self) -> Option<&Fields> {
        match self {
            Data::Fields(f) => Some(f),
            Data::NotAnObject => None,
        }
    }
}

/// Why the body could not be read; the status and `detail` come from [`error_status`].
#[derive(Debug)]
enum BodyError {
    TooLarge,
    Json(String),
    Form,
    Multipart,
    Media(String),
}

impl BodyError {
    fn into_login(self) -> LoginError {
        match self {
            BodyError::TooLarge => LoginError::BadRequest("Request body is too large.".into()),
            BodyError::Json(why) => LoginError::BadRequest(format!("JSON parse error - {why}")),
            BodyError::Form => LoginError::BadRequest("Form parse error.".into()),
            BodyError::Multipart => LoginError::BadRequest("Multipart form parse error.".into()),
            BodyError::Media(media_type) => LoginError::UnsupportedMediaType(media_type),
        }
    }
}

fn request_data(req: &Request) -> Result<Data, BodyError> {
    let body = body_bytes(req);
    let Some(content_type) = header_str(req, "content-type") else {
        return Ok(Data::Fields(Fields(Vec::new())));
    };
    if body.is_empty() {
        return Ok(Data::Fields(Fields(Vec::new())));
    }
    if body.len() > MAX_BODY_BYTES {
        return Err(BodyError::TooLarge);
    }
    match media_type(req).as_deref() {
        Some("application/json" | "text/plain") => json_data(body),
        Some("application/x-www-form-urlencoded") => form_fields(body).map(Data::Fields),
        Some("multipart/form-data") => multipart_fields(content_type, body).map(Data::Fields),
        _ => Err(BodyError::Media(printable(content_type))),
    }
}

/// A query parameter as Django's `request.GET.get` reads it (the last value), if not empty.
fn query_param(req: &Request, name: &str) -> Option<String> {
    let params = req.query_string_parameters_ref()?;
    params.all(name)?.last().map(|v| v.trim().to_string()).filter(|v| !v.is_empty())
}

/// The API key where the platform's `ApiKeyAuthentication.get_api_key` looks for it, in its
/// order: the `X-API-KEY` header, the `api_key` or `apikey` query parameter, the
/// `Authorization` header (`<scheme> <key>`, e.g. `ApiKey …` or `Token …`), the body's
/// `_api_key`. Only the last needs the body, so only then can a bad body fail the request.
fn api_key(req: &Request, data: &Result<Data, BodyError>) -> Result<Option<Secret>, LoginError> {
    if let Some(key) = header_str(req, "x-api-key") {
        return Ok(Some(Secret::new(key)));
    }
    if let Some(key) = query_param(req, "api_key").or_else(|| query_param(req, "apikey")) {
        return Ok(Some(Secret::new(key)));
    }
    if let Some(authorization) = header_str(req, "authorization") {
        // `_, api_key = header.split(' ', 2)`: exactly one space, any scheme word.
        let parts: Vec<&str> = authorization.splitn(3, ' ').collect();
        if let [_, key] = parts.as_slice() {
            return Ok((!key.is_empty()).then(|| Secret::new(*key)));
        }
    }
    body_key(data, "_api_key")
}

/// The user key where `ApiKeyAuthentication.get_user_key` looks for it: the `X-USER-KEY`
/// header, the `user_key` or `userkey` query parameter, the body's `_user_key`.
fn user_key(req: &Request, data: &Result<Data, BodyError>) -> Result<Option<Secret>, LoginError> {
    if let Some(key) = header_str(req, "x-user-key") {
        return Ok(Some(Secret::new(key)));
    }
    if let Some(key) = query_param(req, "user_key").or_else(|| query_param(req, "userkey")) {
        return Ok(Some(Secret::new(key)));
    }
    body_key(data, "_user_key")
}

/// A key sent in the body (to avoid a CORS preflight). A key that is not a string is a wrong
/// key (the platform's regex match on it is a 500: its bug, not copied).
fn body_key(data: &Result<Data, BodyError>, field: &str) -> Result<Option<Secret>, LoginError> {
    let data = match data {
        Ok(d) => d,
        Err(BodyError::TooLarge) => return Err(BodyError::TooLarge.into_login()),
        Err(BodyError::Json(why)) => return Err(BodyError::Json(why.clone()).into_login()),
        Err(BodyError::Form) => return Err(BodyError::Form.into_login()),
        Err(BodyError::Multipart) => return Err(BodyError::Multipart.into_login()),
        Err(BodyError::Media(m)) => return Err(BodyError::Media(m.clone()).into_login()),
    };
    Ok(match data.fields().and_then(|f| f.get(field)) {
        None => None,
        Some(Value::String(s)) if s.is_empty() => None,
        Some(Value::String(s)) => Some(Secret::new(s.as_str())),
        Some(_) => Some(Secret::new("")),
    })
}

/// The body's fields, from JSON, a form or a multipart form.
struct Fields(Vec<(String, Value)>);

impl Fields {
    /// The field's value, the last one if repeated (as `QueryDict.get`); `null` is absent.
    fn get(&self, field: &str) -> Option<&Value> {
        self.0.iter().rev().find(|(k, _)| k == field).map(|(_, v)| v).filter(|v| !v.is_null())
    }

    /// A Django REST framework `CharField`: a string or a number, whitespace trimmed, not blank.
    fn char_field(&self, field: &str) -> Option<String> {
        let text = match self.get(field)? {
            Value::String(s) => s.trim().to_string(),
            Value::Number(n) => n.to_string(),
            _ => return None,
        };
        (!text.is_empty()).then_some(text)
    }

    fn optional(&self, field: &str) -> Result<Option<String>, LoginError> {
        match self.get(field) {
            None => Ok(None),
            Some(Value::String(s)) if s.trim().is_empty() => {
                Err(LoginError::BadRequest(format!("{field}: This field may not be blank.")))
            }
            Some(Value::String(s)) => Ok(Some(s.clone())),
            Some(_) => Err(LoginError::BadRequest(format!("{field}: Not a valid string."))),
        }
    }
}

fn json_data(body: &[u8]) -> Result<Data, BodyError> {
    let value: Value = serde_json::from_slice(body).map_err(|e| BodyError::Json(json_error(&e)))?;
    Ok(match value {
        Value::Object(map) => Data::Fields(Fields(map.into_iter().collect())),
        _ => Data::NotAnObject,
    })
}

/// A JSON syntax error's position, without any of the input.
fn json_error(e: &serde_json::Error) -> String {
    let what = match e.classify() {
        serde_json::error::Category::Eof => "unexpected end of input",
        _ => "invalid JSON",
    };
    format!("{what} at line {} column {}", e.line(), e.column())
}

fn form_fields(body: &[u8]) -> Result<Fields, BodyError> {
    let pairs: Vec<(String, String)> = serde_urlencoded::from_bytes(body).map_err(|_| BodyError::Form)?;
    Ok(Fields(pairs.into_iter().map(|(k, v)| (k, Value::String(v))).collect()))
}

/// The text fields of a `multipart/form-data` body (file parts are not strings: a token sent as
/// a file is no token).
fn multipart_fields(content_type: &str, body: &[u8]) -> Result<Fields, BodyError> {
    let boundary = content_type
        .split(';')
        .skip(1)
        .filter_map(|p| p.trim().split_once('='))
        .find(|(k, _)| k.trim().eq_ignore_ascii_case("boundary"))
        .map(|(_, v)| v.trim().trim_matches('"').to_string())
        .filter(|b| !b.is_empty() && b.len() <= 70)
        .ok_or(BodyError::Multipart)?;
    let delimiter = format!("--{boundary}");
    let text = std::str::from_utf8(body).map_err(|_| BodyError::Multipart)?;
    let mut parts = text.split(delimiter.as_str());
    // Before the first delimiter: the preamble; after the last (`--`): the epilogue.
    parts.next();
    let mut fields = Vec::new();
    for part in parts {
        if part.starts_with("--") {
            return Ok(Fields(fields));
        }
        let part = part.strip_prefix("\r\n").ok_or(BodyError::Multipart)?;
        let (headers, value) = part.split_once("\r\n\r\n").ok_or(BodyError::Multipart)?;
        let value = value.strip_suffix("\r\n").ok_or(BodyError::Multipart)?;
        let disposition = headers
            .split("\r\n")
            .find_map(|h| h.split_once(':').filter(|(k, _)| k.trim().eq_ignore_ascii_case("content-disposition")))
            .map(|(_, v)| v)
            .ok_or(BodyError::Multipart)?;
        let param =
            |name: &str| {
                disposition.split(';').skip(1).filter_map(|p| p.trim().split_once('=')).find_map(|(k, v)| {
                    k.trim().eq_ignore_ascii_case(name).then(|| v.trim().trim_matches('"').to_string())
                })
            };
        let name = param("name").ok_or(BodyError::Multipart)?;
        let value = if param("filename").is_some() { Value::Bool(false) } else { Value::String(value.into()) };
        fields.push((name, value));
    }
    Err(BodyError::Multipart)
}

/// Status and `detail` of each failure, as the platform words them (`apps/core/exceptions.py`,
/// Django REST framework's own exceptions). Internals never reach the body.
pub fn error_status(err: &LoginError) -> (StatusCode, String) {
    const NO_PERMISSION: &str = "You do not have permission to perform this action.";
    let (status, detail) = match err {
        LoginError::BadRequest(msg) => (StatusCode::BAD_REQUEST, msg.as_str()),
        LoginError::UnsupportedMediaType(media_type) => {
            return (StatusCode::UNSUPPORTED_MEDIA_TYPE, format!("Unsupported media type \"{media_type}\" in request."))
        }
        LoginError::MethodNotAllowed(method) => {
            return (StatusCode::METHOD_NOT_ALLOWED, format!("Method \"{method}\" not allowed."))
        }
        LoginError::MalformedCredentials => (StatusCode::UNAUTHORIZED, "Invalid authorization token."),
        LoginError::UnsupportedService(_) => (StatusCode::BAD_REQUEST, "Unsupported social backend."),
        // DRF's permission denial when no key authenticated the request.
        LoginError::MissingApiKey => (StatusCode::FORBIDDEN, NO_PERMISSION),
        // An unknown instance answers like a wrong key: instance names cannot be probed for.
        LoginError::InvalidApiKey | LoginError::UnknownInstance => (StatusCode::FORBIDDEN, "No such API Key."),
        LoginError::PermissionDenied => (StatusCode::FORBIDDEN, NO_PERMISSION),
        LoginError::UserCreateDenied => (StatusCode::FORBIDDEN, "You do not have permission to create new user."),
        LoginError::TokenRejected(_) => (StatusCode::UNAUTHORIZED, "Invalid username or password."),
        LoginError::ProviderUnavailable(_) => {
            (StatusCode::BAD_GATEWAY, "The identity provider is unavailable. Try again later.")
        }
        LoginError::ProviderTimeout => {
            (StatusCode::GATEWAY_TIMEOUT, "The identity provider did not answer in time. Try again later.")
        }
        LoginError::StoreUnavailable(_) => {
            (StatusCode::SERVICE_UNAVAILABLE, "Service temporarily unavailable. Try again later.")
        }
        // `HasUser`: no user authenticated by the user key.
        LoginError::NotLoggedIn | LoginError::InvalidUserKey => (StatusCode::FORBIDDEN, NO_PERMISSION),
        LoginError::UserNotFound => (StatusCode::NOT_FOUND, "Not found."),
        LoginError::TooManyFailures(_) => (StatusCode::TOO_MANY_REQUESTS, "Too many failed logins. Try again later."),
        LoginError::Internal(_) => (StatusCode::INTERNAL_SERVER_ERROR, "Internal server error."),
    };
    (status, detail.to_string())
}

pub fn error_response(err: &LoginError) -> Response<Body> {
    let (status, detail) = error_status(err);
    let mut resp = json_response(status, &ErrorBody { detail });
    set_retry_after(&mut resp, err);
    resp
}

/// The whole Syncano social login of one backend: parse, log in, answer (with its log line).
pub async fn handle(app: &App, req: &Request, provider: Provider, route: &'static str) -> Response<Body> {
    let mut log = RequestLog::start(req, route);
    log.provider(provider);
    let result = match parse_login(req, provider) {
        Ok(login) => {
            let keys = login_keys(req, login.credentials.as_ref().ok().map(|c| (provider, c)));
            app.limited(keys, app.syncano_login(login, provider)).await
        }
        Err(e) => Err(e),
    };
    respond(log, result)
}

/// The path parameter `name`, or the error a missing one is.
fn path_param(req: &Request, name: &str, missing: LoginError) -> Result<String, LoginError> {
    req.path_parameters_ref().and_then(|p| p.first(name)).map(str::to_string).ok_or(missing)
}

/// `GET /v1.1/instances/{instance}/user/` with the API key and the user key: the user.
pub async fn handle_user(app: &App, req: &Request, route: &'static str) -> Response<Body> {
    let log = RequestLog::start(req, route);
    respond(log, current_user(app, req).await)
}

async fn current_user(app: &App, req: &Request) -> Result<SyncanoLogin, LoginError> {
    let instance = path_param(req, "instance", LoginError::InvalidApiKey)?;
    let data = request_data(req);
    let api_key = api_key(req, &data)?;
    // The user key is read only once the API key authenticated the request.
    let (instance, _) = app.check_api_key(&instance, api_key.as_ref()).await?;
    let user_key = user_key(req, &data)?;
    app.syncano_user_of_key(&instance, user_key.as_ref()).await
}

/// `POST /v1.1/instances/{instance}/users/{id}/reset_key/` with an admin API key: a new user key.
pub async fn handle_reset_key(app: &App, req: &Request, route: &'static str) -> Response<Body> {
    let log = RequestLog::start(req, route);
    let result = async {
        let instance = path_param(req, "instance", LoginError::InvalidApiKey)?;
        let api_key = api_key(req, &request_data(req))?;
        let id = path_param(req, "id", LoginError::UserNotFound)?;
        app.syncano_reset_key(&instance, api_key.as_ref(), &id).await
    }
    .await;
    respond(log, result)
}

/// The response for a login outcome, with its one log line.
pub fn respond(log: RequestLog, result: Result<SyncanoLogin, LoginError>) -> Response<Body> {
    let resp = match &result {
        Ok(login) => json_response(StatusCode::OK, &User::from_login(login)),
        Err(e) => error_response(e),
    };
    log.finish(resp.status(), result.as_ref().err());
    resp
}

/// Every route the Syncano functions serve (method, path): the one list the fallback's `Allow`
/// header is derived from; a test keeps it equal to `template.yaml`'s routes.
pub const ROUTES: [(&str, &str); 8] = [
    ("POST", "/v1.1/instances/{instance}/user/auth/facebook/"),
    ("POST", "/v1.1/instances/{instance}/user/auth/google-oauth2/"),
    ("POST", "/v1.1/instances/{instance}/user/auth/twitter/"),
    ("POST", "/v1.1/instances/{instance}/user/auth/linkedin/"),
    ("POST", "/v1.1/instances/{instance}/user/auth/apple/"),
    ("POST", "/v1.1/instances/{instance}/user/auth/github/"),
    ("GET", USER_PATH),
    ("POST", RESET_KEY_PATH),
];

/// `ANY` on the social login path: unknown backends and wrong methods (`SocialAuthView`).
pub const SOCIAL_AUTH_PATH: &str = "/v1.1/instances/{instance}/user/auth/{backend}/";
/// `UserAccountView`.
pub const USER_PATH: &str = "/v1.1/instances/{instance}/user/";
/// `UserViewSet.reset_key`.
pub const RESET_KEY_PATH: &str = "/v1.1/instances/{instance}/users/{id}/reset_key/";

/// The route keys of the fallback function: `ANY` on each path the Syncano functions serve.
pub const FALLBACK_ROUTES: [&str; 3] = [
    "ANY /v1.1/instances/{instance}/user/auth/{backend}/",
    "ANY /v1.1/instances/{instance}/user/",
    "ANY /v1.1/instances/{instance}/users/{id}/reset_key/",
];

/// The methods served on the paths `path` (a route path, `{x}` matching any segment) covers,
/// from [`ROUTES`]: the `Allow` header of its 405.
pub fn allowed_methods(path: &str) -> Vec<&'static str> {
    let covers = |served: &str| {
        let (a, b): (Vec<&str>, Vec<&str>) = (path.split('/').collect(), served.split('/').collect());
        a.len() == b.len() && a.iter().zip(&b).all(|(x, y)| x == y || (x.starts_with('{') && x.ends_with('}')))
    };
    let mut methods: Vec<&'static str> = ROUTES.iter().filter(|(_, p)| covers(p)).map(|(m, _)| *m).collect();
    methods.dedup();
    methods
}

/// The fallback function: `ANY` on the Syncano paths, reached by what no other route takes. As
/// Django REST framework does, the request is authenticated (and permission checked) as the
/// served method would be before the method is refused: 403s first, then 405 with `Allow`. On
/// `user/auth/{backend}/` a POST (a backend no function serves) reads the body as a login would,
/// then answers 400 "Unsupported social backend." (`social_helpers.py`).
pub async fn handle_fallback(app: &App, req: &Request) -> Response<Body> {
    let route_key = match req.request_context_ref() {
        Some(RequestContext::ApiGatewayV2(ctx)) => ctx.route_key.as_deref(),
        _ => None,
    };
    let Some(route) = FALLBACK_ROUTES.into_iter().find(|r| Some(*r) == route_key) else {
        let log = RequestLog::start(req, "ANY (unknown route)");
        let err = LoginError::Internal(format!("the fallback got route {:?}", route_key.map(printable)));
        return respond(log, Err(err));
    };
    let path = route.trim_start_matches("ANY ");
    let allow = allowed_methods(path);
    // Django answers HEAD with the GET handler.
    if req.method() == Method::HEAD && allow.contains(&"GET") && path == USER_PATH {
        return handle_user(app, req, route).await;
    }
    let log = RequestLog::start(req, route);
    let err = fallback_refusal(app, req, path, &allow).await;
    let mut resp = error_response(&err);
    if matches!(err, LoginError::MethodNotAllowed(_)) {
        if let Ok(v) = HeaderValue::from_str(&allow.join(", ")) {
            resp.headers_mut().insert(header::ALLOW, v);
        }
    }
    log.finish(resp.status(), Some(&err));
    resp
}

/// Why the fallback refuses the request: what the served method checks first, then the method.
async fn fallback_refusal(app: &App, req: &Request, path: &str, allow: &[&str]) -> LoginError {
    let refusal = async {
        let instance = path_param(req, "instance", LoginError::InvalidApiKey)?;
        let data = request_data(req);
        let api_key = api_key(req, &data)?;
        let (instance, permissions) = app.check_api_key(&instance, api_key.as_ref()).await?;
        if path == USER_PATH {
            let user_key = user_key(req, &data)?;
            app.syncano_user_of_key(&instance, user_key.as_ref()).await?;
        } else if path == RESET_KEY_PATH && !permissions.ignore_acl {
            return Err(LoginError::PermissionDenied);
        }
        let method = req.method().as_str();
        if !allow.contains(&method) {
            return Err(LoginError::MethodNotAllowed(printable(method)));
        }
        // A POST to a backend no function serves: the body first, as `SocialAuthView.post`.
        let data = data.map_err(BodyError::into_login)?;
        data.fields().and_then(|f| f.char_field("access_token")).ok_or(LoginError::MalformedCredentials)?;
        let backend = path_param(req, "backend", LoginError::UnsupportedService(String::new()))?;
        Err(LoginError::UnsupportedService(printable(&backend)))
    };
    match refusal.await {
        Err(e) => e,
        Ok(()) => LoginError::Internal("the fallback found nothing to refuse".into()),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use lambda_http::http::Request as HttpRequest;
    use std::collections::HashMap;

    fn request_to(uri: &str, ct: Option<&str>, key: Option<&str>, body: &str) -> Request {
        let mut b = HttpRequest::builder().method("POST").uri(uri);
        if let Some(ct) = ct {
            b = b.header("content-type", ct);
        }
        if let Some(k) = key {
            b = b.header("x-api-key", k);
        }
        let req = b.body(Body::Text(body.into())).expect("request");
        let query: HashMap<String, Vec<String>> = req
            .uri()
            .query()
            .map(|q| serde_urlencoded::from_str::<Vec<(String, String)>>(q).expect("query"))
            .map_or_else(HashMap::new, |pairs| {
                let mut m: HashMap<String, Vec<String>> = HashMap::new();
                for (k, v) in pairs {
                    m.entry(k).or_default().push(v);
                }
                m
            });
        req.with_path_parameters(HashMap::from([("instance".to_string(), "demo".to_string())]))
            .with_query_string_parameters(query)
    }

    fn request(ct: Option<&str>, key: Option<&str>, body: &str) -> Request {
        request_to("/v1.1/instances/demo/user/auth/facebook/", ct, key, body)
    }

    fn creds(req: &Request, provider: Provider) -> Result<Credentials, LoginError> {
        parse_login(req, provider).expect("parsed").credentials
    }

    fn token(req: &Request) -> Option<String> {
        creds(req, Provider::Facebook).ok()?.access_token.map(|t| t.expose().to_string())
    }

    fn key(req: &Request) -> Option<String> {
        parse_login(req, Provider::Facebook).expect("parsed").api_key.map(|k| k.expose().to_string())
    }

    #[test]
    fn json_form_multipart_and_text_plain_bodies_are_read() {
        let r = parse_login(
            &request(Some("application/json"), Some("k"), r#"{"access_token":"EAAB"}"#),
            Provider::Facebook,
        )
        .expect("ok");
        assert_eq!(r.instance.as_str(), "demo");
        assert_eq!(
            token(&request(Some("application/json"), Some("k"), r#"{"access_token":"EAAB"}"#)).as_deref(),
            Some("EAAB")
        );
        let form =
            request(Some("application/x-www-form-urlencoded; charset=utf-8"), Some("k"), "access_token=EAAC&x=1");
        assert_eq!(token(&form).as_deref(), Some("EAAC"));
        // PreflightParser: text/plain is JSON (a CORS "simple request").
        assert_eq!(
            token(&request(Some("text/plain"), Some("k"), r#"{"access_token":"EAAD"}"#)).as_deref(),
            Some("EAAD")
        );
        let multipart = "--XyZ\r\nContent-Disposition: form-data; name=\"access_token\"\r\n\r\nEAAE\r\n--XyZ--\r\n";
        assert_eq!(
            token(&request(Some("multipart/form-data; boundary=XyZ"), Some("k"), multipart)).as_deref(),
            Some("EAAE")
        );
        // DRF's CharField: numbers become strings, whitespace is trimmed.
        assert_eq!(
            token(&request(Some("application/json"), Some("k"), r#"{"access_token":42}"#)).as_deref(),
            Some("42")
        );
        assert_eq!(
            token(&request(Some("application/json"), Some("k"), r#"{"access_token":" EAAF "}"#)).as_deref(),
            Some("EAAF")
        );
    }

    #[test]
    fn tokens_are_read_the_way_each_backend_sends_them() {
        let body = |t: &str| format!(r#"{{"access_token":"{t}","nonce":"n0nce","name":"Ann Apple"}}"#);
        let c = creds(&request(Some("application/json"), Some("k"), &body("tok:sec")), Provider::Twitter).expect("ok");
        assert_eq!(
            (c.access_token.as_ref().map(Secret::expose), c.token_secret.as_ref().map(Secret::expose)),
            (Some("tok"), Some("sec"))
        );
        let jwt = "eyJhbGciOiJSUzI1NiIsImtpZCI6ImsifQ.e30.c2ln";
        let c = creds(&request(Some("application/json"), Some("k"), &body(jwt)), Provider::Apple).expect("ok");
        assert_eq!(c.id_token.as_ref().map(Secret::expose), Some(jwt));
        assert!(c.access_token.is_none());
        assert_eq!((c.nonce.as_ref().map(Secret::expose), c.name.as_deref()), (Some("n0nce"), Some("Ann Apple")));
        let c = creds(&request(Some("application/json"), Some("k"), &body("ya29.abc")), Provider::Google).expect("ok");
        assert_eq!(c.access_token.as_ref().map(Secret::expose), Some("ya29.abc"));
    }

    /// `apps/admins/serializers.py` (`SocialAuthSerializer`) and `apps/users/v1/views.py`:
    /// an invalid serializer is 401 "Invalid authorization token.".
    #[test]
    fn a_missing_blank_or_non_string_token_is_invalid_credentials() {
        for body in [
            "{}",
            r#"{"token":"x"}"#,
            r#"{"access_token":""}"#,
            r#"{"access_token":"  "}"#,
            r#"{"access_token":null}"#,
            r#"{"access_token":true}"#,
            r#"{"access_token":["a"]}"#,
            "[1]",
        ] {
            let err = creds(&request(Some("application/json"), Some("k"), body), Provider::Facebook).expect_err(body);
            assert_eq!(error_status(&err), (StatusCode::UNAUTHORIZED, "Invalid authorization token.".into()), "{body}");
        }
        // No Content-Type: DRF reads no data at all.
        let err = creds(&request(None, Some("k"), r#"{"access_token":"EAAB"}"#), Provider::Facebook).expect_err("none");
        assert!(matches!(err, LoginError::MalformedCredentials));
    }

    #[test]
    fn unreadable_bodies_are_400_or_415() {
        let bad = |req: Request| match creds(&req, Provider::Facebook) {
            Err(e) => error_status(&e),
            Ok(_) => panic!("accepted"),
        };
        let (status, detail) = bad(request(Some("application/json"), Some("k"), "{nope"));
        assert_eq!(status, StatusCode::BAD_REQUEST);
        assert!(detail.starts_with("JSON parse error - "), "{detail}");
        assert_eq!(
            bad(request(Some("application/xml"), Some("k"), "<x/>")),
            (StatusCode::UNSUPPORTED_MEDIA_TYPE, "Unsupported media type \"application/xml\" in request.".into())
        );
        let huge = format!(r#"{{"access_token":"{}"}}"#, "a".repeat(MAX_BODY_BYTES));
        assert_eq!(bad(request(Some("application/json"), Some("k"), &huge)).0, StatusCode::BAD_REQUEST);
        assert_eq!(bad(request(Some("multipart/form-data"), Some("k"), "x")).0, StatusCode::BAD_REQUEST);
    }

    /// `apps/core/authentication.py` (`ApiKeyAuthentication.get_api_key`): header, query,
    /// `Authorization`, body, in that order.
    #[test]
    fn api_keys_are_read_where_the_platform_reads_them() {
        let json = Some("application/json");
        let uri = |q: &str| format!("/v1.1/instances/demo/user/auth/facebook/?{q}");
        assert_eq!(key(&request(json, Some("h"), "{}")).as_deref(), Some("h"));
        assert_eq!(key(&request_to(&uri("api_key=q"), json, None, "{}")).as_deref(), Some("q"));
        assert_eq!(key(&request_to(&uri("apikey=q2"), json, None, "{}")).as_deref(), Some("q2"));
        assert_eq!(key(&request_to(&uri("api_key=q&apikey=q2"), json, Some("h"), "{}")).as_deref(), Some("h"));
        assert_eq!(key(&request_to(&uri("api_key="), json, None, r#"{"_api_key":"b"}"#)).as_deref(), Some("b"));
        assert_eq!(key(&request(Some("application/x-www-form-urlencoded"), None, "_api_key=f")).as_deref(), Some("f"));
        let auth = |value: &str| {
            let mut req = request(json, None, r#"{"_api_key":"b"}"#);
            req.headers_mut().insert("authorization", HeaderValue::from_str(value).expect("header"));
            key(&req)
        };
        assert_eq!(auth("ApiKey a1").as_deref(), Some("a1"));
        assert_eq!(auth("Token a2").as_deref(), Some("a2"));
        // Not `<word> <key>`: the body is next.
        assert_eq!(auth("Bearer a b").as_deref(), Some("b"));
        assert_eq!(auth("a3").as_deref(), Some("b"));
        assert_eq!(key(&request(json, None, r#"{"access_token":"t"}"#)), None);
        // A key in a body that cannot be read: the body's error.
        let err = parse_login(&request(json, None, "{nope"), Provider::Facebook).expect_err("bad body");
        assert_eq!(error_status(&err).0, StatusCode::BAD_REQUEST);
        // With the key elsewhere, the body's error waits for the key check.
        assert!(parse_login(&request(json, Some("h"), "{nope"), Provider::Facebook).is_ok());
    }

    #[test]
    fn user_keys_are_read_where_the_platform_reads_them() {
        let json = Some("application/json");
        let uk = |req: &Request| user_key(req, &request_data(req)).expect("ok").map(|k| k.expose().to_string());
        let mut req = request(json, None, "{}");
        req.headers_mut().insert("x-user-key", HeaderValue::from_static("hu"));
        assert_eq!(uk(&req).as_deref(), Some("hu"));
        let q = |query: &str| request_to(&format!("/v1.1/instances/demo/user/?{query}"), json, None, "{}");
        assert_eq!(uk(&q("user_key=qu")).as_deref(), Some("qu"));
        assert_eq!(uk(&q("userkey=qu2")).as_deref(), Some("qu2"));
        assert_eq!(uk(&request(json, None, r#"{"_user_key":"bu"}"#)).as_deref(), Some("bu"));
        assert_eq!(uk(&request(json, None, "{}")), None);
    }

    #[test]
    fn missing_api_key_is_refused_before_the_body_is_read() {
        let login = parse_login(&request(Some("application/json"), None, "garbage"), Provider::Facebook);
        // The body was needed to look for `_api_key`: its error answers.
        assert_eq!(error_status(&login.expect_err("bad body")).0, StatusCode::BAD_REQUEST);
        let login = parse_login(&request(None, None, "garbage"), Provider::Facebook).expect("no data, no key");
        assert!(login.api_key.is_none());
        assert_eq!(
            error_status(&LoginError::MissingApiKey),
            (StatusCode::FORBIDDEN, "You do not have permission to perform this action.".into())
        );
    }

    #[test]
    fn unprintable_tokens_are_rejected_without_the_provider() {
        let err =
            creds(&request(Some("application/json"), Some("k"), r#"{"access_token":"a\nb"}"#), Provider::Facebook)
                .expect_err("bad");
        assert_eq!(error_status(&err).0, StatusCode::UNAUTHORIZED);
    }

    #[test]
    fn allowed_methods_come_from_the_route_list() {
        assert_eq!(allowed_methods(SOCIAL_AUTH_PATH), ["POST"]);
        assert_eq!(allowed_methods(USER_PATH), ["GET"]);
        assert_eq!(allowed_methods(RESET_KEY_PATH), ["POST"]);
        for route in FALLBACK_ROUTES {
            assert!(!allowed_methods(route.trim_start_matches("ANY ")).is_empty(), "{route}");
        }
        assert_eq!(
            error_status(&LoginError::MethodNotAllowed("GET".into())),
            (StatusCode::METHOD_NOT_ALLOWED, "Method \"GET\" not allowed.".into())
        );
    }

    #[test]
    fn internal_details_never_reach_the_body() {
        for e in [
            LoginError::Internal("secret table name".into()),
            LoginError::ProviderUnavailable("graph said x".into()),
            LoginError::TokenRejected("code 190".into()),
            LoginError::StoreUnavailable("throttled".into()),
        ] {
            let (_, detail) = error_status(&e);
            assert!(
                !detail.contains("secret")
                    && !detail.contains("graph")
                    && !detail.contains("190")
                    && !detail.contains("throttled")
            );
        }
        assert_eq!(
            error_status(&LoginError::TokenRejected(String::new())),
            (StatusCode::UNAUTHORIZED, "Invalid username or password.".into())
        );
    }
}
