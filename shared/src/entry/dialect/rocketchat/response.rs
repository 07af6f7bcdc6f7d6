//! What Rocket.Chat answers: the `me` object (`getUserInfo`), the login's `data`, the success
//! and error envelopes of ApiClass.ts, and the one mapping of each failure to them.

use lambda_http::http::StatusCode;
use lambda_http::{Body, Response};
use serde::Serialize;
use serde_json::{Map, Value};

use crate::config::Config;
use crate::domain::records::UserRecord;
use crate::entry::http::{json_response, set_retry_after};
use crate::usecases::error::UseCaseError;
use crate::usecases::login::SignedIn;

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

impl Me {
    pub fn from_login(config: &Config, login: &SignedIn) -> Me {
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
    format!("{}/avatar/{}", config.public_base_url, crate::entry::http::encode_path_segment(username))
}

/// A date as MongoDB's driver serializes it to JSON: milliseconds, UTC (`2026-11-23T14:23:39.090Z`).
pub(super) fn mongo_date(micros: i64) -> String {
    let millis = micros.div_euclid(1000);
    let text = crate::domain::clock::rfc3339_micros(millis * 1000);
    // `…:39.090000Z` → `…:39.090Z`
    match text.strip_suffix("000Z") {
        Some(head) => format!("{head}Z"),
        None => text,
    }
}

/// `unauthorized('You must be logged in to do this.')` with the old API's `status` and
/// `message` (ApiClass.ts, a route with `authRequired` and no valid `X-User-Id`/`X-Auth-Token`).
pub const NOT_LOGGED_IN: &str = "You must be logged in to do this.";

/// Status, `error` and `message` of each failure: the one mapping of [`UseCaseError`] for this
/// dialect. Internals never reach the body. Every login refusal is a 401 (Rocket.Chat's login
/// route answers every failure it expects with `unauthorized()`); docs/compatibility.md lists
/// each case beside the real server's answer.
pub fn error_parts(err: &UseCaseError) -> (StatusCode, &'static str, String) {
    match err {
        UseCaseError::TooManyFailures(wait) => (
            StatusCode::TOO_MANY_REQUESTS,
            "error-too-many-requests",
            format!(
                "Error, too many requests. Please slow down. You must wait {} seconds before trying this endpoint again.",
                (*wait).max(1)
            ),
        ),
        UseCaseError::NotLoggedIn => {
            (StatusCode::UNAUTHORIZED, NOT_LOGGED_IN, NOT_LOGGED_IN.into())
        }
        // Meteor's `check` failing in a login handler: a 500 in today's Rocket.Chat (a plain
        // Error, not a Meteor.Error), the 401 its older API gave (deviation in the doc).
        UseCaseError::BadRequest(msg) => (StatusCode::UNAUTHORIZED, "error-invalid-params", msg.clone()),
        UseCaseError::UnsupportedService(name) => (
            StatusCode::UNAUTHORIZED,
            "error-invalid-service",
            format!("Unexpected AccessToken service {name}"),
        ),
        // Every Meteor.Error of a login handler (no credentials, an unknown resume token) becomes
        // `User not found` (loginErrorMessageOverride.ts), which the login route answers as
        // `Unauthorized`; a token the provider refuses answers the same.
        // A closed sign-up is Rocket.Chat's `Accounts_Registration_AuthenticationServices_Enabled`
        // off: `validateNewUser` throws `Meteor.Error('registration-disabled-authentication-services')`
        // inside the OAuth login handler, which the override and the route make `Unauthorized`.
        UseCaseError::TokenRejected(_) | UseCaseError::SignUpClosed => {
            (StatusCode::UNAUTHORIZED, "Unauthorized", "Unauthorized".into())
        }
        UseCaseError::ProviderUnavailable(_) => (
            StatusCode::BAD_GATEWAY,
            "error-provider-unavailable",
            "The identity provider is unavailable. Try again later.".into(),
        ),
        UseCaseError::ProviderTimeout => (
            StatusCode::GATEWAY_TIMEOUT,
            "error-provider-timeout",
            "The identity provider did not answer in time. Try again later.".into(),
        ),
        // Throttling answers as any outage of the store; only `Retry-After` differs.
        UseCaseError::StoreUnavailable(_) | UseCaseError::StoreThrottled(_) => (
            StatusCode::SERVICE_UNAVAILABLE,
            "error-service-unavailable",
            "Service temporarily unavailable. Try again later.".into(),
        ),
        // `users.deleteOwnAccount` answers it as `failure()` ([`delete_error_response`]).
        UseCaseError::DeletionNotConfirmed => {
            (StatusCode::BAD_REQUEST, "error-invalid-username", "Invalid username".into())
        }
        // The Rocket.Chat route has no instance in its URL: a missing one is our configuration.
        UseCaseError::UnknownInstance | UseCaseError::UserCreateDenied | UseCaseError::Internal(_) => {
            (StatusCode::INTERNAL_SERVER_ERROR, "Internal server error", "Internal server error".into())
        }
    }
}

pub fn error_response(err: &UseCaseError) -> Response<Body> {
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

/// `failure()` (ApiClass.ts): 400 `{"success": false, "error": ...}`, and for a thrown
/// `Meteor.Error` its `errorType` (the error code) and `details`; `error` is then the error's
/// `message`, `"{reason} [{code}]"`.
#[derive(Debug, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct FailureBody {
    pub success: bool,
    pub error: String,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub error_type: Option<&'static str>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub details: Option<Value>,
}

/// The answers of `POST /api/v1/users.deleteOwnAccount`: its own refusals are `failure()`s
/// (a missing `password`: `failure('Body parameter "password" is required.')`; a wrong
/// confirmation: the method's `Meteor.Error('error-invalid-username', 'Invalid username',
/// {method: 'deleteUserOwnAccount'})` caught by the route wrapper); everything else as every
/// other route ([`error_response`]).
pub fn delete_error_response(err: &UseCaseError) -> Response<Body> {
    let body = match err {
        UseCaseError::BadRequest(msg) => {
            FailureBody { success: false, error: msg.clone(), error_type: None, details: None }
        }
        UseCaseError::DeletionNotConfirmed => FailureBody {
            success: false,
            error: "Invalid username [error-invalid-username]".into(),
            error_type: Some("error-invalid-username"),
            details: Some(serde_json::json!({ "method": "deleteUserOwnAccount" })),
        },
        other => return error_response(other),
    };
    json_response(StatusCode::BAD_REQUEST, &body)
}
