//! `GET /v1.1/instances/{instance}/user/`: the Syncano user of `X-USER-KEY` (with the instance's `X-API-KEY`).

use lambda_http::{Body, Request, Response};
use shared::entry::dialect::syncano;
use shared::App;

pub const ROUTE: &str = "GET /v1.1/instances/{instance}/user/";

pub async fn handler(app: &App, req: Request) -> Response<Body> {
    syncano::handle_user(app, &req, ROUTE).await
}
