//! Graph's errors: `{"error": {"message", "type", "code", "error_subcode"?, "fbtrace_id"}}` with
//! Graph's headers, the messages Graph words them with, and its date format.

use axum::http::{header, HeaderValue, Method, StatusCode};
use axum::response::{IntoResponse, Response};
use axum::Json;
use serde_json::{json, Map, Value};

use crate::util::random_alnum;

/// A Graph API error, rendered as `{"error": {...}}` with Graph's headers.
#[derive(Debug, Clone)]
pub(crate) struct GraphError {
    status: StatusCode,
    kind: &'static str,
    code: u32,
    subcode: Option<u32>,
    message: String,
    transient: bool,
}

impl GraphError {
    pub(crate) fn new(status: StatusCode, kind: &'static str, code: u32, message: impl Into<String>) -> GraphError {
        GraphError { status, kind, code, subcode: None, message: message.into(), transient: false }
    }

    pub(crate) fn transient(mut self) -> GraphError {
        self.transient = true;
        self
    }

    fn subcode(mut self, subcode: u32) -> GraphError {
        self.subcode = Some(subcode);
        self
    }

    pub(super) fn oauth(code: u32, message: impl Into<String>) -> GraphError {
        GraphError::new(StatusCode::BAD_REQUEST, "OAuthException", code, message)
    }

    /// `(#100) ...`: a bad or missing parameter.
    pub(super) fn param(message: impl Into<String>) -> GraphError {
        GraphError::oauth(100, message)
    }

    pub(super) fn no_active_token() -> GraphError {
        GraphError::oauth(2500, "An active access token must be used to query information about the current user.")
    }

    pub(super) fn token_required() -> GraphError {
        GraphError::oauth(104, "An access token is required to request this resource.")
    }

    pub(super) fn cannot_parse() -> GraphError {
        GraphError::oauth(190, "Invalid OAuth access token - Cannot parse access token")
    }

    pub(super) fn bad_signature() -> GraphError {
        GraphError::oauth(190, "Invalid OAuth access token signature.")
    }

    pub(super) fn token_expired(expires_at: i64, now: i64) -> GraphError {
        GraphError::oauth(190, expired_message(expires_at, now)).subcode(463)
    }

    pub(super) fn token_invalidated() -> GraphError {
        GraphError::oauth(190, INVALIDATED_MESSAGE).subcode(460)
    }

    /// What Graph answers about a person who removed the app (Graph's error reference: code
    /// 190, subcode 458 "App Not Installed").
    pub(super) fn app_not_installed(app_id: &str) -> GraphError {
        GraphError::oauth(
            190,
            format!("Error validating access token: The user has not authorized application {app_id}."),
        )
        .subcode(458)
    }

    pub(super) fn bad_proof() -> GraphError {
        GraphError::new(
            StatusCode::BAD_REQUEST,
            "GraphMethodException",
            100,
            "Invalid appsecret_proof provided in the API argument",
        )
    }

    pub(super) fn unknown_path(components: &str) -> GraphError {
        GraphError::oauth(2500, format!("Unknown path components: {components}"))
    }

    pub(super) fn unsupported(method: &Method, object: Option<&str>) -> GraphError {
        let verb = method.as_str().to_ascii_lowercase();
        let message = match object {
            Some(id) => format!(
                "Unsupported {verb} request. Object with ID '{id}' does not exist, cannot be loaded due to missing permissions, or does not support this operation. Please read the Graph API documentation at https://developers.facebook.com/docs/graph-api"
            ),
            None => format!(
                "Unsupported {verb} request. Please read the Graph API documentation at https://developers.facebook.com/docs/graph-api"
            ),
        };
        let error = GraphError::new(StatusCode::BAD_REQUEST, "GraphMethodException", 100, message);
        if object.is_some() {
            error.subcode(33)
        } else {
            error
        }
    }
}

pub(super) const INVALIDATED_MESSAGE: &str = "Error validating access token: The session has been invalidated because the user changed their password or Facebook has changed the session for security reasons.";

pub(super) fn expired_message(expires_at: i64, now: i64) -> String {
    format!(
        "Error validating access token: Session has expired on {}. The current time is {}.",
        graph_date(expires_at),
        graph_date(now)
    )
}

impl IntoResponse for GraphError {
    fn into_response(self) -> Response {
        let trace_id = random_alnum(11);
        let mut error = Map::new();
        error.insert("message".into(), Value::from(self.message.clone()));
        error.insert("type".into(), Value::from(self.kind));
        if self.transient {
            error.insert("is_transient".into(), Value::from(true));
        }
        error.insert("code".into(), Value::from(self.code));
        if let Some(subcode) = self.subcode {
            error.insert("error_subcode".into(), Value::from(subcode));
        }
        error.insert("fbtrace_id".into(), Value::from(trace_id.clone()));
        let mut response = (self.status, Json(json!({ "error": error }))).into_response();
        let headers = response.headers_mut();
        if let Ok(value) = HeaderValue::from_str(&trace_id) {
            headers.insert("x-fb-trace-id", value);
        }
        if self.status.is_client_error() {
            let reason = if self.code == 190 { "invalid_token" } else { "invalid_request" };
            let message = self.message.replace(['"', '\\'], "'");
            let value = format!("OAuth \"Facebook Platform\" \"{reason}\" \"{message}\"");
            if let Ok(value) = HeaderValue::from_str(&value) {
                headers.insert(header::WWW_AUTHENTICATE, value);
            }
        }
        response
    }
}

/// Graph's date format in error messages, e.g. `Tuesday, 05-Mar-24 10:00:00 UTC`
/// (Graph itself writes Pacific time, `PST`/`PDT`).
fn graph_date(ts: i64) -> String {
    const WEEKDAYS: [&str; 7] = ["Sunday", "Monday", "Tuesday", "Wednesday", "Thursday", "Friday", "Saturday"];
    const MONTHS: [&str; 12] = ["Jan", "Feb", "Mar", "Apr", "May", "Jun", "Jul", "Aug", "Sep", "Oct", "Nov", "Dec"];
    let days = ts.div_euclid(86_400);
    let secs = ts.rem_euclid(86_400);
    let (year, month, day) = shared::domain::clock::civil_from_days(days);
    // 1970-01-01 was a Thursday.
    let weekday = (days + 4).rem_euclid(7);
    format!(
        "{}, {:02}-{}-{:02} {:02}:{:02}:{:02} UTC",
        WEEKDAYS[weekday as usize],
        day,
        MONTHS[(month - 1) as usize],
        year.rem_euclid(100),
        secs / 3600,
        secs % 3600 / 60,
        secs % 60
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn dates_are_formatted_like_graph() {
        assert_eq!(graph_date(0), "Thursday, 01-Jan-70 00:00:00 UTC");
        assert_eq!(graph_date(1_709_632_800), "Tuesday, 05-Mar-24 10:00:00 UTC");
        assert_eq!(graph_date(951_782_400), "Tuesday, 29-Feb-00 00:00:00 UTC");
    }
}
