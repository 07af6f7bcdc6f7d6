//! `ANY` on the Syncano paths, for what no other route takes: the logins at the backends no
//! function of its own serves (`microsoft-graph`, `oidc-{name}`, where the instance serves
//! them), an unknown or unserved backend (400 "Unsupported social backend.") and a method the
//! path does not serve (405 with `Allow`), each after the same key checks the served method
//! makes, as the platform does.

use lambda_http::{Body, Request, Response};
use shared::entry::dialect::syncano;
use shared::App;

pub async fn handler(app: &App, req: Request) -> Response<Body> {
    syncano::handle_fallback(app, &req).await
}
