//! `POST /api/v1/logout`: revokes the Rocket.Chat session of `X-Auth-Token` + `X-User-Id`.

use lambda_http::{Body, Request, Response};
use shared::entry::dialect::rocketchat;
use shared::App;

pub const ROUTE: &str = "POST /api/v1/logout";

pub async fn handler(app: &App, req: Request) -> Response<Body> {
    rocketchat::handle_logout(app, &req, ROUTE).await
}
