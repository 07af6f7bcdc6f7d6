//! `POST /callbacks/facebook/{instance}/deauthorize`: Facebook's deauthorize callback: the person removed our app.

use lambda_http::{Body, Request, Response};
use shared::App;

pub const ROUTE: &str = "POST /callbacks/facebook/{instance}/deauthorize";

pub async fn handler(app: &App, req: Request) -> Response<Body> {
    shared::entry::facebook_callbacks::handle_deauthorize(app, &req, ROUTE).await
}
