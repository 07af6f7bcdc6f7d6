//! Plain OAuth access tokens (Google, LinkedIn) for tokeninfo/userinfo, and LinkedIn's token
//! introspection by the apps allowed to use it.

use std::fmt;

use super::{Oidc, OidcError, OidcProvider, OidcUser};
use crate::util::{lock, now, random_alnum};

/// Scopes of the Google access tokens, as tokeninfo lists them.
pub(super) const GOOGLE_SCOPES: &str =
    "https://www.googleapis.com/auth/userinfo.email https://www.googleapis.com/auth/userinfo.profile openid";

/// A LinkedIn app that may introspect access tokens (`POST /linkedin/oauth/v2/introspectToken`).
#[derive(Clone, PartialEq, Eq)]
pub struct LinkedInApp {
    pub client_id: String,
    pub client_secret: String,
}

impl fmt::Debug for LinkedInApp {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("LinkedInApp").field("client_id", &self.client_id).field("client_secret", &"<redacted>").finish()
    }
}

/// One plain OAuth access token (Google, LinkedIn).
#[derive(Clone, Debug)]
pub(crate) struct AccessToken {
    provider: OidcProvider,
    pub(super) sub: String,
    pub(super) aud: String,
    pub(super) expires_at: i64,
    revoked: bool,
}

impl Oidc {
    pub(crate) fn issue_access_token(&self, provider: OidcProvider, sub: &str, aud: &str) -> Result<String, OidcError> {
        if !provider.has_access_tokens() {
            return Err(OidcError::NoAccessTokens);
        }
        let mut data = lock(&self.data);
        if !data.users.contains_key(&(provider, sub.to_string())) {
            return Err(OidcError::UnknownUser);
        }
        let (ttl, token) = loop {
            let (ttl, token) = match provider {
                // Google's are `ya29.` and about 200 characters, valid an hour.
                OidcProvider::Google => (3599, format!("ya29.a0{}", random_alnum(160))),
                // LinkedIn's are opaque, about 350 characters, valid 60 days.
                _ => (60 * 24 * 3600 - 1, format!("AQ{}", random_alnum(300))),
            };
            if !data.access_tokens.contains_key(&token) {
                break (ttl, token);
            }
        };
        let record = AccessToken {
            provider,
            sub: sub.to_string(),
            aud: aud.to_string(),
            expires_at: now() + ttl,
            revoked: false,
        };
        data.access_tokens.insert(token.clone(), record);
        Ok(token)
    }

    pub(crate) fn revoke_access_token(&self, token: &str) {
        if let Some(record) = lock(&self.data).access_tokens.get_mut(token) {
            record.revoked = true;
        }
    }

    /// LinkedIn token introspection for the app `client_id`/`client_secret`: `None` if the app's
    /// credentials are wrong; otherwise whether the token is live, and the client it was issued to.
    pub(crate) fn introspect_linkedin(
        &self,
        client_id: &str,
        client_secret: &str,
        token: &str,
        now: i64,
    ) -> Option<Option<(String, i64)>> {
        self.linkedin_apps.iter().find(|a| a.client_id == client_id && a.client_secret == client_secret)?;
        Some(
            self.check_access_token(OidcProvider::LinkedIn, token, now)
                .map(|(record, _)| (record.aud, record.expires_at)),
        )
    }

    /// The live access token `token` of `provider` and its user, if it is one.
    pub(super) fn check_access_token(
        &self,
        provider: OidcProvider,
        token: &str,
        now: i64,
    ) -> Option<(AccessToken, OidcUser)> {
        let data = lock(&self.data);
        let record = data.access_tokens.get(token)?;
        if record.provider != provider || record.revoked || now >= record.expires_at {
            return None;
        }
        let user = data.users.get(&(provider, record.sub.clone()))?;
        Some((record.clone(), user.clone()))
    }
}
