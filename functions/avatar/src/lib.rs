//! `GET /avatar/{username}`: the avatar every `avatarUrl` points at, as Rocket.Chat serves it for
//! a user without an uploaded avatar: the generated initials SVG of the requested name.

use lambda_http::{Body, Request, Response};
use shared::App;

pub const ROUTE: &str = "GET /avatar/{username}";

pub async fn handler(app: &App, req: Request) -> Response<Body> {
    shared::entry::avatar::handle(app, &req, ROUTE).await
}
