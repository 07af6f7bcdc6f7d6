//! What a Syncano request can fail with: every failure of the login core, plus those only this
//! API has (its keys, its body parsers, its methods); and the one mapping of each to a status
//! and the platform's `{"detail": ...}`.

use lambda_http::http::StatusCode;
use lambda_http::{Body, Response};
use serde::Serialize;

use crate::entry::http::{json_response, set_retry_after};
use crate::providers::ProviderError;
use crate::store::StoreError;
use crate::usecases::error::UseCaseError;
use crate::usecases::metrics::Outcome;
use crate::usecases::throttle::CountedFailure;

#[derive(Debug, thiserror::Error)]
pub enum SyncanoError {
    #[error(transparent)]
    Login(#[from] UseCaseError),
    #[error("no API key")]
    MissingApiKey,
    /// A wrong key, or an instance that does not exist (the two answer alike).
    #[error("invalid API key")]
    InvalidApiKey,
    /// No or a wrong user key.
    #[error("invalid user key")]
    InvalidUserKey,
    /// No such user in the instance.
    #[error("user not found")]
    UserNotFound,
    /// The API key lacks the permission this action needs (`ignore_acl`).
    #[error("the API key may not do this")]
    PermissionDenied,
    /// A body in a media type the platform's parsers do not read (the header, sanitised).
    #[error("unsupported media type {0:?}")]
    UnsupportedMediaType(String),
    /// The body's `access_token` is missing, blank or not a string (the platform's serializer
    /// refuses it before any provider is asked).
    #[error("no usable access_token field")]
    MalformedCredentials,
    /// A method the path does not serve (the method, sanitised).
    #[error("method {0:?} not allowed")]
    MethodNotAllowed(String),
}

impl SyncanoError {
    /// How a login that failed so ends, for its metrics: Syncano's own failures are all the
    /// caller's.
    pub fn outcome(&self) -> Outcome {
        match self {
            SyncanoError::Login(e) => Outcome::of_error(e),
            _ => Outcome::Rejected,
        }
    }
}

impl From<StoreError> for SyncanoError {
    fn from(e: StoreError) -> Self {
        SyncanoError::Login(e.into())
    }
}

impl From<ProviderError> for SyncanoError {
    fn from(e: ProviderError) -> Self {
        SyncanoError::Login(e.into())
    }
}

impl CountedFailure for SyncanoError {
    fn is_rejected_token(&self) -> bool {
        matches!(self, SyncanoError::Login(e) if e.is_rejected_token())
    }
}

/// A malformed request; the message names the field and is safe to show the client.
pub(super) fn bad_request(message: impl Into<String>) -> SyncanoError {
    SyncanoError::Login(UseCaseError::BadRequest(message.into()))
}

#[derive(Debug, Serialize)]
pub struct ErrorBody {
    pub detail: String,
}

/// Status and `detail` of each failure, as the platform words them (`apps/core/exceptions.py`,
/// Django REST framework's own exceptions). Internals never reach the body.
pub fn error_status(err: &SyncanoError) -> (StatusCode, String) {
    const NO_PERMISSION: &str = "You do not have permission to perform this action.";
    const NO_SUCH_KEY: &str = "No such API Key.";
    let (status, detail) = match err {
        SyncanoError::UnsupportedMediaType(media_type) => {
            return (StatusCode::UNSUPPORTED_MEDIA_TYPE, format!("Unsupported media type \"{media_type}\" in request."))
        }
        SyncanoError::MethodNotAllowed(method) => {
            return (StatusCode::METHOD_NOT_ALLOWED, format!("Method \"{method}\" not allowed."))
        }
        SyncanoError::MalformedCredentials => (StatusCode::UNAUTHORIZED, "Invalid authorization token."),
        // DRF's permission denial when no key authenticated the request.
        SyncanoError::MissingApiKey => (StatusCode::FORBIDDEN, NO_PERMISSION),
        SyncanoError::InvalidApiKey => (StatusCode::FORBIDDEN, NO_SUCH_KEY),
        SyncanoError::PermissionDenied => (StatusCode::FORBIDDEN, NO_PERMISSION),
        // `HasUser`: no user authenticated by the user key.
        SyncanoError::InvalidUserKey => (StatusCode::FORBIDDEN, NO_PERMISSION),
        SyncanoError::UserNotFound => (StatusCode::NOT_FOUND, "Not found."),
        SyncanoError::Login(e) => match e {
            UseCaseError::BadRequest(msg) => (StatusCode::BAD_REQUEST, msg.as_str()),
            UseCaseError::UnsupportedService(_) => (StatusCode::BAD_REQUEST, "Unsupported social backend."),
            // An unknown instance answers like a wrong key: instance names cannot be probed for.
            UseCaseError::UnknownInstance => (StatusCode::FORBIDDEN, NO_SUCH_KEY),
            // A closed instance refuses a first login as the platform refuses a key that may not
            // create users: Syncano has no other refusal of a sign-up.
            UseCaseError::UserCreateDenied | UseCaseError::SignUpClosed => {
                (StatusCode::FORBIDDEN, "You do not have permission to create new user.")
            }
            UseCaseError::TokenRejected(_) => (StatusCode::UNAUTHORIZED, "Invalid username or password."),
            UseCaseError::ProviderUnavailable(_) => {
                (StatusCode::BAD_GATEWAY, "The identity provider is unavailable. Try again later.")
            }
            UseCaseError::ProviderTimeout => {
                (StatusCode::GATEWAY_TIMEOUT, "The identity provider did not answer in time. Try again later.")
            }
            // Throttling answers as any outage of the store; only `Retry-After` differs.
            UseCaseError::StoreUnavailable(_) | UseCaseError::StoreThrottled(_) => {
                (StatusCode::SERVICE_UNAVAILABLE, "Service temporarily unavailable. Try again later.")
            }
            UseCaseError::NotLoggedIn => (StatusCode::FORBIDDEN, NO_PERMISSION),
            // Syncano's deletions ask for no confirmation: never raised there.
            UseCaseError::DeletionNotConfirmed => (StatusCode::BAD_REQUEST, "The deletion is not confirmed."),
            UseCaseError::TooManyFailures(_) => {
                (StatusCode::TOO_MANY_REQUESTS, "Too many failed logins. Try again later.")
            }
            UseCaseError::Internal(_) => (StatusCode::INTERNAL_SERVER_ERROR, "Internal server error."),
        },
    };
    (status, detail.to_string())
}

pub fn error_response(err: &SyncanoError) -> Response<Body> {
    let (status, detail) = error_status(err);
    let mut resp = json_response(status, &ErrorBody { detail });
    if let SyncanoError::Login(e) = err {
        set_retry_after(&mut resp, e);
    }
    resp
}
