//! The HTTP side of `POST /callbacks/apple/{instance}` (what a notification does is
//! `usecases::apple_notifications`): reading the body's signed payload and the path, the one
//! mapping of a refusal to its status and body, and the handler.

use lambda_http::http::StatusCode;
use lambda_http::{Body, Request, RequestExt, Response};
use serde::Deserialize;

use crate::domain::identity::Provider;
use crate::domain::instance::InstanceName;
use crate::domain::secret::Secret;
use crate::entry::callbacks;
use crate::entry::http::{self, json_response, RequestLog};
use crate::usecases::app::App;
use crate::usecases::apple_notifications::NotificationError;

#[derive(Deserialize)]
struct NotificationBody {
    payload: String,
}

/// The body's signed payload.
pub(crate) fn payload(req: &Request) -> Result<Secret, NotificationError> {
    let bytes = http::body_bytes(req);
    if bytes.len() > http::MAX_BODY_BYTES {
        return Err(NotificationError::BadRequest("the body is too large"));
    }
    let invalid = || NotificationError::BadRequest("the body must be JSON {\"payload\": \"<signed JWT>\"}");
    // An object: serde would also read a struct from an array.
    let object: serde_json::Map<String, serde_json::Value> = serde_json::from_slice(bytes).map_err(|_| invalid())?;
    let body: NotificationBody = serde_json::from_value(object.into()).map_err(|_| invalid())?;
    Ok(Secret::new(body.payload))
}

/// The one mapping of a refusal to its status and body.
pub fn error_response(err: &NotificationError) -> Response<Body> {
    match err {
        NotificationError::BadRequest(why) => callbacks::refusal(StatusCode::BAD_REQUEST, "invalid_request", why),
        NotificationError::UnknownInstance => {
            callbacks::refusal(StatusCode::NOT_FOUND, "not_found", "No such instance.")
        }
        NotificationError::NotServed => callbacks::not_served("Sign in with Apple is not served by this deployment."),
        NotificationError::NotApples(_) => callbacks::refusal(
            StatusCode::UNAUTHORIZED,
            "invalid_notification",
            "The payload is not Apple's notification for this app.",
        ),
        NotificationError::Login(e) => callbacks::failure(e),
    }
}

/// The route's handler.
pub async fn handle(app: &App, req: &Request, route: &'static str) -> Response<Body> {
    let mut log = RequestLog::start(req, route);
    log.provider(Provider::Apple);
    let instance = req.path_parameters_ref().and_then(|p| p.first("instance")).unwrap_or_default();
    let result = async {
        let instance = InstanceName::parse(&instance.to_lowercase()).ok_or(NotificationError::UnknownInstance)?;
        app.apple_notification(&instance, &payload(req)?).await
    }
    .await;
    http::respond(log, result, |handled| json_response(StatusCode::OK, handled), error_response)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::providers::ProviderError;
    use crate::usecases::error::UseCaseError;

    fn status(err: NotificationError) -> u16 {
        error_response(&err).status().as_u16()
    }

    #[test]
    fn refusals_map_once_to_their_status() {
        assert_eq!(status(NotificationError::BadRequest("x")), 400);
        assert_eq!(status(NotificationError::UnknownInstance), 404);
        assert_eq!(status(NotificationError::NotServed), 404);
        assert_eq!(status(ProviderError::Rejected("expired".into()).into()), 401);
        assert_eq!(status(ProviderError::Timeout.into()), 504);
        assert_eq!(status(ProviderError::Unavailable("down".into()).into()), 502);
        assert_eq!(status(UseCaseError::StoreUnavailable("x".into()).into()), 503);
        assert_eq!(status(UseCaseError::StoreThrottled("x".into()).into()), 503);
        assert_eq!(status(UseCaseError::Internal("x".into()).into()), 500);
    }
}
