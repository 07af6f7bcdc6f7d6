//! The login itself, dialect-free: check the caller, verify the token with the provider, find or
//! create the user, issue the dialect's credential. Every failure is one [`LoginError`], which
//! each dialect maps once to a status and an error body.

use crate::app::App;
use crate::clock;
use crate::identity::Provider;
use crate::instance::InstanceName;
use crate::providers::{Credentials, ProviderError, Verified};
use crate::secret::Secret;
use crate::store::{ApiKeyCheck, ApiKeyPermissions, StoreError, UserRecord};
use crate::throttle::FailureKeys;
use crate::tokens;

#[derive(Debug, thiserror::Error)]
pub enum LoginError {
    /// Malformed input; the message names the field and is safe to show the client.
    #[error("bad request: {0}")]
    BadRequest(String),
    /// A provider this deployment does not serve (the name is sanitised for display).
    #[error("unsupported service {0:?}")]
    UnsupportedService(String),
    #[error("no API key")]
    MissingApiKey,
    #[error("invalid API key")]
    InvalidApiKey,
    #[error("unknown instance")]
    UnknownInstance,
    /// The provider refused the token; the reason is for logs only.
    #[error("token rejected: {0}")]
    TokenRejected(String),
    #[error("provider unavailable: {0}")]
    ProviderUnavailable(String),
    #[error("provider timed out")]
    ProviderTimeout,
    #[error("user store unavailable: {0}")]
    StoreUnavailable(String),
    /// Rocket.Chat: no, a wrong, an expired or a revoked session.
    #[error("not logged in")]
    NotLoggedIn,
    /// Syncano: no or a wrong user key.
    #[error("invalid user key")]
    InvalidUserKey,
    /// Syncano: no such user in the instance.
    #[error("user not found")]
    UserNotFound,
    /// Syncano: the API key lacks the permission this action needs (`ignore_acl`).
    #[error("the API key may not do this")]
    PermissionDenied,
    /// Syncano: a first login with an API key that may not create users (`allow_user_create`).
    #[error("the API key may not create users")]
    UserCreateDenied,
    /// Syncano: a body in a media type the platform's parsers do not read (the header, sanitised).
    #[error("unsupported media type {0:?}")]
    UnsupportedMediaType(String),
    /// Syncano: the body's `access_token` is missing, blank or not a string (the platform's
    /// serializer refuses it before any provider is asked).
    #[error("no usable access_token field")]
    MalformedCredentials,
    /// Syncano: a method the path does not serve (the method, sanitised).
    #[error("method {0:?} not allowed")]
    MethodNotAllowed(String),
    /// Too many rejected logins from this IP: retry after that many seconds.
    #[error("too many rejected logins; retry after {0} s")]
    TooManyFailures(i64),
    /// Our own bug or misconfiguration; the text is for logs only.
    #[error("internal error: {0}")]
    Internal(String),
}

impl From<ProviderError> for LoginError {
    fn from(e: ProviderError) -> Self {
        match e {
            ProviderError::NotServed => LoginError::UnsupportedService("provider not configured".into()),
            ProviderError::MissingCredential(field) => {
                LoginError::BadRequest(format!("{field} is required for this provider."))
            }
            ProviderError::Rejected(why) => LoginError::TokenRejected(why),
            ProviderError::Timeout => LoginError::ProviderTimeout,
            ProviderError::Unavailable(why) => LoginError::ProviderUnavailable(why),
            ProviderError::BadResponse(why) => LoginError::ProviderUnavailable(why),
        }
    }
}

impl From<StoreError> for LoginError {
    fn from(e: StoreError) -> Self {
        match e {
            StoreError::InstanceNotFound => LoginError::UnknownInstance,
            StoreError::Unavailable(_) | StoreError::Contention => LoginError::StoreUnavailable(e.to_string()),
            StoreError::InstanceExists
            | StoreError::Dynamo(_)
            | StoreError::Corrupt(_)
            | StoreError::RetiredKeyVersion(_) => LoginError::Internal(e.to_string()),
        }
    }
}

/// A Syncano social login: the instance's API key and the provider token.
#[derive(Debug)]
pub struct SyncanoLoginRequest {
    /// As written in the URL; validated here (a name that cannot exist is an unknown instance).
    pub instance: String,
    pub api_key: Option<Secret>,
    /// Read from the body only once the API key is checked, as the platform does: a malformed
    /// body with a wrong key answers like a wrong key.
    pub credentials: Result<Credentials, LoginError>,
}

#[derive(Debug)]
pub struct SyncanoLogin {
    pub user: UserRecord,
    pub user_key: Secret,
}

#[derive(Debug)]
pub struct RocketChatLogin {
    pub user: UserRecord,
    pub auth_token: Secret,
}

impl App {
    /// Runs a login `attempt` under the failure limiter's counters `keys` (none without a source
    /// IP): refused with 429 while one of them is over its limit (the provider is not asked), and
    /// a rejection is counted under each.
    pub async fn limited<T>(
        &self,
        keys: Option<FailureKeys>,
        attempt: impl std::future::Future<Output = Result<T, LoginError>>,
    ) -> Result<T, LoginError> {
        let Some(keys) = keys else { return attempt.await };
        if let Some(wait) = self.limiter.retry_after(&keys) {
            return Err(LoginError::TooManyFailures(wait));
        }
        let result = attempt.await;
        if matches!(result, Err(LoginError::TokenRejected(_))) {
            let (window, end) = self.limiter.window();
            let counters = std::iter::once((&keys.ip, false)).chain(keys.user.iter().map(|k| (k, true)));
            for (key, per_user) in counters {
                match self.store.count_failure(key, window, end + 60).await {
                    Ok(count) => self.limiter.note_failures(key, per_user, count),
                    // Counting is best effort: the client's answer is the rejection either way.
                    Err(e) => tracing::warn!(error = %e, "could not count a rejected login"),
                }
            }
        }
        result
    }

    /// Asks the provider whether the credentials are valid and issued for our app. A provider
    /// this deployment does not serve is refused before anything else happens.
    pub async fn verify(&self, provider: Provider, creds: &Credentials) -> Result<Verified, LoginError> {
        Ok(self.providers.verify(provider, creds).await?)
    }

    /// The user of a verified identity in `instance`; on its first login the provider is asked
    /// for what only a new user needs, and the user is created if the caller `may_create` users.
    async fn user_of(
        &self,
        instance: &InstanceName,
        verified: Verified,
        creds: &Credentials,
        may_create: bool,
    ) -> Result<UserRecord, LoginError> {
        let id = &verified.identity;
        if let Some(user) = self.store.find_by_identity(instance, id.provider.as_str(), &id.subject, false).await? {
            return Ok(user);
        }
        if !may_create {
            return Err(LoginError::UserCreateDenied);
        }
        let identity = self.providers.first_login(verified, creds).await?;
        Ok(self.store.create_user(instance, &identity, &self.user_keys).await?)
    }

    /// Syncano, in the platform's order (`SocialAuthView.post`): instance + API key first (one
    /// read), then the body's token, then the backend, then the provider, then the user.
    pub async fn syncano_login(
        &self,
        req: SyncanoLoginRequest,
        provider: Provider,
    ) -> Result<SyncanoLogin, LoginError> {
        let (instance, permissions) = self.check_api_key(&req.instance, req.api_key.as_ref()).await?;
        let credentials = req.credentials?;
        if !self.config.serves(provider) {
            return Err(LoginError::UnsupportedService(provider.syncano_backend().into()));
        }
        let verified = self.verify(provider, &credentials).await?;
        let user = self.user_of(&instance, verified, &credentials, permissions.may_create_users()).await?;
        self.syncano_answer(user)
    }

    /// The instance named in a Syncano URL and what its API key may do, once the key is checked
    /// (one read). An instance that does not exist answers exactly like a wrong key of one that
    /// does, so instance names cannot be probed for.
    pub(crate) async fn check_api_key(
        &self,
        instance: &str,
        api_key: Option<&Secret>,
    ) -> Result<(InstanceName, ApiKeyPermissions), LoginError> {
        let api_key = api_key.ok_or(LoginError::MissingApiKey)?;
        // The platform lowercases the name before it looks it up (`InstanceBasedMixin`).
        let instance = InstanceName::parse(&instance.to_lowercase()).ok_or(LoginError::InvalidApiKey)?;
        match self.store.check_api_key(&instance, api_key).await? {
            ApiKeyCheck::Valid(permissions) => Ok((instance, permissions)),
            ApiKeyCheck::UnknownInstance | ApiKeyCheck::InvalidKey => Err(LoginError::InvalidApiKey),
        }
    }

    /// Rocket.Chat: the provider, then the user in the default instance, then a new session.
    pub async fn rocketchat_login(
        &self,
        provider: Provider,
        creds: &Credentials,
    ) -> Result<RocketChatLogin, LoginError> {
        if !self.config.serves(provider) {
            return Err(LoginError::UnsupportedService(provider.as_str().into()));
        }
        let verified = self.verify(provider, creds).await?;
        let user = self.user_of(&self.config.default_instance, verified, creds, true).await.map_err(|e| match e {
            // The configured default instance must exist: its absence is our misconfiguration.
            LoginError::UnknownInstance => LoginError::Internal("DEFAULT_INSTANCE does not exist".into()),
            other => other,
        })?;
        self.new_session(user).await
    }

    /// A new Rocket.Chat session for `user`, valid `SESSION_TTL_DAYS`.
    pub(crate) async fn new_session(&self, user: UserRecord) -> Result<RocketChatLogin, LoginError> {
        let auth_token = tokens::new_session_token();
        let ttl = i64::try_from(self.config.session_ttl.as_secs()).unwrap_or(i64::MAX);
        self.store.put_session(&auth_token, &user, clock::now_secs().saturating_add(ttl)).await?;
        Ok(RocketChatLogin { user, auth_token })
    }

    /// The Syncano answer for `user`: the user and its current key.
    pub(crate) fn syncano_answer(&self, user: UserRecord) -> Result<SyncanoLogin, LoginError> {
        let user_key = crate::store::user_key_of(&self.user_keys, &user)?;
        Ok(SyncanoLogin { user, user_key })
    }
}
