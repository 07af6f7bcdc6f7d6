//! The harness the emulator's HTTP tests share: an emulator served on a loopback port, its base
//! URL and a client. Each test file adds its own request helpers in an `impl Env` block.

use std::time::Duration;

use emulator::{Emulator, EmulatorConfig};
use reqwest::Client;

pub struct Env {
    pub emulator: Emulator,
    pub base: String,
    pub client: Client,
}

/// Serves an emulator with `config` on a free loopback port.
pub async fn start_with(config: EmulatorConfig) -> Env {
    let emulator = Emulator::new(config);
    let base = emulator.spawn(0).await.expect("emulator binds a loopback port");
    let client = Client::builder().timeout(Duration::from_secs(10)).build().expect("client");
    Env { emulator, base, client }
}

impl Env {
    pub fn url(&self, path: &str) -> String {
        format!("{}{}", self.base, path)
    }
}

/// Verifies an ID token as a relying party does: the JWKS key named by its kid, `alg` only, the
/// issuer `iss` and our audience `aud`, with `exp`, `iss`, `aud` and `sub` required. (Only the
/// OpenID Connect test files use it.)
#[allow(dead_code)]
pub fn verify_id_token(
    token: &str,
    jwks: &jsonwebtoken::jwk::JwkSet,
    alg: jsonwebtoken::Algorithm,
    iss: &str,
    aud: &str,
) -> jsonwebtoken::errors::Result<jsonwebtoken::TokenData<serde_json::Value>> {
    use jsonwebtoken::errors::{Error, ErrorKind};
    let header = jsonwebtoken::decode_header(token)?;
    let kid = header.kid.ok_or_else(|| Error::from(ErrorKind::MissingRequiredClaim("kid".into())))?;
    let jwk = jwks.find(&kid).ok_or_else(|| Error::from(ErrorKind::InvalidKeyFormat))?;
    let key = jsonwebtoken::DecodingKey::from_jwk(jwk)?;
    let mut validation = jsonwebtoken::Validation::new(alg);
    validation.set_issuer(&[iss]);
    validation.set_audience(&[aud]);
    validation.set_required_spec_claims(&["exp", "iss", "aud", "sub"]);
    jsonwebtoken::decode::<serde_json::Value>(token, &key, &validation)
}
