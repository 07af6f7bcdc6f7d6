//! `POST /v1.1/instances/{instance}/user/auth/linkedin/`: Syncano social login with
//! LinkedIn (an OpenID Connect ID token, or an introspected access token).

use lambda_http::{Body, Request, Response};
use shared::entry::dialect::syncano;
use shared::{App, Provider};

pub const ROUTE: &str = "POST /v1.1/instances/{instance}/user/auth/linkedin/";

pub async fn handler(app: &App, req: Request) -> Response<Body> {
    syncano::handle(app, &req, Provider::LinkedIn, ROUTE).await
}
