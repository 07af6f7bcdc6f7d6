//! `POST /api/v1/login`: Rocket.Chat OAuth login, dispatching on `serviceName`.

use std::time::Instant;

use lambda_http::{Body, Request, Response};
use shared::dialect::rocketchat;
use shared::App;

pub const ROUTE: &str = "POST /api/v1/login";

pub async fn handler(app: &App, req: Request) -> Response<Body> {
    let started = Instant::now();
    let result = match rocketchat::parse_login(&req) {
        Ok(login) => app.rocketchat_login(login.provider, &login.access_token).await,
        Err(e) => Err(e),
    };
    rocketchat::respond(&app.config, ROUTE, started, result)
}
