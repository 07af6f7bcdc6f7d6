//! `POST /v1.1/instances/{instance}/users/{id}/reset_key/`: a new Syncano user key (the old one is refused from then on).

use lambda_http::{Body, Request, Response};
use shared::entry::dialect::syncano;
use shared::App;

pub const ROUTE: &str = "POST /v1.1/instances/{instance}/users/{id}/reset_key/";

pub async fn handler(app: &App, req: Request) -> Response<Body> {
    syncano::handle_reset_key(app, &req, ROUTE).await
}
