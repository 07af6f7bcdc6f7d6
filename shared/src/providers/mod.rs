//! Provider verification: turn what a client presents into a [`VerifiedIdentity`], or say why
//! not. One module per provider; every failure is one of [`ProviderError`]'s classes. A provider
//! without configuration is not served at all (fail closed).
//!
//! Every build links every provider; which ones a function serves is its configuration, read at
//! run time ([`Providers::new`]): [`Providers`] holds `None` for a provider that is not
//! configured, and it is "not served".

pub mod apple;
pub mod apple_notification;
pub mod apple_tokens;
pub mod clients;
pub mod custom_oidc;
pub mod discovery;
pub mod facebook;
pub mod github;
pub mod google;
pub mod http;
pub mod jwks;
pub mod jwt;
pub mod linkedin;
pub mod microsoft;
pub mod oidc;
pub mod twitter;

pub use apple::AppleVerifier;
pub use apple_tokens::AppleTokens;
pub use clients::ProviderClients;
pub use custom_oidc::CustomOidcVerifier;
pub use facebook::FacebookVerifier;
pub use github::GitHubVerifier;
pub use google::GoogleVerifier;
pub use http::http_client;
pub(crate) use http::{display_name, http_url, is_header_safe, outage, parse_json, read, send, transport_error};
pub use linkedin::LinkedInVerifier;
pub use microsoft::MicrosoftVerifier;
pub use twitter::TwitterVerifier;

use std::collections::HashMap;
use std::sync::Arc;

use crate::config::{Config, CustomOidcConfig};
use crate::domain::identity::{OidcName, Provider, VerifiedIdentity};
use crate::domain::secret::Secret;

/// The call of the one provider a function is configured for; none when it is configured for
/// none or for several. `configured` holds one entry per provider: its certain call if it has
/// one (a verifier), `None` if it is configured without one (Apple's revocation only).
fn the_only_one<T>(configured: impl IntoIterator<Item = Option<T>>) -> Option<T> {
    let mut configured = configured.into_iter();
    match (configured.next(), configured.next()) {
        (Some(call), None) => call,
        _ => None,
    }
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
    /// The raw nonce whose SHA-256 the ID token must carry (Apple, Facebook Limited Login,
    /// Microsoft and custom OpenID Connect providers).
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
    /// Microsoft, when configured (`MICROSOFT_CLIENT_IDS`).
    pub microsoft: Option<MicrosoftVerifier>,
    /// The custom OpenID Connect providers, by name ([`Providers::with_custom_oidc`]).
    pub custom: HashMap<OidcName, CustomOidcVerifier>,
    /// The key sets of Microsoft and the custom providers, one per JWKS URL.
    pub key_sets: Arc<discovery::KeySets>,
}

/// Whether `config` configures any provider, or our own calls to Apple.
fn configures_any(config: &Config) -> bool {
    config.facebook.is_some()
        || config.google.is_some()
        || config.twitter.is_some()
        || config.linkedin.is_some()
        || config.apple.is_some()
        || config.github.is_some()
        || config.apple_revocation.is_some()
        || config.microsoft.is_some()
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
    /// No provider at all: a function configured for none (the session functions).
    pub fn none() -> Providers {
        Providers {
            facebook: None,
            google: None,
            twitter: None,
            linkedin: None,
            apple: None,
            github: None,
            apple_tokens: None,
            microsoft: None,
            custom: HashMap::new(),
            key_sets: Arc::default(),
        }
    }

    /// The verifiers of the providers `config` configures, sharing one HTTP client. A function
    /// configured for no provider builds no client (nor parses its trust roots) until an
    /// instance's own app needs one ([`ProviderClients`]).
    pub fn new(config: &Config) -> Result<Providers, HttpClientError> {
        ProviderClients::new(config)?.providers(config)
    }

    /// [`Providers::new`] with a given client (each verifier holds a clone of it), whose
    /// verifiers take their key sets from `key_sets`: every
    /// `Providers` built with the same `key_sets` shares one cache per JWKS URL (an instance's own
    /// Google client ids are checked with the deployment's Google key set, fetched once; the
    /// custom issuers and Microsoft's tenants share theirs the same way).
    pub fn with_shared(config: &Config, http: &reqwest::Client, key_sets: &Arc<discovery::KeySets>) -> Providers {
        let keys = |url: &str| key_sets.get(http, url, jwks_settings(config));
        Providers {
            facebook: config
                .facebook
                .as_ref()
                .map(|c| FacebookVerifier::new(c, http.clone(), keys(&c.limited_jwks_url))),
            google: config.google.as_ref().map(|c| GoogleVerifier::new(c, http.clone(), keys(&c.jwks_url))),
            twitter: config.twitter.as_ref().map(|c| TwitterVerifier::new(c, http.clone())),
            linkedin: config.linkedin.as_ref().map(|c| LinkedInVerifier::new(c, http.clone(), keys(&c.jwks_url))),
            apple: config.apple.as_ref().map(|c| AppleVerifier::new(c, http.clone(), keys(&c.jwks_url))),
            github: config.github.as_ref().map(|c| GitHubVerifier::new(c, http.clone())),
            apple_tokens: config.apple_revocation.as_ref().and_then(|c| AppleTokens::new(c, http.clone())),
            microsoft: config.microsoft.as_ref().map(|c| {
                MicrosoftVerifier::new(c, http.clone(), jwks_settings(config), config.url_policy, key_sets.clone())
            }),
            custom: HashMap::new(),
            key_sets: key_sets.clone(),
        }
    }

    /// These providers with the custom OpenID Connect providers `configs` added (a later one of
    /// the same name replaces an earlier one), on `http`, sharing this environment's key sets.
    pub fn with_custom_oidc(
        mut self,
        configs: Vec<CustomOidcConfig>,
        http: &reqwest::Client,
        config: &Config,
    ) -> Providers {
        for c in configs {
            let verifier = CustomOidcVerifier::new(
                &c,
                http.clone(),
                jwks_settings(config),
                config.url_policy,
                self.key_sets.clone(),
            );
            self.custom.insert(c.name, verifier);
        }
        self
    }

    /// The provider call every request of this function is certain to need, when there is one:
    /// in a function configured for a single provider (a `<provider>-login` function,
    /// `apple-notifications`), its verifier's first call ([`FacebookVerifier::certain_call`] and
    /// the like). `login` is configured for every provider and the deletion functions for two
    /// (Facebook, and Apple's revocation), so which one a request needs is not known before it
    /// comes: none. Apple's revocation alone counts as Apple, with no call certain.
    pub fn certain_call(&self) -> Option<(&reqwest::Client, &str)> {
        let apple = match (&self.apple, &self.apple_tokens) {
            (Some(apple), _) => Some(Some(apple.certain_call())),
            (None, Some(_)) => Some(None),
            (None, None) => None,
        };
        the_only_one(
            [
                self.facebook.as_ref().map(|v| Some(v.certain_call())),
                self.google.as_ref().map(|v| Some(v.certain_call())),
                self.twitter.as_ref().map(|v| Some(v.certain_call())),
                self.linkedin.as_ref().map(|v| Some(v.certain_call())),
                apple,
                self.github.as_ref().map(|v| Some(v.certain_call())),
                // Microsoft's first call depends on the token's tenant: none is certain.
                self.microsoft.as_ref().map(|_| None),
            ]
            .into_iter()
            .flatten(),
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
            Provider::Microsoft => self.microsoft.is_some(),
            Provider::Oidc(name) => self.custom.contains_key(&name),
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
            Provider::Microsoft => self.microsoft.as_ref().ok_or(not_served)?.verify(creds).await,
            Provider::Oidc(name) => self.custom.get(&name).ok_or(not_served)?.verify(creds).await,
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

/// A provider's verdict on a token. What only a second request to the provider tells, and only
/// a new user needs (GitHub's verified email), is left for [`Providers::first_login`], so that a
/// returning login costs one provider round trip.
#[derive(Debug)]
pub struct Verified {
    pub identity: VerifiedIdentity,
    pub(crate) on_first_login: Option<FirstLogin>,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum FirstLogin {
    /// `GET /user/emails`: the token's scopes allow it.
    GitHubEmail,
}

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

#[cfg(test)]
mod tests {
    use super::*;

    /// A provider not configured is refused as not served: no panic, no call.
    #[tokio::test]
    async fn without_a_verifier_every_provider_is_not_served() {
        let providers = Providers::none();
        let creds = Credentials { access_token: Some(Secret::new("token")), ..Credentials::default() };
        let custom = Provider::Oidc(OidcName::configured("not-served-here").expect("valid"));
        for provider in Provider::ALL.into_iter().chain([Provider::Microsoft, custom]) {
            let result = providers.verify(provider, &creds).await;
            assert!(matches!(result, Err(ProviderError::NotServed)), "{provider:?}: {result:?}");
        }
    }

    /// Only a function configured for one provider knows the call its requests start with.
    #[test]
    fn only_a_function_configured_for_one_provider_has_a_certain_call() {
        assert_eq!(the_only_one([Some("graph")]), Some("graph"), "a provider login");
        assert_eq!(the_only_one::<&str>([]), None, "a session function");
        assert_eq!(
            the_only_one([Some("graph"), None]),
            None,
            "the deletion functions: Facebook and Apple's revocation"
        );
        assert_eq!(the_only_one::<&str>([None]), None, "Apple's revocation alone: no call is certain");
        assert_eq!(the_only_one([Some("graph"), Some("jwks"), Some("api")]), None, "login");
    }

    fn config(vars: &[(&str, &str)], without: &[&str]) -> Config {
        let mut v = crate::config::tests::vars();
        for name in without {
            v.remove(*name);
        }
        v.extend(vars.iter().map(|(k, val)| (k.to_string(), val.to_string())));
        Config::from_lookup(|k| v.get(k).cloned()).expect("valid")
    }

    /// Which providers a function serves is its configuration: no provider, no verifier and no
    /// client; one provider, its call opened in init; several, none.
    #[test]
    fn the_certain_call_follows_the_configured_providers() {
        let none = config(&[], &["FACEBOOK_APP_ID"]);
        assert!(!configures_any(&none));
        let providers = Providers::new(&none).expect("no client to build");
        assert!(providers.certain_call().is_none());
        assert!(Provider::ALL.iter().all(|p| !none.serves(*p)));

        let facebook = Providers::new(&config(&[], &[])).expect("providers");
        assert!(facebook.facebook.is_some() && facebook.google.is_none());
        let (_, url) = facebook.certain_call().expect("Facebook's call");
        assert!(url.starts_with("https://graph.facebook.com/"), "{url}");

        let github = Providers::new(&config(
            &[("GITHUB_CLIENT_ID", "Iv1.0123456789abcdef"), ("GITHUB_CLIENT_SECRET", "s")],
            &["FACEBOOK_APP_ID"],
        ))
        .expect("providers");
        let (_, url) = github.certain_call().expect("GitHub's call");
        assert!(url.starts_with("https://api.github.com/"), "{url}");

        let both = Providers::new(&config(&[("GOOGLE_CLIENT_IDS", "web.apps.googleusercontent.com")], &[]))
            .expect("providers");
        assert!(both.certain_call().is_none(), "Facebook and Google: no call is certain");
    }
}
