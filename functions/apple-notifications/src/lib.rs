//! `POST /callbacks/apple/{instance}`: Apple's server-to-server notifications for Sign in with Apple.

use lambda_http::{Body, Request, Response};
use shared::App;

pub const ROUTE: &str = "POST /callbacks/apple/{instance}";

pub async fn handler(app: &App, req: Request) -> Response<Body> {
    shared::entry::apple_notifications::handle(app, &req, ROUTE).await
}
