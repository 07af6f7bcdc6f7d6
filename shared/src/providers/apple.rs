//! Sign in with Apple (`apple`): ID tokens only, verified locally against Apple's JWKS (RS256,
//! `iss` `https://appleid.apple.com`, `aud` one of our bundle/service ids) and bound to the login
//! attempt by the nonce: the client sends the raw nonce, the token carries its SHA-256.
//!
//! Apple gives the person's name to the app only, on the first sign-in, never in the token: the
//! client may send it (`name`), and the store keeps it when it creates the user. It is display
//! data, never used to identify anyone.

use serde::Deserialize;
use serde_json::Value;

use super::jwks::JwksCache;
use super::oidc::{self, IdTokenRules, IdTokenVerifier, NonceRule};
use super::{Credentials, ProviderError};
use crate::config::AppleConfig;
use crate::domain::identity::{Provider, VerifiedIdentity};

pub const ISSUERS: &[&str] = &["https://appleid.apple.com"];
const MAX_NAME: usize = 128;

pub struct AppleVerifier {
    /// Apple's keys and our client ids; server-to-server notifications are checked with them too
    /// ([`super::apple_notification`]).
    pub(super) id_tokens: IdTokenVerifier,
}

#[derive(Debug, Deserialize)]
struct Claims {
    email: Option<String>,
    email_verified: Option<Value>,
}

impl AppleVerifier {
    /// The call a returning login starts with ([`super::Providers::certain_call`]): the key set
    /// (Sign in with Apple gives only ID tokens).
    pub(crate) fn certain_call(&self) -> (&reqwest::Client, &str) {
        self.id_tokens.key_source()
    }

    pub fn new(config: &AppleConfig, _http: reqwest::Client, jwks: std::sync::Arc<JwksCache>) -> AppleVerifier {
        AppleVerifier {
            id_tokens: IdTokenVerifier::new(
                Provider::Apple,
                jwks,
                IdTokenRules { issuers: ISSUERS, audiences: config.client_ids.clone(), nonce: NonceRule::Sha256OfRaw },
            ),
        }
    }

    pub async fn verify(&self, creds: &Credentials) -> Result<VerifiedIdentity, ProviderError> {
        let token = match (&creds.id_token, &creds.access_token) {
            (Some(t), _) => t,
            (None, Some(_)) => return Err(ProviderError::Rejected("Apple accepts identity tokens only".into())),
            (None, None) => return Err(ProviderError::MissingCredential("id_token")),
        };
        let (sub, claims) = self.id_tokens.claims::<Claims>(token, creds.nonce.as_ref()).await?;
        let name = creds
            .name
            .as_ref()
            .map(|n| n.trim().chars().filter(|c| !c.is_control()).take(MAX_NAME).collect::<String>())
            .filter(|n| !n.is_empty());
        Ok(VerifiedIdentity {
            provider: Provider::Apple,
            subject: sub,
            name,
            email_verified: claims.email.is_some() && oidc::truthy(&claims.email_verified),
            hosted_domain: None,
            email: claims.email,
            avatar_url: None,
        })
    }
}
