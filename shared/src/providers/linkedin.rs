//! LinkedIn (`linkedin`), "Sign In with LinkedIn using OpenID Connect".
//!
//! - ID token: verified locally against LinkedIn's JWKS (RS256, `iss`
//!   `https://www.linkedin.com/oauth`, `aud` our client id).
//! - Access token: read through `userinfo`. LinkedIn's userinfo does not say which app the token
//!   was issued to, so the token is first introspected with our client secret
//!   (`introspectToken`: `active` and `client_id` ours). Without `LINKEDIN_CLIENT_SECRET`, access
//!   tokens are not accepted at all (fail closed); ID tokens are.

use serde::Deserialize;

use super::jwks::JwksCache;
use super::oidc::{self, IdTokenRules, IdTokenVerifier, NonceRule};
use super::{outage, parse_json, send, Credentials, ProviderError};
use crate::config::LinkedInConfig;
use crate::domain::identity::{Provider, VerifiedIdentity};
use crate::domain::secret::Secret;

pub const ISSUERS: &[&str] = &["https://www.linkedin.com/oauth"];

pub struct LinkedInVerifier {
    http: reqwest::Client,
    id_tokens: IdTokenVerifier,
    client_id: String,
    client_secret: Option<Secret>,
    introspect_url: String,
    userinfo_url: String,
}

#[derive(Debug, Deserialize)]
pub(crate) struct Introspection {
    active: Option<bool>,
    client_id: Option<String>,
}

impl LinkedInVerifier {
    /// The call a returning login starts with ([`super::Providers::certain_call`]): the key set
    /// (Sign In with LinkedIn gives ID tokens; an access token is introspected on another host).
    pub(crate) fn certain_call(&self) -> (&reqwest::Client, &str) {
        self.id_tokens.key_source()
    }

    pub fn new(config: &LinkedInConfig, http: reqwest::Client, jwks: std::sync::Arc<JwksCache>) -> LinkedInVerifier {
        LinkedInVerifier {
            id_tokens: IdTokenVerifier::new(
                Provider::LinkedIn,
                jwks,
                IdTokenRules { issuers: ISSUERS, audiences: vec![config.client_id.clone()], nonce: NonceRule::None },
            ),
            client_id: config.client_id.clone(),
            client_secret: config.client_secret.clone(),
            introspect_url: config.introspect_url.clone(),
            userinfo_url: config.userinfo_url.clone(),
            http,
        }
    }

    pub async fn verify(&self, creds: &Credentials) -> Result<VerifiedIdentity, ProviderError> {
        if let Some(id_token) = &creds.id_token {
            return self.id_tokens.identity(id_token, None).await;
        }
        let token = creds.access_token.as_ref().ok_or(ProviderError::MissingCredential("id_token"))?;
        let Some(secret) = &self.client_secret else {
            return Err(ProviderError::Rejected(
                "LinkedIn access tokens need introspection, which is not configured".into(),
            ));
        };
        let form =
            [("client_id", self.client_id.as_str()), ("client_secret", secret.expose()), ("token", token.expose())];
        let (status, body) = send(self.http.post(&self.introspect_url).form(&form)).await?;
        if !status.is_success() {
            return Err(outage(status)
                .unwrap_or_else(|| ProviderError::Unavailable(format!("introspection answered {status}"))));
        }
        let intro: Introspection = parse_json(&body, "introspection")?;
        if intro.active != Some(true) || intro.client_id.as_deref() != Some(self.client_id.as_str()) {
            return Err(ProviderError::Rejected("access token inactive or issued to another app".into()));
        }
        let profile = oidc::userinfo(&self.http, &self.userinfo_url, token).await?;
        let sub = profile
            .sub
            .clone()
            .filter(|s| !s.is_empty())
            .ok_or_else(|| ProviderError::BadResponse("userinfo has no sub".into()))?;
        Ok(profile.into_identity(Provider::LinkedIn, sub))
    }
}
