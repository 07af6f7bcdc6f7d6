//! X's error shapes: v1.1 `{"errors": [{"code", "message"}]}` and v2 problems
//! `{"title", "type", "status", "detail"}`.

use axum::http::{header, HeaderValue, StatusCode};
use axum::response::{IntoResponse, Response};
use axum::Json;
use serde_json::json;

/// A v1.1 error: `{"errors": [{"code", "message"}]}`.
#[derive(Debug)]
pub(crate) struct V1Error {
    pub(super) status: StatusCode,
    pub(super) code: u32,
    pub(super) message: &'static str,
}

impl V1Error {
    pub(super) fn could_not_authenticate() -> V1Error {
        V1Error { status: StatusCode::UNAUTHORIZED, code: 32, message: "Could not authenticate you." }
    }

    pub(super) fn invalid_token() -> V1Error {
        V1Error { status: StatusCode::UNAUTHORIZED, code: 89, message: "Invalid or expired token." }
    }

    pub(super) fn bad_auth_data() -> V1Error {
        V1Error { status: StatusCode::BAD_REQUEST, code: 215, message: "Bad Authentication data." }
    }

    pub(super) fn timestamp_out_of_bounds() -> V1Error {
        V1Error { status: StatusCode::UNAUTHORIZED, code: 135, message: "Timestamp out of bounds." }
    }

    pub(super) fn not_found() -> V1Error {
        V1Error { status: StatusCode::NOT_FOUND, code: 34, message: "Sorry, that page does not exist." }
    }
}

impl IntoResponse for V1Error {
    fn into_response(self) -> Response {
        let body = json!({ "errors": [{ "code": self.code, "message": self.message }] });
        let mut response = (self.status, Json(body)).into_response();
        if self.status == StatusCode::UNAUTHORIZED {
            response
                .headers_mut()
                .insert(header::WWW_AUTHENTICATE, HeaderValue::from_static("OAuth realm=\"https://api.twitter.com\""));
        }
        response
    }
}

/// A v2 problem: `{"title", "type", "status", "detail"}`.
pub(super) fn v2_problem(status: StatusCode, title: &str, detail: &str) -> Response {
    let body = json!({ "title": title, "type": "about:blank", "status": status.as_u16(), "detail": detail });
    (status, [(header::CONTENT_TYPE, "application/problem+json")], body.to_string()).into_response()
}

pub(super) fn v2_unauthorized() -> Response {
    v2_problem(StatusCode::UNAUTHORIZED, "Unauthorized", "Unauthorized")
}
