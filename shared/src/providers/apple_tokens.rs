//! Our own calls to Sign in with Apple's REST API: exchanging the authorization code an app got
//! with the identity token (`POST /auth/token`), and revoking the refresh token it gave us when
//! the account is deleted (`POST /auth/revoke`). Both authenticate with a client secret: a JWT
//! signed ES256 with our Sign in with Apple key (header `kid` = key id; `iss` team id, `iat`,
//! `exp` 5 minutes later, `aud` `https://appleid.apple.com`, `sub` the client id the token was
//! issued for), made fresh for each call.

use std::time::Duration;

use jsonwebtoken::{Algorithm, EncodingKey, Header};
use serde::{Deserialize, Serialize};

use super::{oidc, outage, parse_json, send, Exchanged, ProviderError};
use crate::config::AppleRevocationConfig;
pub use crate::domain::apple_key::signing_key;
use crate::domain::clock;
use crate::domain::secret::Secret;

/// The client secret's audience, fixed by Apple.
pub const CLIENT_SECRET_AUDIENCE: &str = "https://appleid.apple.com";
/// How long one client secret is valid (Apple allows up to 6 months; ours are used at once).
pub const CLIENT_SECRET_LIFETIME: Duration = Duration::from_secs(300);

#[derive(Serialize)]
struct ClientSecretClaims<'a> {
    iss: &'a str,
    iat: i64,
    exp: i64,
    aud: &'a str,
    sub: &'a str,
}

#[derive(Deserialize)]
struct TokenResponse {
    refresh_token: Option<String>,
    id_token: Option<String>,
}

#[derive(Deserialize)]
struct ErrorResponse {
    error: Option<String>,
}

pub struct AppleTokens {
    http: reqwest::Client,
    team_id: String,
    key_id: String,
    key: EncodingKey,
    token_url: String,
    revoke_url: String,
}

impl AppleTokens {
    /// `None` if the key does not read (the configuration already checked it).
    pub fn new(config: &AppleRevocationConfig, http: reqwest::Client) -> Option<AppleTokens> {
        let key = signing_key(config.private_key.expose())?;
        Some(AppleTokens {
            http,
            team_id: config.team_id.clone(),
            key_id: config.key_id.clone(),
            key,
            token_url: config.token_url.clone(),
            revoke_url: config.revoke_url.clone(),
        })
    }

    /// A fresh client secret for `client_id`.
    pub fn client_secret(&self, client_id: &str) -> Result<Secret, ProviderError> {
        let now = clock::now_secs();
        let lifetime = i64::try_from(CLIENT_SECRET_LIFETIME.as_secs()).unwrap_or(300);
        let claims = ClientSecretClaims {
            iss: &self.team_id,
            iat: now,
            exp: now + lifetime,
            aud: CLIENT_SECRET_AUDIENCE,
            sub: client_id,
        };
        let mut header = Header::new(Algorithm::ES256);
        header.kid = Some(self.key_id.clone());
        jsonwebtoken::encode(&header, &claims, &self.key)
            .map(Secret::new)
            .map_err(|_| ProviderError::BadResponse("could not sign the Apple client secret".into()))
    }

    /// Exchanges an authorization code issued to `client_id`. `Rejected`: Apple refused the code
    /// (`invalid_grant`: used, expired, of another client) or our client secret.
    pub async fn exchange(&self, client_id: &str, code: &Secret) -> Result<Exchanged, ProviderError> {
        let secret = self.client_secret(client_id)?;
        let form = [
            ("client_id", client_id),
            ("client_secret", secret.expose()),
            ("code", code.expose()),
            ("grant_type", "authorization_code"),
        ];
        let (status, body) = send(self.http.post(&self.token_url).form(&form)).await?;
        if let Some(e) = outage(status) {
            return Err(e);
        }
        if !status.is_success() {
            return Err(ProviderError::Rejected(apple_error(&body)));
        }
        let answer: TokenResponse = parse_json(&body, "Apple's token response")?;
        let refresh_token = answer
            .refresh_token
            .filter(|t| !t.is_empty())
            .ok_or_else(|| ProviderError::BadResponse("no refresh_token".into()))?;
        // The ID token comes straight from Apple over TLS (OpenID Connect Core 3.1.3.7: the TLS
        // server check stands in for its signature); only its `sub` is read.
        let subject = answer
            .id_token
            .as_deref()
            .and_then(oidc::unverified_subject)
            .ok_or_else(|| ProviderError::BadResponse("no id_token sub".into()))?;
        Ok(Exchanged { subject, refresh_token: Secret::new(refresh_token) })
    }

    /// Revokes a refresh token issued to `client_id`. An `invalid_grant` (already revoked or
    /// expired) is done too; any other refusal (`invalid_client`: our client secret) and the
    /// provider's trouble are `Unavailable`/`Timeout`, to be retried.
    pub async fn revoke(&self, client_id: &str, refresh_token: &Secret) -> Result<(), ProviderError> {
        let secret = self.client_secret(client_id)?;
        let form = [
            ("client_id", client_id),
            ("client_secret", secret.expose()),
            ("token", refresh_token.expose()),
            ("token_type_hint", "refresh_token"),
        ];
        let (status, body) = send(self.http.post(&self.revoke_url).form(&form)).await?;
        if let Some(e) = outage(status) {
            return Err(e);
        }
        if status.is_success() {
            return Ok(());
        }
        match apple_error(&body).as_str() {
            // Already revoked or expired: nothing left to do.
            "invalid_grant" => Ok(()),
            // Our client secret or client id refused: a configuration to fix (a rotated key, a
            // wrong team), so the revocation stays pending until it is fixed or its TTL ends.
            other => Err(ProviderError::Unavailable(format!("Apple refused the revocation: {other}"))),
        }
    }
}

/// The `error` of an Apple error answer (`invalid_grant`, `invalid_client`, ...), printable only.
fn apple_error(body: &[u8]) -> String {
    serde_json::from_slice::<ErrorResponse>(body)
        .ok()
        .and_then(|e| e.error)
        .filter(|e| e.len() <= 64 && e.bytes().all(|b| b.is_ascii_alphanumeric() || b == b'_'))
        .unwrap_or_else(|| "unreadable error".into())
}

#[cfg(test)]
mod tests {
    use super::*;
    use base64::Engine;
    use jsonwebtoken::{DecodingKey, Validation};

    const KEY: &str = include_str!("../../../tools/emulator/keys/apple-sign-in.p8");
    const PUBLIC: &str = include_str!("../../../tools/emulator/keys/apple-sign-in.pub.pem");

    #[test]
    fn the_client_secret_is_an_es256_jwt_apple_accepts() {
        let config = AppleRevocationConfig {
            team_id: "TEAM123456".into(),
            key_id: "KEY1234567".into(),
            private_key: Secret::new(KEY),
            token_url: "https://x".into(),
            revoke_url: "https://x".into(),
            refresh_token_key: crate::domain::sealing::SealingKeys::new(
                (
                    1,
                    crate::domain::sealing::SealingKey::from_base64("AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA=")
                        .expect("key"),
                ),
                None,
            ),
        };
        let tokens = AppleTokens::new(&config, reqwest::Client::new()).expect("key reads");
        let secret = tokens.client_secret("com.example.app").expect("signed");
        let header = jsonwebtoken::decode_header(secret.expose()).expect("header");
        assert_eq!((header.alg, header.kid.as_deref()), (Algorithm::ES256, Some("KEY1234567")));
        let mut v = Validation::new(Algorithm::ES256);
        v.set_audience(&[CLIENT_SECRET_AUDIENCE]);
        v.set_issuer(&["TEAM123456"]);
        v.sub = Some("com.example.app".into());
        let data =
            jsonwebtoken::decode::<serde_json::Value>(secret.expose(), &DecodingKey::from_ec_der(&public_point()), &v)
                .expect("valid");
        let (iat, exp) = (data.claims["iat"].as_i64().unwrap_or(0), data.claims["exp"].as_i64().unwrap_or(0));
        assert_eq!(exp - iat, 300);
    }

    /// The uncompressed point at the end of a P-256 SPKI.
    fn public_point() -> Vec<u8> {
        let body: String = PUBLIC.lines().filter(|l| !l.starts_with("-----")).collect();
        let der = base64::engine::general_purpose::STANDARD.decode(body).expect("base64");
        der[der.len() - 65..].to_vec()
    }

    #[test]
    fn only_a_p256_pkcs8_key_signs() {
        assert!(signing_key(KEY).is_some());
        assert!(signing_key(&KEY.replace("-----BEGIN PRIVATE KEY-----", "")).is_none());
        assert!(signing_key("-----BEGIN PRIVATE KEY-----\nAAAA\n-----END PRIVATE KEY-----").is_none());
        let rsa = include_str!("../../../tools/emulator/keys/key-1.pem");
        assert!(signing_key(rsa).is_none(), "an RSA key is not a Sign in with Apple key");
    }

    #[test]
    fn apple_errors_are_read_printable_only() {
        assert_eq!(apple_error(br#"{"error":"invalid_grant"}"#), "invalid_grant");
        assert_eq!(apple_error(br#"{"error":"a b"}"#), "unreadable error");
        assert_eq!(apple_error(b"<html>"), "unreadable error");
    }
}
