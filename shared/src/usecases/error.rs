//! The one error of the use-cases: logins, sessions, deletions, the revocation retry and the
//! authorizers all answer in it; each dialect maps it once to a status and an error body.

use crate::providers::ProviderError;
use crate::store::StoreError;

#[derive(Debug, thiserror::Error)]
pub enum UseCaseError {
    /// Malformed input; the message names the field and is safe to show the client.
    #[error("bad request: {0}")]
    BadRequest(String),
    /// A provider this deployment does not serve (the name is sanitised for display).
    #[error("unsupported service {0:?}")]
    UnsupportedService(String),
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
    /// DynamoDB throttled us (a hot partition): nothing was written; retry a little later.
    #[error("user store throttled: {0}")]
    StoreThrottled(String),
    /// No, a wrong, an expired or a revoked credential of a signed-in user (a Rocket.Chat
    /// session, a Syncano user key).
    #[error("not logged in")]
    NotLoggedIn,
    /// A first login by a caller that may not create users (a Syncano API key without
    /// `allow_user_create`).
    #[error("the API key may not create users")]
    UserCreateDenied,
    /// A first login in an instance whose sign-up policy is closed: only its users sign in.
    #[error("the instance's sign-up is closed")]
    SignUpClosed,
    /// An account deletion whose confirmation does not match (Rocket.Chat: the SHA-256 of the
    /// username, for a user without a password).
    #[error("the deletion is not confirmed")]
    DeletionNotConfirmed,
    /// Too many rejected logins from this IP: retry after that many seconds.
    #[error("too many rejected logins; retry after {0} s")]
    TooManyFailures(i64),
    /// Our own bug or misconfiguration; the text is for logs only.
    #[error("internal error: {0}")]
    Internal(String),
}

impl From<ProviderError> for UseCaseError {
    fn from(e: ProviderError) -> Self {
        match e {
            ProviderError::NotServed => UseCaseError::UnsupportedService("provider not configured".into()),
            ProviderError::MissingCredential(field) => {
                UseCaseError::BadRequest(format!("{field} is required for this provider."))
            }
            ProviderError::Rejected(why) => UseCaseError::TokenRejected(why),
            ProviderError::Timeout => UseCaseError::ProviderTimeout,
            ProviderError::Unavailable(why) => UseCaseError::ProviderUnavailable(why),
            ProviderError::BadResponse(why) => UseCaseError::ProviderUnavailable(why),
        }
    }
}

impl From<StoreError> for UseCaseError {
    fn from(e: StoreError) -> Self {
        match e {
            StoreError::InstanceNotFound => UseCaseError::UnknownInstance,
            StoreError::SignUpClosed { .. } => UseCaseError::SignUpClosed,
            StoreError::Unavailable(_) | StoreError::Contention => UseCaseError::StoreUnavailable(e.to_string()),
            StoreError::Throttled(_) => UseCaseError::StoreThrottled(e.to_string()),
            StoreError::InstanceExists
            | StoreError::Dynamo(_)
            | StoreError::Corrupt(_)
            | StoreError::RetiredKeyVersion(_) => UseCaseError::Internal(e.to_string()),
        }
    }
}
