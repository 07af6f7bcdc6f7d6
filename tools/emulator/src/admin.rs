//! The admin side under `/_emulator/`: the JSON body and error conventions every provider's admin
//! routes share, and the emulator-wide routes (fault, stats, unknown admin routes). Admin calls
//! are never counted nor faulted.

use std::sync::Arc;

use axum::body::Bytes;
use axum::extract::{FromRequest, Request, State};
use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};
use axum::Json;
use serde::de::DeserializeOwned;
use serde::Deserialize;
use serde_json::json;

use crate::faults::Fault;
use crate::state::Shared;

/// An admin error: `{"error": "..."}`.
pub(crate) fn admin_error(status: StatusCode, message: impl Into<String>) -> Response {
    (status, Json(json!({ "error": message.into() }))).into_response()
}

/// Parses an admin request body; the error is the admin response to send.
pub(crate) fn admin_body<T: DeserializeOwned>(body: &Bytes) -> Result<T, Box<Response>> {
    serde_json::from_slice(body)
        .map_err(|e| Box::new(admin_error(StatusCode::BAD_REQUEST, format!("invalid JSON body: {e}"))))
}

/// An admin request body parsed by [`admin_body`], as an extractor: a body that does not parse
/// is answered with its admin error before the handler runs.
pub(crate) struct AdminJson<T>(pub(crate) T);

impl<T: DeserializeOwned, S: Send + Sync> FromRequest<S> for AdminJson<T> {
    type Rejection = Response;

    async fn from_request(req: Request, state: &S) -> Result<Self, Response> {
        let body = Bytes::from_request(req, state).await.map_err(IntoResponse::into_response)?;
        admin_body(&body).map(AdminJson).map_err(|response| *response)
    }
}

/// The body of every `…/tokens/revoke` admin route: `{"access_token"}` (or `{"token"}`).
#[derive(Deserialize)]
struct RevokeToken {
    #[serde(alias = "token")]
    access_token: String,
}

/// An admin revoke route: parses the body and hands the token to `revoke`.
pub(crate) fn revoke_with(body: &Bytes, revoke: impl FnOnce(&str)) -> Response {
    match admin_body::<RevokeToken>(body) {
        Ok(request) => {
            revoke(&request.access_token);
            Json(json!({ "revoked": true })).into_response()
        }
        Err(response) => *response,
    }
}

#[derive(Deserialize)]
pub(crate) struct SetFault {
    fault: String,
}

/// `POST /_emulator/fault`
pub(crate) async fn set_fault(State(shared): State<Arc<Shared>>, AdminJson(request): AdminJson<SetFault>) -> Response {
    match request.fault.parse::<Fault>() {
        Ok(fault) => {
            shared.set_fault(fault);
            Json(json!({ "fault": fault.name() })).into_response()
        }
        Err(e) => admin_error(StatusCode::BAD_REQUEST, e.to_string()),
    }
}

/// `GET /_emulator/fault`
pub(crate) async fn get_fault(State(shared): State<Arc<Shared>>) -> Response {
    Json(json!({ "fault": shared.fault().name() })).into_response()
}

/// `GET /_emulator/stats`
pub(crate) async fn stats(State(shared): State<Arc<Shared>>) -> Response {
    let fault = shared.fault();
    Json(json!({
        "requests": shared.request_count(),
        "fault": fault.name(),
        "apple_token_exchanges": shared.apple_tokens.exchanges.load(std::sync::atomic::Ordering::SeqCst),
        "apple_revocations": shared.apple_tokens.revocations.load(std::sync::atomic::Ordering::SeqCst),
        "facebook_permission_deletions": shared.facebook.permission_deletions.load(std::sync::atomic::Ordering::SeqCst),
    }))
    .into_response()
}

/// Any other route under `/_emulator/`.
pub(crate) async fn not_found() -> Response {
    admin_error(StatusCode::NOT_FOUND, "unknown admin route")
}
