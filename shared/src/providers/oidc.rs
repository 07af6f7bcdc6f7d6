//! OpenID Connect ID tokens, verified locally against the provider's JWKS: RS256 only (pinned,
//! whatever the token's header says), `kid` required, signature, `iss` one of the provider's
//! issuers, `aud` one of our client ids, `exp`/`nbf`/`iat` with a small leeway, a non-empty
//! `sub`, and the nonce where the provider uses one.

use jsonwebtoken::errors::ErrorKind;
use jsonwebtoken::{Algorithm, Validation};
use serde::de::DeserializeOwned;
use serde::Deserialize;

use super::jwks::JwksCache;
pub use super::jwt::{looks_like_jwt, unverified_audience, unverified_subject};
use super::{display_name, http_url, ProviderError};
use crate::domain::identity::{Provider, VerifiedIdentity};
use crate::domain::secret::Secret;
use crate::domain::tokens::sha256_hex;

/// Clock skew tolerated on `exp`, `nbf` and `iat`, in seconds.
pub const LEEWAY_SECS: u64 = 60;

/// How the `nonce` claim binds the token to the client's login attempt.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum NonceRule {
    /// The provider uses no nonce here.
    None,
    /// The client sends the raw nonce; the claim must be its lowercase hex SHA-256 (Apple,
    /// Facebook Limited Login).
    Sha256OfRaw,
}

/// What one provider's ID tokens must satisfy.
pub struct IdTokenRules {
    pub issuers: &'static [&'static str],
    pub audiences: Vec<String>,
    pub nonce: NonceRule,
}

/// One provider's ID tokens: its key cache and the rules its tokens must satisfy.
pub struct IdTokenVerifier {
    provider: Provider,
    /// Shared by every verifier of the same key set ([`super::KeyCaches`]).
    jwks: std::sync::Arc<JwksCache>,
    rules: IdTokenRules,
}

impl IdTokenVerifier {
    pub fn new(provider: Provider, jwks: impl Into<std::sync::Arc<JwksCache>>, rules: IdTokenRules) -> IdTokenVerifier {
        IdTokenVerifier { provider, jwks: jwks.into(), rules }
    }

    /// The client and URL of the provider's key set, which the first ID token needs.
    pub(crate) fn key_source(&self) -> (&reqwest::Client, &str) {
        self.jwks.source()
    }

    /// Verifies `token` (see [`verify`]) and returns its `sub` and claims as `C`.
    pub async fn claims<C: DeserializeOwned>(
        &self,
        token: &Secret,
        raw_nonce: Option<&Secret>,
    ) -> Result<(String, C), ProviderError> {
        verify(&self.jwks, &self.rules, token, raw_nonce).await
    }

    /// Verifies a JWS signed with the provider's ID-token keys that is not an ID token (see
    /// [`verify_signed`]): its claims as `C`.
    pub async fn signed_claims<C: DeserializeOwned>(
        &self,
        token: &Secret,
        required: &[&str],
    ) -> Result<C, ProviderError> {
        let claims = verify_signed(&self.jwks, &self.rules, token, required).await?;
        serde_json::from_value(claims).map_err(|_| ProviderError::Rejected("malformed claims".into()))
    }

    /// Verifies `token` and reads the standard profile claims into an identity.
    pub async fn identity(
        &self,
        token: &Secret,
        raw_nonce: Option<&Secret>,
    ) -> Result<VerifiedIdentity, ProviderError> {
        let (sub, profile) = self.claims::<Profile>(token, raw_nonce).await?;
        Ok(profile.into_identity(self.provider, sub))
    }
}

/// The claims every ID token has; providers read their extra claims into their own struct.
#[derive(Debug, Deserialize)]
struct Standard {
    sub: Option<String>,
    nonce: Option<String>,
}

/// Verifies `token` and returns its claims as `C` (which must also tolerate every claim it does
/// not name). `raw_nonce` is what the client sent alongside.
pub async fn verify<C: DeserializeOwned>(
    jwks: &JwksCache,
    rules: &IdTokenRules,
    token: &Secret,
    raw_nonce: Option<&Secret>,
) -> Result<(String, C), ProviderError> {
    let rejected = |why: &str| ProviderError::Rejected(why.to_string());
    let claims = verify_signed(jwks, rules, token, &["exp", "iss", "aud", "sub"]).await?;
    let standard: Standard =
        serde_json::from_value(claims.clone()).map_err(|_| rejected("malformed standard claims"))?;
    let sub = standard.sub.filter(|s| !s.trim().is_empty()).ok_or_else(|| rejected("empty sub"))?;
    if rules.nonce == NonceRule::Sha256OfRaw {
        let raw = raw_nonce.ok_or_else(|| rejected("nonce missing"))?;
        let claim = standard.nonce.ok_or_else(|| rejected("nonce claim missing"))?;
        if !constant_time_eq(claim.as_bytes(), sha256_hex(raw.expose()).as_bytes()) {
            return Err(rejected("nonce mismatch"));
        }
    }
    let claims = serde_json::from_value(claims).map_err(|_| rejected("malformed claims"))?;
    Ok((sub, claims))
}

/// Verifies any JWS the provider signs with its ID-token keys (an ID token, Apple's
/// server-to-server notifications): RS256 only, `kid`, signature, `iss`, `aud`, `exp`/`nbf`
/// with the leeway, `iat` not in the future, and every claim `required` names present. Returns
/// the claims.
pub async fn verify_signed(
    jwks: &JwksCache,
    rules: &IdTokenRules,
    token: &Secret,
    required: &[&str],
) -> Result<serde_json::Value, ProviderError> {
    let rejected = |why: &str| ProviderError::Rejected(why.to_string());
    let header =
        jsonwebtoken::decode_header(token.expose()).map_err(|_| rejected("malformed or unsupported JWT header"))?;
    if header.alg != Algorithm::RS256 {
        return Err(rejected("algorithm not allowed"));
    }
    let kid = header.kid.ok_or_else(|| rejected("no kid"))?;
    let key = jwks.key(&kid).await?;

    let mut validation = Validation::new(Algorithm::RS256);
    validation.set_issuer(rules.issuers);
    validation.set_audience(&rules.audiences);
    validation.set_required_spec_claims(required);
    validation.leeway = LEEWAY_SECS;
    validation.validate_nbf = true;
    let data = jsonwebtoken::decode::<serde_json::Value>(token.expose(), &key, &validation)
        .map_err(|e| rejected(why_refused(&e)))?;
    let iat = data
        .claims
        .get("iat")
        .filter(|v| !v.is_null())
        .map(|v| v.as_i64().ok_or_else(|| rejected("malformed standard claims")));
    let now = i64::try_from(jsonwebtoken::get_current_timestamp()).unwrap_or(i64::MAX);
    if iat.transpose()?.is_some_and(|iat| iat > now.saturating_add(LEEWAY_SECS as i64)) {
        return Err(rejected("issued in the future"));
    }
    Ok(data.claims)
}

/// What a failed signature or claim check of an ID token says, for the refusal's log line.
pub(crate) fn why_refused(e: &jsonwebtoken::errors::Error) -> &'static str {
    match e.kind() {
        ErrorKind::ExpiredSignature => "expired",
        ErrorKind::ImmatureSignature => "not yet valid",
        ErrorKind::InvalidIssuer => "wrong issuer",
        ErrorKind::InvalidAudience => "wrong audience",
        ErrorKind::InvalidSignature => "bad signature",
        ErrorKind::InvalidAlgorithm => "algorithm not allowed",
        ErrorKind::MissingRequiredClaim(_) => "missing claim",
        _ => "invalid token",
    }
}

pub(crate) fn constant_time_eq(a: &[u8], b: &[u8]) -> bool {
    a.len() == b.len() && a.iter().zip(b).fold(0u8, |acc, (x, y)| acc | (x ^ y)) == 0
}

/// The standard OIDC profile claims, of an ID token or of a `userinfo` answer.
#[derive(Debug, Deserialize)]
pub struct Profile {
    pub sub: Option<String>,
    pub email: Option<String>,
    pub email_verified: Option<serde_json::Value>,
    pub name: Option<String>,
    pub given_name: Option<String>,
    pub family_name: Option<String>,
    pub picture: Option<String>,
    /// Google: the Workspace domain of the account (`hd`), absent for consumer accounts.
    pub hd: Option<String>,
}

impl Profile {
    /// The identity `provider` vouches for with these claims about `sub`.
    pub fn into_identity(self, provider: Provider, sub: String) -> VerifiedIdentity {
        VerifiedIdentity {
            provider,
            subject: sub,
            name: self
                .name
                .filter(|n| !n.trim().is_empty())
                .or_else(|| display_name(&[self.given_name.as_deref(), self.family_name.as_deref()])),
            email_verified: self.email.is_some() && truthy(&self.email_verified),
            email: self.email,
            hosted_domain: self.hd.filter(|hd| !hd.trim().is_empty()),
            avatar_url: http_url(self.picture),
        }
    }
}

/// An OIDC `userinfo` answer for a bearer `token`: a refusal is a rejected token, 5xx/429 an
/// outage.
pub async fn userinfo(http: &reqwest::Client, url: &str, token: &Secret) -> Result<Profile, ProviderError> {
    let (status, body) = super::send(http.get(url).bearer_auth(token.expose())).await?;
    if !status.is_success() {
        return Err(
            super::outage(status).unwrap_or_else(|| ProviderError::Rejected(format!("userinfo answered {status}")))
        );
    }
    super::parse_json(&body, "userinfo")
}

/// `email_verified` as providers send it: a boolean, or (Apple) the string `"true"`.
pub fn truthy(v: &Option<serde_json::Value>) -> bool {
    match v {
        Some(serde_json::Value::Bool(b)) => *b,
        Some(serde_json::Value::String(s)) => s == "true",
        _ => false,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn email_verified_accepts_bool_and_apples_string() {
        assert!(truthy(&Some(serde_json::json!(true))));
        assert!(truthy(&Some(serde_json::json!("true"))));
        assert!(!truthy(&Some(serde_json::json!("false"))));
        assert!(!truthy(&None));
    }

    #[test]
    fn constant_time_eq_compares() {
        assert!(constant_time_eq(b"abc", b"abc"));
        assert!(!constant_time_eq(b"abc", b"abd"));
        assert!(!constant_time_eq(b"abc", b"ab"));
    }
}
