//! Syncano v1.1: `POST /v1.1/instances/{instance}/user/auth/{backend}/` with `X-API-KEY` and
//! `access_token` (JSON or form-encoded), answering the Syncano user object; errors are
//! `{"detail": "..."}`. The route handlers are here; [`request`] reads a request, [`account`]
//! runs the flow, [`response`] and [`error`] write the answer; [`fallback`] answers what no
//! route takes.

pub mod account;
pub mod error;
pub mod fallback;
pub mod request;
pub mod response;
#[cfg(test)]
mod tests;

use lambda_http::http::StatusCode;
use lambda_http::{Body, Request, Response};

pub use error::{error_response, error_status, ErrorBody, SyncanoError};
pub use fallback::{
    allowed_methods, handle_fallback, FALLBACK_ROUTES, RESET_KEY_PATH, ROUTES, SOCIAL_AUTH_PATH, USER_DETAIL_PATH,
    USER_PATH,
};
pub use request::{parse_login, LoginRequest};
pub use response::User;

use crate::domain::identity::Provider;
use crate::domain::instance::InstanceName;
use crate::domain::secret::Secret;
use crate::entry::http::{self, json_response, RequestLog};
use crate::usecases::app::App;
use crate::usecases::login::SignedIn;
use crate::usecases::metrics::Dialect;
use request::{api_key, path_param, request_data, user_key};

/// The whole Syncano social login of one backend: parse, log in, answer (with its log line).
pub async fn handle(app: &App, req: &Request, provider: Provider, route: &'static str) -> Response<Body> {
    handle_login(app, req, provider, route, None).await
}

/// [`handle`]; at the fallback (`at_fallback`: what its read of the body found, before the
/// backend), the backend is checked in the platform's order for an unknown one
/// ([`account::login_at_fallback`]).
pub(crate) async fn handle_login(
    app: &App,
    req: &Request,
    provider: Provider,
    route: &'static str,
    at_fallback: Option<Result<(), SyncanoError>>,
) -> Response<Body> {
    let mut log = RequestLog::start(req, route);
    log.provider(provider);
    // The client the failure limiter counts (the viewer, behind the front: crate::entry::front).
    let source_ip = crate::entry::front::client_ip(&app.config, req);
    let result = match parse_login(req, provider) {
        Ok(login) => {
            let claimed = login.credentials.as_ref().ok().and_then(|c| c.claimed_subject(provider));
            let claimed = claimed.map(|sub| (provider, sub));
            match at_fallback {
                None => app.limited(source_ip.as_deref(), claimed, account::login(app, login, provider)).await,
                Some(body) => {
                    let attempt = account::login_at_fallback(app, login, provider, body);
                    app.limited(source_ip.as_deref(), claimed, attempt).await
                }
            }
        }
        Err(e) => Err(e),
    };
    log.login(Dialect::Syncano, result.as_ref().map_or_else(SyncanoError::outcome, SignedIn::outcome));
    respond(log, result)
}

/// `GET /v1.1/instances/{instance}/user/` with the API key and the user key: the user.
pub async fn handle_user(app: &App, req: &Request, route: &'static str) -> Response<Body> {
    let log = RequestLog::start(req, route);
    respond(log, current_user(app, req).await)
}

async fn current_user(app: &App, req: &Request) -> Result<SignedIn, SyncanoError> {
    let (instance, user_key) = user_key_request(app, req).await?;
    account::user_of_key(app, &instance, user_key.as_ref()).await
}

/// What a route of the user key reads: the instance, once its API key is checked, and the user
/// key, read only then (as the platform does).
async fn user_key_request(app: &App, req: &Request) -> Result<(InstanceName, Option<Secret>), SyncanoError> {
    let parts = user_key_parts(req)?;
    let (instance, _) = account::check_api_key(app, &parts.instance, parts.api_key.as_ref()).await?;
    Ok((instance, parts.user_key?))
}

/// What a route of the user key reads before any lookup.
pub(crate) struct UserKeyParts {
    /// The path's instance, as sent.
    pub instance: String,
    pub api_key: Option<Secret>,
    /// The user key, whose failure counts only once the API key is checked.
    pub user_key: Result<Option<Secret>, SyncanoError>,
}

/// The instance, the API key and the user key of a request to a route of the user key.
pub(crate) fn user_key_parts(req: &Request) -> Result<UserKeyParts, SyncanoError> {
    let instance = path_param(req, "instance", SyncanoError::InvalidApiKey)?;
    let data = request_data(req);
    let api_key = api_key(req, &data)?;
    Ok(UserKeyParts { instance, api_key, user_key: user_key(req, &data) })
}

/// What an admin route on `users/{id}/` reads: the path's instance, the API key, the path's id.
pub(crate) fn admin_request(req: &Request) -> Result<(String, Option<Secret>, String), SyncanoError> {
    let instance = path_param(req, "instance", SyncanoError::InvalidApiKey)?;
    let api_key = api_key(req, &request_data(req))?;
    let id = path_param(req, "id", SyncanoError::UserNotFound)?;
    Ok((instance, api_key, id))
}

/// `POST /v1.1/instances/{instance}/users/{id}/reset_key/` with an admin API key: a new user key.
pub async fn handle_reset_key(app: &App, req: &Request, route: &'static str) -> Response<Body> {
    let log = RequestLog::start(req, route);
    let result = match admin_request(req) {
        Ok((instance, api_key, id)) => account::reset_key(app, &instance, api_key.as_ref(), &id).await,
        Err(e) => Err(e),
    };
    respond(log, result)
}

/// `DELETE /v1.1/instances/{instance}/users/{id}/` with an admin API key: 204, the user deleted.
pub async fn handle_delete_user(app: &App, req: &Request, route: &'static str) -> Response<Body> {
    let log = RequestLog::start(req, route);
    let result = match admin_request(req) {
        Ok((instance, api_key, id)) => account::delete_user(app, &instance, api_key.as_ref(), &id).await,
        Err(e) => Err(e),
    };
    http::respond(log, result, |()| no_content(), error_response)
}

/// `DELETE /v1.1/instances/{instance}/user/` with the API key and the user key: 204, the user
/// deleted itself.
pub async fn handle_delete_self(app: &App, req: &Request, route: &'static str) -> Response<Body> {
    let log = RequestLog::start(req, route);
    let result = match user_key_request(app, req).await {
        Ok((instance, user_key)) => account::delete_self(app, &instance, user_key.as_ref()).await,
        Err(e) => Err(e),
    };
    http::respond(log, result, |()| no_content(), error_response)
}

/// 204 with an empty body (Django REST framework's `destroy`).
fn no_content() -> Response<Body> {
    let mut resp = Response::new(Body::Empty);
    *resp.status_mut() = StatusCode::NO_CONTENT;
    resp
}

/// The response for a login outcome, with its one log line.
pub fn respond(log: RequestLog, result: Result<SignedIn, SyncanoError>) -> Response<Body> {
    http::respond(log, result, |login| json_response(StatusCode::OK, &User::from_login(login)), error_response)
}
