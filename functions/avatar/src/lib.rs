//! `GET /avatar/{username}`: the user's avatar, as Rocket.Chat serves `avatarUrl` (a redirect to
//! the provider's picture, or the generated initials SVG).

use lambda_http::{Body, Request, Response};
use shared::App;

pub const ROUTE: &str = "GET /avatar/{username}";

pub async fn handler(app: &App, req: Request) -> Response<Body> {
    shared::avatar::handle(app, &req, ROUTE).await
}
