//! The HTTP side of Facebook's callbacks (the use-cases, what they do and answer, are
//! `usecases::facebook_callbacks`): reading the form's `signed_request` and the path, the one
//! mapping of a refusal to its status and body, and the three handlers.

use lambda_http::http::StatusCode;
use lambda_http::{Body, Request, RequestExt, Response};

use crate::domain::identity::Provider;
use crate::domain::instance::InstanceName;
use crate::domain::secret::Secret;
use crate::entry::callbacks;
use crate::entry::http::{self, json_response, RequestLog};
use crate::usecases::app::App;
use crate::usecases::facebook_callbacks::CallbackError;

/// The form's `signed_request` (exactly one, non-empty).
pub(crate) fn signed_request_of(req: &Request) -> Result<Secret, CallbackError> {
    if http::media_type(req).as_deref() != Some("application/x-www-form-urlencoded") {
        return Err(CallbackError::BadRequest("the body must be a form (application/x-www-form-urlencoded)"));
    }
    let bytes = http::body_bytes(req);
    if bytes.len() > http::MAX_BODY_BYTES {
        return Err(CallbackError::BadRequest("the body is too large"));
    }
    let invalid = || CallbackError::BadRequest("the form must carry one signed_request");
    let fields: Vec<(String, String)> = serde_urlencoded::from_bytes(bytes).map_err(|_| invalid())?;
    let mut values = fields.into_iter().filter(|(k, _)| k == "signed_request").map(|(_, v)| v);
    match (values.next(), values.next()) {
        (Some(v), None) if !v.trim().is_empty() => Ok(Secret::new(v)),
        _ => Err(invalid()),
    }
}

/// The one mapping of a refusal to its status and body.
pub fn error_response(err: &CallbackError) -> Response<Body> {
    match err {
        CallbackError::BadRequest(why) => callbacks::refusal(StatusCode::BAD_REQUEST, "invalid_request", why),
        CallbackError::UnknownInstance => callbacks::refusal(StatusCode::NOT_FOUND, "not_found", "No such instance."),
        CallbackError::UnknownCode => {
            callbacks::refusal(StatusCode::NOT_FOUND, "not_found", "No such deletion request.")
        }
        CallbackError::NotServed => callbacks::not_served("Facebook Login is not served by this deployment."),
        CallbackError::NotFacebooks(_) => callbacks::refusal(
            StatusCode::UNAUTHORIZED,
            "invalid_signed_request",
            "The signed_request is not Facebook's for this app.",
        ),
        CallbackError::Login(e) => callbacks::failure(e),
    }
}

fn path_parameter(req: &Request, name: &str) -> String {
    req.path_parameters_ref().and_then(|p| p.first(name)).unwrap_or_default().to_string()
}

fn instance_of(req: &Request) -> Result<InstanceName, CallbackError> {
    InstanceName::parse(&path_parameter(req, "instance").to_lowercase()).ok_or(CallbackError::UnknownInstance)
}

/// `POST /callbacks/facebook/{instance}/data-deletion`.
pub async fn handle_data_deletion(app: &App, req: &Request, route: &'static str) -> Response<Body> {
    let mut log = RequestLog::start(req, route);
    log.provider(Provider::Facebook);
    let result = async { app.facebook_data_deletion(&instance_of(req)?, &signed_request_of(req)?).await }.await;
    http::respond(log, result, |receipt| json_response(StatusCode::OK, receipt), error_response)
}

/// `POST /callbacks/facebook/{instance}/deauthorize`.
pub async fn handle_deauthorize(app: &App, req: &Request, route: &'static str) -> Response<Body> {
    let mut log = RequestLog::start(req, route);
    log.provider(Provider::Facebook);
    let result = async { app.facebook_deauthorize(&instance_of(req)?, &signed_request_of(req)?).await }.await;
    http::respond(log, result, |done| json_response(StatusCode::OK, done), error_response)
}

/// `GET /callbacks/facebook/deletion-status/{code}`.
pub async fn handle_deletion_status(app: &App, req: &Request, route: &'static str) -> Response<Body> {
    let mut log = RequestLog::start(req, route);
    log.provider(Provider::Facebook);
    let result = app.facebook_deletion_status(&path_parameter(req, "code")).await;
    http::respond(log, result, |status| json_response(StatusCode::OK, status), error_response)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::store::StoreError;
    use crate::usecases::error::UseCaseError;
    use crate::usecases::facebook_callbacks::signed_request::SignedRequestError;
    use crate::usecases::facebook_callbacks::{issued_within_window, MAX_FUTURE_SECS, MAX_REQUEST_AGE_SECS};

    fn status(err: CallbackError) -> u16 {
        error_response(&err).status().as_u16()
    }

    #[test]
    fn refusals_map_once_to_their_status() {
        assert_eq!(status(CallbackError::BadRequest("x")), 400);
        assert_eq!(status(SignedRequestError::Malformed("x").into()), 400);
        assert_eq!(status(SignedRequestError::Forged("x").into()), 401);
        assert_eq!(status(CallbackError::UnknownInstance), 404);
        assert_eq!(status(CallbackError::UnknownCode), 404);
        assert_eq!(status(CallbackError::NotServed), 404);
        assert_eq!(status(UseCaseError::ProviderTimeout.into()), 504);
        assert_eq!(status(UseCaseError::ProviderUnavailable("down".into()).into()), 502);
        assert_eq!(status(StoreError::Unavailable("x".into()).into()), 503);
        assert_eq!(status(StoreError::Throttled("x".into()).into()), 503);
        let throttled = error_response(&StoreError::Throttled("x".into()).into());
        assert!(throttled.headers().get("retry-after").is_some(), "Facebook may retry later");
        assert_eq!(status(StoreError::Corrupt("x").into()), 500);
    }

    #[test]
    fn issued_at_is_bounded_to_a_day_back_and_five_minutes_ahead() {
        let now = 1_795_453_200;
        for ok in [now, now - MAX_REQUEST_AGE_SECS, now + MAX_FUTURE_SECS, now - 60, now + 60] {
            assert_eq!(issued_within_window(Some(ok), now).expect("within"), ok);
        }
        for late in [now + MAX_FUTURE_SECS + 1, now + 10 * 365 * 86_400, i64::MAX] {
            assert_eq!(status(issued_within_window(Some(late), now).expect_err("ahead")), 401, "{late}");
        }
        for old in [now - MAX_REQUEST_AGE_SECS - 1, now - 2 * 86_400, i64::MIN] {
            assert_eq!(status(issued_within_window(Some(old), now).expect_err("old")), 401, "{old}");
        }
        assert_eq!(status(issued_within_window(None, now).expect_err("none")), 400);
    }
}
