//! Rocket.Chat REST v1: `POST /api/v1/login` with `serviceName`, `accessToken`, `secret`,
//! `expiresIn`, answering `{"status":"success","data":{"authToken","userId","me"}}`; errors are
//! `{"status":"error","error":...,"message":...}`.
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

#[derive(Debug, Serialize)]
pub struct Settings {
    pub preferences: Map<String, Value>,
}

/// The `me` object of the seed's answer.
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
    pub utc_offset: i32,
    pub active: bool,
    pub roles: Vec<&'static str>,
    pub settings: Settings,
    pub avatar_url: String,
}

#[derive(Debug, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct LoginData {
    pub auth_token: String,
    pub user_id: String,
    pub me: Me,
}

#[derive(Debug, Serialize)]
pub struct Success<T> {
    pub status: &'static str,
    pub data: T,
}

#[derive(Debug, Serialize)]
pub struct ErrorBody {
    pub status: &'static str,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub error: Option<&'static str>,
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
            utc_offset: 0,
            active: true,
            roles: vec!["user"],
            settings: Settings { preferences: Map::new() },
            avatar_url: u
                .avatar_url
                .clone()
                .unwrap_or_else(|| format!("{}/avatar/{}", config.public_base_url, u.username)),
        }
    }
}

fn bad(message: &str) -> LoginError {
    LoginError::BadRequest(message.to_string())
}

/// An optional string field: absent or null is `None`, anything but a string is a 400.
fn opt_string<'a>(map: &'a Map<String, Value>, field: &str) -> Result<Option<&'a str>, LoginError> {
    match map.get(field) {
        None | Some(Value::Null) => Ok(None),
        Some(Value::String(s)) if !s.trim().is_empty() => Ok(Some(s)),
        Some(_) => Err(LoginError::BadRequest(format!("{field} must be a non-empty string."))),
    }
}

/// Reads and validates the login body. Only OAuth logins (`serviceName`) are served here, with
/// the fields Rocket.Chat's clients send: `accessToken`, Google's `idToken`, Apple's
/// `identityToken` and `fullName`, Twitter's `accessTokenSecret`; `nonce` for Apple and
/// Facebook Limited Login.
pub fn parse_login(req: &Request) -> Result<LoginRequest, LoginError> {
    oauth_login(json_body(req)?)
}

/// Reads a login body: a resume token, or an OAuth login.
pub fn parse(req: &Request) -> Result<Login, LoginError> {
    let map = json_body(req)?;
    match map.get("resume") {
        None | Some(Value::Null) => Ok(Login::OAuth(oauth_login(map)?)),
        Some(Value::String(t)) if !t.trim().is_empty() => Ok(Login::Resume(access_token(t)?)),
        Some(_) => Err(bad("resume must be a non-empty string.")),
    }
}

/// The body as a JSON object (size and media type checked).
fn json_body(req: &Request) -> Result<Map<String, Value>, LoginError> {
    let body = body_bytes(req);
    if body.len() > MAX_BODY_BYTES {
        return Err(bad("Request body is too large."));
    }
    if !matches!(media_type(req).as_deref(), None | Some("application/json")) {
        return Err(bad("Unsupported media type: send application/json."));
    }
    let value: Value = serde_json::from_slice(body).map_err(|_| bad("Invalid JSON body."))?;
    let Value::Object(map) = value else {
        return Err(bad("The body must be a JSON object."));
    };
    Ok(map)
}

fn oauth_login(map: Map<String, Value>) -> Result<LoginRequest, LoginError> {
    let service = opt_string(&map, "serviceName")?.ok_or_else(|| bad("serviceName is required."))?;
    let access = opt_string(&map, "accessToken")?;
    let id_token = match opt_string(&map, "idToken")? {
        Some(t) => Some(t),
        None => opt_string(&map, "identityToken")?,
    };
    if access.is_none() && id_token.is_none() {
        return Err(bad("accessToken is required."));
    }
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

/// Status, `error` and `message` of each failure. Internals never reach the body.
pub fn error_parts(err: &LoginError) -> (StatusCode, Option<&'static str>, String) {
    let (status, error, message) = match err {
        LoginError::TooManyFailures(_) => (
            StatusCode::TOO_MANY_REQUESTS,
            "error-too-many-requests",
            "Too many failed logins. Try again later.".into(),
        ),
        LoginError::NotLoggedIn | LoginError::InvalidUserKey | LoginError::UserNotFound => {
            return (StatusCode::UNAUTHORIZED, None, "You must be logged in to do this.".into())
        }
        LoginError::BadRequest(msg) => (StatusCode::BAD_REQUEST, "error-invalid-params", msg.clone()),
        LoginError::UnsupportedService(name) => (
            StatusCode::BAD_REQUEST,
            "error-invalid-service",
            format!("The service \"{name}\" is not served by this deployment."),
        ),
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
            (StatusCode::INTERNAL_SERVER_ERROR, "error-internal", "Internal server error.".into())
        }
    };
    (status, Some(error), message)
}

pub fn error_response(err: &LoginError) -> Response<Body> {
    let (status, error, message) = error_parts(err);
    let mut resp = json_response(status, &ErrorBody { status: "error", error, message });
    set_retry_after(&mut resp, err);
    resp
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

/// `GET /api/v1/me`.
pub async fn handle_me(app: &App, req: &Request, route: &'static str) -> Response<Body> {
    let log = RequestLog::start(req, route);
    let result = match auth_headers(req) {
        Ok((token, user_id)) => app.rocketchat_me(&token, &user_id).await,
        Err(e) => Err(e),
    };
    let resp = match &result {
        Ok(user) => json_response(StatusCode::OK, &MeResponse { me: Me::from_user(&app.config, user), success: true }),
        Err(e) => error_response(e),
    };
    log.finish(resp.status(), result.as_ref().err());
    resp
}

/// `POST /api/v1/logout`: this session only.
pub async fn handle_logout(app: &App, req: &Request, route: &'static str) -> Response<Body> {
    let log = RequestLog::start(req, route);
    let result = match auth_headers(req) {
        Ok((token, user_id)) => app.rocketchat_logout(&token, &user_id).await,
        Err(e) => Err(e),
    };
    let resp = match &result {
        Ok(()) => json_response(
            StatusCode::OK,
            &Success { status: "success", data: serde_json::json!({ "message": "You've been logged out!" }) },
        ),
        Err(e) => error_response(e),
    };
    log.finish(resp.status(), result.as_ref().err());
    resp
}

/// `POST /api/v1/users.removeOtherTokens`: every other session of the user is revoked; Rocket.Chat
/// answers `API.v1.success()`, i.e. `{"success": true}`.
pub async fn handle_remove_other_tokens(app: &App, req: &Request, route: &'static str) -> Response<Body> {
    let log = RequestLog::start(req, route);
    let result = match auth_headers(req) {
        Ok((token, user_id)) => app.rocketchat_remove_other_tokens(&token, &user_id).await,
        Err(e) => Err(e),
    };
    let resp = match &result {
        Ok(_) => json_response(StatusCode::OK, &serde_json::json!({ "success": true })),
        Err(e) => error_response(e),
    };
    log.finish(resp.status(), result.as_ref().err());
    resp
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

    #[test]
    fn bad_input_is_400_naming_the_field() {
        assert!(bad_request(r#"{"serviceName":"facebook","accessToken":"x","expiresIn":"200"}"#).contains("expiresIn"));
        assert!(bad_request(r#"{"serviceName":"facebook","accessToken":"x","expiresIn":1.5}"#).contains("expiresIn"));
        assert!(bad_request(r#"{"serviceName":"facebook","accessToken":"x"}"#).contains("expiresIn"));
        assert!(bad_request(r#"{"serviceName":"facebook","expiresIn":1}"#).contains("accessToken"));
        assert!(bad_request(r#"{"serviceName":"facebook","accessToken":7,"expiresIn":1}"#).contains("accessToken"));
        assert!(bad_request(r#"{"accessToken":"x","expiresIn":1}"#).contains("serviceName"));
        assert!(
            bad_request(r#"{"serviceName":"facebook","accessToken":"x","secret":1,"expiresIn":1}"#).contains("secret")
        );
        assert!(bad_request("nope").contains("JSON"));
        assert!(bad_request("[]").contains("object"));
    }

    #[test]
    fn unserved_services_are_400_naming_them() {
        let err = parse_login(&request(r#"{"serviceName":"myspace","accessToken":"x","expiresIn":1}"#))
            .expect_err("unserved");
        let (status, _, message) = error_parts(&err);
        assert_eq!(status, StatusCode::BAD_REQUEST);
        assert!(message.contains("myspace"));
    }

    #[test]
    fn rejected_tokens_are_rocketchats_401() {
        let (status, error, message) = error_parts(&LoginError::TokenRejected("code 190".into()));
        assert_eq!((status, error, message.as_str()), (StatusCode::UNAUTHORIZED, Some("Unauthorized"), "Unauthorized"));
    }
}
