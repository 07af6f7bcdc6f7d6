//! Custom OpenID Connect providers (Keycloak, Okta, Auth0, any issuer), and the code Microsoft's
//! preset ([`super::microsoft`]) runs on.
//!
//! - **ID tokens only**: an opaque access token, or a JWT that is an access token (`typ`
//!   `at+jwt`, or a `scp`/`scope` claim), is rejected: its audience is not our app.
//! - **Keys**: the issuer's JWKS, from its discovery document (whose `issuer` must be the
//!   configured one) or an explicit URL; cached per URL with the built-ins' bounded staleness
//!   ([`super::jwks`], [`super::discovery`]): discovery or JWKS down past `JWKS_MAX_STALE_SECS` is
//!   [`ProviderError::Unavailable`] (502).
//! - **Algorithm pinned**: the token's `alg` must be one of the configured ones (asymmetric only:
//!   `none` and `HS*` cannot be configured) **and** the key its `kid` names must be for it (its
//!   `kty`/`crv`, and its `alg` if the JWKS names one).
//! - `iss` (exactly the configured issuer; Microsoft: the discovery issuer's `{tenantid}` with the
//!   token's `tid`), `aud` one of our client ids (an `azp`, required with several audiences, must
//!   be one of them too), `exp`/`nbf`/`iat` with [`oidc::LEEWAY_SECS`], a non-empty `sub`.
//! - **Nonce as Apple's**: required; the client sends the raw nonce, the token's `nonce` must be
//!   its lowercase hex SHA-256.
//! - The profile from the configured claims; `email_verified` only where the operator trusts
//!   the issuer for email (`trust_email`), never for Microsoft.

use std::sync::Arc;

use jsonwebtoken::{Algorithm, Validation};
use serde_json::Value;

use super::discovery::{DiscoveryCache, KeySets};
use super::jwks::{JwksCache, JwksSettings};
use super::oidc::{self, LEEWAY_SECS};
use super::{http_url, Credentials, ProviderError};
use crate::config::{ClaimNames, CustomOidcConfig, JwksSource, MicrosoftTenant, SigningAlgorithm, UrlPolicy};
use crate::domain::identity::{Provider, VerifiedIdentity};
use crate::domain::secret::Secret;
use crate::domain::tokens::sha256_hex;

/// The `jsonwebtoken` algorithm of a configured one.
pub fn jose(alg: SigningAlgorithm) -> Algorithm {
    match alg {
        SigningAlgorithm::RS256 => Algorithm::RS256,
        SigningAlgorithm::RS384 => Algorithm::RS384,
        SigningAlgorithm::RS512 => Algorithm::RS512,
        SigningAlgorithm::PS256 => Algorithm::PS256,
        SigningAlgorithm::PS384 => Algorithm::PS384,
        SigningAlgorithm::PS512 => Algorithm::PS512,
        SigningAlgorithm::ES256 => Algorithm::ES256,
        SigningAlgorithm::ES384 => Algorithm::ES384,
        SigningAlgorithm::EdDSA => Algorithm::EdDSA,
    }
}

/// Where the verifier finds the issuer's keys.
enum Keys {
    Fixed(Arc<JwksCache>),
    Discovered { discovery: Arc<DiscoveryCache>, http: reqwest::Client, settings: JwksSettings, sets: Arc<KeySets> },
}

/// How `iss` is checked.
pub(crate) enum IssuerRule {
    /// Equal to this (and, with discovery, the document's `issuer` too).
    Exact(String),
    /// Microsoft: the discovery document's issuer with `{tenantid}` replaced by the token's
    /// `tid`, which the tenant setting must admit.
    Microsoft(MicrosoftTenant),
}

/// One OpenID Connect provider's ID tokens.
pub struct CustomOidcVerifier {
    provider: Provider,
    audiences: Vec<String>,
    algorithms: Vec<Algorithm>,
    keys: Keys,
    issuer: IssuerRule,
    claims: ClaimNames,
    trust_email: bool,
}

impl CustomOidcVerifier {
    /// The verifier of a custom provider; its key sets come from (and go to) `sets`.
    pub fn new(
        config: &CustomOidcConfig,
        http: reqwest::Client,
        settings: JwksSettings,
        policy: UrlPolicy,
        sets: Arc<KeySets>,
    ) -> CustomOidcVerifier {
        let keys = match &config.jwks {
            JwksSource::Url(url) => Keys::Fixed(sets.get(&http, url, settings)),
            JwksSource::Discovery => {
                let url = format!("{}/.well-known/openid-configuration", config.issuer.trim_end_matches('/'));
                Keys::Discovered { discovery: sets.discovery(&http, &url, policy, settings), http, settings, sets }
            }
        };
        CustomOidcVerifier {
            provider: Provider::Oidc(config.name),
            audiences: config.client_ids.clone(),
            algorithms: config.algorithms.iter().map(|a| jose(*a)).collect(),
            keys,
            issuer: IssuerRule::Exact(config.issuer.clone()),
            claims: config.claims.clone(),
            trust_email: config.trust_email,
        }
    }

    /// Microsoft's verifier ([`super::microsoft`]): discovery at `discovery_url`, RS256.
    pub(crate) fn microsoft(
        tenant: MicrosoftTenant,
        client_ids: Vec<String>,
        discovery_url: String,
        http: reqwest::Client,
        settings: JwksSettings,
        policy: UrlPolicy,
        sets: Arc<KeySets>,
    ) -> CustomOidcVerifier {
        CustomOidcVerifier {
            provider: Provider::Microsoft,
            audiences: client_ids,
            algorithms: vec![Algorithm::RS256],
            keys: Keys::Discovered {
                discovery: sets.discovery(&http, &discovery_url, policy, settings),
                http,
                settings,
                sets,
            },
            issuer: IssuerRule::Microsoft(tenant),
            claims: ClaimNames { name: "name".into(), email: "email".into(), picture: "picture".into() },
            trust_email: false,
        }
    }

    pub async fn verify(&self, creds: &Credentials) -> Result<VerifiedIdentity, ProviderError> {
        let (subject, claims) = self.verified_claims(creds).await?;
        let text = |name: &str, max: usize| {
            claims
                .get(name)
                .and_then(Value::as_str)
                .map(|s| s.trim().chars().filter(|c| !c.is_control()).take(max).collect::<String>())
                .filter(|s| !s.is_empty())
        };
        let email = text(&self.claims.email, 320);
        let email_verified = self.trust_email
            && self.provider != Provider::Microsoft
            && email.is_some()
            && oidc::truthy(&claims.get("email_verified").cloned());
        Ok(VerifiedIdentity {
            provider: self.provider,
            subject,
            name: text(&self.claims.name, 256),
            email,
            email_verified,
            hosted_domain: None,
            avatar_url: http_url(text(&self.claims.picture, 2048)),
        })
    }

    /// The verified token's subject (Microsoft: `{tid}:{oid}`) and claims.
    pub(crate) async fn verified_claims(&self, creds: &Credentials) -> Result<(String, Value), ProviderError> {
        let rejected = |why: &str| ProviderError::Rejected(why.to_string());
        let token = match (&creds.id_token, &creds.access_token) {
            (Some(t), _) => t,
            (None, Some(t)) if oidc::looks_like_jwt(t.expose()) => t,
            (None, Some(_)) => {
                return Err(rejected(
                    "this provider accepts ID tokens only (an access token cannot be bound to our app)",
                ))
            }
            (None, None) => return Err(ProviderError::MissingCredential("id_token")),
        };
        let header =
            jsonwebtoken::decode_header(token.expose()).map_err(|_| rejected("malformed or unsupported JWT header"))?;
        if header.typ.as_deref().is_some_and(|t| t.eq_ignore_ascii_case("at+jwt")) {
            return Err(rejected("an access token, not an ID token"));
        }
        if !self.algorithms.contains(&header.alg) {
            return Err(rejected("algorithm not allowed"));
        }
        let kid = header.kid.ok_or_else(|| rejected("no kid"))?;
        let (jwks, discovered_issuer) = match &self.keys {
            Keys::Fixed(jwks) => (jwks.clone(), None),
            Keys::Discovered { discovery, http, settings, sets } => {
                let doc = discovery.get().await?;
                (sets.get(http, &doc.jwks_uri, *settings), Some(doc.issuer.clone()))
            }
        };
        if let (IssuerRule::Exact(issuer), Some(found)) = (&self.issuer, &discovered_issuer) {
            if found != issuer {
                return Err(ProviderError::BadResponse("discovery document names another issuer".into()));
            }
        }
        let key = jwks.key_for(&kid, header.alg).await?;

        let mut validation = Validation::new(header.alg);
        if let IssuerRule::Exact(issuer) = &self.issuer {
            validation.set_issuer(&[issuer]);
        }
        validation.set_audience(&self.audiences);
        validation.set_required_spec_claims(&["exp", "iss", "aud", "sub"]);
        validation.leeway = LEEWAY_SECS;
        validation.validate_nbf = true;
        let claims = jsonwebtoken::decode::<Value>(token.expose(), &key, &validation)
            .map_err(|e| rejected(super::oidc::why_refused(&e)))?
            .claims;
        if claims.get("scp").is_some() || claims.get("scope").is_some() {
            return Err(rejected("an access token, not an ID token"));
        }
        self.check_times_and_azp(&claims)?;
        check_nonce(&claims, creds.nonce.as_ref())?;
        let subject = match &self.issuer {
            IssuerRule::Exact(_) => string_claim(&claims, "sub").ok_or_else(|| rejected("empty sub"))?,
            IssuerRule::Microsoft(tenant) => {
                let issuer = discovered_issuer.ok_or_else(|| rejected("no issuer"))?;
                microsoft_subject(tenant, &issuer, &claims)?
            }
        };
        Ok((subject, claims))
    }

    fn check_times_and_azp(&self, claims: &Value) -> Result<(), ProviderError> {
        let rejected = |why: &str| ProviderError::Rejected(why.to_string());
        let iat =
            claims.get("iat").filter(|v| !v.is_null()).map(|v| v.as_i64().ok_or_else(|| rejected("malformed iat")));
        let now = i64::try_from(jsonwebtoken::get_current_timestamp()).unwrap_or(i64::MAX);
        if iat.transpose()?.is_some_and(|iat| iat > now.saturating_add(LEEWAY_SECS as i64)) {
            return Err(rejected("issued in the future"));
        }
        let several = claims.get("aud").and_then(Value::as_array).is_some_and(|a| a.len() > 1);
        match claims.get("azp") {
            Some(Value::String(azp)) if self.audiences.iter().any(|a| a == azp) => Ok(()),
            Some(_) => Err(rejected("authorized party is not our app")),
            None if several => Err(rejected("several audiences and no authorized party")),
            None => Ok(()),
        }
    }
}

/// A non-empty printable string claim of at most 255 characters.
fn string_claim(claims: &Value, name: &str) -> Option<String> {
    let v = claims.get(name)?.as_str()?;
    (!v.trim().is_empty() && v.len() <= 255 && !v.chars().any(char::is_control)).then(|| v.to_string())
}

/// Apple's rule: the client sends the raw nonce, the token carries its lowercase hex SHA-256.
fn check_nonce(claims: &Value, raw: Option<&Secret>) -> Result<(), ProviderError> {
    let rejected = |why: &str| ProviderError::Rejected(why.to_string());
    let raw = raw.ok_or_else(|| rejected("nonce missing"))?;
    let claim = claims.get("nonce").and_then(Value::as_str).ok_or_else(|| rejected("nonce claim missing"))?;
    if !oidc::constant_time_eq(claim.as_bytes(), sha256_hex(raw.expose()).as_bytes()) {
        return Err(rejected("nonce mismatch"));
    }
    Ok(())
}

/// Microsoft's issuer and tenant rules on a signature-checked token, and its subject
/// `{tid}:{oid}` (stable across the apps of a tenant; `sub` is pairwise per app).
pub(crate) fn microsoft_subject(
    tenant: &MicrosoftTenant,
    discovered_issuer: &str,
    claims: &Value,
) -> Result<String, ProviderError> {
    let rejected = |why: &str| ProviderError::Rejected(why.to_string());
    let tid = claims.get("tid").and_then(Value::as_str).ok_or_else(|| rejected("no tid"))?;
    if !crate::config::is_guid(tid) {
        return Err(rejected("malformed tid"));
    }
    let expected = discovered_issuer.replace("{tenantid}", tid);
    if claims.get("iss").and_then(Value::as_str) != Some(expected.as_str()) {
        return Err(rejected("wrong issuer"));
    }
    if !tenant.admits(tid) {
        return Err(rejected("tenant not allowed"));
    }
    let oid = string_claim(claims, "oid").ok_or_else(|| rejected("no oid (the profile scope is needed)"))?;
    Ok(format!("{tid}:{oid}"))
}
