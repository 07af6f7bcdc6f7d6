//! `GET /health`: whether this region can sign people in (its Lambda and its DynamoDB table
//! answer a strongly consistent read): Route 53's health check of the region (docs/multi-region.md).

use lambda_http::{Body, Request, Response};
use shared::App;

pub const ROUTE: &str = "GET /health";

pub async fn handler(app: &App, req: Request) -> Response<Body> {
    shared::entry::health::handle(app, &req, ROUTE).await
}
