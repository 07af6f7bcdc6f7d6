//! The custom OpenID Connect issuers and the Microsoft-like multi-tenant issuer on the
//! [`Emulator`] handle: their base URL, creation, ID tokens, rotation, faults and counters, and
//! Microsoft's users.

use super::Emulator;
use crate::faults::Fault;
use crate::oidc::{FaultOn, MicrosoftUser, OidcIssuerInfo, OidcIssuerOptions, SigningMode};

impl Emulator {
    /// The base URL the custom and Microsoft issuers are named under (`{base}/oidc/{name}`,
    /// `{base}/microsoft/{tid}/v2.0`): by default the first [`Emulator::spawn`]'s; set it to a
    /// front's (e.g. an `https://` TLS front forwarding to the emulator) before minting tokens.
    pub fn set_public_base(&self, base: &str) {
        self.shared.oidc.custom.set_base(base);
    }

    /// Creates the custom OIDC issuer `name` (1 to 63 of `a-z`, `0-9`, `-`, `_`; not
    /// `microsoft`): issuer `{base}/oidc/{name}`, discovery at
    /// `{base}/oidc/{name}/.well-known/openid-configuration`, JWKS at `{base}/oidc/{name}/jwks`.
    ///
    /// # Panics
    /// If the name is invalid or taken, or the base URL is not known yet (spawn first): mistakes
    /// in the calling test.
    pub fn create_oidc_issuer(&self, name: &str, options: OidcIssuerOptions) -> OidcIssuerInfo {
        self.shared.oidc.custom.create(name, options).unwrap_or_else(|e| panic!("create_oidc_issuer: {e}"))
    }

    /// The URLs, algorithm and current kid of the custom issuer `name`. Panics if unknown.
    pub fn oidc_issuer(&self, name: &str) -> OidcIssuerInfo {
        self.shared.oidc.custom.info_of(name).unwrap_or_else(|e| panic!("oidc_issuer: {e}"))
    }

    /// A valid ID token of the custom issuer `name` for `aud`: `iss`, `aud`, a random `sub`,
    /// `iat`, `exp` (an hour later), with `claims` (a JSON object, or `null`) merged over them; a
    /// `null` member removes a claim. Signed with the issuer's current key and algorithm.
    ///
    /// # Panics
    /// If `name` is not a custom issuer of this emulator.
    pub fn issue_custom_id_token(&self, name: &str, aud: &str, claims: serde_json::Value) -> String {
        self.shared
            .oidc
            .custom
            .issue(name, aud, &claims, SigningMode::Current)
            .unwrap_or_else(|e| panic!("issue_custom_id_token: {e}"))
    }

    /// Signs `claims` exactly as given with the current key of the issuer `name` (a custom one
    /// or [`crate::MICROSOFT`]), as `mode` says: [`Emulator::sign_id_token`] for custom issuers.
    /// For RSA issuers `OtherAlg` is the same key under another RSA algorithm (RS512 for RS256,
    /// else RS256); for ES256 issuers it is RS256 with an RSA fixture under the current kid.
    ///
    /// # Panics
    /// If there is no issuer `name`.
    pub fn sign_custom_id_token(&self, name: &str, claims: serde_json::Value, mode: SigningMode) -> String {
        self.shared.oidc.custom.sign(name, &claims, mode).unwrap_or_else(|e| panic!("sign_custom_id_token: {e}"))
    }

    /// Rotates the key of the issuer `name` (a custom one or [`crate::MICROSOFT`]): new tokens
    /// carry the new kid, its JWKS lists the new key and the previous one. Returns the new kid.
    pub fn rotate_oidc_issuer(&self, name: &str) -> String {
        self.shared.oidc.custom.rotate(name).unwrap_or_else(|e| panic!("rotate_oidc_issuer: {e}"))
    }

    /// The kid the issuer `name` (a custom one or [`crate::MICROSOFT`]) signs new tokens with.
    pub fn oidc_issuer_kid(&self, name: &str) -> String {
        self.shared.oidc.custom.current_kid(name).unwrap_or_else(|e| panic!("oidc_issuer_kid: {e}"))
    }

    /// Sets the fault of the issuer `name` (a custom one or [`crate::MICROSOFT`]) on its
    /// discovery, its JWKS or both (`on`); it wins over [`Emulator::set_fault`] for that issuer.
    /// [`Fault::None`] clears it (the emulator-wide fault applies again).
    pub fn set_oidc_issuer_fault(&self, name: &str, fault: Fault, on: FaultOn) {
        self.shared.oidc.custom.set_fault(name, fault, on).unwrap_or_else(|e| panic!("set_oidc_issuer_fault: {e}"));
    }

    /// `(discovery fetches, JWKS fetches)` of the issuer `name`, faulted ones included.
    pub fn oidc_issuer_fetches(&self, name: &str) -> (u64, u64) {
        self.shared.oidc.custom.fetches(name).unwrap_or_else(|e| panic!("oidc_issuer_fetches: {e}"))
    }

    /// Creates a user of the Microsoft-like issuer in `tenant` (a tenant id GUID; `None` or
    /// `Some("consumers")` for a personal account, tenant [`crate::MICROSOFT_CONSUMER_TENANT`]).
    /// `email` is the `email` claim as is, any address (Microsoft does not verify it).
    ///
    /// # Panics
    /// If `tenant` is neither a GUID nor `consumers`.
    pub fn create_microsoft_user(
        &self,
        tenant: Option<&str>,
        name: &str,
        preferred_username: &str,
        email: Option<&str>,
    ) -> MicrosoftUser {
        self.shared
            .oidc
            .custom
            .create_microsoft_user(tenant, name, preferred_username, email)
            .unwrap_or_else(|e| panic!("create_microsoft_user: {e}"))
    }

    /// A valid Microsoft v2.0 ID token of the user `oid` for the app `aud`: `iss`
    /// `{base}/microsoft/{tid}/v2.0` with the user's tenant id, `tid`, `oid`, a pairwise `sub`
    /// (per app, as Microsoft's), `name`, `preferred_username`, `email` (when the user has one),
    /// `nonce` as given, `ver` `2.0`; `claims` merged over them (a `null` removes one).
    ///
    /// # Panics
    /// If `oid` is not a Microsoft user of this emulator.
    pub fn issue_microsoft_id_token(
        &self,
        oid: &str,
        aud: &str,
        nonce: Option<&str>,
        claims: serde_json::Value,
    ) -> String {
        self.shared
            .oidc
            .custom
            .issue_microsoft(oid, aud, nonce, &claims)
            .unwrap_or_else(|e| panic!("issue_microsoft_id_token: {e}"))
    }

    /// The discovery URL of the Microsoft-like issuer for `tenant` (`common`, `organizations`,
    /// `consumers` or a tenant id): `{base}/microsoft/{tenant}/v2.0/.well-known/openid-configuration`.
    pub fn microsoft_discovery_url(&self, tenant: &str) -> String {
        let base = self.shared.oidc.custom.base().unwrap_or_else(|e| panic!("microsoft_discovery_url: {e}"));
        format!("{base}/microsoft/{tenant}/v2.0/.well-known/openid-configuration")
    }

    /// The `iss` of the Microsoft-like issuer's tokens for the tenant id `tid`:
    /// `{base}/microsoft/{tid}/v2.0`.
    pub fn microsoft_issuer(&self, tid: &str) -> String {
        let base = self.shared.oidc.custom.base().unwrap_or_else(|e| panic!("microsoft_issuer: {e}"));
        format!("{base}/microsoft/{tid}/v2.0")
    }
}
