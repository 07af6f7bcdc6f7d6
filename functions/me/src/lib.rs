//! `GET /api/v1/me`: Rocket.Chat's current user, for `X-Auth-Token` + `X-User-Id`.

use lambda_http::{Body, Request, Response};
use shared::entry::dialect::rocketchat;
use shared::App;

pub const ROUTE: &str = "GET /api/v1/me";

pub async fn handler(app: &App, req: Request) -> Response<Body> {
    rocketchat::handle_me(app, &req, ROUTE).await
}
