//! The API Gateway Lambda authorizers (HTTP API, payload 2.0, simple responses), one per scheme:
//! one lets a request through when it carries a live Rocket.Chat session (`X-Auth-Token` +
//! `X-User-Id`), the other when it carries a valid Syncano user key (`X-API-KEY` + `X-USER-KEY`,
//! for the path's `{instance}` or the default instance). Either hands the user to the integration
//! as `$context.authorizer.*`. They protect an app's own routes; this service's own routes check
//! their credentials themselves and answer in their dialect.

use std::collections::HashMap;

use serde::{Deserialize, Serialize};

use crate::domain::records::UserRecord;
use crate::domain::secret::Secret;
use crate::entry::dialect::syncano::{self, SyncanoError};
use crate::usecases::app::App;
use crate::usecases::error::UseCaseError;

/// The part of the authorizer event this reads (API Gateway lowercases header names).
#[derive(Debug, Default, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct AuthorizerRequest {
    #[serde(default)]
    pub headers: HashMap<String, String>,
    #[serde(default)]
    pub path_parameters: HashMap<String, String>,
}

/// What the integration receives as `$context.authorizer.*` (or `requestContext.authorizer.lambda`).
#[derive(Debug, Default, Serialize, PartialEq, Eq)]
#[serde(rename_all = "camelCase")]
pub struct AuthorizerContext {
    /// Syncano's integer user id.
    pub user_id: u64,
    /// Rocket.Chat's user id.
    pub rocket_chat_user_id: String,
    pub username: String,
    pub instance: String,
}

/// The simple response.
#[derive(Debug, Serialize, PartialEq, Eq)]
#[serde(rename_all = "camelCase")]
pub struct AuthorizerResponse {
    pub is_authorized: bool,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub context: Option<AuthorizerContext>,
}

impl AuthorizerResponse {
    fn deny() -> AuthorizerResponse {
        AuthorizerResponse { is_authorized: false, context: None }
    }

    fn allow(user: &UserRecord) -> AuthorizerResponse {
        AuthorizerResponse {
            is_authorized: true,
            context: Some(AuthorizerContext {
                user_id: user.user_id,
                rocket_chat_user_id: user.rc_id.clone(),
                username: user.username.clone(),
                instance: user.instance.to_string(),
            }),
        }
    }
}

/// The credential scheme an authorizer checks: each authorizer checks its own only, so junk
/// headers of one scheme never ride on a valid credential of the other.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Scheme {
    /// `X-Auth-Token` + `X-User-Id`: a live Rocket.Chat session.
    RocketChatSession,
    /// `X-API-KEY` + `X-USER-KEY`: a Syncano user key of the path's `{instance}` (or, on a route
    /// without one, the default instance).
    SyncanoUserKey,
}

/// Allows or denies by `scheme` alone; `Err` only when the store cannot answer (API Gateway
/// then answers 500 rather than letting anyone in or turning an outage into 403s).
pub async fn authorize(app: &App, scheme: Scheme, req: &AuthorizerRequest) -> Result<AuthorizerResponse, UseCaseError> {
    let header = |name: &str| req.headers.get(name).map(|v| v.trim()).filter(|v| !v.is_empty() && v.len() <= 256);
    // With the front on, only requests that came through it (crate::entry::front).
    if !crate::entry::front::admitted(&app.config, |name| req.headers.get(name).map(String::as_str)) {
        return Ok(AuthorizerResponse::deny());
    }
    let found = match scheme {
        Scheme::RocketChatSession => {
            let (Some(token), Some(user_id)) = (header("x-auth-token"), header("x-user-id")) else {
                return Ok(AuthorizerResponse::deny());
            };
            app.session_user(&Secret::new(token), user_id).await
        }
        Scheme::SyncanoUserKey => {
            let (Some(api_key), Some(user_key)) = (header("x-api-key"), header("x-user-key")) else {
                return Ok(AuthorizerResponse::deny());
            };
            let instance =
                req.path_parameters.get("instance").map(String::as_str).unwrap_or(app.config.default_instance.as_str());
            let (api_key, user_key) = (Secret::new(api_key), Secret::new(user_key));
            match syncano::account::user_of_keys(app, instance, Some(&api_key), Some(&user_key)).await {
                Ok(signed_in) => Ok(signed_in.user),
                Err(SyncanoError::Login(e)) => Err(e),
                // Any refusal of the keys themselves.
                Err(_) => Err(UseCaseError::NotLoggedIn),
            }
        }
    };
    match found {
        Ok(user) => Ok(AuthorizerResponse::allow(&user)),
        // Throttled too: an error (API Gateway's 500), never a 403 for a valid credential.
        Err(e @ (UseCaseError::StoreUnavailable(_) | UseCaseError::StoreThrottled(_))) => Err(e),
        Err(UseCaseError::Internal(e)) => Err(UseCaseError::Internal(e)),
        Err(_) => Ok(AuthorizerResponse::deny()),
    }
}

/// An authorizer function's whole handling of one event, with its log line.
pub async fn handle(app: &App, scheme: Scheme, req: AuthorizerRequest) -> Result<AuthorizerResponse, UseCaseError> {
    let started = std::time::Instant::now();
    let result = authorize(app, scheme, &req).await;
    let latency_ms = started.elapsed().as_secs_f64() * 1000.0;
    let route = match scheme {
        Scheme::RocketChatSession => "authorizer RocketChatSession",
        Scheme::SyncanoUserKey => "authorizer SyncanoUserKey",
    };
    match &result {
        Ok(r) => tracing::info!(route, authorized = r.is_authorized, latency_ms, "authorized"),
        Err(e) => tracing::error!(route, error = %e, latency_ms, "authorizer failed"),
    }
    result
}
