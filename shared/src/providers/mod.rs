//! Provider verification: turn a client's provider token into a [`VerifiedIdentity`], or say
//! why not. One module per provider; every failure is one of [`ProviderError`]'s classes.

pub mod facebook;

use std::time::Duration;

pub use facebook::FacebookVerifier;

/// Largest provider response body read; anything longer is treated as a broken provider.
pub const MAX_PROVIDER_BODY: usize = 256 * 1024;

/// Why a provider did not vouch for a token. `Rejected` is the client's fault (401); the others
/// are the provider's (502/504) and must never be reported as a bad token.
#[derive(Debug, thiserror::Error)]
pub enum ProviderError {
    /// The provider says the token is invalid, expired, revoked or not issued for our app.
    #[error("token rejected by the provider ({0})")]
    Rejected(String),
    /// The provider did not answer within the configured timeout.
    #[error("provider timed out")]
    Timeout,
    /// The provider is down, refused the connection, rate-limited us or answered 5xx.
    #[error("provider unavailable: {0}")]
    Unavailable(String),
    /// The provider answered something we cannot read (not JSON, too large, missing fields).
    #[error("provider answered unexpectedly: {0}")]
    BadResponse(String),
}

/// The one HTTP client of a cold start, shared by all provider verifiers: provider timeout as
/// total request timeout, no redirects (a provider API never redirects a token check).
pub fn http_client(timeout: Duration) -> Result<reqwest::Client, reqwest::Error> {
    reqwest::Client::builder()
        .timeout(timeout)
        .connect_timeout(timeout)
        .redirect(reqwest::redirect::Policy::none())
        .user_agent(concat!("social-login/", env!("CARGO_PKG_VERSION")))
        .build()
}

/// Classifies a transport error without its URL (which may carry a token or proof).
pub(crate) fn transport_error(err: reqwest::Error) -> ProviderError {
    if err.is_timeout() {
        ProviderError::Timeout
    } else {
        ProviderError::Unavailable(err.without_url().to_string())
    }
}

/// Reads a response body of at most [`MAX_PROVIDER_BODY`] bytes.
pub(crate) async fn read_body(mut resp: reqwest::Response) -> Result<Vec<u8>, ProviderError> {
    let mut body = Vec::new();
    while let Some(chunk) = resp.chunk().await.map_err(transport_error)? {
        if body.len() + chunk.len() > MAX_PROVIDER_BODY {
            return Err(ProviderError::BadResponse("body too large".into()));
        }
        body.extend_from_slice(&chunk);
    }
    Ok(body)
}
