//! `POST /v1.1/instances/{instance}/user/auth/twitter/`: Syncano social login with
//! Twitter/X (OAuth 1.0a `token:secret` signed with our consumer key, or an OAuth 2.0 bearer token).

use lambda_http::{Body, Request, Response};
use shared::entry::dialect::syncano;
use shared::{App, Provider};

pub const ROUTE: &str = "POST /v1.1/instances/{instance}/user/auth/twitter/";

pub async fn handler(app: &App, req: Request) -> Response<Body> {
    syncano::handle(app, &req, Provider::Twitter, ROUTE).await
}
