//! Rocket.Chat REST v1: `POST /api/v1/login` with `serviceName`, `accessToken`, `secret`,
//! `expiresIn`, answering `{"status":"success","data":{"authToken","userId","me"},"success":true}`
//! (`API.v1.success()` in `apps/meteor/app/api/server/ApiClass.ts` adds `success`); errors are
//! `{"success":false,"status":"error","error":...,"message":...}`, the envelope ApiClass.ts's
//! login route and `unauthorized()` answer. Every case and its source: docs/compatibility.md.
//!
//! `secret` is accepted for compatibility and never used: Rocket.Chat computes Facebook's
//! appsecret_proof with it, which lets a token of any app in. We use our own app secret.

use lambda_http::http::StatusCode;
use lambda_http::{Body, Request, Response};
use serde::Serialize;
use serde_json::{Map, Value};

use super::{access_token, printable};
use crate::app::App;
use crate::config::Config;
use crate::http::{body_bytes, header_str, json_response, media_type, set_retry_after, RequestLog, MAX_BODY_BYTES};
use crate::identity::Provider;
use crate::login::{LoginError, RocketChatLogin};
use crate::providers::Credentials;
use crate::secret::Secret;
use crate::store::UserRecord;
use crate::throttle::login_keys;

/// A validated OAuth login request.
#[derive(Debug)]
pub struct LoginRequest {
    pub provider: Provider,
    pub credentials: Credentials,
    /// Lifetime of the provider's token, as the client says; validated, not trusted.
    pub expires_in: Option<i64>,
}

#[derive(Debug, Serialize)]
pub struct Email {
    pub address: String,
    pub verified: bool,
}

/// `settings` as `getUserInfo` builds it: `profile` is always `{}`; `preferences` are the
/// server's default user preferences merged with the user's own (we have neither).
#[derive(Debug, Serialize)]
pub struct Settings {
    pub profile: Map<String, Value>,
    pub preferences: Map<String, Value>,
}

#[derive(Debug, Serialize)]
pub struct PasswordService {
    pub exists: bool,
}

/// `services` as `getUserInfo` exposes them: only whether a password exists (never for our
/// users: they sign in with a provider).
#[derive(Debug, Serialize)]
pub struct Services {
    pub password: PasswordService,
}

/// The `me` object: the seed's fields, completed as `getUserInfo`
/// (`apps/meteor/app/api/server/helpers/getUserInfo.ts`) builds it for an OAuth user.
#[derive(Debug, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct Me {
    #[serde(rename = "_id")]
    pub id: String,
    pub name: String,
    pub emails: Vec<Email>,
    pub status: &'static str,
    pub status_connection: &'static str,
    pub username: String,
    /// Only when known: a provider login does not tell it, so never, for now.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub utc_offset: Option<i32>,
    pub active: bool,
    pub roles: Vec<&'static str>,
    #[serde(rename = "_updatedAt")]
    pub updated_at: String,
    /// The first verified address, as `getUserInfo` picks it; absent when none is verified.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub email: Option<String>,
    pub settings: Settings,
    pub avatar_url: String,
    #[serde(rename = "isOAuthUser")]
    pub is_oauth_user: bool,
    pub services: Services,
}

#[derive(Debug, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct LoginData {
    pub auth_token: String,
    pub user_id: String,
    pub me: Me,
}

/// `{"status": "success", "data": ...}`, plus `"success": true` where Rocket.Chat answers through
/// `API.v1.success()` (the login; logout returns its object bare).
#[derive(Debug, Serialize)]
pub struct Success<T> {
    pub status: &'static str,
    pub data: T,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub success: Option<bool>,
}

/// Every Rocket.Chat error body: `unauthorized()`'s `success` and `error`, with the `status` and
/// `message` ApiClass.ts adds for compatibility with the old API.
#[derive(Debug, Serialize)]
pub struct ErrorBody {
    pub success: bool,
    pub status: &'static str,
    pub error: &'static str,
    pub message: String,
}

/// `GET /api/v1/me`: the user object itself, with `"success": true`, as Rocket.Chat answers.
#[derive(Debug, Serialize)]
pub struct MeResponse {
    #[serde(flatten)]
    pub me: Me,
    pub success: bool,
}

/// What `POST /api/v1/login` asks for.
#[derive(Debug)]
pub enum Login {
    OAuth(LoginRequest),
    /// `{"resume": authToken}`.
    Resume(Secret),
}

impl Me {
    pub fn from_login(config: &Config, login: &RocketChatLogin) -> Me {
        Me::from_user(config, &login.user)
    }

    pub fn from_user(config: &Config, u: &UserRecord) -> Me {
        Me {
            id: u.rc_id.clone(),
            name: u.name.clone().unwrap_or_else(|| u.username.clone()),
            emails: u.email.iter().map(|a| Email { address: a.clone(), verified: u.email_verified }).collect(),
            status: "offline",
            status_connection: "offline",
            username: u.username.clone(),
            utc_offset: None,
            active: true,
            roles: vec!["user"],
            updated_at: mongo_date(u.updated_at),
            email: u.email.clone().filter(|_| u.email_verified),
            settings: Settings { profile: Map::new(), preferences: Map::new() },
            avatar_url: avatar_url(config, &u.username),
            is_oauth_user: true,
            services: Services { password: PasswordService { exists: false } },
        }
    }
}

/// `{Site_Url}/avatar/{username}`, as `getUserInfo` builds it (`getURL('/avatar/' + username,
/// {full: true})`); `GET /avatar/{username}` serves it (functions/avatar).
pub fn avatar_url(config: &Config, username: &str) -> String {
    format!("{}/avatar/{}", config.public_base_url, crate::avatar::encode_path_segment(username))
}

/// A date as MongoDB's driver serializes it to JSON: milliseconds, UTC (`2026-11-23T14:23:39.090Z`).
fn mongo_date(micros: i64) -> String {
    let millis = micros.div_euclid(1000);
    let text = crate::clock::rfc3339_micros(millis * 1000);
    // `…:39.090000Z` → `…:39.090Z`
    match text.strip_suffix("000Z") {
        Some(head) => format!("{head}Z"),
        None => text,
    }
}

fn bad(message: &str) -> LoginError {
    LoginError::BadRequest(message.to_string())
}

/// What Meteor's `login` method answers when no login handler takes the request (no
/// credentials at all): `Meteor.Error(400, "Unrecognized options for login request")`, which
/// Rocket.Chat's `loginErrorMessageOverride.ts` turns into `User not found` and ApiClass.ts into
/// the plain 401 `Unauthorized`. A refusal, not a malformed request.
pub const UNRECOGNIZED: &str = "Unrecognized options for login request";

fn unrecognized() -> LoginError {
    LoginError::TokenRejected(UNRECOGNIZED.into())
}

/// An optional string field: absent, null or blank is `None`, anything but a string is an
/// invalid parameter (Meteor's `check` failing).
fn opt_string<'a>(map: &'a Map<String, Value>, field: &str) -> Result<Option<&'a str>, LoginError> {
    match map.get(field) {
        None | Some(Value::Null) => Ok(None),
        Some(Value::String(s)) if s.trim().is_empty() => Ok(None),
        Some(Value::String(s)) => Ok(Some(s)),
        Some(_) => Err(LoginError::BadRequest(format!("{field} must be a string."))),
    }
}

/// Reads and validates the login body. Only OAuth logins (`serviceName`) are served here, with
/// the fields Rocket.Chat's clients send: `accessToken`, Google's `idToken`, Apple's
/// `identityToken` and `fullName`, Twitter's `accessTokenSecret`; `nonce` for Apple and
/// Facebook Limited Login.
pub fn parse_login(req: &Request) -> Result<LoginRequest, LoginError> {
    oauth_login(json_body(req)?)
}

/// Reads a login body: a resume token, or an OAuth login. As Meteor's login handlers do, an
/// empty `resume` is no resume, and a body without credentials is [`UNRECOGNIZED`].
pub fn parse(req: &Request) -> Result<Login, LoginError> {
    let map = json_body(req)?;
    match opt_string(&map, "resume").map_err(|_| bad("resume must be a string."))? {
        None => Ok(Login::OAuth(oauth_login(map)?)),
        Some(t) => Ok(Login::Resume(access_token(t)?)),
    }
}

/// The body as a JSON object (size checked). As Rocket.Chat's body parser leaves `bodyParams`
/// empty for a body it cannot read (another media type, not JSON, not an object), such a body
/// is a login request without credentials: [`UNRECOGNIZED`].
fn json_body(req: &Request) -> Result<Map<String, Value>, LoginError> {
    let body = body_bytes(req);
    if body.len() > MAX_BODY_BYTES {
        return Err(bad("Request body is too large."));
    }
    if !matches!(media_type(req).as_deref(), None | Some("application/json")) {
        return Err(unrecognized());
    }
    match serde_json::from_slice(body) {
        Ok(Value::Object(map)) => Ok(map),
        _ => Err(unrecognized()),
    }
}

fn oauth_login(map: Map<String, Value>) -> Result<LoginRequest, LoginError> {
    let access = opt_string(&map, "accessToken")?;
    let id_token = match opt_string(&map, "idToken")? {
        Some(t) => Some(t),
        None => opt_string(&map, "identityToken")?,
    };
    // Rocket.Chat's OAuth handler (`if (!options.accessToken) return undefined`) and Apple's
    // (`identityToken`) pass; no other handler takes the request.
    if access.is_none() && id_token.is_none() {
        return Err(unrecognized());
    }
    let service = opt_string(&map, "serviceName")?.ok_or_else(|| bad("serviceName is required."))?;
    let token_secret = opt_string(&map, "accessTokenSecret")?;
    let nonce = opt_string(&map, "nonce")?;
    let name = full_name(map.get("fullName"))?;
    if !matches!(map.get("secret"), None | Some(Value::Null) | Some(Value::String(_))) {
        return Err(bad("secret must be a string."));
    }
    let provider =
        Provider::from_service_name(service).ok_or_else(|| LoginError::UnsupportedService(printable(service)))?;
    let expires_in = match map.get("expiresIn") {
        // Apple's sign-in gives no token lifetime to send.
        None | Some(Value::Null) if provider == Provider::Apple => None,
        None | Some(Value::Null) => return Err(bad("expiresIn is required.")),
        Some(v) => Some(v.as_i64().filter(|n| *n >= 0).ok_or_else(|| bad("expiresIn must be an integer."))?),
    };
    let secret = |v: Option<&str>| v.map(access_token).transpose();
    let credentials = match (provider, access, id_token) {
        // A lone token that is a JWT is an ID token, whatever field it came in.
        (_, Some(a), None) => {
            let mut c = Credentials::from_single_token(provider, access_token(a)?);
            c.token_secret = c.token_secret.or(secret(token_secret)?);
            c
        }
        (_, a, id) => Credentials {
            access_token: secret(a)?,
            id_token: secret(id)?,
            token_secret: secret(token_secret)?,
            ..Credentials::default()
        },
    };
    Ok(LoginRequest { provider, credentials: Credentials { nonce: secret(nonce)?, name, ..credentials }, expires_in })
}

/// Apple's `fullName`: a string, or the `{givenName, familyName}` object iOS hands the app.
fn full_name(v: Option<&Value>) -> Result<Option<String>, LoginError> {
    match v {
        None | Some(Value::Null) => Ok(None),
        Some(Value::String(s)) => Ok(Some(s.clone()).filter(|s| !s.trim().is_empty())),
        Some(Value::Object(o)) => {
            let part = |k: &str| o.get(k).and_then(Value::as_str);
            let parts: Vec<&str> = [part("givenName"), part("familyName")].into_iter().flatten().collect();
            Ok(Some(parts.join(" ")).filter(|s| !s.trim().is_empty()))
        }
        Some(_) => Err(bad("fullName must be a string or an object.")),
    }
}

/// `unauthorized('You must be logged in to do this.')` with the old API's `status` and
/// `message` (ApiClass.ts, a route with `authRequired` and no valid `X-User-Id`/`X-Auth-Token`).
pub const NOT_LOGGED_IN: &str = "You must be logged in to do this.";

/// Status, `error` and `message` of each failure: the one mapping of [`LoginError`] for this
/// dialect. Internals never reach the body. Every login refusal is a 401 (Rocket.Chat's login
/// route answers every failure it expects with `unauthorized()`); docs/compatibility.md lists
/// each case beside the real server's answer.
pub fn error_parts(err: &LoginError) -> (StatusCode, &'static str, String) {
    match err {
        LoginError::TooManyFailures(wait) => (
            StatusCode::TOO_MANY_REQUESTS,
            "error-too-many-requests",
            format!(
                "Error, too many requests. Please slow down. You must wait {} seconds before trying this endpoint again.",
                (*wait).max(1)
            ),
        ),
        LoginError::NotLoggedIn | LoginError::InvalidUserKey | LoginError::UserNotFound => {
            (StatusCode::UNAUTHORIZED, NOT_LOGGED_IN, NOT_LOGGED_IN.into())
        }
        // Meteor's `check` failing in a login handler: a 500 in today's Rocket.Chat (a plain
        // Error, not a Meteor.Error), the 401 its older API gave (deviation in the doc).
        LoginError::BadRequest(msg) => (StatusCode::UNAUTHORIZED, "error-invalid-params", msg.clone()),
        LoginError::UnsupportedService(name) => (
            StatusCode::UNAUTHORIZED,
            "error-invalid-service",
            format!("Unexpected AccessToken service {name}"),
        ),
        // Every Meteor.Error of a login handler (no credentials, an unknown resume token) becomes
        // `User not found` (loginErrorMessageOverride.ts), which the login route answers as
        // `Unauthorized`; a token the provider refuses answers the same.
        LoginError::TokenRejected(_) | LoginError::MissingApiKey | LoginError::InvalidApiKey => {
            (StatusCode::UNAUTHORIZED, "Unauthorized", "Unauthorized".into())
        }
        LoginError::ProviderUnavailable(_) => (
            StatusCode::BAD_GATEWAY,
            "error-provider-unavailable",
            "The identity provider is unavailable. Try again later.".into(),
        ),
        LoginError::ProviderTimeout => (
            StatusCode::GATEWAY_TIMEOUT,
            "error-provider-timeout",
            "The identity provider did not answer in time. Try again later.".into(),
        ),
        LoginError::StoreUnavailable(_) => (
            StatusCode::SERVICE_UNAVAILABLE,
            "error-service-unavailable",
            "Service temporarily unavailable. Try again later.".into(),
        ),
        // The Rocket.Chat route has no instance in its URL: a missing one is our configuration.
        LoginError::UnknownInstance
        | LoginError::PermissionDenied
        | LoginError::UserCreateDenied
        // Syncano-only failures: a Rocket.Chat route never raises them.
        | LoginError::UnsupportedMediaType(_)
        | LoginError::MalformedCredentials
        | LoginError::MethodNotAllowed(_)
        | LoginError::Internal(_) => {
            (StatusCode::INTERNAL_SERVER_ERROR, "Internal server error", "Internal server error".into())
        }
    }
}

pub fn error_response(err: &LoginError) -> Response<Body> {
    let (status, error, message) = error_parts(err);
    let mut resp = json_response(status, &ErrorBody { success: false, status: "error", error, message });
    set_retry_after(&mut resp, err);
    resp
}

/// `notFound()` (ApiClass.ts): `{"success": false, "error": "Resource not found"}`, in the
/// envelope of every other error.
pub fn not_found_response() -> Response<Body> {
    let message = "Resource not found";
    json_response(
        StatusCode::NOT_FOUND,
        &ErrorBody { success: false, status: "error", error: message, message: message.into() },
    )
}

/// The whole Rocket.Chat login (OAuth or resume): parse, log in, answer (with its log line).
pub async fn handle(app: &App, req: &Request, route: &'static str) -> Response<Body> {
    let mut log = RequestLog::start(req, route);
    let result = match parse(req) {
        Ok(Login::OAuth(login)) => {
            log.provider(login.provider);
            let keys = login_keys(req, Some((login.provider, &login.credentials)));
            app.limited(keys, app.rocketchat_login(login.provider, &login.credentials)).await
        }
        Ok(Login::Resume(token)) => app.limited(login_keys(req, None), app.rocketchat_resume(&token)).await,
        Err(e) => Err(e),
    };
    respond(&app.config, log, result)
}

/// `X-Auth-Token` and `X-User-Id`, as every authenticated Rocket.Chat call sends them.
pub(crate) fn auth_headers(req: &Request) -> Result<(Secret, String), LoginError> {
    match (header_str(req, "x-auth-token"), header_str(req, "x-user-id")) {
        (Some(t), Some(u)) if t.len() <= 256 && u.len() <= 64 => Ok((Secret::new(t), u.to_string())),
        _ => Err(LoginError::NotLoggedIn),
    }
}

/// A route of a live session (`X-Auth-Token` + `X-User-Id`): `call` with them, `ok` makes the
/// answer of a success, a failure is the dialect's error body; with its one log line.
async fn session_route<T, Fut>(
    req: &Request,
    route: &'static str,
    call: impl FnOnce(Secret, String) -> Fut,
    ok: impl FnOnce(&T) -> Response<Body>,
) -> Response<Body>
where
    Fut: std::future::Future<Output = Result<T, LoginError>>,
{
    let log = RequestLog::start(req, route);
    let result = match auth_headers(req) {
        Ok((token, user_id)) => call(token, user_id).await,
        Err(e) => Err(e),
    };
    let resp = match &result {
        Ok(value) => ok(value),
        Err(e) => error_response(e),
    };
    log.finish(resp.status(), result.as_ref().err());
    resp
}

/// `GET /api/v1/me`.
pub async fn handle_me(app: &App, req: &Request, route: &'static str) -> Response<Body> {
    session_route(
        req,
        route,
        |token, user_id| async move { app.rocketchat_me(&token, &user_id).await },
        |user| json_response(StatusCode::OK, &MeResponse { me: Me::from_user(&app.config, user), success: true }),
    )
    .await
}

/// `POST /api/v1/logout` and its deprecated alias `GET /api/v1/logout` (ApiClass.ts registers
/// both on the same action): this session only.
pub async fn handle_logout(app: &App, req: &Request, route: &'static str) -> Response<Body> {
    session_route(
        req,
        route,
        |token, user_id| async move { app.rocketchat_logout(&token, &user_id).await },
        |()| {
            json_response(
                StatusCode::OK,
                &Success {
                    status: "success",
                    data: serde_json::json!({ "message": "You've been logged out!" }),
                    success: None,
                },
            )
        },
    )
    .await
}

/// `POST /api/v1/users.removeOtherTokens`: every other session of the user is revoked; Rocket.Chat
/// answers `API.v1.success()`, i.e. `{"success": true}`.
pub async fn handle_remove_other_tokens(app: &App, req: &Request, route: &'static str) -> Response<Body> {
    session_route(
        req,
        route,
        |token, user_id| async move { app.rocketchat_remove_other_tokens(&token, &user_id).await },
        |_| json_response(StatusCode::OK, &serde_json::json!({ "success": true })),
    )
    .await
}

/// The response for a login outcome, with its one log line.
pub fn respond(config: &Config, log: RequestLog, result: Result<RocketChatLogin, LoginError>) -> Response<Body> {
    let resp = match &result {
        Ok(login) => json_response(
            StatusCode::OK,
            &Success {
                status: "success",
                data: LoginData {
                    auth_token: login.auth_token.expose().to_string(),
                    user_id: login.user.rc_id.clone(),
                    me: Me::from_login(config, login),
                },
                success: Some(true),
            },
        ),
        Err(e) => error_response(e),
    };
    log.finish(resp.status(), result.as_ref().err());
    resp
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::secret::Secret;
    use lambda_http::http::Request as HttpRequest;

    fn request(body: &str) -> Request {
        HttpRequest::builder()
            .method("POST")
            .uri("/api/v1/login")
            .header("content-type", "application/json")
            .body(Body::Text(body.into()))
            .expect("request")
    }

    fn bad_request(body: &str) -> String {
        match parse_login(&request(body)) {
            Err(LoginError::BadRequest(m)) => m,
            other => panic!("expected 400 for {body}, got {other:?}"),
        }
    }

    #[test]
    fn the_seed_body_parses_and_secret_is_ignored() {
        let r =
            parse_login(&request(r#"{"serviceName":"facebook","accessToken":"hash","secret":"hash","expiresIn":200}"#))
                .expect("ok");
        assert_eq!(r.provider, Provider::Facebook);
        assert_eq!(r.credentials.access_token.as_ref().map(Secret::expose), Some("hash"));
        assert_eq!(r.expires_in, Some(200));
    }

    #[test]
    fn each_service_gets_its_credentials() {
        let r = parse_login(&request(r#"{"serviceName":"google","accessToken":"ya29.x","idToken":"eyJhbGciOiJSUzI1NiJ9.e30.c2ln","expiresIn":3599}"#)).expect("ok");
        assert!(r.credentials.id_token.is_some() && r.credentials.access_token.is_some());
        let r = parse_login(&request(r#"{"serviceName":"twitter","accessToken":"t","accessTokenSecret":"s","appId":"x","appSecret":"y","expiresIn":0}"#)).expect("ok");
        assert_eq!(r.credentials.token_secret.as_ref().map(Secret::expose), Some("s"));
        let r = parse_login(&request(r#"{"serviceName":"apple","identityToken":"eyJhbGciOiJSUzI1NiJ9.e30.c2ln","nonce":"n","fullName":{"givenName":"Ann","familyName":"Apple"}}"#)).expect("ok");
        assert_eq!((r.credentials.name.as_deref(), r.expires_in), (Some("Ann Apple"), None));
        assert!(r.credentials.id_token.is_some() && r.credentials.nonce.is_some());
    }

    fn unrecognized_body(body: &str) {
        match parse(&request(body)) {
            Err(LoginError::TokenRejected(m)) => assert_eq!(m, UNRECOGNIZED, "{body}"),
            other => panic!("expected Unrecognized for {body}, got {other:?}"),
        }
    }

    #[test]
    fn invalid_params_name_the_field_and_are_401() {
        assert!(bad_request(r#"{"serviceName":"facebook","accessToken":"x","expiresIn":"200"}"#).contains("expiresIn"));
        assert!(bad_request(r#"{"serviceName":"facebook","accessToken":"x","expiresIn":1.5}"#).contains("expiresIn"));
        assert!(bad_request(r#"{"serviceName":"facebook","accessToken":"x"}"#).contains("expiresIn"));
        assert!(bad_request(r#"{"serviceName":"facebook","accessToken":7,"expiresIn":1}"#).contains("accessToken"));
        assert!(bad_request(r#"{"accessToken":"x","expiresIn":1}"#).contains("serviceName"));
        assert!(
            bad_request(r#"{"serviceName":"facebook","accessToken":"x","secret":1,"expiresIn":1}"#).contains("secret")
        );
        let (status, error, _) = error_parts(&LoginError::BadRequest("expiresIn must be an integer.".into()));
        assert_eq!((status, error), (StatusCode::UNAUTHORIZED, "error-invalid-params"));
    }

    #[test]
    fn no_credentials_is_meteors_unrecognized_request() {
        for body in ["", "nope", "[]", "null", "{}", r#"{"serviceName":"facebook","expiresIn":1}"#, r#"{"resume":""}"#]
        {
            unrecognized_body(body);
        }
        let (status, error, message) = error_parts(&LoginError::TokenRejected(UNRECOGNIZED.into()));
        assert_eq!((status, error, message.as_str()), (StatusCode::UNAUTHORIZED, "Unauthorized", "Unauthorized"));
    }

    #[test]
    fn unserved_services_are_401_naming_them() {
        let err = parse_login(&request(r#"{"serviceName":"myspace","accessToken":"x","expiresIn":1}"#))
            .expect_err("unserved");
        let (status, error, message) = error_parts(&err);
        assert_eq!((status, error), (StatusCode::UNAUTHORIZED, "error-invalid-service"));
        assert_eq!(message, "Unexpected AccessToken service myspace");
    }

    #[test]
    fn rejected_tokens_are_rocketchats_401() {
        let (status, error, message) = error_parts(&LoginError::TokenRejected("code 190".into()));
        assert_eq!((status, error, message.as_str()), (StatusCode::UNAUTHORIZED, "Unauthorized", "Unauthorized"));
    }

    #[test]
    fn dates_are_mongos_milliseconds() {
        assert_eq!(mongo_date(1_433_859_819_090_423), "2015-06-09T14:23:39.090Z");
        assert_eq!(mongo_date(1_433_859_819_000_000), "2015-06-09T14:23:39.000Z");
    }
}
