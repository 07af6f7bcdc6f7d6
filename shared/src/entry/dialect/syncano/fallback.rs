//! The fallback function: `ANY` on the Syncano paths, for what no other route takes: the logins
//! at the backends no function of its own serves (Microsoft's `microsoft-graph`, a custom
//! provider's `oidc-{name}`), an unknown backend, a wrong method, answered as the platform
//! would; and the route list it derives `Allow` from.

use lambda_http::http::{header, HeaderValue, Method};
use lambda_http::request::RequestContext;
use lambda_http::{Body, Request, RequestExt, Response};

use super::request::{api_key, path_param, request_data, user_key, BodyError};
use super::{account, error_response, handle_user, respond, SyncanoError};
use crate::domain::identity::Provider;
use crate::entry::dialect::printable;
use crate::entry::http::RequestLog;
use crate::usecases::app::App;
use crate::usecases::error::UseCaseError;

/// Every route the Syncano functions serve (method, path): the one list the fallback's `Allow`
/// header is derived from; a test keeps it equal to `template.yaml`'s routes.
pub const ROUTES: [(&str, &str); 10] = [
    ("POST", "/v1.1/instances/{instance}/user/auth/facebook/"),
    ("POST", "/v1.1/instances/{instance}/user/auth/google-oauth2/"),
    ("POST", "/v1.1/instances/{instance}/user/auth/twitter/"),
    ("POST", "/v1.1/instances/{instance}/user/auth/linkedin/"),
    ("POST", "/v1.1/instances/{instance}/user/auth/apple/"),
    ("POST", "/v1.1/instances/{instance}/user/auth/github/"),
    ("GET", USER_PATH),
    ("DELETE", USER_PATH),
    ("DELETE", USER_DETAIL_PATH),
    ("POST", RESET_KEY_PATH),
];

/// `ANY` on the social login path: unknown backends and wrong methods (`SocialAuthView`).
pub const SOCIAL_AUTH_PATH: &str = "/v1.1/instances/{instance}/user/auth/{backend}/";

/// `UserAccountView`.
pub const USER_PATH: &str = "/v1.1/instances/{instance}/user/";

/// `UserViewSet` (its detail route; only `DELETE` is served).
pub const USER_DETAIL_PATH: &str = "/v1.1/instances/{instance}/users/{id}/";

/// `UserViewSet.reset_key`.
pub const RESET_KEY_PATH: &str = "/v1.1/instances/{instance}/users/{id}/reset_key/";

/// The route keys of the fallback function: `ANY` on each path the Syncano functions serve.
pub const FALLBACK_ROUTES: [&str; 4] = [
    "ANY /v1.1/instances/{instance}/user/auth/{backend}/",
    "ANY /v1.1/instances/{instance}/user/",
    "ANY /v1.1/instances/{instance}/users/{id}/",
    "ANY /v1.1/instances/{instance}/users/{id}/reset_key/",
];

/// The methods served on the paths `path` (a route path, `{x}` matching any segment) covers,
/// from [`ROUTES`]: the `Allow` header of its 405.
pub fn allowed_methods(path: &str) -> Vec<&'static str> {
    let covers = |served: &str| {
        let (a, b): (Vec<&str>, Vec<&str>) = (path.split('/').collect(), served.split('/').collect());
        a.len() == b.len() && a.iter().zip(&b).all(|(x, y)| x == y || (x.starts_with('{') && x.ends_with('}')))
    };
    let mut methods: Vec<&'static str> = ROUTES.iter().filter(|(_, p)| covers(p)).map(|(m, _)| *m).collect();
    methods.dedup();
    methods
}

/// The provider of a login at a backend no function of its own serves. An `oidc-{name}` this
/// environment has not learnt may be a custom provider of the URL's instance whose configuration
/// it has not read yet: that configuration is read (as its logins read it: once per environment
/// and cache period, kept even when it has none) and the name looked up again. Names are only
/// ever learnt from configuration, never from a client; a failed read answers as an unknown
/// backend (the login's own read will say what failed). The configuration is read only for a
/// request whose API key the instance accepts (as Syncano checks the key before the backend; the
/// answer is the environment's kept one): strangers inventing instance names make no read and
/// fill no cache (`strangers_at_custom_backends_never_read_instance_configurations`).
async fn fallback_backend(app: &App, req: &Request) -> Option<Provider> {
    let params = req.path_parameters_ref()?;
    let backend = params.first("backend")?;
    if let Some(provider) = Provider::from_syncano_backend(backend) {
        return Some(provider);
    }
    if !backend.starts_with("oidc-") {
        return None;
    }
    let instance = params.first("instance")?;
    let api_key = api_key(req, &request_data(req)).ok()?;
    let (instance, _) = account::check_api_key(app, instance, api_key.as_ref()).await.ok()?;
    app.providers_for(&instance).await.ok()?;
    Provider::from_syncano_backend(backend)
}

/// The fallback function: `ANY` on the Syncano paths, reached by what no other route takes. As
/// Django REST framework does, the request is authenticated (and permission checked) as the
/// served method would be before the method is refused: 403s first, then 405 with `Allow`. On
/// `user/auth/{backend}/` a POST to Microsoft's or a configured custom provider's backend is
/// that provider's Syncano login (the same as the other backends': [`super::handle`]), when the
/// instance serves it; any other backend, or one the instance does not serve, reads the body as
/// a login would, then answers 400 "Unsupported social backend." (`social_helpers.py`).
pub async fn handle_fallback(app: &App, req: &Request) -> Response<Body> {
    let route_key = match req.request_context_ref() {
        Some(RequestContext::ApiGatewayV2(ctx)) => ctx.route_key.as_deref(),
        _ => None,
    };
    let Some(route) = FALLBACK_ROUTES.into_iter().find(|r| Some(*r) == route_key) else {
        let log = RequestLog::start(req, "ANY (unknown route)");
        let err = UseCaseError::Internal(format!("the fallback got route {:?}", route_key.map(printable))).into();
        return respond(log, Err(err));
    };
    let path = route.trim_start_matches("ANY ");
    let allow = allowed_methods(path);
    // Django answers HEAD with the GET handler.
    if req.method() == Method::HEAD && allow.contains(&"GET") && path == USER_PATH {
        return handle_user(app, req, route).await;
    }
    // A login at a backend no function of its own serves: Microsoft's, a configured custom
    // provider's (a name only a client sent is never interned: `Provider::from_syncano_backend`).
    if req.method() == Method::POST && path == SOCIAL_AUTH_PATH {
        if let Some(provider @ (Provider::Microsoft | Provider::Oidc(_))) = fallback_backend(app, req).await {
            return super::handle_login(app, req, provider, route, Some(login_body(req))).await;
        }
    }
    let log = RequestLog::start(req, route);
    let err = fallback_refusal(app, req, path, &allow).await;
    let mut resp = error_response(&err);
    if matches!(err, SyncanoError::MethodNotAllowed(_)) {
        if let Ok(v) = HeaderValue::from_str(&allow.join(", ")) {
            resp.headers_mut().insert(header::ALLOW, v);
        }
    }
    log.finish(resp.status(), Some(&err));
    resp
}

/// What a POST to `user/auth/{backend}/` reads of the body before the backend, as
/// `SocialAuthView.post`: a readable body with an `access_token`.
fn login_body(req: &Request) -> Result<(), SyncanoError> {
    let data = request_data(req).map_err(BodyError::into_error)?;
    data.fields().and_then(|f| f.char_field("access_token")).ok_or(SyncanoError::MalformedCredentials)?;
    Ok(())
}

/// Why the fallback refuses the request: what the served method checks first, then the method.
async fn fallback_refusal(app: &App, req: &Request, path: &str, allow: &[&str]) -> SyncanoError {
    let refusal = async {
        let instance = path_param(req, "instance", SyncanoError::InvalidApiKey)?;
        let data = request_data(req);
        let api_key = api_key(req, &data)?;
        let (instance, permissions) = account::check_api_key(app, &instance, api_key.as_ref()).await?;
        if path == USER_PATH {
            let user_key = user_key(req, &data)?;
            account::user_of_key(app, &instance, user_key.as_ref()).await?;
        } else if (path == RESET_KEY_PATH || path == USER_DETAIL_PATH) && !permissions.ignore_acl {
            return Err(SyncanoError::PermissionDenied);
        }
        let method = req.method().as_str();
        if !allow.contains(&method) {
            return Err(SyncanoError::MethodNotAllowed(printable(method)));
        }
        // A POST to a backend no function serves: the body first, as `SocialAuthView.post`.
        login_body(req)?;
        let backend = path_param(req, "backend", UseCaseError::UnsupportedService(String::new()).into())?;
        Err(UseCaseError::UnsupportedService(printable(&backend)).into())
    };
    match refusal.await {
        Err(e) => e,
        Ok(()) => UseCaseError::Internal("the fallback found nothing to refuse".into()).into(),
    }
}
