//! `DELETE /v1.1/instances/{instance}/user/`: the user of `X-USER-KEY` deletes itself (this service's extension of Syncano).

use lambda_http::{Body, Request, Response};
use shared::entry::dialect::syncano;
use shared::App;

pub const ROUTE: &str = "DELETE /v1.1/instances/{instance}/user/";

pub async fn handler(app: &App, req: Request) -> Response<Body> {
    syncano::handle_delete_self(app, &req, ROUTE).await
}
