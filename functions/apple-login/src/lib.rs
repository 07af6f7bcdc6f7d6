//! `POST /v1.1/instances/{instance}/user/auth/apple/`: Syncano social login with
//! Sign in with Apple (an ID token with its nonce).

use lambda_http::{Body, Request, Response};
use shared::entry::dialect::syncano;
use shared::{App, Provider};

pub const ROUTE: &str = "POST /v1.1/instances/{instance}/user/auth/apple/";

pub async fn handler(app: &App, req: Request) -> Response<Body> {
    syncano::handle(app, &req, Provider::Apple, ROUTE).await
}
