//! `POST /api/v1/users.deleteOwnAccount`: Rocket.Chat's own-account deletion, for `X-Auth-Token` + `X-User-Id`, confirmed with the SHA-256 of the username.

use lambda_http::{Body, Request, Response};
use shared::entry::dialect::rocketchat;
use shared::App;

pub const ROUTE: &str = "POST /api/v1/users.deleteOwnAccount";

pub async fn handler(app: &App, req: Request) -> Response<Body> {
    rocketchat::handle_delete_own_account(app, &req, ROUTE).await
}
