//! Our Sign in with Apple key (the `.p8`), read once: the configuration refuses one that does
//! not sign, and `providers::apple_tokens` signs its client secrets with it.

use base64::Engine;
use jsonwebtoken::{Algorithm, EncodingKey, Header};

/// Our Sign in with Apple key from its PKCS#8 PEM (the `.p8`), if it is one that signs ES256
/// (tried once: a key that does not sign is refused at cold start, not at the first deletion).
pub fn signing_key(pem: &str) -> Option<EncodingKey> {
    let body: String = pem
        .trim()
        .strip_prefix("-----BEGIN PRIVATE KEY-----")?
        .strip_suffix("-----END PRIVATE KEY-----")?
        .chars()
        .filter(|c| !c.is_whitespace())
        .collect();
    let der = base64::engine::general_purpose::STANDARD.decode(body).ok()?;
    let key = EncodingKey::from_ec_der(&der);
    jsonwebtoken::encode(&Header::new(Algorithm::ES256), &serde_json::json!({}), &key).ok()?;
    Some(key)
}
