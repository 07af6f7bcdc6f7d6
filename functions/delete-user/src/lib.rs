//! `DELETE /v1.1/instances/{instance}/users/{id}/`: an instance admin (an `ignore_acl` API key) deletes a user and everything that leads to it.

use lambda_http::{Body, Request, Response};
use shared::entry::dialect::syncano;
use shared::App;

pub const ROUTE: &str = "DELETE /v1.1/instances/{instance}/users/{id}/";

pub async fn handler(app: &App, req: Request) -> Response<Body> {
    syncano::handle_delete_user(app, &req, ROUTE).await
}
