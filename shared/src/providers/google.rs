//! Google (`google-oauth2` / `google`).
//!
//! - ID token (Rocket.Chat `idToken`, or a Syncano `access_token` that is a JWT): verified
//!   locally against Google's JWKS (RS256, `iss` `accounts.google.com` or
//!   `https://accounts.google.com`, `aud` one of our client ids). When a client sends both an ID
//!   token and an access token, the ID token wins.
//! - Plain access token: `tokeninfo` must say it was issued to one of our client ids (`aud`, or
//!   `azp` when there is no `aud`) and is not expired; then `userinfo` gives the profile, whose
//!   `sub` must be the same person. Two round trips.

use serde::Deserialize;
use serde_json::Value;

use super::jwks::JwksCache;
use super::oidc::{self, IdTokenRules, IdTokenVerifier, NonceRule};
use super::{outage, parse_json, send, Credentials, ProviderError};
use crate::config::GoogleConfig;
use crate::domain::identity::{Provider, VerifiedIdentity};
use crate::domain::secret::Secret;

pub const ISSUERS: &[&str] = &["accounts.google.com", "https://accounts.google.com"];

pub struct GoogleVerifier {
    http: reqwest::Client,
    id_tokens: IdTokenVerifier,
    client_ids: Vec<String>,
    tokeninfo_url: String,
    userinfo_url: String,
}

#[derive(Debug, Deserialize)]
pub(crate) struct TokenInfo {
    aud: Option<String>,
    azp: Option<String>,
    sub: Option<String>,
    expires_in: Option<Value>,
}

impl GoogleVerifier {
    /// The call a returning login starts with ([`super::Providers::certain_call`]): the key set
    /// (Google Sign-In gives ID tokens; an access token goes to `tokeninfo` on another host).
    pub(crate) fn certain_call(&self) -> (&reqwest::Client, &str) {
        self.id_tokens.key_source()
    }

    pub fn new(config: &GoogleConfig, http: reqwest::Client, jwks: std::sync::Arc<JwksCache>) -> GoogleVerifier {
        GoogleVerifier {
            id_tokens: IdTokenVerifier::new(
                Provider::Google,
                jwks,
                IdTokenRules { issuers: ISSUERS, audiences: config.client_ids.clone(), nonce: NonceRule::None },
            ),
            client_ids: config.client_ids.clone(),
            tokeninfo_url: config.tokeninfo_url.clone(),
            userinfo_url: config.userinfo_url.clone(),
            http,
        }
    }

    pub async fn verify(&self, creds: &Credentials) -> Result<VerifiedIdentity, ProviderError> {
        if let Some(id_token) = &creds.id_token {
            return self.id_tokens.identity(id_token, None).await;
        }
        let token = creds.require_access_token()?;
        self.verify_access_token(token).await
    }

    async fn verify_access_token(&self, token: &Secret) -> Result<VerifiedIdentity, ProviderError> {
        let (status, body) =
            send(self.http.get(&self.tokeninfo_url).query(&[("access_token", token.expose())])).await?;
        if !status.is_success() {
            return Err(
                outage(status).unwrap_or_else(|| ProviderError::Rejected(format!("tokeninfo answered {status}")))
            );
        }
        let info: TokenInfo = parse_json(&body, "tokeninfo")?;
        let ours = |v: &Option<String>| v.as_ref().is_some_and(|a| self.client_ids.iter().any(|c| c == a));
        let bound = if info.aud.is_some() { ours(&info.aud) } else { ours(&info.azp) };
        if !bound {
            return Err(ProviderError::Rejected("access token issued to another client".into()));
        }
        let expires_in = match &info.expires_in {
            Some(Value::Number(n)) => n.as_i64(),
            Some(Value::String(s)) => s.parse().ok(),
            _ => None,
        };
        if expires_in.is_none_or(|s| s <= 0) {
            return Err(ProviderError::Rejected("access token expired".into()));
        }
        let sub = info
            .sub
            .filter(|s| !s.is_empty())
            .ok_or_else(|| ProviderError::BadResponse("tokeninfo has no sub".into()))?;

        let profile = oidc::userinfo(&self.http, &self.userinfo_url, token).await?;
        if profile.sub.as_deref() != Some(sub.as_str()) {
            return Err(ProviderError::BadResponse("userinfo is about another person".into()));
        }
        Ok(profile.into_identity(Provider::Google, sub))
    }
}
