//! Serving one request as API Gateway does: select the route, enforce the payload limit, build
//! the event, run the authorizer, call the function on its own task, return its response.

use std::net::{IpAddr, Ipv4Addr, SocketAddr};
use std::panic::AssertUnwindSafe;
use std::sync::Arc;
use std::time::SystemTime;

use axum::extract::ConnectInfo;
use axum::http::{header, HeaderName, HeaderValue, StatusCode};
use axum::response::{IntoResponse, Response};
use lambda_http::aws_lambda_events::apigw::ApiGatewayV2httpRequest;

use super::authorizer::authorize;
use super::event::{build_event, percent_decode, request_id};
use super::{CompiledRoute, Gateway, MAX_PAYLOAD_BYTES};

impl Gateway {
    /// The most specific route matching method and path, with its raw path variables.
    fn select<'p>(&self, method: &str, path: &'p str) -> Option<(&CompiledRoute, Vec<(&str, &'p str)>)> {
        self.routes
            .iter()
            .filter(|r| r.route.method == method || r.route.method == "ANY")
            .filter_map(|r| r.pattern.matches(path).map(|params| (r, params)))
            .min_by_key(|(r, _)| (r.pattern.specificity(), r.route.method == "ANY"))
    }
}

/// API Gateway's JSON error response.
pub(super) fn api_error(status: StatusCode, message: &str) -> Response {
    (status, axum::Json(serde_json::json!({ "message": message }))).into_response()
}

/// Serves one request: route, build the event, run the handler, return its response.
pub(super) async fn dispatch(
    axum::extract::State(gateway): axum::extract::State<Arc<Gateway>>,
    request: axum::extract::Request,
) -> Response {
    let (parts, body) = request.into_parts();
    let path = parts.uri.path();
    let Some((route, params)) = gateway.select(parts.method.as_str(), path) else {
        return api_error(StatusCode::NOT_FOUND, "Not Found");
    };
    // The route's throttle comes first: a throttled request reaches neither the authorizer nor
    // the function.
    if route.bucket.as_ref().is_some_and(|bucket| !bucket.take(std::time::Instant::now())) {
        tracing::info!(route = %route.route_key, "throttled");
        return with_request_id(api_error(StatusCode::TOO_MANY_REQUESTS, "Too Many Requests"), &request_id());
    }

    let too_large = parts
        .headers
        .get(header::CONTENT_LENGTH)
        .and_then(|v| v.to_str().ok())
        .and_then(|v| v.parse::<u64>().ok())
        .is_some_and(|len| len > MAX_PAYLOAD_BYTES as u64);
    if too_large {
        return api_error(StatusCode::PAYLOAD_TOO_LARGE, "Request Entity Too Large");
    }
    let body = match axum::body::to_bytes(body, MAX_PAYLOAD_BYTES).await {
        Ok(body) => body,
        Err(e) if is_length_limit(&e) => return api_error(StatusCode::PAYLOAD_TOO_LARGE, "Request Entity Too Large"),
        Err(e) => {
            tracing::debug!(error = %e, "reading request body failed");
            return api_error(StatusCode::BAD_REQUEST, "Bad Request");
        }
    };

    let client =
        parts.extensions.get::<ConnectInfo<SocketAddr>>().map_or(IpAddr::V4(Ipv4Addr::LOCALHOST), |c| c.0.ip());
    let request_id = request_id();
    let path_parameters = params.into_iter().map(|(k, v)| (k.to_owned(), percent_decode(v))).collect();
    let mut event =
        build_event(&route.route_key, &parts, &body, path_parameters, client, &request_id, SystemTime::now());
    if let (Some(name), Some(authorizers)) = (&route.route.authorizer, &gateway.authorizers) {
        match authorize(authorizers, name, &event).await {
            Ok(allowed) => event = allowed,
            Err(denied) => return with_request_id(denied, &request_id),
        }
    }
    let lambda_request = match into_lambda_request(&event) {
        Ok(request) => request,
        Err(reason) => {
            tracing::info!(%reason, "rejected a request API Gateway would not forward");
            return api_error(StatusCode::BAD_REQUEST, "Bad Request");
        }
    };

    tracing::info!(route = %route.route_key, function = %route.route.function_logical_id, %request_id, "invoke");
    // Run on its own task so a panicking handler becomes a 500, as a crashed Lambda does.
    let response = match tokio::spawn((route.handler)(lambda_request)).await {
        Ok(response) => response,
        Err(e) => {
            tracing::error!(route = %route.route_key, %request_id, error = %e, "function failed");
            return with_request_id(api_error(StatusCode::INTERNAL_SERVER_ERROR, "Internal Server Error"), &request_id);
        }
    };
    with_request_id(into_http_response(response), &request_id)
}

/// Whether reading the body stopped at [`MAX_PAYLOAD_BYTES`].
fn is_length_limit(error: &axum::Error) -> bool {
    let mut source: Option<&(dyn std::error::Error + 'static)> = Some(error);
    while let Some(e) = source {
        if e.is::<http_body_util::LengthLimitError>() {
            return true;
        }
        source = e.source();
    }
    false
}

/// Serializes the event and reads it back as Lambda would deliver it to the handler.
fn into_lambda_request(event: &ApiGatewayV2httpRequest) -> Result<lambda_http::Request, String> {
    let json = serde_json::to_string(event).map_err(|e| format!("event does not serialize: {e}"))?;
    // lambda_http builds the URI with `unwrap`s; a request it cannot represent is a bad request here.
    std::panic::catch_unwind(AssertUnwindSafe(|| lambda_http::request::from_str(&json)))
        .map_err(|_| "lambda_http cannot represent the request".to_owned())?
        .map_err(|e| format!("event does not deserialize: {e}"))
}

/// The handler's response as the HTTP response API Gateway returns.
fn into_http_response(response: lambda_http::Response<lambda_http::Body>) -> Response {
    let (parts, body) = response.into_parts();
    let body = match body {
        lambda_http::Body::Text(text) => axum::body::Body::from(text),
        lambda_http::Body::Binary(bytes) => axum::body::Body::from(bytes),
        _ => axum::body::Body::empty(),
    };
    Response::from_parts(parts, body)
}

/// Adds the `apigw-requestid` header API Gateway puts on every response.
fn with_request_id(mut response: Response, request_id: &str) -> Response {
    if let Ok(value) = HeaderValue::from_str(request_id) {
        response.headers_mut().insert(HeaderName::from_static("apigw-requestid"), value);
    }
    response
}
