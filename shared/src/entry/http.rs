//! Reading API Gateway requests and writing JSON responses, shared by both dialects.

use std::time::Instant;

use lambda_http::http::{header, HeaderValue, StatusCode};
use lambda_http::request::RequestContext;
use lambda_http::{Body, Request, RequestExt, Response};
use serde::Serialize;

use crate::domain::identity::Provider;
use crate::usecases::metrics::{Dialect, LoginMetrics, Outcome};

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

/// `Retry-After` of a 503 for throttling, in seconds, drawn for each answer: the SDK has already
/// retried within the function (backoffs of up to 1 s and 2 s), so the client comes back in a
/// later second of the partition's per-second budget, and the clients one hot partition refused
/// together come back spread over four seconds instead of all at once (docs/security.md).
pub const THROTTLED_RETRY_AFTER_SECS: std::ops::RangeInclusive<i64> = 2..=5;

/// `Retry-After` for the failures a client should retry later: 503 (1 s; throttling
/// [`THROTTLED_RETRY_AFTER_SECS`]) and 429 (until the failure window ends).
pub fn set_retry_after(resp: &mut Response<Body>, err: &crate::usecases::error::UseCaseError) {
    let secs = match err {
        crate::usecases::error::UseCaseError::StoreUnavailable(_) => 1,
        crate::usecases::error::UseCaseError::StoreThrottled(_) => rand::random_range(THROTTLED_RETRY_AFTER_SECS),
        crate::usecases::error::UseCaseError::TooManyFailures(wait) => (*wait).max(1),
        _ => return,
    };
    if let Ok(v) = HeaderValue::from_str(&secs.to_string()) {
        resp.headers_mut().insert(header::RETRY_AFTER, v);
    }
}

/// The caller's address as API Gateway saw it (`requestContext.http.sourceIp`).
pub fn source_ip(req: &Request) -> Option<&str> {
    match req.request_context_ref() {
        Some(RequestContext::ApiGatewayV2(ctx)) => {
            ctx.http.source_ip.as_deref().filter(|ip| !ip.is_empty() && ip.len() <= 64)
        }
        _ => None,
    }
}

/// The one envelope of every route's answer: the outcome becomes the response (`ok` of a
/// success, `err` of a failure: the dialect's error body) and the request's one log line.
pub fn respond<T, E: std::fmt::Display>(
    log: RequestLog,
    result: Result<T, E>,
    ok: impl FnOnce(&T) -> Response<Body>,
    err: impl FnOnce(&E) -> Response<Body>,
) -> Response<Body> {
    let resp = match &result {
        Ok(value) => ok(value),
        Err(e) => err(e),
    };
    log.finish(resp.status(), result.as_ref().err());
    resp
}

/// The one structured log line of a request: request ids (Lambda's and API Gateway's), route,
/// provider, status, outcome, latency and, on failure, the error's class and internal detail;
/// a login's line also carries its metrics (`crate::usecases::metrics`, Embedded Metric Format).
/// Tokens, keys, proofs and provider bodies never reach it: errors carry none.
pub struct RequestLog {
    route: &'static str,
    started: Instant,
    request_id: Option<String>,
    api_request_id: Option<String>,
    provider: Option<Provider>,
    login: Option<(Dialect, Outcome)>,
}

impl RequestLog {
    pub fn start(req: &Request, route: &'static str) -> RequestLog {
        let api_request_id = match req.request_context_ref() {
            Some(RequestContext::ApiGatewayV2(ctx)) => ctx.request_id.clone(),
            _ => None,
        };
        RequestLog {
            route,
            started: Instant::now(),
            request_id: req.lambda_context_ref().map(|c| c.request_id.clone()).filter(|id| !id.is_empty()),
            api_request_id: api_request_id.filter(|id| id.len() <= 128),
            provider: None,
            login: None,
        }
    }

    /// The provider this request is about, once known.
    pub fn provider(&mut self, provider: Provider) {
        self.provider = Some(provider);
    }

    /// This request is a login through `dialect` that ended so: its line carries the metrics.
    pub fn login(&mut self, dialect: Dialect, outcome: Outcome) {
        self.login = Some((dialect, outcome));
    }

    /// Writes the line.
    pub fn finish<E: std::fmt::Display>(self, status: StatusCode, error: Option<&E>) {
        let latency_ms = (self.started.elapsed().as_secs_f64() * 1e4).round() / 10.0;
        let (route, status_code) = (self.route, status.as_u16());
        let (request_id, api_request_id) = (self.request_id.as_deref(), self.api_request_id.as_deref());
        let provider = self.provider.map(Provider::as_str);
        let emf = self.login.map(|(dialect, outcome)| {
            LoginMetrics { dialect, provider: self.provider, outcome }
                .emf(latency_ms, u64::try_from(crate::domain::clock::now_micros() / 1000).unwrap_or_default())
        });
        let emf = emf.as_deref();
        match error {
            None => {
                tracing::info!(
                    request_id,
                    api_request_id,
                    route,
                    provider,
                    status = status_code,
                    outcome = "served",
                    latency_ms,
                    emf,
                    "request"
                )
            }
            Some(e) if status.is_server_error() => tracing::error!(
                request_id, api_request_id, route, provider, status = status_code, outcome = "failed", latency_ms, error = %e, emf, "request"
            ),
            Some(e) => tracing::info!(
                request_id, api_request_id, route, provider, status = status_code, outcome = "refused", latency_ms, error = %e, emf, "request"
            ),
        }
    }
}

/// A username as one URL path segment (RFC 3986 unreserved characters kept, the rest
/// percent-encoded), as `encodeURIComponent` would write it.
pub fn encode_path_segment(text: &str) -> String {
    let mut out = String::with_capacity(text.len());
    for b in text.bytes() {
        if b.is_ascii_alphanumeric() || matches!(b, b'-' | b'_' | b'.' | b'~') {
            out.push(char::from(b));
        } else {
            out.push_str(&format!("%{b:02X}"));
        }
    }
    out
}

#[cfg(test)]
mod retry_after_tests {
    use super::*;
    use crate::usecases::error::UseCaseError;

    fn retry_after(err: &UseCaseError) -> Option<i64> {
        let mut resp = json_response(StatusCode::SERVICE_UNAVAILABLE, &serde_json::json!({}));
        set_retry_after(&mut resp, err);
        resp.headers().get(header::RETRY_AFTER).and_then(|v| v.to_str().ok()).and_then(|v| v.parse().ok())
    }

    #[test]
    fn throttling_asks_for_a_spread_wait_an_outage_for_one_second() {
        let waits: std::collections::BTreeSet<i64> =
            (0..200).filter_map(|_| retry_after(&UseCaseError::StoreThrottled("x".into()))).collect();
        assert_eq!(waits, THROTTLED_RETRY_AFTER_SECS.collect(), "every value of the range, and only those");
        assert_eq!(retry_after(&UseCaseError::StoreUnavailable("x".into())), Some(1));
        assert_eq!(retry_after(&UseCaseError::TooManyFailures(42)), Some(42));
        assert_eq!(retry_after(&UseCaseError::Internal("x".into())), None);
    }
}
