//! Provider verification: turn what a client presents into a [`VerifiedIdentity`], or say why
//! not. One module per provider; every failure is one of [`ProviderError`]'s classes. A provider
//! without configuration is not served at all (fail closed).
//!
//! Which providers a build links is chosen by cargo features of `shared` (one per provider, see
//! shared/Cargo.toml): the modules of a provider whose feature is off are not compiled, and its
//! verifier type is a stand-in no value of which exists ([`absent`]), so [`Providers`] holds
//! `None` for it and it is "not served", as if unconfigured. The `#[cfg]`s stay here, in
//! `absent.rs` and at the module level; the code using [`Providers`] has none.

#[cfg(feature = "apple")]
pub mod apple;
#[cfg(feature = "apple")]
pub mod apple_notification;
#[cfg(feature = "apple")]
pub mod apple_tokens;
#[cfg(feature = "facebook")]
pub mod facebook;
#[cfg(feature = "github")]
pub mod github;
#[cfg(feature = "google")]
pub mod google;
#[cfg(feature = "oidc")]
pub mod jwks;
pub mod jwt;
#[cfg(feature = "linkedin")]
pub mod linkedin;
#[cfg(feature = "oidc")]
pub mod oidc;
#[cfg(feature = "twitter")]
pub mod twitter;

mod absent;

// With every provider linked there is nothing to take from `absent`.
#[allow(unused_imports)]
pub use absent::*;
#[cfg(feature = "apple")]
pub use apple::AppleVerifier;
#[cfg(feature = "apple")]
pub use apple_tokens::AppleTokens;
#[cfg(feature = "facebook")]
pub use facebook::FacebookVerifier;
#[cfg(feature = "github")]
pub use github::GitHubVerifier;
#[cfg(feature = "google")]
pub use google::GoogleVerifier;
#[cfg(feature = "linkedin")]
pub use linkedin::LinkedInVerifier;
#[cfg(feature = "twitter")]
pub use twitter::TwitterVerifier;

use crate::config::Config;
use crate::domain::identity::{Provider, VerifiedIdentity};
use crate::domain::secret::Secret;

/// How many providers this build links (their cargo features of `shared`).
#[cfg(feature = "http")]
const LINKED: usize = cfg!(feature = "facebook") as usize
    + cfg!(feature = "google") as usize
    + cfg!(feature = "twitter") as usize
    + cfg!(feature = "linkedin") as usize
    + cfg!(feature = "apple") as usize
    + cfg!(feature = "github") as usize;

/// The call of the one provider a build links, if it is configured; none when it links several.
#[cfg(feature = "http")]
fn the_only_one<T>(linked: usize, calls: impl IntoIterator<Item = Option<T>>) -> Option<T> {
    if linked != 1 {
        return None;
    }
    calls.into_iter().flatten().next()
}

/// Largest provider response body read; anything longer is treated as a broken provider.
pub const MAX_PROVIDER_BODY: usize = 256 * 1024;

/// Why a provider did not vouch for a token. `Rejected` is the client's fault (401); the
/// `Timeout`/`Unavailable`/`BadResponse` classes are the provider's (502/504) and must never be
/// reported as a bad token.
#[derive(Debug, thiserror::Error)]
pub enum ProviderError {
    /// This deployment has no configuration for the provider.
    #[error("provider not served")]
    NotServed,
    /// The client did not send a credential this provider needs (the name of the field).
    #[error("missing credential: {0}")]
    MissingCredential(&'static str),
    /// The provider (or our check of its signed token) says the token is invalid, expired,
    /// revoked or not issued for our app.
    #[error("token rejected ({0})")]
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

/// What a client presents to log in. Only the provider's answer about these is trusted; a
/// `name` is used only where the provider itself gives none to the server (Apple).
#[derive(Debug, Default, Clone)]
pub struct Credentials {
    pub access_token: Option<Secret>,
    pub id_token: Option<Secret>,
    /// OAuth 1.0a token secret (Twitter).
    pub token_secret: Option<Secret>,
    /// The raw nonce whose SHA-256 the ID token must carry (Apple, Facebook Limited Login).
    pub nonce: Option<Secret>,
    /// Display name the client got from the provider at first sign-in (Apple only).
    pub name: Option<String>,
    /// Apple's `authorizationCode`, exchanged for a refresh token we can revoke on deletion.
    pub authorization_code: Option<Secret>,
}

impl Credentials {
    /// The access token, or the 400 that names it.
    pub fn require_access_token(&self) -> Result<&Secret, ProviderError> {
        self.access_token
            .as_ref()
            .filter(|t| !t.expose().trim().is_empty())
            .ok_or(ProviderError::MissingCredential("access_token"))
    }

    /// The provider user these credentials claim to be, unverified: the `sub` of an ID token, or
    /// the user id an X OAuth 1.0a token starts with (`{user id}-{random}`). Only for keying
    /// the failure limiter together with the caller's IP.
    pub fn claimed_subject(&self, provider: Provider) -> Option<String> {
        if let Some(sub) = self.id_token.as_ref().and_then(|t| jwt::unverified_subject(t.expose())) {
            return Some(sub);
        }
        if provider == Provider::Twitter && self.token_secret.is_some() {
            let id = self.access_token.as_ref()?.expose().split_once('-')?.0;
            return (!id.is_empty() && id.len() <= 20 && id.bytes().all(|b| b.is_ascii_digit()))
                .then(|| id.to_string());
        }
        None
    }

    /// A Syncano `access_token`, read the way each backend's clients send it: a JWT is an ID
    /// token; for Twitter `token:secret` is an OAuth 1.0a pair (a bare token is an OAuth 2.0
    /// bearer token); anything else is an access token.
    pub fn from_single_token(provider: Provider, token: Secret) -> Credentials {
        if provider == Provider::Twitter {
            if let Some((t, s)) = token.expose().split_once(':') {
                return Credentials {
                    access_token: Some(Secret::new(t)),
                    token_secret: Some(Secret::new(s)),
                    ..Credentials::default()
                };
            }
        }
        if jwt::looks_like_jwt(token.expose()) {
            Credentials { id_token: Some(token), ..Credentials::default() }
        } else {
            Credentials { access_token: Some(token), ..Credentials::default() }
        }
    }
}

/// The verifiers of the providers this deployment serves, built once per cold start and shared
/// by all requests (with their key caches). A provider is here when it is both configured and
/// linked into this build.
pub struct Providers {
    pub facebook: Option<FacebookVerifier>,
    pub google: Option<GoogleVerifier>,
    pub twitter: Option<TwitterVerifier>,
    pub linkedin: Option<LinkedInVerifier>,
    pub apple: Option<AppleVerifier>,
    pub github: Option<GitHubVerifier>,
    /// Our own calls to Apple (code exchange, revocation), when configured.
    pub apple_tokens: Option<AppleTokens>,
}

/// `$built` where `$feature` is on, else `None` (the provider is not linked).
#[cfg(feature = "http")]
macro_rules! if_linked {
    ($feature:literal, $built:expr) => {{
        #[cfg(feature = $feature)]
        let built = $built;
        #[cfg(not(feature = $feature))]
        let built = None;
        built
    }};
}

/// Why the providers' HTTP client could not be built (at init; `App` reports it as its own).
#[derive(Debug, thiserror::Error)]
pub enum HttpClientError {
    #[error("could not build the HTTP client: {0}")]
    Http(String),
    #[error(transparent)]
    Tls(#[from] crate::net::tls::TlsError),
}

impl Providers {
    /// No provider at all: a build without the `http` feature (the session functions).
    pub fn none() -> Providers {
        Providers {
            facebook: None,
            google: None,
            twitter: None,
            linkedin: None,
            apple: None,
            github: None,
            apple_tokens: None,
        }
    }

    /// The verifiers of the configured providers this build links, sharing one HTTP client.
    pub fn new(config: &Config) -> Result<Providers, HttpClientError> {
        Ok(ProviderClients::new(config)?.providers(config))
    }

    /// [`Providers::new`] with a given client (each verifier holds a clone of it).
    #[cfg(feature = "http")]
    pub fn with_client(config: &Config, http: &reqwest::Client) -> Providers {
        Providers::with_shared(config, http, &KeyCaches::default())
    }

    /// [`Providers::with_client`] whose verifiers take their key sets from `keys`: every
    /// `Providers` built with the same `keys` shares one cache per JWKS URL (an instance's own
    /// Google client ids are checked with the deployment's Google key set, fetched once).
    #[cfg(feature = "http")]
    pub fn with_shared(config: &Config, http: &reqwest::Client, keys: &KeyCaches) -> Providers {
        #[cfg(not(feature = "oidc"))]
        let _ = keys;
        Providers {
            facebook: if_linked!(
                "facebook",
                config.facebook.as_ref().map(|c| FacebookVerifier::new(
                    c,
                    http.clone(),
                    keys.get(http, &c.limited_jwks_url, jwks_settings(config))
                ))
            ),
            google: if_linked!(
                "google",
                config.google.as_ref().map(|c| GoogleVerifier::new(
                    c,
                    http.clone(),
                    keys.get(http, &c.jwks_url, jwks_settings(config))
                ))
            ),
            twitter: if_linked!("twitter", config.twitter.as_ref().map(|c| TwitterVerifier::new(c, http.clone()))),
            linkedin: if_linked!(
                "linkedin",
                config.linkedin.as_ref().map(|c| LinkedInVerifier::new(
                    c,
                    http.clone(),
                    keys.get(http, &c.jwks_url, jwks_settings(config))
                ))
            ),
            apple: if_linked!(
                "apple",
                config.apple.as_ref().map(|c| AppleVerifier::new(
                    c,
                    http.clone(),
                    keys.get(http, &c.jwks_url, jwks_settings(config))
                ))
            ),
            github: if_linked!("github", config.github.as_ref().map(|c| GitHubVerifier::new(c, http.clone()))),
            apple_tokens: if_linked!(
                "apple",
                config.apple_revocation.as_ref().and_then(|c| AppleTokens::new(c, http.clone()))
            ),
        }
    }

    /// The provider call every request of this function is certain to need, when there is one:
    /// in a build that links a single provider (a `<provider>-login` function,
    /// `apple-notifications`), its verifier's first call ([`FacebookVerifier::certain_call`] and
    /// the like). `login` links every provider and the deletion functions two, so which one a
    /// request needs is not known before it comes: none.
    #[cfg(feature = "http")]
    pub fn certain_call(&self) -> Option<(&reqwest::Client, &str)> {
        the_only_one(
            LINKED,
            [
                if_linked!("facebook", self.facebook.as_ref().map(FacebookVerifier::certain_call)),
                if_linked!("google", self.google.as_ref().map(GoogleVerifier::certain_call)),
                if_linked!("twitter", self.twitter.as_ref().map(TwitterVerifier::certain_call)),
                if_linked!("linkedin", self.linkedin.as_ref().map(LinkedInVerifier::certain_call)),
                if_linked!("apple", self.apple.as_ref().map(AppleVerifier::certain_call)),
                if_linked!("github", self.github.as_ref().map(GitHubVerifier::certain_call)),
            ],
        )
    }

    /// Whether `provider` has a verifier here (is configured and linked).
    pub fn serves(&self, provider: Provider) -> bool {
        match provider {
            Provider::Facebook => self.facebook.is_some(),
            Provider::Google => self.google.is_some(),
            Provider::Twitter => self.twitter.is_some(),
            Provider::LinkedIn => self.linkedin.is_some(),
            Provider::Apple => self.apple.is_some(),
            Provider::GitHub => self.github.is_some(),
        }
    }

    pub async fn verify(&self, provider: Provider, creds: &Credentials) -> Result<Verified, ProviderError> {
        let not_served = ProviderError::NotServed;
        let identity = match provider {
            Provider::Facebook => self.facebook.as_ref().ok_or(not_served)?.verify(creds).await,
            Provider::Google => self.google.as_ref().ok_or(not_served)?.verify(creds).await,
            Provider::Twitter => self.twitter.as_ref().ok_or(not_served)?.verify(creds).await,
            Provider::LinkedIn => self.linkedin.as_ref().ok_or(not_served)?.verify(creds).await,
            Provider::Apple => self.apple.as_ref().ok_or(not_served)?.verify(creds).await,
            Provider::GitHub => return self.github.as_ref().ok_or(not_served)?.verify(creds).await,
        };
        identity.map(|identity| Verified { identity, on_first_login: None })
    }

    /// The whole identity of a person logging in for the first time: what `verified` left for
    /// a first login is asked now.
    pub async fn first_login(
        &self,
        verified: Verified,
        creds: &Credentials,
    ) -> Result<VerifiedIdentity, ProviderError> {
        match (verified.on_first_login, &self.github) {
            (Some(FirstLogin::GitHubEmail), Some(github)) => github.add_email(verified.identity, creds).await,
            _ => Ok(verified.identity),
        }
    }
}

/// The providers' key caches by JWKS URL, shared by every [`Providers`] an execution environment
/// builds (the deployment's and each instance's): an instance with its own client ids at a
/// provider uses the provider's key set the deployment fetched, not a fetch of its own. Bounded
/// by the URLs of the configuration (an instance's own app names ids, never a URL).
#[derive(Clone, Default)]
pub struct KeyCaches {
    #[cfg(feature = "oidc")]
    by_url: std::sync::Arc<std::sync::Mutex<std::collections::HashMap<String, std::sync::Arc<jwks::JwksCache>>>>,
}

#[cfg(feature = "oidc")]
impl KeyCaches {
    /// The cache of the key set at `url` (made on first use).
    fn get(&self, http: &reqwest::Client, url: &str, settings: jwks::JwksSettings) -> std::sync::Arc<jwks::JwksCache> {
        let mut by_url = self.by_url.lock().unwrap_or_else(|e| e.into_inner());
        by_url
            .entry(url.to_string())
            .or_insert_with(|| std::sync::Arc::new(jwks::JwksCache::new(http.clone(), url, settings)))
            .clone()
    }
}

/// What every [`Providers`] of an execution environment shares: the one HTTP client and the key
/// caches. Built once per cold start; [`ProviderClients::providers`] builds the verifiers of a
/// configuration (the deployment's, or one instance's: `Config::for_instance`).
#[derive(Clone)]
pub struct ProviderClients {
    #[cfg(feature = "http")]
    http: reqwest::Client,
    keys: KeyCaches,
}

impl ProviderClients {
    #[cfg(feature = "http")]
    pub fn new(config: &Config) -> Result<ProviderClients, HttpClientError> {
        let http = http_client(config.provider_timeout, crate::net::tls::provider_tls_config()?)
            .map_err(|e| HttpClientError::Http(e.to_string()))?;
        Ok(ProviderClients { http, keys: KeyCaches::default() })
    }

    /// Without the `http` feature no provider is linked: nothing to build, no client either.
    #[cfg(not(feature = "http"))]
    pub fn new(_config: &Config) -> Result<ProviderClients, HttpClientError> {
        Ok(ProviderClients { keys: KeyCaches::default() })
    }

    /// The verifiers of `config`'s providers, on the shared client and key caches.
    pub fn providers(&self, config: &Config) -> Providers {
        #[cfg(feature = "http")]
        {
            Providers::with_shared(config, &self.http, &self.keys)
        }
        #[cfg(not(feature = "http"))]
        {
            let _ = (config, &self.keys);
            Providers::none()
        }
    }
}

/// A provider's verdict on a token. What only a second request to the provider tells, and only
/// a new user needs (GitHub's verified email), is left for [`Providers::first_login`], so that a
/// returning login costs one provider round trip.
#[derive(Debug)]
pub struct Verified {
    pub identity: VerifiedIdentity,
    pub(crate) on_first_login: Option<FirstLogin>,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
// Only GitHub's verifier leaves anything for a first login.
#[cfg_attr(not(feature = "github"), allow(dead_code))]
pub(crate) enum FirstLogin {
    /// `GET /user/emails`: the token's scopes allow it.
    GitHubEmail,
}

#[cfg(feature = "oidc")]
fn jwks_settings(config: &Config) -> jwks::JwksSettings {
    jwks::JwksSettings { min_refetch: config.jwks_min_refetch, max_stale: config.jwks_max_stale }
}

/// What an authorization code gave us ([`AppleTokens::exchange`]).
#[derive(Debug)]
pub struct Exchanged {
    /// The `sub` of the token response's ID token: must be the person who signed in.
    pub subject: String,
    pub refresh_token: Secret,
}

#[cfg(feature = "http")]
/// The one HTTP client of a cold start, shared by all provider verifiers: provider timeout as
/// total request timeout, no redirects (a provider API never redirects a token check), TLS from
/// [`crate::net::tls::provider_tls_config`] (compiled-in roots, no certificate store read).
pub fn http_client(timeout: std::time::Duration, tls: rustls::ClientConfig) -> Result<reqwest::Client, reqwest::Error> {
    reqwest::Client::builder()
        .tls_backend_preconfigured(tls)
        .timeout(timeout)
        .connect_timeout(timeout)
        .redirect(reqwest::redirect::Policy::none())
        .user_agent(concat!("social-login/", env!("CARGO_PKG_VERSION")))
        .build()
}

#[cfg(feature = "http")]
/// Classifies a transport error without its URL (which may carry a token or proof).
pub(crate) fn transport_error(err: reqwest::Error) -> ProviderError {
    if err.is_timeout() {
        ProviderError::Timeout
    } else {
        ProviderError::Unavailable(err.without_url().to_string())
    }
}

#[cfg(feature = "http")]
/// Sends a request and reads at most [`MAX_PROVIDER_BODY`] bytes of the answer.
pub(crate) async fn send(req: reqwest::RequestBuilder) -> Result<(reqwest::StatusCode, Vec<u8>), ProviderError> {
    read(req.send().await.map_err(transport_error)?).await
}

#[cfg(feature = "http")]
/// Reads at most [`MAX_PROVIDER_BODY`] bytes of an answer.
pub(crate) async fn read(mut resp: reqwest::Response) -> Result<(reqwest::StatusCode, Vec<u8>), ProviderError> {
    let status = resp.status();
    let mut body = Vec::new();
    while let Some(chunk) = resp.chunk().await.map_err(transport_error)? {
        if body.len() + chunk.len() > MAX_PROVIDER_BODY {
            return Err(ProviderError::BadResponse("body too large".into()));
        }
        body.extend_from_slice(&chunk);
    }
    Ok((status, body))
}

#[cfg(feature = "http")]
/// The failure class of a non-2xx answer that is not a verdict on the token: 5xx and 429 are
/// the provider's trouble; `None` means the caller decides (usually: rejected).
pub(crate) fn outage(status: reqwest::StatusCode) -> Option<ProviderError> {
    (status.is_server_error() || status == reqwest::StatusCode::TOO_MANY_REQUESTS)
        .then(|| ProviderError::Unavailable(format!("provider answered {status}")))
}

#[cfg(feature = "http")]
/// Parses a JSON answer, or calls it a bad response.
pub(crate) fn parse_json<T: serde::de::DeserializeOwned>(body: &[u8], what: &str) -> Result<T, ProviderError> {
    serde_json::from_slice(body).map_err(|_| ProviderError::BadResponse(format!("{what} is not the expected JSON")))
}

#[cfg(feature = "http")]
/// A URL we are willing to store as an avatar.
pub(crate) fn http_url(u: Option<String>) -> Option<String> {
    u.filter(|u| (u.starts_with("https://") || u.starts_with("http://")) && u.len() <= 2048)
}

#[cfg(feature = "http")]
/// A non-blank display name.
pub(crate) fn display_name(parts: &[Option<&str>]) -> Option<String> {
    let joined = parts.iter().flatten().map(|s| s.trim()).filter(|s| !s.is_empty()).collect::<Vec<_>>().join(" ");
    (!joined.is_empty()).then_some(joined)
}

/// Whether `token` can travel as (part of) an HTTP header value unchanged: visible ASCII only.
#[cfg(any(feature = "twitter", feature = "github"))]
pub(crate) fn is_header_safe(token: &str) -> bool {
    !token.is_empty() && token.bytes().all(|b| b.is_ascii_graphic())
}

#[cfg(test)]
mod tests {
    use super::*;

    /// A provider not linked (or not configured) is refused as not served: no panic, no call.
    #[tokio::test]
    async fn without_a_verifier_every_provider_is_not_served() {
        let providers = Providers::none();
        let creds = Credentials { access_token: Some(Secret::new("token")), ..Credentials::default() };
        for provider in Provider::ALL {
            let result = providers.verify(provider, &creds).await;
            assert!(matches!(result, Err(ProviderError::NotServed)), "{provider:?}: {result:?}");
        }
    }

    /// Only a build of one provider knows the call its requests start with.
    #[cfg(feature = "http")]
    #[test]
    fn only_a_single_provider_build_has_a_certain_call() {
        assert_eq!(the_only_one(1, [None, Some("graph"), None]), Some("graph"));
        assert_eq!(the_only_one::<&str>(1, [None, None]), None, "linked but not configured");
        assert_eq!(the_only_one(2, [Some("graph"), None]), None, "the deletion functions");
        assert_eq!(the_only_one(6, [Some("graph"), Some("jwks")]), None, "login");
        assert_eq!(the_only_one::<&str>(0, []), None, "a session function");
    }
}
