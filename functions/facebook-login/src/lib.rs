//! `POST /v1.1/instances/{instance}/user/auth/facebook/`: Syncano social login with Facebook
//! (a Graph user access token, or a Limited Login ID token with its nonce).

use lambda_http::{Body, Request, Response};
use shared::entry::dialect::syncano;
use shared::{App, Provider};

pub const ROUTE: &str = "POST /v1.1/instances/{instance}/user/auth/facebook/";

pub async fn handler(app: &App, req: Request) -> Response<Body> {
    syncano::handle(app, &req, Provider::Facebook, ROUTE).await
}
