//! Routes of an app's own behind each authorizer, as an app would add them beside ours (local
//! only: never in `template.yaml`). Each answers 200 with the authorizer's context it was given,
//! as an app's function protected by that authorizer would receive it: the tests check what the
//! authorizers allow, and the scale simulation drives the authorizers through them.

use super::{handler_fn, Handler};
use crate::template::Route;

/// A route behind the Rocket.Chat session authorizer.
pub const ROCKETCHAT_ONLY: &str = "/test/rocketchat-only";

/// A route behind the Syncano authorizer, under `{instance}`.
pub fn syncano_only(instance: &str) -> String {
    format!("/v1.1/instances/{instance}/test/syncano-only/")
}

/// The two routes and their echoing handler.
pub fn probe_routes() -> Vec<(Route, Handler)> {
    let echo = handler_fn(|req: lambda_http::Request| async move {
        use lambda_http::RequestExt;
        let context = match req.request_context_ref() {
            Some(lambda_http::request::RequestContext::ApiGatewayV2(c)) => {
                c.authorizer.as_ref().map(|a| serde_json::to_value(a).unwrap_or_default())
            }
            _ => None,
        };
        let body = serde_json::json!({ "authorizer": context }).to_string();
        let mut resp = lambda_http::Response::new(lambda_http::Body::Text(body));
        resp.headers_mut().insert("content-type", lambda_http::http::HeaderValue::from_static("application/json"));
        resp
    });
    let route = |path: &str, package: &str, authorizer: &str| Route {
        method: "GET".into(),
        path: path.into(),
        function_logical_id: format!("Test{authorizer}Function"),
        package: package.into(),
        authorizer: Some(authorizer.into()),
    };
    vec![
        (route(ROCKETCHAT_ONLY, "test-rocketchat-only", "RocketChatSession"), echo.clone()),
        (route(&syncano_only("{instance}"), "test-syncano-only", "SyncanoUserKey"), echo),
    ]
}
