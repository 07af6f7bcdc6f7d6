//! `GET /callbacks/facebook/deletion-status/{code}`: What became of a Facebook data deletion request (the url its callback answered).

use lambda_http::{Body, Request, Response};
use shared::App;

pub const ROUTE: &str = "GET /callbacks/facebook/deletion-status/{code}";

pub async fn handler(app: &App, req: Request) -> Response<Body> {
    shared::entry::facebook_callbacks::handle_deletion_status(app, &req, ROUTE).await
}
