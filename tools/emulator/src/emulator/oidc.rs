//! The built-in OpenID Connect providers' people, ID tokens, keys and access tokens on the
//! [`Emulator`] handle, and Sign in with Apple's authorization codes, refresh tokens, teams and
//! revocation failures.

use super::Emulator;
use crate::apple_tokens::{AppleTeam, RefreshToken};
use crate::oidc::{OidcProvider, SigningMode};

impl Emulator {
    /// Creates a user of an OIDC `provider`; returns their `sub` (shaped like the provider's:
    /// Google 21 digits, Apple `001234.<32 hex>.1234`, ...).
    pub fn create_oidc_user(
        &self,
        provider: OidcProvider,
        name: &str,
        email: Option<&str>,
        email_verified: bool,
    ) -> String {
        self.shared.oidc.create_user(provider, name, email, email_verified)
    }

    /// Mints a valid ID token for `sub` with audience `aud`, expiring in 1 h, signed RS256 with the
    /// provider's current key. `nonce`: for Apple the RAW nonce (the claim gets its lowercase hex
    /// SHA-256), for FacebookLimited the claim value itself (pass the hash your client sends);
    /// Google and LinkedIn echo it as given.
    ///
    /// # Panics
    /// If `sub` was not created for `provider` by this emulator (a mistake in the calling test).
    pub fn issue_id_token(&self, provider: OidcProvider, sub: &str, aud: &str, nonce: Option<&str>) -> String {
        match self.shared.oidc.issue_id_token(provider, sub, aud, nonce) {
            Ok(token) => token,
            Err(e) => panic!("issue_id_token: {provider} user {sub:?}: {e}"),
        }
    }

    /// Mints a token from explicit claims (sent exactly as given: set exp/nbf/iss/aud/sub/nonce
    /// as the test wishes) signed as `mode` says, for the verifier's security matrix.
    pub fn sign_id_token(&self, provider: OidcProvider, claims: serde_json::Value, mode: SigningMode) -> String {
        self.shared.oidc.sign(provider, &claims, mode)
    }

    /// The body Apple posts to a Sign in with Apple notification endpoint, `{"payload": JWS}`: the
    /// event of `kind` (`consent-revoked`, `account-delete`, `email-disabled`, ...) about `sub`,
    /// to the client id `aud`, signed with Apple's current key. For forged variants, sign
    /// [`crate::apple_notification_claims`] with [`Emulator::sign_id_token`].
    pub fn apple_notification(&self, aud: &str, kind: &str, sub: &str, email: Option<&str>) -> serde_json::Value {
        self.shared.oidc.apple_notification(aud, kind, sub, email)
    }

    /// The kid `provider` signs new tokens with.
    pub fn current_kid(&self, provider: OidcProvider) -> String {
        self.shared.oidc.current_kid(provider)
    }

    /// Switches `provider` to its next fixture key: new tokens carry the new kid, and its JWKS
    /// lists the new key and the previous one.
    pub fn rotate_keys(&self, provider: OidcProvider) {
        self.shared.oidc.rotate(provider);
    }

    /// Requests received by `provider`'s JWKS route (faulted ones included).
    pub fn jwks_fetches(&self, provider: OidcProvider) -> u64 {
        self.shared.oidc.jwks_fetches(provider)
    }

    /// Sets the `max-age` of every JWKS answer's `Cache-Control` (default 300 s).
    pub fn set_jwks_max_age(&self, secs: u64) {
        self.shared.oidc.set_jwks_max_age(secs);
    }

    /// A plain OAuth access token of a Google or LinkedIn user, for tokeninfo/userinfo, issued
    /// to the client id `aud` (Google: `ya29.` + random, valid 3599 s; LinkedIn: 60 days).
    ///
    /// # Panics
    /// For Apple and FacebookLimited (no such tokens), or if `sub` is not a user of `provider`.
    pub fn issue_oauth_access_token(&self, provider: OidcProvider, sub: &str, aud: &str) -> String {
        match self.shared.oidc.issue_access_token(provider, sub, aud) {
            Ok(token) => token,
            Err(e) => panic!("issue_oauth_access_token: {provider} user {sub:?}: {e}"),
        }
    }

    /// Revokes a Google or LinkedIn access token (tokeninfo/userinfo then reject it). Unknown
    /// tokens are ignored.
    pub fn revoke_oauth_access_token(&self, token: &str) {
        self.shared.oidc.revoke_access_token(token);
    }

    /// An authorization code Apple gives the app of `client_id` at `sub`'s sign-in (valid 5
    /// minutes, once).
    pub fn apple_authorization_code(&self, sub: &str, client_id: &str) -> String {
        self.shared.apple_tokens.mint_code(sub, client_id)
    }

    /// Every refresh token Apple issued for `sub`, revoked or not.
    pub fn apple_refresh_tokens(&self, sub: &str) -> Vec<RefreshToken> {
        self.shared.apple_tokens.refresh_tokens_of(sub)
    }

    /// Registers another Apple developer team (its key id, public key and client ids): the token
    /// and revoke endpoints take the client secrets of its client ids signed with its key only.
    pub fn add_apple_team(&self, team: AppleTeam) {
        self.shared.apple_tokens.add_team(team);
    }

    /// The next `count` calls of `/apple/auth/revoke` answer 503.
    pub fn fail_apple_revocations(&self, count: u64) {
        self.shared.apple_tokens.fail_revocations(count);
    }
}
