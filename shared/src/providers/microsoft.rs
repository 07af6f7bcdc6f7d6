//! Microsoft (`microsoft` / Syncano `microsoft-graph`): a preset of the custom OpenID Connect
//! verifier ([`super::custom_oidc`]) for Entra ID work and school accounts and personal
//! Microsoft accounts.
//!
//! - Discovery at `{authority}/{tenant}/v2.0/.well-known/openid-configuration` (`common`,
//!   `organizations`, `consumers` or one tenant id); its `issuer` holds a `{tenantid}`
//!   placeholder: a token's `iss` must be that issuer with the token's own `tid`, and the tenant
//!   setting must admit the `tid` (one tenant: that one; `organizations`: any but the consumer
//!   tenant; `consumers`: only it).
//! - RS256 ID tokens for one of our application (client) ids, nonce as Apple's.
//! - The subject is `{tid}:{oid}`: `oid` is the same for every app of a tenant, whereas `sub` is
//!   pairwise per application id (two client ids would see two people).
//! - **Never linked by email**: Microsoft does not verify the `email` claim (any tenant admin can
//!   set any address: the "nOAuth" takeover), so `email_verified` is always false.

use std::sync::Arc;

use super::custom_oidc::CustomOidcVerifier;
use super::discovery::KeySets;
use super::jwks::JwksSettings;
use super::{Credentials, ProviderError};
use crate::config::{MicrosoftConfig, UrlPolicy};
use crate::domain::identity::VerifiedIdentity;

pub struct MicrosoftVerifier {
    inner: CustomOidcVerifier,
}

impl MicrosoftVerifier {
    pub fn new(
        config: &MicrosoftConfig,
        http: reqwest::Client,
        settings: JwksSettings,
        policy: UrlPolicy,
        sets: Arc<KeySets>,
    ) -> MicrosoftVerifier {
        MicrosoftVerifier {
            inner: CustomOidcVerifier::microsoft(
                config.tenant.clone(),
                config.client_ids.clone(),
                config.discovery_url(),
                http,
                settings,
                policy,
                sets,
            ),
        }
    }

    pub async fn verify(&self, creds: &Credentials) -> Result<VerifiedIdentity, ProviderError> {
        self.inner.verify(creds).await
    }
}
