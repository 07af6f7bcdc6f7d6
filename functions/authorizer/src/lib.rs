//! The Lambda authorizer of the HTTP API (payload 2.0, simple responses). It protects `me`,
//! `user/` and any route of an app's own that names it in the template.

use std::time::Instant;

use shared::authorizer::{AuthorizerRequest, AuthorizerResponse};
use shared::{App, LoginError};

pub async fn handler(app: &App, req: AuthorizerRequest) -> Result<AuthorizerResponse, LoginError> {
    let started = Instant::now();
    let result = app.authorize(&req).await;
    let latency_ms = started.elapsed().as_secs_f64() * 1000.0;
    match &result {
        Ok(r) => tracing::info!(route = "authorizer", authorized = r.is_authorized, latency_ms, "authorized"),
        Err(e) => tracing::error!(route = "authorizer", error = %e, latency_ms, "authorizer failed"),
    }
    result
}
