//! `POST /v1.1/instances/{instance}/user/auth/google-oauth2/`: Syncano social login with
//! Google (an ID token, or an access token checked with tokeninfo).

use lambda_http::{Body, Request, Response};
use shared::entry::dialect::syncano;
use shared::{App, Provider};

pub const ROUTE: &str = "POST /v1.1/instances/{instance}/user/auth/google-oauth2/";

pub async fn handler(app: &App, req: Request) -> Response<Body> {
    syncano::handle(app, &req, Provider::Google, ROUTE).await
}
