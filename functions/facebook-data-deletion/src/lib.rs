//! `POST /callbacks/facebook/{instance}/data-deletion`: Facebook's data deletion request callback.

use lambda_http::{Body, Request, Response};
use shared::App;

pub const ROUTE: &str = "POST /callbacks/facebook/{instance}/data-deletion";

pub async fn handler(app: &App, req: Request) -> Response<Body> {
    shared::entry::facebook_callbacks::handle_data_deletion(app, &req, ROUTE).await
}
