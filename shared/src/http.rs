//! Reading API Gateway requests and writing JSON responses, shared by both dialects.

use std::time::Instant;

use lambda_http::http::{header, HeaderValue, StatusCode};
use lambda_http::{Body, Request, Response};
use serde::Serialize;

/// Largest request body accepted; a login body is a few hundred bytes.
pub const MAX_BODY_BYTES: usize = 16 * 1024;

pub fn body_bytes(req: &Request) -> &[u8] {
    match req.body() {
        Body::Empty => &[],
        Body::Text(t) => t.as_bytes(),
        Body::Binary(b) => b,
        _ => &[],
    }
}

/// The request's media type, lowercased, without parameters (`application/json`).
pub fn media_type(req: &Request) -> Option<String> {
    let v = req.headers().get(header::CONTENT_TYPE)?.to_str().ok()?;
    let essence = v.split(';').next().unwrap_or("").trim().to_ascii_lowercase();
    (!essence.is_empty()).then_some(essence)
}

pub fn header_str<'a>(req: &'a Request, name: &str) -> Option<&'a str> {
    req.headers().get(name).and_then(|v| v.to_str().ok()).map(str::trim).filter(|v| !v.is_empty())
}

pub fn json_response(status: StatusCode, body: &impl Serialize) -> Response<Body> {
    let (status, text) = match serde_json::to_string(body) {
        Ok(t) => (status, t),
        Err(_) => (StatusCode::INTERNAL_SERVER_ERROR, r#"{"detail":"Internal server error."}"#.to_string()),
    };
    let mut resp = Response::new(Body::Text(text));
    *resp.status_mut() = status;
    resp.headers_mut().insert(header::CONTENT_TYPE, HeaderValue::from_static("application/json"));
    resp.headers_mut().insert(header::CACHE_CONTROL, HeaderValue::from_static("no-store"));
    resp
}

/// `Retry-After` for the failures a client should retry later: 503 (1 s) and 429 (until the
/// failure window ends).
pub fn set_retry_after(resp: &mut Response<Body>, err: &crate::login::LoginError) {
    let secs = match err {
        crate::login::LoginError::StoreUnavailable(_) => 1,
        crate::login::LoginError::TooManyFailures(wait) => (*wait).max(1),
        _ => return,
    };
    if let Ok(v) = HeaderValue::from_str(&secs.to_string()) {
        resp.headers_mut().insert(header::RETRY_AFTER, v);
    }
}

/// The one log line of a request: route, status, latency and, on failure, the error's class
/// and internal detail. Tokens, keys and provider bodies never reach it: errors carry none.
pub fn log_outcome<E: std::fmt::Display>(route: &str, status: StatusCode, started: Instant, error: Option<&E>) {
    let latency_ms = started.elapsed().as_secs_f64() * 1000.0;
    match error {
        None => tracing::info!(route, status = status.as_u16(), latency_ms, "request served"),
        Some(e) if status.is_server_error() => {
            tracing::error!(route, status = status.as_u16(), latency_ms, error = %e, "request failed")
        }
        Some(e) => tracing::info!(route, status = status.as_u16(), latency_ms, error = %e, "request refused"),
    }
}

/// Structured JSON logs for a function's `main`, level from `RUST_LOG` (default `info`).
pub fn init_logging() {
    let filter = tracing_subscriber::EnvFilter::try_from_default_env()
        .unwrap_or_else(|_| tracing_subscriber::EnvFilter::new("info"));
    let _ = tracing_subscriber::fmt()
        .json()
        .with_env_filter(filter)
        .with_target(false)
        .with_current_span(false)
        .with_ansi(false)
        .try_init();
}
