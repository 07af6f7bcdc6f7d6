//! `POST /v1.1/instances/{instance}/user/auth/github/`: Syncano social login with
//! GitHub (an access token bound to our OAuth app).

use lambda_http::{Body, Request, Response};
use shared::entry::dialect::syncano;
use shared::{App, Provider};

pub const ROUTE: &str = "POST /v1.1/instances/{instance}/user/auth/github/";

pub async fn handler(app: &App, req: Request) -> Response<Body> {
    syncano::handle(app, &req, Provider::GitHub, ROUTE).await
}
