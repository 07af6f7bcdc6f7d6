//! A local API Gateway HTTP API: serves the template's routes by calling each function's handler
//! in process with the payload format 2.0 event API Gateway would send it.
//!
//! The event is built as an [`ApiGatewayV2httpRequest`], serialized to JSON and read back with
//! [`lambda_http::request::from_str`], the same path the `events/*.json` samples take, so a handler
//! sees here exactly what it sees behind API Gateway.

mod authorizer;
mod dispatch;
mod event;
mod probes;
mod registry;
mod routes;
mod throttle;

use std::collections::HashMap;
use std::future::Future;
use std::net::SocketAddr;
use std::pin::Pin;
use std::sync::Arc;

use axum::Router;
use shared::App;

use crate::template::{Route, Throttles};
pub use authorizer::{Authorizer, Authorizers};
pub use registry::{
    authorizer_functions, authorizer_packages, function_handlers, function_packages, packages, scheduled_functions,
    scheduled_packages,
};
use routes::Pattern;

pub use probes::{probe_routes, syncano_only, ROCKETCHAT_ONLY};

/// API Gateway's request payload limit (HTTP APIs: 10 MB).
pub const MAX_PAYLOAD_BYTES: usize = 10 * 1024 * 1024;

/// A function's handler, type-erased: takes the request Lambda would deliver, returns its response.
pub type Handler = Arc<
    dyn Fn(lambda_http::Request) -> Pin<Box<dyn Future<Output = lambda_http::Response<lambda_http::Body>> + Send>>
        + Send
        + Sync,
>;

/// Why a gateway could not be built from a template's routes.
#[derive(Debug, thiserror::Error)]
pub enum GatewayError {
    /// A route's function has no in-process handler (see [`function_handlers`]).
    #[error("route `{route_key}` (function {function}) needs package `{package}`, which has no handler in the local gateway")]
    MissingHandler {
        /// The route key.
        route_key: String,
        /// Logical id of the function.
        function: String,
        /// The function's package.
        package: String,
    },
    /// A route names an authorizer the gateway was not given.
    #[error("route `{route_key}` needs authorizer `{name}`, which the local gateway was not given")]
    MissingAuthorizer {
        /// The route key.
        route_key: String,
        /// The authorizer's name in the template.
        name: String,
    },
    /// A route path API Gateway would not accept.
    #[error("route `{route_key}`: {reason}")]
    InvalidPath {
        /// The route key.
        route_key: String,
        /// What is wrong.
        reason: String,
    },
    /// The template's route throttling cannot be read.
    #[error("route throttling: {0}")]
    Throttling(#[from] crate::template::TemplateError),
    /// Two routes with the same key.
    #[error("route `{route_key}` is defined twice (functions {first} and {second})")]
    DuplicateRoute {
        /// The route key.
        route_key: String,
        /// Logical id of the first function.
        first: String,
        /// Logical id of the second function.
        second: String,
    },
}

/// Wraps an async function of a request into a [`Handler`].
pub fn handler_fn<F, Fut>(f: F) -> Handler
where
    F: Fn(lambda_http::Request) -> Fut + Send + Sync + 'static,
    Fut: Future<Output = lambda_http::Response<lambda_http::Body>> + Send + 'static,
{
    Arc::new(move |req| Box::pin(f(req)))
}

/// The gateway of `template`: every function and authorizer, in process, on `app`, each route
/// throttled as the template's `DefaultRouteSettings` / `RouteSettings` say (a token bucket per
/// route shared by all clients, as API Gateway does; 429 `{"message":"Too Many Requests"}`).
pub fn for_template(template: &crate::template::Template, app: Arc<App>) -> Result<Router, GatewayError> {
    for_template_with(template, app, Vec::new())
}

/// [`for_template`] plus `extra` routes that are not in the template (the tests' own routes
/// behind an authorizer, as an app would add them).
pub fn for_template_with(
    template: &crate::template::Template,
    app: Arc<App>,
    extra: Vec<(Route, Handler)>,
) -> Result<Router, GatewayError> {
    for_template_wrapped(template, app, extra, |h| h)
}

/// [`for_template_with`], each function's handler passed through `wrap` first: the tests' local
/// regions (issue 33) make theirs abortable, to kill a region's functions mid-request.
pub fn for_template_wrapped(
    template: &crate::template::Template,
    app: Arc<App>,
    extra: Vec<(Route, Handler)>,
    wrap: impl Fn(Handler) -> Handler,
) -> Result<Router, GatewayError> {
    let authorizers = Authorizers::new(template.authorizers(), authorizer_functions(Arc::clone(&app)));
    let mut handlers: HashMap<String, Handler> =
        function_handlers(app).into_iter().map(|(name, handler)| (name, wrap(handler))).collect();
    let mut routes = template.routes();
    for (route, handler) in extra {
        handlers.insert(route.package.clone(), handler);
        routes.push(route);
    }
    build_router(routes, handlers, Some(authorizers), &template.throttles()?)
}

/// [`router`] for routes that name authorizers: before the function, API Gateway's steps are
/// replayed: identity headers missing → 401 `{"message":"Unauthorized"}`, denied → 403
/// `{"message":"Forbidden"}`, allowed → the context in `requestContext.authorizer.lambda`.
pub fn router_with_authorizers(
    routes: Vec<Route>,
    handlers: HashMap<String, Handler>,
    authorizers: Authorizers,
) -> Result<Router, GatewayError> {
    build_router(routes, handlers, Some(authorizers), &Throttles::default())
}

/// Builds the gateway: every route of `routes` served by the handler of its package.
///
/// Errors if a route has no handler, a path is not a valid HTTP API route path, or a route key
/// repeats. Requests matching no route get API Gateway's 404 `{"message":"Not Found"}`, also when
/// only the method differs. Routes that name an authorizer need [`router_with_authorizers`].
pub fn router(routes: Vec<Route>, handlers: HashMap<String, Handler>) -> Result<Router, GatewayError> {
    build_router(routes, handlers, None, &Throttles::default())
}

fn build_router(
    routes: Vec<Route>,
    handlers: HashMap<String, Handler>,
    authorizers: Option<Authorizers>,
    throttles: &Throttles,
) -> Result<Router, GatewayError> {
    let mut compiled: Vec<CompiledRoute> = Vec::with_capacity(routes.len());
    for route in routes {
        let route_key = route.route_key();
        let handler = handlers.get(&route.package).cloned().ok_or_else(|| GatewayError::MissingHandler {
            route_key: route_key.clone(),
            function: route.function_logical_id.clone(),
            package: route.package.clone(),
        })?;
        if let Some(name) = &route.authorizer {
            if !authorizers.as_ref().is_some_and(|a| a.defs.contains_key(name)) {
                return Err(GatewayError::MissingAuthorizer { route_key, name: name.clone() });
            }
        }
        let pattern = Pattern::parse(&route.path)
            .map_err(|reason| GatewayError::InvalidPath { route_key: route_key.clone(), reason })?;
        if let Some(first) = compiled.iter().find(|c| c.route.method == route.method && c.pattern == pattern) {
            return Err(GatewayError::DuplicateRoute {
                route_key,
                first: first.route.function_logical_id.clone(),
                second: route.function_logical_id,
            });
        }
        let bucket = throttles.of(&route_key).map(throttle::Bucket::new);
        compiled.push(CompiledRoute { route_key, route, pattern, handler, bucket });
    }
    Ok(Router::new().fallback(dispatch::dispatch).with_state(Arc::new(Gateway { routes: compiled, authorizers })))
}

/// Serves `router` on `listener` (with the client address that becomes `sourceIp`) until
/// `shutdown` completes.
pub async fn serve(
    listener: tokio::net::TcpListener,
    router: Router,
    shutdown: impl Future<Output = ()> + Send + 'static,
) -> std::io::Result<()> {
    axum::serve(listener, router.into_make_service_with_connect_info::<SocketAddr>())
        .with_graceful_shutdown(shutdown)
        .await
}

/// The routes, ready to match.
struct Gateway {
    routes: Vec<CompiledRoute>,
    authorizers: Option<Authorizers>,
}

struct CompiledRoute {
    route_key: String,
    route: Route,
    pattern: Pattern,
    handler: Handler,
    /// The route's throttle (the template's `RouteSettings`, else `DefaultRouteSettings`).
    bucket: Option<throttle::Bucket>,
}

#[cfg(test)]
mod tests;
