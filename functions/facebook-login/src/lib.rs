//! `POST /v1.1/instances/{instance}/user/auth/facebook/`: Syncano social login with Facebook.

use std::time::Instant;

use lambda_http::{Body, Request, Response};
use shared::dialect::syncano;
use shared::{App, Provider};

pub const ROUTE: &str = "POST /v1.1/instances/{instance}/user/auth/facebook/";

pub async fn handler(app: &App, req: Request) -> Response<Body> {
    let started = Instant::now();
    let result = match syncano::parse_login(&req) {
        Ok(login) => app.syncano_login(login, Provider::Facebook).await,
        Err(e) => Err(e),
    };
    syncano::respond(ROUTE, started, result)
}
