//! `POST /api/v1/login`: Rocket.Chat OAuth login, dispatching on `serviceName` to every provider
//! this deployment serves.

use lambda_http::{Body, Request, Response};
use shared::entry::dialect::rocketchat;
use shared::App;

pub const ROUTE: &str = "POST /api/v1/login";

pub async fn handler(app: &App, req: Request) -> Response<Body> {
    rocketchat::handle(app, &req, ROUTE).await
}
