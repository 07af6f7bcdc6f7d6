//! `GET /health` (issue 33): 200 `{"status":"ok","region":"<region>"}` when this region's
//! function and table answer ([`App::health`]), else 503 `{"status":"unavailable",...}`.
//! Route 53's HTTPS health check of the region requests it (docs/multi-region.md); it never
//! caches (`Cache-Control: no-store`), takes no input and reads nothing of anyone.

use lambda_http::http::{header, HeaderValue, StatusCode};
use lambda_http::{Body, Request, Response};

use crate::entry::http::{json_response, RequestLog};
use crate::App;

pub async fn handle(app: &App, req: &Request, route: &'static str) -> Response<Body> {
    let log = RequestLog::start(req, route);
    let (health, result) = app.health().await;
    let status = if result.is_ok() { StatusCode::OK } else { StatusCode::SERVICE_UNAVAILABLE };
    let mut resp = json_response(status, &health);
    resp.headers_mut().insert(header::CACHE_CONTROL, HeaderValue::from_static("no-store"));
    log.finish(status, result.err().as_ref());
    resp
}
