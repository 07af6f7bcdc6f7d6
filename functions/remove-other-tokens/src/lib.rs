//! `POST /api/v1/users.removeOtherTokens`: revokes every Rocket.Chat session of the user of
//! `X-Auth-Token` + `X-User-Id` but that one ("log out everywhere else").

use lambda_http::{Body, Request, Response};
use shared::entry::dialect::rocketchat;
use shared::App;

pub const ROUTE: &str = "POST /api/v1/users.removeOtherTokens";

pub async fn handler(app: &App, req: Request) -> Response<Body> {
    rocketchat::handle_remove_other_tokens(app, &req, ROUTE).await
}
