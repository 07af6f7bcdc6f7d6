//! A local API Gateway HTTP API: serves the template's routes by calling each function's handler
//! in process with the payload format 2.0 event API Gateway would send it.
//!
//! The event is built as an [`ApiGatewayV2httpRequest`], serialized to JSON and read back with
//! [`lambda_http::request::from_str`], the same path the `events/*.json` samples take, so a handler
//! sees here exactly what it sees behind API Gateway.

use std::collections::HashMap;
use std::future::Future;
use std::net::{IpAddr, Ipv4Addr, SocketAddr};
use std::panic::AssertUnwindSafe;
use std::pin::Pin;
use std::sync::{Arc, Mutex};
use std::time::Instant;
use std::time::{SystemTime, UNIX_EPOCH};

use axum::extract::ConnectInfo;
use axum::http::{header, request::Parts, HeaderMap, HeaderName, HeaderValue, StatusCode};
use axum::response::{IntoResponse, Response};
use axum::Router;
use base64::Engine as _;
use lambda_http::aws_lambda_events::apigw::{
    ApiGatewayV2httpRequest, ApiGatewayV2httpRequestContext, ApiGatewayV2httpRequestContextHttpDescription,
};
use lambda_http::aws_lambda_events::query_map::QueryMap;
use shared::App;

use crate::template::{AuthorizerDef, Route};

/// API Gateway's request payload limit (HTTP APIs: 10 MB).
pub const MAX_PAYLOAD_BYTES: usize = 10 * 1024 * 1024;

/// Account id put in the request context (the one `sam local` uses).
const ACCOUNT_ID: &str = "123456789012";
/// API id put in the request context.
const API_ID: &str = "local";

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

/// Makes the [`Handler`] of a function crate: `$krate::handler(&app, req)`.
macro_rules! function {
    ($krate:ident) => {
        |app: Arc<App>| -> Handler {
            handler_fn(move |req| {
                let app = Arc::clone(&app);
                async move { $krate::handler(&app, req).await }
            })
        }
    };
}

/// Makes a function's [`Handler`] around the shared [`App`].
type MakeHandler = fn(Arc<App>) -> Handler;

/// Every function the local gateway can run, by Cargo package. The one list to extend when a
/// function crate is added (and a dependency on it in this crate's Cargo.toml).
const FUNCTIONS: &[(&str, MakeHandler)] = &[
    ("facebook-login", function!(facebook_login)),
    ("google-login", function!(google_login)),
    ("twitter-login", function!(twitter_login)),
    ("linkedin-login", function!(linkedin_login)),
    ("apple-login", function!(apple_login)),
    ("github-login", function!(github_login)),
    ("login", function!(login)),
    ("me", function!(me)),
    ("avatar", function!(avatar)),
    ("logout", function!(logout)),
    ("remove-other-tokens", function!(remove_other_tokens)),
    ("current-user", function!(current_user)),
    ("reset-key", function!(reset_key)),
    ("syncano-fallback", function!(syncano_fallback)),
];

/// The packages [`function_handlers`] serves, without needing an [`App`].
pub fn function_packages() -> Vec<&'static str> {
    FUNCTIONS.iter().map(|(package, _)| *package).collect()
}

/// The in-process handler of every function crate, by package name, sharing one `app`.
pub fn function_handlers(app: Arc<App>) -> HashMap<String, Handler> {
    FUNCTIONS.iter().map(|(package, make)| ((*package).to_owned(), make(Arc::clone(&app)))).collect()
}

/// A Lambda authorizer, called with its payload 2.0 event (JSON) and answering with its simple
/// response (JSON), as API Gateway calls it.
pub type Authorizer = Arc<
    dyn Fn(serde_json::Value) -> Pin<Box<dyn Future<Output = Result<serde_json::Value, String>> + Send>> + Send + Sync,
>;

/// Makes the [`Authorizer`] of an authorizer crate: `$krate::handler(&app, event)`.
macro_rules! authorizer {
    ($krate:ident) => {
        |app: Arc<App>| -> Authorizer {
            Arc::new(move |event| {
                let app = Arc::clone(&app);
                Box::pin(async move {
                    let req = serde_json::from_value(event).map_err(|e| format!("authorizer event: {e}"))?;
                    let answer = $krate::handler(&app, req).await.map_err(|e| e.to_string())?;
                    serde_json::to_value(answer).map_err(|e| e.to_string())
                })
            })
        }
    };
}

/// Every authorizer function the local gateway can run, by Cargo package.
const AUTHORIZER_FUNCTIONS: &[(&str, fn(Arc<App>) -> Authorizer)] = &[
    ("rocketchat-authorizer", authorizer!(rocketchat_authorizer)),
    ("syncano-authorizer", authorizer!(syncano_authorizer)),
];

/// The in-process authorizer functions, by package, sharing `app`.
pub fn authorizer_functions(app: Arc<App>) -> HashMap<String, Authorizer> {
    AUTHORIZER_FUNCTIONS.iter().map(|(package, make)| ((*package).to_owned(), make(Arc::clone(&app)))).collect()
}

/// The gateway of `template`: every function and authorizer, in process, on `app`.
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
    let authorizers = Authorizers::new(template.authorizers(), authorizer_functions(Arc::clone(&app)));
    let mut handlers = function_handlers(app);
    let mut routes = template.routes();
    for (route, handler) in extra {
        handlers.insert(route.package.clone(), handler);
        routes.push(route);
    }
    router_with_authorizers(routes, handlers, authorizers)
}

/// The authorizers of the template, the functions that run them, and API Gateway's cache of their
/// answers: by authorizer and identity (the identity sources' values), for `cache_secs`.
pub struct Authorizers {
    defs: HashMap<String, AuthorizerDef>,
    functions: HashMap<String, Authorizer>,
    cache: Mutex<HashMap<(String, Vec<String>), (serde_json::Value, Instant)>>,
}

impl Authorizers {
    /// `defs` by name (from the template); `functions` by package.
    pub fn new(defs: HashMap<String, AuthorizerDef>, functions: HashMap<String, Authorizer>) -> Authorizers {
        Authorizers { defs, functions, cache: Mutex::new(HashMap::new()) }
    }
}

/// [`router`] for routes that name authorizers: before the function, API Gateway's steps are
/// replayed: identity headers missing → 401 `{"message":"Unauthorized"}`, denied → 403
/// `{"message":"Forbidden"}`, allowed → the context in `requestContext.authorizer.lambda`.
pub fn router_with_authorizers(
    routes: Vec<Route>,
    handlers: HashMap<String, Handler>,
    authorizers: Authorizers,
) -> Result<Router, GatewayError> {
    build_router(routes, handlers, Some(authorizers))
}

/// Builds the gateway: every route of `routes` served by the handler of its package.
///
/// Errors if a route has no handler, a path is not a valid HTTP API route path, or a route key
/// repeats. Requests matching no route get API Gateway's 404 `{"message":"Not Found"}`, also when
/// only the method differs. Routes that name an authorizer need [`router_with_authorizers`].
pub fn router(routes: Vec<Route>, handlers: HashMap<String, Handler>) -> Result<Router, GatewayError> {
    build_router(routes, handlers, None)
}

fn build_router(
    routes: Vec<Route>,
    handlers: HashMap<String, Handler>,
    authorizers: Option<Authorizers>,
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
        compiled.push(CompiledRoute { route_key, route, pattern, handler });
    }
    Ok(Router::new().fallback(dispatch).with_state(Arc::new(Gateway { routes: compiled, authorizers })))
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
}

/// One segment of a route path.
#[derive(Debug, Clone, PartialEq, Eq)]
enum Segment {
    /// Matches itself (case-sensitive).
    Literal(String),
    /// `{name}`: one non-empty segment.
    Param(String),
    /// `{name+}`: the rest of the path, at least one non-empty segment; only last.
    Greedy(String),
}

/// A route path: segments, or the `$default` catch-all.
#[derive(Debug, Clone, PartialEq, Eq)]
enum Pattern {
    Segments(Vec<Segment>),
    Default,
}

impl Pattern {
    /// Parses a template path. `/a/b/` and `/a/b` differ: the trailing empty segment is kept.
    fn parse(path: &str) -> Result<Pattern, String> {
        if path == Route::DEFAULT_PATH {
            return Ok(Pattern::Default);
        }
        let rest = path.strip_prefix('/').ok_or_else(|| format!("path `{path}` must start with `/`"))?;
        let parts: Vec<&str> = rest.split('/').collect();
        let last = parts.len() - 1;
        parts
            .iter()
            .enumerate()
            .map(|(i, part)| {
                if let Some(name) = part.strip_prefix('{').and_then(|p| p.strip_suffix('}')) {
                    let (name, greedy) = match name.strip_suffix('+') {
                        Some(name) => (name, true),
                        None => (name, false),
                    };
                    if name.is_empty() || name.contains(['{', '}', '+']) {
                        return Err(format!("invalid path variable `{part}` in `{path}`"));
                    }
                    if greedy && i != last {
                        return Err(format!("greedy variable `{part}` must be the last segment of `{path}`"));
                    }
                    Ok(if greedy { Segment::Greedy(name.to_owned()) } else { Segment::Param(name.to_owned()) })
                } else if part.contains(['{', '}']) {
                    Err(format!("a path variable must be a whole segment: `{part}` in `{path}`"))
                } else if part.is_empty() && i != last {
                    Err(format!("empty segment in `{path}`"))
                } else {
                    Ok(Segment::Literal((*part).to_owned()))
                }
            })
            .collect::<Result<_, _>>()
            .map(Pattern::Segments)
    }

    /// Matches the (still percent-encoded) request path; returns the raw path variables.
    fn matches<'p>(&self, path: &'p str) -> Option<Vec<(&str, &'p str)>> {
        let segments = match self {
            Pattern::Default => return Some(Vec::new()),
            Pattern::Segments(segments) => segments,
        };
        let mut rest = path.strip_prefix('/')?;
        let mut params = Vec::new();
        for (i, segment) in segments.iter().enumerate() {
            let last = i + 1 == segments.len();
            if let Segment::Greedy(name) = segment {
                if rest.split('/').all(str::is_empty) {
                    return None;
                }
                params.push((name.as_str(), rest));
                return Some(params);
            }
            let (part, tail) = match rest.split_once('/') {
                Some((part, tail)) if !last => (part, tail),
                Some(_) => return None,
                None if last => (rest, ""),
                None => return None,
            };
            match segment {
                Segment::Literal(literal) if literal == part => {}
                Segment::Param(name) if !part.is_empty() => params.push((name.as_str(), part)),
                _ => return None,
            }
            rest = tail;
        }
        Some(params)
    }

    /// Sort key, smaller is more specific: per segment literal < `{x}` < `{x+}`; `$default` last.
    fn specificity(&self) -> Vec<u8> {
        match self {
            Pattern::Default => vec![u8::MAX],
            Pattern::Segments(segments) => segments
                .iter()
                .map(|s| match s {
                    Segment::Literal(_) => 0,
                    Segment::Param(_) => 1,
                    Segment::Greedy(_) => 2,
                })
                .collect(),
        }
    }
}

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
fn api_error(status: StatusCode, message: &str) -> Response {
    (status, axum::Json(serde_json::json!({ "message": message }))).into_response()
}

/// Serves one request: route, build the event, run the handler, return its response.
async fn dispatch(
    axum::extract::State(gateway): axum::extract::State<Arc<Gateway>>,
    request: axum::extract::Request,
) -> Response {
    let (parts, body) = request.into_parts();
    let path = parts.uri.path();
    let Some((route, params)) = gateway.select(parts.method.as_str(), path) else {
        return api_error(StatusCode::NOT_FOUND, "Not Found");
    };

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

/// API Gateway's authorizer step for `event`: the event with the authorizer's context, or the
/// response API Gateway gives instead of calling the function. Answers are cached by authorizer
/// and identity (headers, then context variables, as the template lists them), as API Gateway
/// caches them: an allow is reused for any route whose identity is the same.
async fn authorize(
    authorizers: &Authorizers,
    name: &str,
    event: &ApiGatewayV2httpRequest,
) -> Result<ApiGatewayV2httpRequest, Response> {
    let internal = |e: String| {
        tracing::error!(authorizer = name, error = %e, "authorizer failed");
        api_error(StatusCode::INTERNAL_SERVER_ERROR, "Internal Server Error")
    };
    let def = authorizers.defs.get(name).ok_or_else(|| internal("unknown authorizer".into()))?;
    let headers: Option<Vec<String>> = def
        .identity_headers
        .iter()
        .map(|h| event.headers.get(h.as_str()).and_then(|v| v.to_str().ok()).map(str::to_owned))
        .collect();
    let Some(mut identity) = headers else {
        return Err(api_error(StatusCode::UNAUTHORIZED, "Unauthorized"));
    };
    for variable in &def.identity_context {
        let value = match variable.as_str() {
            "path" => event.request_context.http.path.clone(),
            "routeKey" => event.route_key.clone(),
            other => return Err(internal(format!("identity source $context.{other} is not emulated"))),
        };
        identity.push(value.unwrap_or_default());
    }
    // An event that is not JSON (a header value that is not UTF-8) is a request API Gateway would
    // not forward, as on routes without an authorizer: the client's 400, not the authorizer's 500.
    let mut value = serde_json::to_value(event).map_err(|e| {
        tracing::info!(reason = %e, "rejected a request API Gateway would not forward");
        api_error(StatusCode::BAD_REQUEST, "Bad Request")
    })?;
    let cache_key = (name.to_owned(), identity.clone());
    let cached = {
        let cache = authorizers.cache.lock().unwrap_or_else(|e| e.into_inner());
        cache.get(&cache_key).filter(|(_, until)| Instant::now() < *until).map(|(answer, _)| answer.clone())
    };
    let answer = match cached {
        Some(answer) => answer,
        None => {
            let function = authorizers
                .functions
                .get(&def.package)
                .ok_or_else(|| internal(format!("no function {}", def.package)))?;
            value["type"] = serde_json::json!("REQUEST");
            value["identitySource"] = serde_json::json!(identity);
            let answer = function(value.clone()).await.map_err(internal)?;
            if def.cache_secs > 0 {
                let until = Instant::now() + std::time::Duration::from_secs(def.cache_secs);
                authorizers.cache.lock().unwrap_or_else(|e| e.into_inner()).insert(cache_key, (answer.clone(), until));
            }
            answer
        }
    };
    if answer["isAuthorized"] != serde_json::json!(true) {
        return Err(api_error(StatusCode::FORBIDDEN, "Forbidden"));
    }
    value["requestContext"]["authorizer"] = serde_json::json!({ "lambda": answer["context"] });
    let obj = value.as_object_mut().ok_or_else(|| internal("event is not an object".into()))?;
    obj.remove("type");
    obj.remove("identitySource");
    serde_json::from_value(value).map_err(|e| internal(e.to_string()))
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

/// The payload format 2.0 event API Gateway would send for this request.
fn build_event(
    route_key: &str,
    parts: &Parts,
    body: &[u8],
    path_parameters: HashMap<String, String>,
    client: IpAddr,
    request_id: &str,
    now: SystemTime,
) -> ApiGatewayV2httpRequest {
    let raw_path = percent_decode(parts.uri.path());
    let raw_query = parts.uri.query().unwrap_or_default().to_owned();
    let (headers, cookies) = event_headers(&parts.headers, client, now);
    let host = parts.headers.get(header::HOST).and_then(|h| h.to_str().ok());
    let domain_name = host
        .and_then(|h| h.parse::<axum::http::uri::Authority>().ok())
        .map_or_else(|| "127.0.0.1".to_owned(), |a| a.host().to_owned());
    let (time, time_epoch) = request_time(now);

    let mut http = ApiGatewayV2httpRequestContextHttpDescription::default();
    http.method = parts.method.clone();
    http.path = Some(raw_path.clone());
    http.protocol = Some(format!("{:?}", parts.version));
    http.source_ip = Some(client.to_string());
    http.user_agent = Some(
        parts
            .headers
            .get(header::USER_AGENT)
            .map(|v| String::from_utf8_lossy(v.as_bytes()).into_owned())
            .unwrap_or_default(),
    );

    let mut context = ApiGatewayV2httpRequestContext::default();
    context.route_key = Some(route_key.to_owned());
    context.account_id = Some(ACCOUNT_ID.to_owned());
    context.stage = Some("$default".to_owned());
    context.request_id = Some(request_id.to_owned());
    context.apiid = Some(API_ID.to_owned());
    context.domain_prefix = Some(domain_name.split('.').next().unwrap_or_default().to_owned());
    context.domain_name = Some(domain_name);
    context.time = Some(time);
    context.time_epoch = time_epoch;
    context.http = http;

    let mut event = ApiGatewayV2httpRequest::default();
    event.version = Some("2.0".to_owned());
    event.route_key = Some(route_key.to_owned());
    event.raw_path = Some(raw_path);
    event.query_string_parameters = raw_query.parse::<QueryMap>().unwrap_or_default();
    event.raw_query_string = Some(raw_query);
    event.cookies = (!cookies.is_empty()).then_some(cookies);
    event.headers = headers;
    event.path_parameters = path_parameters;
    event.request_context = context;
    if !body.is_empty() {
        match std::str::from_utf8(body) {
            Ok(text) => event.body = Some(text.to_owned()),
            Err(_) => {
                event.body = Some(base64::engine::general_purpose::STANDARD.encode(body));
                event.is_base64_encoded = true;
            }
        }
    }
    event
}

/// Request headers as API Gateway forwards them: names lower-case, repeated headers joined with
/// commas, `Cookie` moved to `cookies`, and the `X-Forwarded-*` / `X-Amzn-Trace-Id` it adds.
fn event_headers(headers: &HeaderMap, client: IpAddr, now: SystemTime) -> (HeaderMap, Vec<String>) {
    let mut out = HeaderMap::with_capacity(headers.keys_len() + 4);
    let mut cookies = Vec::new();
    for name in headers.keys() {
        if name == header::COOKIE {
            for value in headers.get_all(name) {
                cookies.extend(
                    String::from_utf8_lossy(value.as_bytes())
                        .split(';')
                        .map(str::trim)
                        .filter(|c| !c.is_empty())
                        .map(str::to_owned),
                );
            }
            continue;
        }
        let joined = headers.get_all(name).iter().map(HeaderValue::as_bytes).collect::<Vec<_>>().join(&b","[..]);
        if let Ok(value) = HeaderValue::from_bytes(&joined) {
            out.insert(name.clone(), value);
        }
    }

    let forwarded_for = match headers.get("x-forwarded-for").and_then(|v| v.to_str().ok()) {
        Some(previous) => format!("{previous}, {client}"),
        None => client.to_string(),
    };
    let port = headers
        .get(header::HOST)
        .and_then(|h| h.to_str().ok())
        .and_then(|h| h.parse::<axum::http::uri::Authority>().ok())
        .and_then(|a| a.port_u16())
        .unwrap_or(80);
    let epoch = now.duration_since(UNIX_EPOCH).map_or(0, |d| d.as_secs());
    let trace_id = format!("Root=1-{epoch:08x}-{}", hex::encode(rand::random::<[u8; 12]>()));
    for (name, value) in [
        ("x-forwarded-for", forwarded_for),
        ("x-forwarded-port", port.to_string()),
        ("x-forwarded-proto", "http".to_owned()),
        ("x-amzn-trace-id", trace_id),
    ] {
        if let Ok(value) = HeaderValue::from_str(&value) {
            out.insert(HeaderName::from_static(name), value);
        }
    }
    (out, cookies)
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

/// A random request id in UUID v4 form.
fn request_id() -> String {
    let mut b: [u8; 16] = rand::random();
    b[6] = (b[6] & 0x0f) | 0x40;
    b[8] = (b[8] & 0x3f) | 0x80;
    let h = hex::encode(b);
    format!("{}-{}-{}-{}-{}", &h[0..8], &h[8..12], &h[12..16], &h[16..20], &h[20..32])
}

/// `requestContext.time` (`12/Mar/2020:19:03:58 +0000`) and `timeEpoch` (milliseconds).
fn request_time(now: SystemTime) -> (String, i64) {
    const MONTHS: [&str; 12] = ["Jan", "Feb", "Mar", "Apr", "May", "Jun", "Jul", "Aug", "Sep", "Oct", "Nov", "Dec"];
    let since = now.duration_since(UNIX_EPOCH).unwrap_or_default();
    let secs = since.as_secs();
    let (year, month, day) = shared::clock::civil_from_days((secs / 86_400) as i64);
    let rem = secs % 86_400;
    let time = format!(
        "{day:02}/{}/{year}:{:02}:{:02}:{:02} +0000",
        MONTHS[(month - 1) as usize],
        rem / 3600,
        rem % 3600 / 60,
        rem % 60
    );
    (time, i64::try_from(since.as_millis()).unwrap_or(i64::MAX))
}

/// Decodes `%XX` escapes as API Gateway HTTP APIs do for the path and path parameters; invalid
/// escapes stay as they are, invalid UTF-8 becomes U+FFFD.
fn percent_decode(s: &str) -> String {
    let bytes = s.as_bytes();
    let mut out = Vec::with_capacity(bytes.len());
    let mut i = 0;
    while i < bytes.len() {
        let hex = |b: u8| (b as char).to_digit(16).map(|d| d as u8);
        match (bytes[i], bytes.get(i + 1).copied().and_then(hex), bytes.get(i + 2).copied().and_then(hex)) {
            (b'%', Some(hi), Some(lo)) => {
                out.push(hi << 4 | lo);
                i += 3;
            }
            (b, _, _) => {
                out.push(b);
                i += 1;
            }
        }
    }
    String::from_utf8_lossy(&out).into_owned()
}

#[cfg(test)]
mod tests {
    use super::*;
    use axum::body::Body;
    use axum::http::{Method, Request};
    use lambda_http::RequestExt;
    use serde_json::{json, Value};
    use tower::ServiceExt;

    fn route(method: &str, path: &str, package: &str) -> Route {
        Route {
            method: method.into(),
            path: path.into(),
            function_logical_id: format!("{package}-fn"),
            package: package.into(),
            authorizer: None,
        }
    }

    /// A handler that answers with JSON describing the request it was given.
    fn echo(name: &'static str) -> Handler {
        handler_fn(move |req: lambda_http::Request| async move {
            let path_parameters: HashMap<String, String> =
                req.path_parameters().iter().map(|(k, v)| (k.to_owned(), v.to_owned())).collect();
            let mut query: HashMap<String, Vec<String>> = HashMap::new();
            for (k, v) in req.query_string_parameters().iter() {
                query.entry(k.to_owned()).or_default().push(v.to_owned());
            }
            let headers: HashMap<String, String> = req
                .headers()
                .iter()
                .map(|(k, v)| (k.to_string(), String::from_utf8_lossy(v.as_bytes()).into_owned()))
                .collect();
            let (body_kind, body) = match req.body() {
                lambda_http::Body::Empty => ("empty", String::new()),
                lambda_http::Body::Text(t) => ("text", t.clone()),
                lambda_http::Body::Binary(b) => ("binary", hex::encode(b)),
                _ => ("other", String::new()),
            };
            let context = match req.request_context() {
                lambda_http::request::RequestContext::ApiGatewayV2(c) => serde_json::to_value(c).unwrap_or_default(),
                _ => Value::Null,
            };
            let reply = json!({
                "function": name,
                "method": req.method().as_str(),
                "uri": req.uri().to_string(),
                "raw_path": req.raw_http_path(),
                "path_parameters": path_parameters,
                "query": query,
                "headers": headers,
                "body_kind": body_kind,
                "body": body,
                "context": context,
            });
            lambda_http::Response::builder()
                .status(201)
                .header("content-type", "application/json")
                .header("x-echo", "1")
                .body(lambda_http::Body::from(reply.to_string()))
                .expect("valid response")
        })
    }

    fn handlers() -> HashMap<String, Handler> {
        HashMap::from([
            ("facebook-login".to_owned(), echo("facebook-login")),
            ("login".to_owned(), echo("login")),
            ("files".to_owned(), echo("files")),
        ])
    }

    fn gateway() -> Router {
        router(
            vec![
                route("POST", "/v1.1/instances/{instance}/user/auth/facebook/", "facebook-login"),
                route("POST", "/api/v1/login", "login"),
                route("GET", "/files/{path+}", "files"),
                route("GET", "/files/readme", "login"),
            ],
            handlers(),
        )
        .expect("router builds")
    }

    async fn send(router: Router, request: Request<Body>) -> (StatusCode, HeaderMap, Vec<u8>) {
        let response = router.oneshot(request).await.expect("infallible");
        let status = response.status();
        let headers = response.headers().clone();
        let body = axum::body::to_bytes(response.into_body(), usize::MAX).await.expect("body");
        (status, headers, body.to_vec())
    }

    async fn send_json(router: Router, request: Request<Body>) -> (StatusCode, Value) {
        let (status, _, body) = send(router, request).await;
        (status, serde_json::from_slice(&body).expect("JSON response"))
    }

    fn post(uri: &str, body: impl Into<Body>) -> Request<Body> {
        Request::builder()
            .method(Method::POST)
            .uri(uri)
            .header("host", "127.0.0.1:3000")
            .body(body.into())
            .expect("request")
    }

    #[tokio::test]
    async fn delivers_path_parameters_query_headers_and_text_body() {
        let request = Request::builder()
            .method(Method::POST)
            .uri("/v1.1/instances/my%20demo/user/auth/facebook/?b=2&a=1&a=3&empty=")
            .header("host", "127.0.0.1:3000")
            .header("X-API-KEY", "secret-key")
            .header("content-type", "application/json")
            .header("x-multi", "one")
            .header("x-multi", "two")
            .header("cookie", "a=1; b=2")
            .header("user-agent", "curl/8.0")
            .body(Body::from(r#"{"access_token":"t"}"#))
            .expect("request");
        let (status, echo) = send_json(gateway(), request).await;

        assert_eq!(status, StatusCode::CREATED);
        assert_eq!(echo["function"], "facebook-login");
        assert_eq!(echo["method"], "POST");
        assert_eq!(echo["path_parameters"], json!({ "instance": "my demo" }));
        assert_eq!(echo["query"], json!({ "a": ["1", "3"], "b": ["2"], "empty": [""] }));
        assert_eq!(echo["headers"]["x-api-key"], "secret-key");
        assert_eq!(echo["headers"]["x-multi"], "one,two");
        assert_eq!(echo["headers"]["cookie"], "a=1; b=2");
        assert_eq!(echo["headers"]["x-forwarded-proto"], "http");
        assert_eq!(echo["headers"]["x-forwarded-port"], "3000");
        assert_eq!(echo["headers"]["x-forwarded-for"], "127.0.0.1");
        assert_eq!(echo["body_kind"], "text");
        assert_eq!(echo["body"], r#"{"access_token":"t"}"#);
        assert_eq!(echo["raw_path"], "/v1.1/instances/my demo/user/auth/facebook/");
        assert!(
            echo["uri"].as_str().is_some_and(
                |u| u.starts_with("http://127.0.0.1:3000/v1.1/instances/") && u.ends_with("?b=2&a=1&a=3&empty=")
            ),
            "{}",
            echo["uri"]
        );

        let context = &echo["context"];
        assert_eq!(context["routeKey"], "POST /v1.1/instances/{instance}/user/auth/facebook/");
        assert_eq!(context["stage"], "$default");
        assert_eq!(context["domainName"], "127.0.0.1");
        assert_eq!(context["http"]["method"], "POST");
        assert_eq!(context["http"]["sourceIp"], "127.0.0.1");
        assert_eq!(context["http"]["userAgent"], "curl/8.0");
        assert_eq!(context["http"]["protocol"], "HTTP/1.1");
        assert_eq!(context["requestId"].as_str().map(str::len), Some(36));
        assert!(context["timeEpoch"].as_i64().is_some_and(|t| t > 1_600_000_000_000));
    }

    #[tokio::test]
    async fn binary_body_arrives_base64_decoded_and_response_passes_through() {
        let bytes = vec![0xff, 0x00, 0xfe, 0x80];
        let (status, headers, body) = send(gateway(), post("/api/v1/login", bytes.clone())).await;
        assert_eq!(status, StatusCode::CREATED);
        assert_eq!(headers["x-echo"], "1");
        assert_eq!(headers["content-type"], "application/json");
        assert!(headers.contains_key("apigw-requestid"));
        let echo: Value = serde_json::from_slice(&body).expect("JSON");
        assert_eq!(echo["function"], "login");
        assert_eq!(echo["body_kind"], "binary");
        assert_eq!(echo["body"], hex::encode(&bytes));
    }

    #[test]
    fn event_marks_non_utf8_bodies_base64_and_omits_empty_ones() {
        let parts = post("/api/v1/login", Body::empty()).into_parts().0;
        let event = |body: &[u8]| {
            let event = build_event(
                "POST /api/v1/login",
                &parts,
                body,
                HashMap::new(),
                IpAddr::V4(Ipv4Addr::LOCALHOST),
                "id",
                SystemTime::now(),
            );
            serde_json::to_value(event).expect("serializes")
        };
        let binary = event(&[0xff, 0x01]);
        assert_eq!(binary["isBase64Encoded"], true);
        assert_eq!(binary["body"], "/wE=");
        assert_eq!(binary["version"], "2.0");
        assert_eq!(binary["routeKey"], "POST /api/v1/login");
        assert_eq!(binary["rawQueryString"], "");

        let text = event("héllo".as_bytes());
        assert_eq!(text["isBase64Encoded"], false);
        assert_eq!(text["body"], "héllo");

        let empty = event(b"");
        assert!(empty.get("body").is_none(), "{empty}");
    }

    #[tokio::test]
    async fn unknown_paths_and_wrong_methods_are_api_gateway_404s() {
        for request in [
            post("/nope", Body::empty()),
            // The trailing slash is part of the route.
            post("/v1.1/instances/demo/user/auth/facebook", Body::empty()),
            post("/api/v1/login/", Body::empty()),
            // `{instance}` does not match an empty segment.
            post("/v1.1/instances//user/auth/facebook/", Body::empty()),
            Request::builder().method(Method::GET).uri("/api/v1/login").body(Body::empty()).expect("request"),
        ] {
            let uri = request.uri().clone();
            let (status, body) = send_json(gateway(), request).await;
            assert_eq!(status, StatusCode::NOT_FOUND, "{uri}");
            assert_eq!(body, json!({ "message": "Not Found" }), "{uri}");
        }
    }

    #[tokio::test]
    async fn encoded_reserved_characters_reach_path_parameters_decoded() {
        let (status, echo) =
            send_json(gateway(), post("/v1.1/instances/a%23b%3Fc%25/user/auth/facebook/?x=1", "{}")).await;
        assert_eq!(status, StatusCode::CREATED, "{echo}");
        assert_eq!(echo["path_parameters"], json!({ "instance": "a#b?c%" }));
        assert_eq!(echo["query"], json!({ "x": ["1"] }));
    }

    #[tokio::test]
    async fn greedy_variables_and_specificity() {
        let get = |uri: &str| Request::builder().uri(uri).body(Body::empty()).expect("request");
        let (_, echo) = send_json(gateway(), get("/files/a/b%2Fc")).await;
        assert_eq!(echo["function"], "files");
        assert_eq!(echo["path_parameters"], json!({ "path": "a/b/c" }));

        let (_, echo) = send_json(gateway(), get("/files/readme")).await;
        assert_eq!(echo["function"], "login", "a literal route beats a greedy one");

        let (status, _) = send_json(gateway(), get("/files/")).await;
        assert_eq!(status, StatusCode::NOT_FOUND, "greedy needs a non-empty rest");
    }

    #[tokio::test]
    async fn default_route_and_any_method() {
        let router = router(
            vec![
                route("ANY", "$default", "login"),
                route("ANY", "/things/{id}", "files"),
                route("DELETE", "/things/{id}", "facebook-login"),
            ],
            handlers(),
        )
        .expect("router builds");
        let request = |method: Method, uri: &str| {
            Request::builder().method(method).uri(uri).body(Body::empty()).expect("request")
        };

        let (_, echo) = send_json(router.clone(), request(Method::PUT, "/things/7")).await;
        assert_eq!(echo["function"], "files");
        let (_, echo) = send_json(router.clone(), request(Method::DELETE, "/things/7")).await;
        assert_eq!(echo["function"], "facebook-login", "an exact method beats ANY");
        let (_, echo) = send_json(router, request(Method::GET, "/anything/else")).await;
        assert_eq!(echo["function"], "login");
        assert_eq!(echo["context"]["routeKey"], "$default");
    }

    /// API Gateway's order (http-api-develop-routes: the most specific match, an exact method
    /// before `ANY`): the Syncano fallback's `ANY .../{backend}/` gets only what the login
    /// routes do not take, and `ANY` on a served path only the other methods.
    #[tokio::test]
    async fn literal_paths_and_exact_methods_beat_a_fallback_any() {
        let router = router(
            vec![
                route("ANY", "/i/{instance}/user/auth/{backend}/", "files"),
                route("POST", "/i/{instance}/user/auth/facebook/", "facebook-login"),
                route("GET", "/i/{instance}/user/", "login"),
                route("ANY", "/i/{instance}/user/", "files"),
            ],
            handlers(),
        )
        .expect("router builds");
        let request = |method: Method, uri: &str| {
            Request::builder().method(method).uri(uri).body(Body::empty()).expect("request")
        };
        for (method, uri, function, route_key) in [
            (Method::POST, "/i/d/user/auth/facebook/", "facebook-login", "POST /i/{instance}/user/auth/facebook/"),
            (Method::GET, "/i/d/user/auth/facebook/", "files", "ANY /i/{instance}/user/auth/{backend}/"),
            (Method::POST, "/i/d/user/auth/myspace/", "files", "ANY /i/{instance}/user/auth/{backend}/"),
            (Method::GET, "/i/d/user/", "login", "GET /i/{instance}/user/"),
            (Method::DELETE, "/i/d/user/", "files", "ANY /i/{instance}/user/"),
        ] {
            let (_, echo) = send_json(router.clone(), request(method.clone(), uri)).await;
            assert_eq!(
                (echo["function"].as_str(), echo["context"]["routeKey"].as_str()),
                (Some(function), Some(route_key)),
                "{method} {uri}"
            );
        }
        let (_, echo) = send_json(router.clone(), request(Method::POST, "/i/d/user/auth/myspace/")).await;
        assert_eq!(echo["path_parameters"], json!({ "instance": "d", "backend": "myspace" }));
        let (status, _) = send_json(router, request(Method::POST, "/i/d/user/auth/")).await;
        assert_eq!(status, StatusCode::NOT_FOUND);
    }

    #[tokio::test]
    async fn payloads_over_10_mb_are_rejected() {
        let big = vec![b'a'; MAX_PAYLOAD_BYTES + 1];
        let (status, body) = send_json(gateway(), post("/api/v1/login", big)).await;
        assert_eq!(status, StatusCode::PAYLOAD_TOO_LARGE);
        assert_eq!(body, json!({ "message": "Request Entity Too Large" }));

        // Without Content-Length (streamed) the limit still holds.
        let chunks = futures::stream::iter(
            (0..11).map(|_| Ok::<_, std::io::Error>(axum::body::Bytes::from(vec![b'a'; 1024 * 1024]))),
        );
        let (status, _) = send_json(gateway(), post("/api/v1/login", Body::from_stream(chunks))).await;
        assert_eq!(status, StatusCode::PAYLOAD_TOO_LARGE);

        let (status, _) = send_json(gateway(), post("/api/v1/login", vec![b'a'; MAX_PAYLOAD_BYTES])).await;
        assert_eq!(status, StatusCode::CREATED);
    }

    #[tokio::test]
    async fn a_panicking_function_is_a_500() {
        let panics = handler_fn(|_req| async { panic!("function crashed") });
        let router =
            router(vec![route("POST", "/api/v1/login", "login")], HashMap::from([("login".to_owned(), panics)]))
                .expect("router builds");
        let (status, body) = send_json(router, post("/api/v1/login", "{}")).await;
        assert_eq!(status, StatusCode::INTERNAL_SERVER_ERROR);
        assert_eq!(body, json!({ "message": "Internal Server Error" }));
    }

    #[tokio::test]
    async fn a_header_the_event_cannot_carry_is_a_400_on_authorizer_routes_too() {
        let allow: Authorizer =
            Arc::new(|_event| Box::pin(async { Ok(json!({ "isAuthorized": true, "context": {} })) }));
        let mut me = route("GET", "/api/v1/me", "login");
        me.authorizer = Some("Session".to_owned());
        let def = AuthorizerDef {
            identity_headers: vec!["x-auth-token".to_owned()],
            identity_context: Vec::new(),
            package: "session-authorizer".to_owned(),
            cache_secs: 0,
        };
        let authorizers = Authorizers::new(
            HashMap::from([("Session".to_owned(), def)]),
            HashMap::from([("session-authorizer".to_owned(), allow)]),
        );
        let router = router_with_authorizers(vec![me], handlers(), authorizers).expect("router builds");
        let request = |other: &[u8]| {
            Request::builder()
                .uri("/api/v1/me")
                .header("x-auth-token", "t")
                .header("x-other", HeaderValue::from_bytes(other).expect("obs-text is a valid header value"))
                .body(Body::empty())
                .expect("request")
        };

        let (status, echo) = send_json(router.clone(), request(b"fine")).await;
        assert_eq!(status, StatusCode::CREATED, "{echo}");
        // Not UTF-8: the payload 2.0 event (JSON) cannot carry it, with or without an authorizer.
        let (status, body) = send_json(router, request(b"\xff")).await;
        assert_eq!((status, body), (StatusCode::BAD_REQUEST, json!({ "message": "Bad Request" })));
    }

    #[tokio::test]
    async fn serves_over_a_socket_with_the_client_address() {
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.expect("bind");
        let addr = listener.local_addr().expect("addr");
        let (stop, stopped) = tokio::sync::oneshot::channel::<()>();
        let server = tokio::spawn(serve(listener, gateway(), async {
            let _ = stopped.await;
        }));

        let response = reqwest::Client::new()
            .post(format!("http://{addr}/v1.1/instances/demo/user/auth/facebook/"))
            .header("x-api-key", "k")
            .body("{}")
            .send()
            .await
            .expect("request");
        assert_eq!(response.status().as_u16(), 201);
        let echo: Value = response.json().await.expect("JSON");
        assert_eq!(echo["path_parameters"]["instance"], "demo");
        assert_eq!(echo["context"]["http"]["sourceIp"], "127.0.0.1");
        assert_eq!(echo["headers"]["x-forwarded-port"], addr.port().to_string());

        let _ = stop.send(());
        server.await.expect("server task").expect("server");
    }

    #[test]
    fn router_rejects_missing_handlers_bad_paths_and_duplicates() {
        let err = router(vec![route("POST", "/x", "nobody")], handlers()).expect_err("missing handler");
        assert!(matches!(&err, GatewayError::MissingHandler { package, .. } if package == "nobody"), "{err}");

        for path in ["no-slash", "/a/{proxy+}/b", "/a/x{id}", "/a//b", "/{}"] {
            let err = router(vec![route("GET", path, "login")], handlers()).expect_err(path);
            assert!(matches!(err, GatewayError::InvalidPath { .. }), "{path}: {err}");
        }

        let err = router(vec![route("GET", "/a/{x}", "login"), route("GET", "/a/{x}", "files")], handlers())
            .expect_err("duplicate");
        assert!(matches!(err, GatewayError::DuplicateRoute { .. }), "{err}");
    }

    #[test]
    fn function_packages_lists_every_function_crate() {
        let mut packages = function_packages();
        packages.sort_unstable();
        let dir = crate::dynamodb_local::repo_root().join("functions");
        let mut crates: Vec<String> = std::fs::read_dir(&dir)
            .expect("functions/")
            .filter_map(Result::ok)
            .filter(|e| e.path().join("Cargo.toml").is_file())
            // The authorizer answers API Gateway, not clients: it serves no route.
            .filter(|e| !e.file_name().to_string_lossy().ends_with("authorizer"))
            .map(|e| e.file_name().to_string_lossy().into_owned())
            .collect();
        crates.sort_unstable();
        assert_eq!(packages, crates);
    }

    #[test]
    fn formats_request_time_like_api_gateway() {
        let (time, epoch) = request_time(UNIX_EPOCH + std::time::Duration::from_millis(1_584_039_838_390));
        assert_eq!(time, "12/Mar/2020:19:03:58 +0000");
        assert_eq!(epoch, 1_584_039_838_390);
        assert_eq!(request_time(UNIX_EPOCH).0, "01/Jan/1970:00:00:00 +0000");
        assert_eq!(
            request_time(UNIX_EPOCH + std::time::Duration::from_secs(951_782_400)).0,
            "29/Feb/2000:00:00:00 +0000"
        );
    }

    #[test]
    fn percent_decoding() {
        assert_eq!(percent_decode("a%20b%2Fc"), "a b/c");
        assert_eq!(percent_decode("100%"), "100%");
        assert_eq!(percent_decode("%zz%C3%A9"), "%zzé");
    }
}
