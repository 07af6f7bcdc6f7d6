//! Syncano v1.1: `POST /v1.1/instances/{instance}/user/auth/{backend}/` with `X-API-KEY` and
//! `access_token` (JSON or form-encoded), answering the Syncano user object; errors are
//! `{"detail": "..."}`.

use lambda_http::http::StatusCode;
use lambda_http::{Body, Request, RequestExt, Response};
use serde::Serialize;
use serde_json::Value;

use super::access_token;
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
}

#[derive(Debug, Serialize)]
pub struct ProfileLinks {
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

/// The user object of the seed's 200 answer.
#[derive(Debug, Serialize)]
pub struct User {
    pub id: u64,
    pub username: String,
    pub user_key: String,
    pub profile: Profile,
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
                links: ProfileLinks { owner: base.clone() },
            },
            links: UserLinks { reset_key: format!("{base}reset_key/"), groups: format!("{base}groups/"), self_: base },
        }
    }
}

/// Reads the path's `{instance}`, the `X-API-KEY` header and the body: `access_token` (the
/// provider token; for Twitter `token:secret`), and for Apple and Facebook Limited Login the raw
/// `nonce`, for Apple the `name` it gave the app at first sign-in.
pub fn parse_login(req: &Request, provider: Provider) -> Result<SyncanoLoginRequest, LoginError> {
    let instance = path_param(req, "instance", LoginError::InvalidApiKey)?;
    let api_key = header_str(req, "x-api-key").map(Secret::new);
    if api_key.is_none() {
        return Err(LoginError::MissingApiKey);
    }
    let body = body_bytes(req);
    if body.len() > MAX_BODY_BYTES {
        return Err(LoginError::BadRequest("Request body is too large.".into()));
    }
    let fields = match media_type(req).as_deref() {
        None | Some("application/json") => json_fields(body)?,
        Some("application/x-www-form-urlencoded") => form_fields(body)?,
        Some(_) => {
            return Err(LoginError::BadRequest(
                "Unsupported media type: send application/json or application/x-www-form-urlencoded.".into(),
            ))
        }
    };
    let token = fields.required("access_token")?;
    let mut credentials = Credentials::from_single_token(provider, access_token(&token)?);
    credentials.nonce = fields.optional("nonce")?.map(|n| access_token(&n)).transpose()?;
    credentials.name = fields.optional("name")?;
    Ok(SyncanoLoginRequest { instance, api_key, credentials })
}

/// The body's fields, from JSON or a form; only string values are accepted.
struct Fields(Vec<(String, Value)>);

impl Fields {
    fn get(&self, field: &str) -> Option<&Value> {
        self.0.iter().find(|(k, _)| k == field).map(|(_, v)| v).filter(|v| !v.is_null())
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

    fn required(&self, field: &str) -> Result<String, LoginError> {
        self.optional(field)?.ok_or_else(|| LoginError::BadRequest(format!("{field}: This field is required.")))
    }
}

fn json_fields(body: &[u8]) -> Result<Fields, LoginError> {
    let value: Value = serde_json::from_slice(body).map_err(|_| LoginError::BadRequest("JSON parse error.".into()))?;
    let Value::Object(map) = value else {
        return Err(LoginError::BadRequest("Invalid data. Expected a JSON object.".into()));
    };
    Ok(Fields(map.into_iter().collect()))
}

fn form_fields(body: &[u8]) -> Result<Fields, LoginError> {
    let pairs: Vec<(String, String)> =
        serde_urlencoded::from_bytes(body).map_err(|_| LoginError::BadRequest("Form parse error.".into()))?;
    Ok(Fields(pairs.into_iter().map(|(k, v)| (k, Value::String(v))).collect()))
}

/// Status and `detail` of each failure, as Syncano words them. Internals never reach the body.
pub fn error_status(err: &LoginError) -> (StatusCode, String) {
    let (status, detail) = match err {
        LoginError::BadRequest(msg) => (StatusCode::BAD_REQUEST, msg.as_str()),
        LoginError::UnsupportedService(_) => (StatusCode::NOT_FOUND, "Social backend not supported."),
        LoginError::MissingApiKey => (StatusCode::FORBIDDEN, "Authentication credentials were not provided."),
        // An unknown instance answers like a wrong key: instance names cannot be probed for.
        LoginError::InvalidApiKey | LoginError::UnknownInstance => (StatusCode::FORBIDDEN, "Invalid API key."),
        LoginError::PermissionDenied => (StatusCode::FORBIDDEN, "You do not have permission to perform this action."),
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
        LoginError::NotLoggedIn | LoginError::InvalidUserKey => (StatusCode::FORBIDDEN, "Invalid user key."),
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
            let keys = login_keys(req, Some((provider, &login.credentials)));
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

/// `GET /v1.1/instances/{instance}/user/` with `X-API-KEY` and `X-USER-KEY`: the user.
pub async fn handle_user(app: &App, req: &Request, route: &'static str) -> Response<Body> {
    let log = RequestLog::start(req, route);
    let result = match path_param(req, "instance", LoginError::InvalidApiKey) {
        Ok(instance) => {
            let api_key = header_str(req, "x-api-key").map(Secret::new);
            let user_key = header_str(req, "x-user-key").map(Secret::new);
            app.syncano_user(&instance, api_key.as_ref(), user_key.as_ref()).await
        }
        Err(e) => Err(e),
    };
    respond(log, result)
}

/// `POST /v1.1/instances/{instance}/users/{id}/reset_key/` with `X-API-KEY`: a new user key.
pub async fn handle_reset_key(app: &App, req: &Request, route: &'static str) -> Response<Body> {
    let log = RequestLog::start(req, route);
    let params = path_param(req, "instance", LoginError::InvalidApiKey)
        .and_then(|i| Ok((i, path_param(req, "id", LoginError::UserNotFound)?)));
    let result = match params {
        Ok((instance, id)) => {
            let api_key = header_str(req, "x-api-key").map(Secret::new);
            app.syncano_reset_key(&instance, api_key.as_ref(), &id).await
        }
        Err(e) => Err(e),
    };
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

#[cfg(test)]
mod tests {
    use super::*;
    use lambda_http::http::Request as HttpRequest;
    use std::collections::HashMap;

    fn request(ct: Option<&str>, key: Option<&str>, body: &str) -> Request {
        let mut b = HttpRequest::builder().method("POST").uri("/v1.1/instances/demo/user/auth/facebook/");
        if let Some(ct) = ct {
            b = b.header("content-type", ct);
        }
        if let Some(k) = key {
            b = b.header("x-api-key", k);
        }
        let req = b.body(Body::Text(body.into())).expect("request");
        req.with_path_parameters(HashMap::from([("instance".to_string(), "demo".to_string())]))
    }

    fn bad_request(req: Request) -> String {
        match parse_login(&req, Provider::Facebook) {
            Err(LoginError::BadRequest(m)) => m,
            other => panic!("expected 400, got {other:?}"),
        }
    }

    #[test]
    fn json_and_form_bodies_are_read() {
        let r = parse_login(
            &request(Some("application/json"), Some("k"), r#"{"access_token":"EAAB"}"#),
            Provider::Facebook,
        )
        .expect("ok");
        assert_eq!(r.instance.as_str(), "demo");
        assert_eq!(r.credentials.access_token.as_ref().map(Secret::expose), Some("EAAB"));
        let r = parse_login(
            &request(Some("application/x-www-form-urlencoded; charset=utf-8"), Some("k"), "access_token=EAAC&x=1"),
            Provider::Facebook,
        )
        .expect("ok");
        assert_eq!(r.credentials.access_token.as_ref().map(Secret::expose), Some("EAAC"));
    }

    #[test]
    fn tokens_are_read_the_way_each_backend_sends_them() {
        let body = |t: &str| format!(r#"{{"access_token":"{t}","nonce":"n0nce","name":"Ann Apple"}}"#);
        let r = parse_login(&request(Some("application/json"), Some("k"), &body("tok:sec")), Provider::Twitter)
            .expect("ok");
        let c = r.credentials;
        assert_eq!(
            (c.access_token.as_ref().map(Secret::expose), c.token_secret.as_ref().map(Secret::expose)),
            (Some("tok"), Some("sec"))
        );
        let jwt = "eyJhbGciOiJSUzI1NiIsImtpZCI6ImsifQ.e30.c2ln";
        let r = parse_login(&request(Some("application/json"), Some("k"), &body(jwt)), Provider::Apple).expect("ok");
        let c = r.credentials;
        assert_eq!(c.id_token.as_ref().map(Secret::expose), Some(jwt));
        assert!(c.access_token.is_none());
        assert_eq!((c.nonce.as_ref().map(Secret::expose), c.name.as_deref()), (Some("n0nce"), Some("Ann Apple")));
        let r = parse_login(&request(Some("application/json"), Some("k"), &body("ya29.abc")), Provider::Google)
            .expect("ok");
        assert_eq!(r.credentials.access_token.as_ref().map(Secret::expose), Some("ya29.abc"));
    }

    #[test]
    fn bad_bodies_name_the_field() {
        assert!(bad_request(request(Some("application/json"), Some("k"), "{}")).contains("access_token"));
        assert!(
            bad_request(request(Some("application/json"), Some("k"), r#"{"access_token":5}"#)).contains("access_token")
        );
        assert!(bad_request(request(Some("application/json"), Some("k"), r#"{"access_token":"  "}"#))
            .contains("access_token"));
        assert!(bad_request(request(Some("application/x-www-form-urlencoded"), Some("k"), "token=x"))
            .contains("access_token"));
        assert_eq!(bad_request(request(Some("application/json"), Some("k"), "{nope")), "JSON parse error.");
        assert!(bad_request(request(Some("application/json"), Some("k"), "[1]")).contains("JSON object"));
        assert!(bad_request(request(Some("text/plain"), Some("k"), "x")).contains("media type"));
        let huge = format!(r#"{{"access_token":"{}"}}"#, "a".repeat(MAX_BODY_BYTES));
        assert!(bad_request(request(Some("application/json"), Some("k"), &huge)).contains("too large"));
    }

    #[test]
    fn missing_api_key_is_403_before_the_body_is_read() {
        let err =
            parse_login(&request(Some("application/json"), None, "garbage"), Provider::Facebook).expect_err("no key");
        assert_eq!(error_status(&err).0, StatusCode::FORBIDDEN);
    }

    #[test]
    fn unprintable_tokens_are_rejected_without_the_provider() {
        let err = parse_login(
            &request(Some("application/json"), Some("k"), r#"{"access_token":"a\nb"}"#),
            Provider::Facebook,
        )
        .expect_err("bad");
        assert_eq!(error_status(&err).0, StatusCode::UNAUTHORIZED);
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
