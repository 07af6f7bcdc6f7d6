//! The API Gateway Lambda authorizer (HTTP API, payload 2.0, simple responses): lets a request
//! through when it carries a live Rocket.Chat session (`X-Auth-Token` + `X-User-Id`) or a valid
//! Syncano user key (`X-API-KEY` + `X-USER-KEY`, for the path's `{instance}` or the default
//! instance), and hands the user to the integration as `$context.authorizer.*`.

use std::collections::HashMap;

use serde::{Deserialize, Serialize};

use crate::app::App;
use crate::login::LoginError;
use crate::secret::Secret;
use crate::store::UserRecord;

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

impl App {
    /// Allows or denies; `Err` only when the store cannot answer (API Gateway then answers 500
    /// rather than letting anyone in or turning an outage into 403s).
    pub async fn authorize(&self, req: &AuthorizerRequest) -> Result<AuthorizerResponse, LoginError> {
        let header = |name: &str| req.headers.get(name).map(|v| v.trim()).filter(|v| !v.is_empty() && v.len() <= 256);
        let found = if let (Some(token), Some(user_id)) = (header("x-auth-token"), header("x-user-id")) {
            self.rocketchat_me(&Secret::new(token), user_id).await
        } else if let (Some(api_key), Some(user_key)) = (header("x-api-key"), header("x-user-key")) {
            let instance = req
                .path_parameters
                .get("instance")
                .map(String::as_str)
                .unwrap_or(self.config.default_instance.as_str());
            self.syncano_user(instance, Some(&Secret::new(api_key)), Some(&Secret::new(user_key))).await.map(|l| l.user)
        } else {
            return Ok(AuthorizerResponse::deny());
        };
        match found {
            Ok(user) => Ok(AuthorizerResponse::allow(&user)),
            Err(LoginError::StoreUnavailable(e)) => Err(LoginError::StoreUnavailable(e)),
            Err(LoginError::Internal(e)) => Err(LoginError::Internal(e)),
            Err(_) => Ok(AuthorizerResponse::deny()),
        }
    }
}
