//! What the providers' callbacks share (Apple's server-to-server notifications, Facebook's data
//! deletion, deletion status and deauthorize): one error body, `{"error": code, "message":
//! text}`, and one answer to each failure of the layers beneath them.

use lambda_http::http::StatusCode;
use lambda_http::{Body, Response};
use serde::Serialize;

use crate::entry::http::{self, json_response};
use crate::usecases::error::UseCaseError;

#[derive(Serialize)]
struct ErrorBody<'a> {
    error: &'a str,
    message: &'a str,
}

/// A refusal: `status` with `{"error": error, "message": message}`.
pub fn refusal(status: StatusCode, error: &str, message: &str) -> Response<Body> {
    json_response(status, &ErrorBody { error, message })
}

/// A route this deployment does not serve (its provider is not configured): 404, as a route
/// that does not exist.
pub fn not_served(message: &str) -> Response<Body> {
    refusal(StatusCode::NOT_FOUND, "not_found", message)
}

/// A failure beneath the callback (the provider's keys, our store, our own bug), with
/// `Retry-After` where a retry helps.
pub fn failure(err: &UseCaseError) -> Response<Body> {
    let (status, error, message) = match err {
        UseCaseError::ProviderTimeout => {
            (StatusCode::GATEWAY_TIMEOUT, "provider_timeout", "The provider did not answer in time.")
        }
        UseCaseError::ProviderUnavailable(_) => {
            (StatusCode::BAD_GATEWAY, "provider_unavailable", "The provider could not be reached.")
        }
        UseCaseError::StoreUnavailable(_) | UseCaseError::StoreThrottled(_) => {
            (StatusCode::SERVICE_UNAVAILABLE, "service_unavailable", "Try again later.")
        }
        _ => (StatusCode::INTERNAL_SERVER_ERROR, "internal_error", "Internal server error."),
    };
    let mut resp = refusal(status, error, message);
    http::set_retry_after(&mut resp, err);
    resp
}
