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

/// Structured JSON logs for a function's `main`, at the level of `AWS_LAMBDA_LOG_LEVEL` (Lambda's
/// logging controls) or `RUST_LOG` (one level: `error`, `warn`, `info`, `debug`, `trace`,
/// `off`), default `info`. A plain level filter, not `EnvFilter`: its regex engine costs init
/// time and memory at every cold start (see docs/bench.md).
pub fn init_logging() {
    let level = log_level(|k| std::env::var(k).ok());
    let _ = tracing_subscriber::fmt()
        .json()
        .with_max_level(level)
        .with_target(false)
        .with_current_span(false)
        .with_ansi(false)
        .try_init();
}

fn log_level(var: impl Fn(&str) -> Option<String>) -> tracing_subscriber::filter::LevelFilter {
    use tracing_subscriber::filter::LevelFilter;
    let Some((name, value)) = ["AWS_LAMBDA_LOG_LEVEL", "RUST_LOG"]
        .into_iter()
        .find_map(|k| var(k).map(|v| (k, v)))
        .filter(|(_, v)| !v.is_empty())
    else {
        return LevelFilter::INFO;
    };
    value.trim().to_ascii_lowercase().parse().unwrap_or_else(|_| {
        // Logging is not up yet: say it on stderr, which Lambda sends to the log group too.
        eprintln!("{name}={value:?} is not a log level (error, warn, info, debug, trace, off); using info");
        LevelFilter::INFO
    })
}

#[cfg(test)]
mod tests {
    use super::log_level;
    use tracing_subscriber::filter::LevelFilter;

    #[test]
    fn the_log_level_comes_from_lambda_then_rust_log() {
        let vars = |pairs: &'static [(&'static str, &'static str)]| {
            move |k: &str| pairs.iter().find(|(n, _)| *n == k).map(|(_, v)| v.to_string())
        };
        assert_eq!(log_level(vars(&[])), LevelFilter::INFO);
        assert_eq!(log_level(vars(&[("RUST_LOG", "debug")])), LevelFilter::DEBUG);
        assert_eq!(log_level(vars(&[("AWS_LAMBDA_LOG_LEVEL", "WARN"), ("RUST_LOG", "debug")])), LevelFilter::WARN);
        assert_eq!(log_level(vars(&[("RUST_LOG", "shared=debug")])), LevelFilter::INFO);
    }
}
