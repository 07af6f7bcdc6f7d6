//! The signing keys of the OIDC providers and the JWS (compact JWT) encoding.
//!
//! The keys are the three RSA 2048 fixtures in `tools/emulator/keys/` (emulator-only test
//! keys, see the README there), embedded at compile time. Their JWK `n`/`e` are precomputed
//! in `key-N.jwk.json`, so publishing a JWKS needs no RSA parsing; signing parses each
//! private key once (aws-lc-rs) for the life of the process.

use std::sync::OnceLock;

use aws_lc_rs::rand::SystemRandom;
use aws_lc_rs::rsa::{KeyPair, KeySize};
use aws_lc_rs::signature::{RsaEncoding, RSA_PKCS1_SHA256, RSA_PKCS1_SHA512};
use base64::engine::general_purpose::{STANDARD, URL_SAFE_NO_PAD};
use base64::Engine;
use hmac::{Hmac, Mac};
use serde_json::{json, Value};
use sha2::{Digest, Sha256};

use super::{OidcProvider, SigningMode};

/// One embedded fixture: `(private PKCS#8 PEM, public SPKI PEM, JWK with n/e)`.
type FixtureSource = (&'static str, &'static str, &'static str);

macro_rules! fixture {
    ($n:literal) => {
        (
            include_str!(concat!("../../keys/key-", $n, ".pem")),
            include_str!(concat!("../../keys/key-", $n, ".pub.pem")),
            include_str!(concat!("../../keys/key-", $n, ".jwk.json")),
        )
    };
}

const SOURCES: [FixtureSource; 3] = [fixture!(1), fixture!(2), fixture!(3)];

/// How many fixture keys there are (rotation cycles through them).
pub(crate) const FIXTURE_COUNT: usize = SOURCES.len();

/// A fixture key, ready to sign and to publish.
pub(crate) struct Fixture {
    pub(super) key: KeyPair,
    /// The public key PEM exactly as in `key-N.pub.pem`.
    pub(super) public_pem: &'static str,
    /// JWK modulus, base64url without padding.
    pub(super) n: String,
    /// JWK exponent, base64url without padding.
    pub(super) e: String,
}

/// The fixtures, parsed once per process.
///
/// # Panics
/// If a committed fixture is broken (a build problem, not a runtime condition).
fn fixtures() -> &'static [Fixture] {
    static FIXTURES: OnceLock<Vec<Fixture>> = OnceLock::new();
    FIXTURES.get_or_init(|| {
        SOURCES
            .iter()
            .enumerate()
            .map(|(i, (private_pem, public_pem, jwk))| {
                let der = pem_body(private_pem).unwrap_or_else(|| panic!("keys/key-{}.pem is not PEM", i + 1));
                let key = KeyPair::from_pkcs8(&der)
                    .unwrap_or_else(|e| panic!("keys/key-{}.pem is not a PKCS#8 RSA key: {e}", i + 1));
                let jwk: Value =
                    serde_json::from_str(jwk).unwrap_or_else(|e| panic!("keys/key-{}.jwk.json: {e}", i + 1));
                let component = |name: &str| {
                    jwk.get(name)
                        .and_then(Value::as_str)
                        .unwrap_or_else(|| panic!("keys/key-{}.jwk.json has no {name:?}", i + 1))
                        .to_string()
                };
                Fixture { key, public_pem, n: component("n"), e: component("e") }
            })
            .collect()
    })
}

pub(super) fn fixture(index: usize) -> &'static Fixture {
    &fixtures()[index % FIXTURE_COUNT]
}

/// A key generated at first use and never published anywhere ([`SigningMode::UnknownKid`]).
pub(super) fn unpublished_key() -> &'static KeyPair {
    static KEY: OnceLock<KeyPair> = OnceLock::new();
    KEY.get_or_init(|| KeyPair::generate(KeySize::Rsa2048).expect("aws-lc-rs generates an RSA 2048 key"))
}

/// The DER inside a PEM document.
fn pem_body(pem: &str) -> Option<Vec<u8>> {
    let body: String = pem.lines().map(str::trim).filter(|l| !l.is_empty() && !l.starts_with("-----")).collect();
    STANDARD.decode(body).ok()
}

/// The `kid` a provider gives a fixture key: stable (derived from the provider and the key),
/// different for every provider, and shaped like that provider's real key ids.
pub(crate) fn kid(provider: OidcProvider, index: usize) -> String {
    let digest =
        Sha256::new().chain_update(provider.slug()).chain_update(b":").chain_update(&fixture(index).n).finalize();
    let hex = hex::encode(digest);
    match provider {
        // 40 hex digits, like Google's and Facebook's.
        OidcProvider::Google | OidcProvider::FacebookLimited => hex[..40].to_string(),
        // A UUID, like LinkedIn's.
        OidcProvider::LinkedIn => {
            format!("{}-{}-{}-{}-{}", &hex[..8], &hex[8..12], &hex[12..16], &hex[16..20], &hex[20..32])
        }
        // A short alphanumeric id, like Apple's ("W6WcOKB").
        OidcProvider::Apple => {
            const ALPHABET: &[u8] = b"ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789";
            digest[..10].iter().map(|b| char::from(ALPHABET[usize::from(*b) % ALPHABET.len()])).collect()
        }
    }
}

/// The JWKS entry of a fixture key under `provider`'s kid.
pub(crate) fn jwk(provider: OidcProvider, index: usize) -> Value {
    let fixture = fixture(index);
    json!({
        "kty": "RSA",
        "use": "sig",
        "alg": "RS256",
        "kid": kid(provider, index),
        "n": fixture.n,
        "e": fixture.e,
    })
}

/// Signs `claims` for `provider` whose current key is fixture `index`, as `mode` says.
pub(crate) fn sign(provider: OidcProvider, index: usize, claims: &Value, mode: SigningMode) -> String {
    let fixture = fixture(index);
    let current_kid = kid(provider, index);
    let header = |alg: &str, kid: &str| {
        let mut header = json!({ "alg": alg, "kid": kid });
        // Apple's ID token headers carry no `typ`; the others say "JWT".
        if provider != OidcProvider::Apple {
            header["typ"] = Value::from("JWT");
        }
        header
    };
    match mode {
        SigningMode::Current => rsa_jws(&header("RS256", &current_kid), claims, &fixture.key, &RSA_PKCS1_SHA256, false),
        SigningMode::UnknownKid => {
            let kid = format!("unknown-{}", hex::encode(rand::random::<[u8; 8]>()));
            rsa_jws(&header("RS256", &kid), claims, unpublished_key(), &RSA_PKCS1_SHA256, false)
        }
        SigningMode::NoneAlg => format!("{}.", signing_input(&header("none", &current_kid), claims)),
        SigningMode::Hs256WithPublicKey => {
            let input = signing_input(&header("HS256", &current_kid), claims);
            let mut mac = Hmac::<Sha256>::new_from_slice(fixture.public_pem.as_bytes())
                .expect("HMAC-SHA256 accepts keys of any length");
            mac.update(input.as_bytes());
            format!("{input}.{}", URL_SAFE_NO_PAD.encode(mac.finalize().into_bytes()))
        }
        SigningMode::BadSignature => {
            rsa_jws(&header("RS256", &current_kid), claims, &fixture.key, &RSA_PKCS1_SHA256, true)
        }
        SigningMode::OtherAlg => {
            rsa_jws(&header("RS512", &current_kid), claims, &fixture.key, &RSA_PKCS1_SHA512, false)
        }
    }
}

/// `base64url(header) "." base64url(claims)`
pub(super) fn signing_input(header: &Value, claims: &Value) -> String {
    format!("{}.{}", URL_SAFE_NO_PAD.encode(header.to_string()), URL_SAFE_NO_PAD.encode(claims.to_string()))
}

/// A compact JWS signed with RSA PKCS#1 v1.5; `tamper` flips one bit of the signature.
pub(super) fn rsa_jws(
    header: &Value,
    claims: &Value,
    key: &KeyPair,
    alg: &'static dyn RsaEncoding,
    tamper: bool,
) -> String {
    let input = signing_input(header, claims);
    let mut signature = vec![0u8; key.public_modulus_len()];
    key.sign(alg, &SystemRandom::new(), input.as_bytes(), &mut signature).expect("RSA signing with a valid key");
    if tamper {
        let middle = signature.len() / 2;
        signature[middle] ^= 0x01;
    }
    format!("{input}.{}", URL_SAFE_NO_PAD.encode(signature))
}

#[cfg(test)]
mod tests {
    use aws_lc_rs::encoding::AsDer;
    use aws_lc_rs::signature::{KeyPair as _, UnparsedPublicKey, RSA_PKCS1_2048_8192_SHA256};

    use super::*;

    /// The precomputed n/e and the public PEM must belong to the private key.
    #[test]
    fn fixtures_are_consistent() {
        for (i, fixture) in fixtures().iter().enumerate() {
            let public = fixture.key.public_key();
            assert_eq!(
                URL_SAFE_NO_PAD.encode(public.modulus().big_endian_without_leading_zero()),
                fixture.n,
                "n of key-{}",
                i + 1
            );
            assert_eq!(
                URL_SAFE_NO_PAD.encode(public.exponent().big_endian_without_leading_zero()),
                fixture.e,
                "e of key-{}",
                i + 1
            );
            let spki = public.as_der().expect("SPKI DER");
            assert_eq!(pem_body(fixture.public_pem).as_deref(), Some(spki.as_ref()), "key-{}.pub.pem", i + 1);
            assert_eq!(public.modulus_len(), 256, "key-{} is RSA 2048", i + 1);
        }
        let moduli: std::collections::HashSet<&str> = fixtures().iter().map(|f| f.n.as_str()).collect();
        assert_eq!(moduli.len(), FIXTURE_COUNT, "the fixtures are distinct keys");
    }

    #[test]
    fn kids_are_stable_distinct_and_provider_shaped() {
        let mut all = std::collections::HashSet::new();
        for provider in OidcProvider::ALL {
            for i in 0..FIXTURE_COUNT {
                assert_eq!(kid(provider, i), kid(provider, i));
                assert!(all.insert(kid(provider, i)), "kid collision for {provider:?} key {i}");
            }
        }
        assert_eq!(kid(OidcProvider::Google, 0).len(), 40);
        assert_eq!(kid(OidcProvider::LinkedIn, 0).len(), 36);
        assert_eq!(kid(OidcProvider::Apple, 0).len(), 10);
        assert!(kid(OidcProvider::Apple, 0).bytes().all(|b| b.is_ascii_alphanumeric()));
    }

    #[test]
    fn current_signature_verifies_and_tampered_does_not() {
        let claims = json!({ "sub": "x" });
        let spki = |i: usize| fixture(i).key.public_key().as_ref().to_vec();
        for (mode, ok) in [(SigningMode::Current, true), (SigningMode::BadSignature, false)] {
            let token = sign(OidcProvider::Google, 1, &claims, mode);
            let (input, signature) = token.rsplit_once('.').expect("three parts");
            let signature = URL_SAFE_NO_PAD.decode(signature).expect("base64url");
            let verified = UnparsedPublicKey::new(&RSA_PKCS1_2048_8192_SHA256, spki(1))
                .verify(input.as_bytes(), &signature)
                .is_ok();
            assert_eq!(verified, ok, "{mode:?}");
        }
    }
}
