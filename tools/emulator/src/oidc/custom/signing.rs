//! A custom issuer's keys and signatures: its key material (an RSA fixture of `keys/`, or a P-256
//! key generated for it) and kids, their JWK form, and a JWS of any claims in each
//! [`SigningMode`] (valid, or broken as a test asks).

use std::sync::{Arc, OnceLock};

use aws_lc_rs::encoding::AsDer;
use aws_lc_rs::rand::SystemRandom;
use aws_lc_rs::signature::{
    EcdsaKeyPair, KeyPair as _, ECDSA_P256_SHA256_FIXED_SIGNING, RSA_PKCS1_SHA256, RSA_PKCS1_SHA512,
};
use base64::engine::general_purpose::{STANDARD, URL_SAFE_NO_PAD};
use base64::Engine;
use hmac::{Hmac, Mac};
use serde_json::{json, Map, Value};
use sha2::{Digest, Sha256};

use super::{Issuer, IssuerKey, Material, SigningAlg, MICROSOFT};
use crate::oidc::keys;
use crate::oidc::SigningMode;

pub(super) fn new_key(name: &str, alg: SigningAlg, fixture: usize) -> IssuerKey {
    match alg {
        SigningAlg::ES256 => {
            let key = generate_ec();
            let digest = Sha256::new().chain_update(name).chain_update(b":").chain_update(key.public_key()).finalize();
            IssuerKey { kid: hex::encode(digest)[..40].to_string(), material: Material::Ec(Arc::new(key)) }
        }
        _ => {
            let n = &keys::fixture(fixture).n;
            let digest = Sha256::new().chain_update(b"custom:").chain_update(name).chain_update(b":").chain_update(n);
            let digest = digest.finalize();
            let kid = if name == MICROSOFT {
                // Microsoft's kids: a base64url SHA-1-sized thumbprint ("nOo3ZDrODXEK1jKWhXslHR_KXEg").
                URL_SAFE_NO_PAD.encode(&digest[..20])
            } else {
                hex::encode(digest)[..40].to_string()
            };
            IssuerKey { kid, material: Material::Rsa(fixture) }
        }
    }
}

/// # Panics
/// Only if aws-lc-rs cannot generate a P-256 key (a broken build, not a runtime condition).
fn generate_ec() -> EcdsaKeyPair {
    EcdsaKeyPair::generate(&ECDSA_P256_SHA256_FIXED_SIGNING).expect("aws-lc-rs generates a P-256 key")
}

/// A P-256 key never published anywhere ([`SigningMode::UnknownKid`] of ES256 issuers).
fn unpublished_ec_key() -> &'static EcdsaKeyPair {
    static KEY: OnceLock<EcdsaKeyPair> = OnceLock::new();
    KEY.get_or_init(generate_ec)
}

pub(super) fn first_fixture(name: &str) -> usize {
    usize::from(Sha256::digest(name.as_bytes())[0]) % keys::FIXTURE_COUNT
}

impl Issuer {
    fn jwk(&self, key: &IssuerKey, extra: &Map<String, Value>) -> Value {
        let mut jwk = match &key.material {
            Material::Rsa(index) => {
                let fixture = keys::fixture(*index);
                json!({ "kty": "RSA", "use": "sig", "kid": key.kid, "n": fixture.n, "e": fixture.e })
            }
            Material::Ec(pair) => {
                // Uncompressed point: 0x04 || x || y.
                let point = pair.public_key().as_ref();
                let (x, y) = point.get(1..).unwrap_or_default().split_at(point.len().saturating_sub(1) / 2);
                json!({ "kty": "EC", "use": "sig", "kid": key.kid, "crv": "P-256",
                        "x": URL_SAFE_NO_PAD.encode(x), "y": URL_SAFE_NO_PAD.encode(y) })
            }
        };
        if let Value::Object(jwk) = &mut jwk {
            jwk.extend(extra.clone());
        }
        jwk
    }

    pub(super) fn jwks(&self, extra: &Map<String, Value>) -> Value {
        let keys: Vec<Value> =
            std::iter::once(&self.current).chain(self.previous.as_ref()).map(|k| self.jwk(k, extra)).collect();
        json!({ "keys": keys })
    }

    pub(super) fn sign(&self, claims: &Value, mode: SigningMode) -> String {
        sign(&self.current, self.alg, claims, mode)
    }
}

/// The SPKI PEM of an EC public key (the HMAC key of [`SigningMode::Hs256WithPublicKey`]).
fn ec_public_pem(pair: &EcdsaKeyPair) -> String {
    let der = pair.public_key().as_der().map(|der| der.as_ref().to_vec()).unwrap_or_default();
    let body = STANDARD.encode(der);
    let mut pem = String::from("-----BEGIN PUBLIC KEY-----\n");
    for chunk in body.as_bytes().chunks(64) {
        pem.push_str(&String::from_utf8_lossy(chunk));
        pem.push('\n');
    }
    pem.push_str("-----END PUBLIC KEY-----\n");
    pem
}

fn ec_jws(header: &Value, claims: &Value, key: &EcdsaKeyPair, tamper: bool) -> String {
    let input = keys::signing_input(header, claims);
    let mut signature = key
        .sign(&SystemRandom::new(), input.as_bytes())
        .map(|s| s.as_ref().to_vec())
        .expect("ECDSA signing with a valid key");
    if tamper {
        let middle = signature.len() / 2;
        signature[middle] ^= 0x01;
    }
    format!("{input}.{}", URL_SAFE_NO_PAD.encode(signature))
}

/// Signs `claims` with `key` of an issuer of `alg`, as `mode` says. For RSA issuers `OtherAlg`
/// is the same key under another RSA algorithm (RS512 for an RS256 issuer, else RS256); for
/// ES256 issuers it is RS256 with an RSA fixture under the current (EC) kid.
fn sign(key: &IssuerKey, alg: SigningAlg, claims: &Value, mode: SigningMode) -> String {
    let header = |alg: &str, kid: &str| json!({ "alg": alg, "kid": kid, "typ": "JWT" });
    let kid = key.kid.as_str();
    match (&key.material, mode) {
        (_, SigningMode::NoneAlg) => format!("{}.", keys::signing_input(&header("none", kid), claims)),
        (Material::Rsa(index), SigningMode::Hs256WithPublicKey) => {
            hs256(&header("HS256", kid), claims, keys::fixture(*index).public_pem.as_bytes())
        }
        (Material::Ec(pair), SigningMode::Hs256WithPublicKey) => {
            hs256(&header("HS256", kid), claims, ec_public_pem(pair).as_bytes())
        }
        (Material::Rsa(index), mode) => {
            let fixture = keys::fixture(*index);
            let encoding = alg.rsa_encoding().unwrap_or(&RSA_PKCS1_SHA256);
            match mode {
                SigningMode::UnknownKid => keys::rsa_jws(
                    &header(alg.name(), &format!("unknown-{}", hex::encode(rand::random::<[u8; 8]>()))),
                    claims,
                    keys::unpublished_key(),
                    encoding,
                    false,
                ),
                SigningMode::OtherAlg if alg == SigningAlg::RS256 => {
                    keys::rsa_jws(&header("RS512", kid), claims, &fixture.key, &RSA_PKCS1_SHA512, false)
                }
                SigningMode::OtherAlg => {
                    keys::rsa_jws(&header("RS256", kid), claims, &fixture.key, &RSA_PKCS1_SHA256, false)
                }
                SigningMode::BadSignature => {
                    keys::rsa_jws(&header(alg.name(), kid), claims, &fixture.key, encoding, true)
                }
                _ => keys::rsa_jws(&header(alg.name(), kid), claims, &fixture.key, encoding, false),
            }
        }
        (Material::Ec(pair), mode) => match mode {
            SigningMode::UnknownKid => ec_jws(
                &header("ES256", &format!("unknown-{}", hex::encode(rand::random::<[u8; 8]>()))),
                claims,
                unpublished_ec_key(),
                false,
            ),
            SigningMode::OtherAlg => {
                keys::rsa_jws(&header("RS256", kid), claims, &keys::fixture(0).key, &RSA_PKCS1_SHA256, false)
            }
            SigningMode::BadSignature => ec_jws(&header("ES256", kid), claims, pair, true),
            _ => ec_jws(&header("ES256", kid), claims, pair, false),
        },
    }
}

fn hs256(header: &Value, claims: &Value, key: &[u8]) -> String {
    let input = keys::signing_input(header, claims);
    let mut mac = Hmac::<Sha256>::new_from_slice(key).expect("HMAC-SHA256 accepts keys of any length");
    mac.update(input.as_bytes());
    format!("{input}.{}", URL_SAFE_NO_PAD.encode(mac.finalize().into_bytes()))
}
