//! Rocket.Chat REST v1: `POST /api/v1/login` with `serviceName`, `accessToken`, `secret`,
//! `expiresIn`, answering `{"status":"success","data":{"authToken","userId","me"},"success":true}`
//! (`API.v1.success()` in `apps/meteor/app/api/server/ApiClass.ts` adds `success`); errors are
//! `{"success":false,"status":"error","error":...,"message":...}`, the envelope ApiClass.ts's
//! login route and `unauthorized()` answer. Every case and its source: docs/compatibility.md.
//!
//! `secret` is accepted for compatibility and never used: Rocket.Chat computes Facebook's
//! appsecret_proof with it, which lets a token of any app in. We use our own app secret.

//!
//! The route handlers and the login flow are here; [`request`] reads the login body,
//! [`response`] writes the answers and maps each failure.

pub mod request;
pub mod response;
#[cfg(test)]
mod tests;

use lambda_http::http::StatusCode;
use lambda_http::{Body, Request, Response};

pub use request::{delete_password, parse, parse_login, Login, LoginRequest, UNRECOGNIZED};
pub use response::{
    avatar_url, delete_error_response, error_parts, error_response, not_found_response, ErrorBody, FailureBody,
    LoginData, Me, MeResponse, Success, NOT_LOGGED_IN,
};

use crate::config::Config;
use crate::domain::identity::Provider;
use crate::domain::secret::Secret;
use crate::entry::http::{self, header_str, json_response, RequestLog};
use crate::providers::Credentials;
use crate::usecases::app::App;
use crate::usecases::error::UseCaseError;
use crate::usecases::login::{Creation, SignedIn};
use crate::usecases::metrics::{Dialect, Outcome};

/// The whole Rocket.Chat login (OAuth or resume): parse, log in, answer (with its log line).
pub async fn handle(app: &App, req: &Request, route: &'static str) -> Response<Body> {
    let mut log = RequestLog::start(req, route);
    // The client the failure limiter counts (the viewer, behind the front: crate::entry::front).
    let source_ip = crate::entry::front::client_ip(&app.config, req);
    let result = match parse_knowing_custom_providers(app, req).await {
        Ok(Login::OAuth(login)) => {
            log.provider(login.provider);
            let claimed = login.credentials.claimed_subject(login.provider).map(|sub| (login.provider, sub));
            app.limited(source_ip.as_deref(), claimed, oauth_login(app, login.provider, &login.credentials)).await
        }
        // A resume is a session check, not a provider login: it has no login metrics.
        Ok(Login::Resume(token)) => {
            return respond(
                &app.config,
                log,
                app.limited_resume(source_ip.as_deref(), app.resume_session(&token)).await,
            )
        }
        Err(e) => Err(e),
    };
    log.login(Dialect::RocketChat, result.as_ref().map_or_else(Outcome::of_error, SignedIn::outcome));
    respond(&app.config, log, result)
}

/// [`parse`], where a `serviceName` no provider of this environment has may be a custom
/// provider of the default instance whose configuration this environment has not read yet: that
/// configuration is read (as its logins read it: once per environment and cache period, kept
/// even when it has none, so a flood of unknown names costs no read each) and the body read
/// again. Custom providers' names are only ever learnt from configuration, never from a client.
async fn parse_knowing_custom_providers(app: &App, req: &Request) -> Result<Login, UseCaseError> {
    match parse(req) {
        Err(UseCaseError::UnsupportedService(name)) => {
            app.providers_for(&app.config.default_instance).await?;
            parse(req).map_err(|e| match e {
                UseCaseError::UnsupportedService(_) => UseCaseError::UnsupportedService(name),
                other => other,
            })
        }
        other => other,
    }
}

/// `X-Auth-Token` and `X-User-Id`, as every authenticated Rocket.Chat call sends them.
pub(crate) fn auth_headers(req: &Request) -> Result<(Secret, String), UseCaseError> {
    match (header_str(req, "x-auth-token"), header_str(req, "x-user-id")) {
        (Some(t), Some(u)) if t.len() <= 256 && u.len() <= 64 => Ok((Secret::new(t), u.to_string())),
        _ => Err(UseCaseError::NotLoggedIn),
    }
}

/// A route of a live session (`X-Auth-Token` + `X-User-Id`): `call` with them, `ok` makes the
/// answer of a success, a failure is the dialect's error body; with its one log line.
async fn session_route<T, Fut>(
    req: &Request,
    route: &'static str,
    call: impl FnOnce(Secret, String) -> Fut,
    ok: impl FnOnce(&T) -> Response<Body>,
) -> Response<Body>
where
    Fut: std::future::Future<Output = Result<T, UseCaseError>>,
{
    let log = RequestLog::start(req, route);
    let result = match auth_headers(req) {
        Ok((token, user_id)) => call(token, user_id).await,
        Err(e) => Err(e),
    };
    http::respond(log, result, ok, error_response)
}

/// `GET /api/v1/me`.
pub async fn handle_me(app: &App, req: &Request, route: &'static str) -> Response<Body> {
    session_route(
        req,
        route,
        |token, user_id| async move { app.session_user(&token, &user_id).await },
        |user| json_response(StatusCode::OK, &MeResponse { me: Me::from_user(&app.config, user), success: true }),
    )
    .await
}

/// `POST /api/v1/logout` and its deprecated alias `GET /api/v1/logout` (ApiClass.ts registers
/// both on the same action): this session only.
pub async fn handle_logout(app: &App, req: &Request, route: &'static str) -> Response<Body> {
    session_route(
        req,
        route,
        |token, user_id| async move { app.end_session(&token, &user_id).await },
        |()| {
            json_response(
                StatusCode::OK,
                &Success {
                    status: "success",
                    data: serde_json::json!({ "message": "You've been logged out!" }),
                    success: None,
                },
            )
        },
    )
    .await
}

/// `POST /api/v1/users.removeOtherTokens`: every other session of the user is revoked; Rocket.Chat
/// answers `API.v1.success()`, i.e. `{"success": true}`.
pub async fn handle_remove_other_tokens(app: &App, req: &Request, route: &'static str) -> Response<Body> {
    session_route(
        req,
        route,
        |token, user_id| async move { app.end_other_sessions(&token, &user_id).await },
        |_| json_response(StatusCode::OK, &serde_json::json!({ "success": true })),
    )
    .await
}

/// `POST /api/v1/users.deleteOwnAccount`: the session's user deletes itself, confirming with
/// `password` (the SHA-256 of its username); Rocket.Chat answers `API.v1.success()`.
pub async fn handle_delete_own_account(app: &App, req: &Request, route: &'static str) -> Response<Body> {
    let log = RequestLog::start(req, route);
    let result = match auth_headers(req) {
        Ok((token, user_id)) => {
            let confirm = |username: &str| {
                let password = request::delete_password(req)?;
                if crate::usecases::accounts::username_confirms(username, &password) {
                    Ok(())
                } else {
                    Err(UseCaseError::DeletionNotConfirmed)
                }
            };
            app.delete_own_account(&token, &user_id, confirm).await
        }
        Err(e) => Err(e),
    };
    http::respond(
        log,
        result,
        |()| json_response(StatusCode::OK, &serde_json::json!({ "success": true })),
        response::delete_error_response,
    )
}

/// The response for a login outcome, with its one log line.
pub fn respond(config: &Config, log: RequestLog, result: Result<SignedIn, UseCaseError>) -> Response<Body> {
    let ok = |login: &SignedIn| {
        let data = LoginData {
            auth_token: login.credential.expose().to_string(),
            user_id: login.user.rc_id.clone(),
            me: Me::from_login(config, login),
        };
        json_response(StatusCode::OK, &Success { status: "success", data, success: Some(true) })
    };
    http::respond(log, result, ok, error_response)
}

/// An OAuth login: the provider, then the user in the default instance (created only if its
/// sign-up policy is open), then a new session.
pub async fn oauth_login(app: &App, provider: Provider, creds: &Credentials) -> Result<SignedIn, UseCaseError> {
    if !app.serves(&app.config.default_instance, provider).await? {
        return Err(UseCaseError::UnsupportedService(provider.service_name().into()));
    }
    let user = app.sign_in(&app.config.default_instance, provider, creds, Creation::PolicyUnread).await.map_err(
        |e| match e {
            // The configured default instance must exist: its absence is our misconfiguration.
            UseCaseError::UnknownInstance => UseCaseError::Internal("DEFAULT_INSTANCE does not exist".into()),
            other => other,
        },
    )?;
    app.new_session(user).await
}
