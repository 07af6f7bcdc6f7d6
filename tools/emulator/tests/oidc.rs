//! The OIDC providers over real HTTP: tokens the emulator mints verify with `jsonwebtoken`
//! against the JWKS it serves, and its tokeninfo/userinfo answer in the providers' shapes.

mod common;

use std::time::Duration;

use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use base64::Engine;
use common::{start_with, Env};
use emulator::{EmulatorConfig, Fault, OidcProvider, SigningMode};
use jsonwebtoken::errors::ErrorKind;
use jsonwebtoken::jwk::{AlgorithmParameters, JwkSet};
use jsonwebtoken::{decode, Algorithm, DecodingKey, TokenData, Validation};
use reqwest::header::HeaderMap;
use reqwest::StatusCode;
use serde_json::{json, Value};
use sha2::{Digest, Sha256};

const CLIENT_ID: &str = "123456789012-abcdefghijklmnop.apps.googleusercontent.com";
const OTHER_CLIENT_ID: &str = "999999999999-otherclient.apps.googleusercontent.com";

async fn start() -> Env {
    start_with(EmulatorConfig::default()).await
}

fn now() -> i64 {
    i64::try_from(jsonwebtoken::get_current_timestamp()).expect("a sane clock")
}

impl Env {
    async fn get(&self, path: &str) -> reqwest::Response {
        self.client.get(self.url(path)).send().await.expect("request")
    }

    /// The provider's JWKS over HTTP, with the response headers.
    async fn jwks(&self, provider: OidcProvider) -> (HeaderMap, JwkSet) {
        let response = self.get(provider.jwks_path()).await;
        assert_eq!(response.status(), StatusCode::OK, "JWKS of {provider}");
        let headers = response.headers().clone();
        (headers, response.json::<JwkSet>().await.expect("a JWKS"))
    }

    async fn post_admin(&self, path: &str, body: Value) -> (StatusCode, Value) {
        let response = self.client.post(self.url(path)).json(&body).send().await.expect("request");
        let status = response.status();
        (status, response.json().await.expect("a JSON body"))
    }

    async fn get_json(&self, path: &str, bearer: Option<&str>) -> (StatusCode, HeaderMap, Value) {
        let mut request = self.client.get(self.url(path));
        if let Some(token) = bearer {
            request = request.bearer_auth(token);
        }
        let response = request.send().await.expect("request");
        let (status, headers) = (response.status(), response.headers().clone());
        (status, headers, response.json().await.expect("a JSON body"))
    }
}

/// Verifies as a relying party does: the key is the JWKS entry named by the header's kid,
/// RS256 only, with the provider's issuer and our audience.
fn verify(
    token: &str,
    jwks: &JwkSet,
    provider: OidcProvider,
    aud: &str,
) -> jsonwebtoken::errors::Result<TokenData<Value>> {
    common::verify_id_token(token, jwks, Algorithm::RS256, provider.issuer(), aud)
}

/// The JWT's header and claims, unverified.
fn parts(token: &str) -> (Value, Value, String) {
    let pieces: Vec<&str> = token.split('.').collect();
    assert_eq!(pieces.len(), 3, "a compact JWS: {token}");
    let json = |piece: &str| -> Value {
        serde_json::from_slice(&URL_SAFE_NO_PAD.decode(piece).expect("base64url")).expect("JSON")
    };
    (json(pieces[0]), json(pieces[1]), pieces[2].to_string())
}

fn kids(jwks: &JwkSet) -> Vec<String> {
    jwks.keys.iter().map(|k| k.common.key_id.clone().unwrap_or_default()).collect()
}

fn modulus(jwks: &JwkSet, kid: &str) -> String {
    match &jwks.find(kid).expect("kid in JWKS").algorithm {
        AlgorithmParameters::RSA(rsa) => rsa.n.clone(),
        other => panic!("not an RSA key: {other:?}"),
    }
}

/// The public PEM fixture whose modulus is `n` (from `keys/key-N.jwk.json`).
fn fixture_public_pem(n: &str) -> Vec<u8> {
    let dir = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("keys");
    for i in 1..=3 {
        let jwk: Value =
            serde_json::from_str(&std::fs::read_to_string(dir.join(format!("key-{i}.jwk.json"))).expect("fixture"))
                .expect("JSON");
        if jwk["n"] == n {
            return std::fs::read(dir.join(format!("key-{i}.pub.pem"))).expect("fixture");
        }
    }
    panic!("no fixture has this modulus");
}

fn valid_claims(provider: OidcProvider, aud: &str) -> Value {
    let now = now();
    json!({ "iss": provider.issuer(), "aud": aud, "sub": "subject-1", "iat": now, "exp": now + 600 })
}

#[tokio::test]
async fn minted_id_tokens_verify_with_the_served_jwks() {
    let env = start().await;
    for provider in OidcProvider::ALL {
        let sub = env.emulator.create_oidc_user(provider, "Ada King Lovelace", Some("ada@example.com"), true);
        let token = env.emulator.issue_id_token(provider, &sub, CLIENT_ID, Some("raw-nonce"));
        let (headers, jwks) = env.jwks(provider).await;
        assert_eq!(kids(&jwks), vec![env.emulator.current_kid(provider)], "{provider}: one key before any rotation");
        let cache_control = headers.get("cache-control").and_then(|v| v.to_str().ok()).unwrap_or_default();
        assert!(cache_control.starts_with("public, max-age=300"), "{provider}: {cache_control}");

        let data = verify(&token, &jwks, provider, CLIENT_ID).unwrap_or_else(|e| panic!("{provider}: {e:?}"));
        assert_eq!(data.header.alg, Algorithm::RS256);
        assert_eq!(data.header.kid.as_deref(), Some(env.emulator.current_kid(provider).as_str()));
        let claims = data.claims;
        assert_eq!(claims["iss"], provider.issuer());
        assert_eq!(claims["aud"], CLIENT_ID);
        assert_eq!(claims["sub"], sub);
        let (iat, exp) = (claims["iat"].as_i64().expect("iat"), claims["exp"].as_i64().expect("exp"));
        assert_eq!(exp - iat, 3600, "{provider}");
        assert!((iat - now()).abs() < 60, "{provider}");
        assert_eq!(claims["email"], "ada@example.com", "{provider}");

        // The same token for another audience, or checked against another issuer, is refused.
        let err = verify(&token, &jwks, provider, OTHER_CLIENT_ID).expect_err("wrong audience");
        assert_eq!(err.kind(), &ErrorKind::InvalidAudience);
        let other = if provider == OidcProvider::Google { OidcProvider::Apple } else { OidcProvider::Google };
        let mut validation = Validation::new(Algorithm::RS256);
        validation.set_issuer(&[other.issuer()]);
        validation.set_audience(&[CLIENT_ID]);
        let key = DecodingKey::from_jwk(&jwks.keys[0]).expect("RSA JWK");
        let err = decode::<Value>(&token, &key, &validation).expect_err("wrong issuer");
        assert_eq!(err.kind(), &ErrorKind::InvalidIssuer);
    }
}

#[tokio::test]
async fn claims_have_each_providers_shape() {
    let env = start().await;
    let e = &env.emulator;

    let sub = e.create_oidc_user(OidcProvider::Google, "Ada King Lovelace", Some("ada@example.com"), true);
    assert_eq!(sub.len(), 21);
    assert!(sub.bytes().all(|b| b.is_ascii_digit()), "{sub}");
    let (header, claims, _) = parts(&e.issue_id_token(OidcProvider::Google, &sub, CLIENT_ID, None));
    assert_eq!(header["typ"], "JWT");
    assert_eq!(claims["azp"], CLIENT_ID);
    assert_eq!(claims["email_verified"], true);
    assert_eq!(claims["name"], "Ada King Lovelace");
    assert_eq!(claims["given_name"], "Ada");
    assert_eq!(claims["family_name"], "Lovelace");
    assert!(claims["picture"].as_str().is_some_and(|p| p.starts_with("https://")));
    assert!(claims.get("nonce").is_none());
    let unverified = e.create_oidc_user(OidcProvider::Google, "Bob", Some("bob@example.com"), false);
    let (_, claims, _) = parts(&e.issue_id_token(OidcProvider::Google, &unverified, CLIENT_ID, Some("n-1")));
    assert_eq!(claims["email_verified"], false);
    assert_eq!(claims["nonce"], "n-1");
    assert!(claims.get("family_name").is_none());
    let no_email = e.create_oidc_user(OidcProvider::Google, "Carol", None, true);
    let (_, claims, _) = parts(&e.issue_id_token(OidcProvider::Google, &no_email, CLIENT_ID, None));
    assert!(claims.get("email").is_none() && claims.get("email_verified").is_none(), "{claims}");

    let sub = e.create_oidc_user(OidcProvider::Apple, "Ada Lovelace", Some("x7@privaterelay.appleid.com"), true);
    let parts_of_sub: Vec<usize> = sub.split('.').map(str::len).collect();
    assert_eq!(parts_of_sub, vec![6, 32, 4], "{sub}");
    assert!(sub.starts_with("00"));
    let (header, claims, _) = parts(&e.issue_id_token(OidcProvider::Apple, &sub, "com.example.app", Some("raw nonce")));
    assert!(header.get("typ").is_none(), "Apple headers have no typ: {header}");
    assert_eq!(claims["nonce"], hex::encode(Sha256::digest(b"raw nonce")));
    assert_eq!(claims["nonce_supported"], true);
    assert_eq!(claims["email_verified"], "true", "Apple sends a string");
    assert_eq!(claims["is_private_email"], "true");
    assert_eq!(claims["auth_time"], claims["iat"]);
    assert!(claims.get("name").is_none(), "Apple ID tokens carry no name");
    let sub = e.create_oidc_user(OidcProvider::Apple, "Bob", Some("bob@example.com"), false);
    let (_, claims, _) = parts(&e.issue_id_token(OidcProvider::Apple, &sub, "com.example.app", None));
    assert_eq!(claims["email_verified"], "false");
    assert_eq!(claims["is_private_email"], "false");
    assert!(claims.get("nonce").is_none());

    let sub = e.create_oidc_user(OidcProvider::FacebookLimited, "Ada Lovelace", Some("ada@example.com"), true);
    let (_, claims, _) = parts(&e.issue_id_token(OidcProvider::FacebookLimited, &sub, "1234", Some("abc123hash")));
    assert_eq!(claims["nonce"], "abc123hash", "Facebook Limited Login: the nonce as given");
    assert_eq!(claims["jti"].as_str().map(str::len), Some(36));
    assert_eq!(claims["name"], "Ada Lovelace");
    assert!(claims["picture"].as_str().is_some_and(|p| p.contains(&sub)));

    let sub = e.create_oidc_user(OidcProvider::LinkedIn, "Ada Lovelace", Some("ada@example.com"), true);
    let (_, claims, _) = parts(&e.issue_id_token(OidcProvider::LinkedIn, &sub, "77abcdef", None));
    assert_eq!(claims["email_verified"], "true");
    assert_eq!(claims["locale"], "en-US");
    assert_eq!(claims["given_name"], "Ada");
}

#[tokio::test]
async fn a_token_does_not_verify_with_another_providers_jwks() {
    let env = start().await;
    // Google and Facebook Limited Login start on the same fixture key, under different kids.
    let sub = env.emulator.create_oidc_user(OidcProvider::Google, "Ada", None, true);
    let token = env.emulator.issue_id_token(OidcProvider::Google, &sub, CLIENT_ID, None);
    for other in [OidcProvider::FacebookLimited, OidcProvider::LinkedIn, OidcProvider::Apple] {
        let (_, jwks) = env.jwks(other).await;
        let err = verify(&token, &jwks, OidcProvider::Google, CLIENT_ID).expect_err("kid not published there");
        assert_eq!(err.kind(), &ErrorKind::InvalidKeyFormat, "{other}");
    }
    assert_ne!(env.emulator.current_kid(OidcProvider::Google), env.emulator.current_kid(OidcProvider::FacebookLimited));
}

#[tokio::test]
async fn rotation_publishes_the_new_and_the_previous_key_and_fetches_are_counted() {
    let env = start().await;
    let e = &env.emulator;
    let provider = OidcProvider::Google;
    let sub = e.create_oidc_user(provider, "Ada", Some("ada@example.com"), true);
    assert_eq!(e.jwks_fetches(provider), 0);

    let first_kid = e.current_kid(provider);
    let old_token = e.issue_id_token(provider, &sub, CLIENT_ID, None);
    let (_, jwks) = env.jwks(provider).await;
    assert_eq!(e.jwks_fetches(provider), 1);
    verify(&old_token, &jwks, provider, CLIENT_ID).expect("old token, old JWKS");

    e.rotate_keys(provider);
    let second_kid = e.current_kid(provider);
    assert_ne!(second_kid, first_kid);
    let new_token = e.issue_id_token(provider, &sub, CLIENT_ID, None);
    assert_eq!(parts(&new_token).0["kid"], second_kid.as_str());
    // A verifier holding the old JWKS cannot check the new token: it must refetch.
    assert!(verify(&new_token, &jwks, provider, CLIENT_ID).is_err());

    let (_, jwks) = env.jwks(provider).await;
    assert_eq!(e.jwks_fetches(provider), 2);
    assert_eq!(kids(&jwks), vec![second_kid.clone(), first_kid.clone()]);
    assert_ne!(modulus(&jwks, &second_kid), modulus(&jwks, &first_kid), "a different key, not just a new kid");
    verify(&new_token, &jwks, provider, CLIENT_ID).expect("new token");
    verify(&old_token, &jwks, provider, CLIENT_ID).expect("old token still verifies after one rotation");

    // A second rotation retires the first key.
    e.rotate_keys(provider);
    let (_, jwks) = env.jwks(provider).await;
    assert_eq!(e.jwks_fetches(provider), 3);
    assert_eq!(kids(&jwks), vec![e.current_kid(provider), second_kid]);
    assert!(verify(&old_token, &jwks, provider, CLIENT_ID).is_err(), "the first key is gone");

    // The other providers were neither rotated nor fetched.
    for other in [OidcProvider::LinkedIn, OidcProvider::Apple, OidcProvider::FacebookLimited] {
        assert_eq!(e.jwks_fetches(other), 0, "{other}");
        let (_, jwks) = env.jwks(other).await;
        assert_eq!(jwks.keys.len(), 1, "{other}");
        assert_eq!(e.jwks_fetches(other), 1, "{other}");
    }
    assert_eq!(e.jwks_fetches(provider), 3);
}

#[tokio::test]
async fn signing_modes_produce_what_they_say() {
    let env = start().await;
    let e = &env.emulator;
    for provider in OidcProvider::ALL {
        let claims = valid_claims(provider, CLIENT_ID);
        let (_, jwks) = env.jwks(provider).await;
        let current = e.current_kid(provider);
        let sign = |mode| e.sign_id_token(provider, claims.clone(), mode);

        // Current: valid, and the claims are exactly the ones given.
        let data = verify(&sign(SigningMode::Current), &jwks, provider, CLIENT_ID).expect("Current verifies");
        assert_eq!(data.claims, claims, "{provider}");

        // UnknownKid: an unpublished kid, and no published key verifies its signature either.
        let token = sign(SigningMode::UnknownKid);
        let (header, _, _) = parts(&token);
        let kid = header["kid"].as_str().expect("kid").to_string();
        assert!(kid.starts_with("unknown-"), "{kid}");
        assert!(jwks.find(&kid).is_none());
        assert_eq!(header["alg"], "RS256");
        for jwk in &jwks.keys {
            let key = DecodingKey::from_jwk(jwk).expect("RSA JWK");
            let err = decode::<Value>(&token, &key, &Validation::new(Algorithm::RS256)).expect_err("unpublished key");
            assert_eq!(err.kind(), &ErrorKind::InvalidSignature, "{provider}");
        }

        // NoneAlg: alg none, current kid, empty signature; an RS256 verifier refuses it.
        let token = sign(SigningMode::NoneAlg);
        assert!(token.ends_with('.'), "{token}");
        let (header, body, signature) = parts(&token);
        assert_eq!(header["alg"], "none");
        assert_eq!(header["kid"], current.as_str());
        assert_eq!(body, claims);
        assert!(signature.is_empty());
        assert!(verify(&token, &jwks, provider, CLIENT_ID).is_err());

        // Hs256WithPublicKey: verifies with HS256 keyed by the current public key's PEM bytes,
        // and never as RS256.
        let token = sign(SigningMode::Hs256WithPublicKey);
        let (header, _, _) = parts(&token);
        assert_eq!(header["alg"], "HS256");
        assert_eq!(header["kid"], current.as_str());
        let err = verify(&token, &jwks, provider, CLIENT_ID).expect_err("RS256 verifier");
        assert_eq!(err.kind(), &ErrorKind::InvalidAlgorithm);
        let pem = fixture_public_pem(&modulus(&jwks, &current));
        let mut hs256 = Validation::new(Algorithm::HS256);
        hs256.set_audience(&[CLIENT_ID]);
        let data = decode::<Value>(&token, &DecodingKey::from_secret(&pem), &hs256).expect("HS256 with the PEM");
        assert_eq!(data.claims, claims);
        let err = decode::<Value>(&token, &DecodingKey::from_secret(b"another key"), &hs256).expect_err("other key");
        assert_eq!(err.kind(), &ErrorKind::InvalidSignature);

        // BadSignature: well-formed, RS256, current kid, but the signature does not match.
        let token = sign(SigningMode::BadSignature);
        let (header, body, _) = parts(&token);
        assert_eq!((header["alg"].as_str(), header["kid"].as_str()), (Some("RS256"), Some(current.as_str())));
        assert_eq!(body, claims);
        let err = verify(&token, &jwks, provider, CLIENT_ID).expect_err("tampered");
        assert_eq!(err.kind(), &ErrorKind::InvalidSignature, "{provider}");

        // OtherAlg: RS512 with the current key: refused by an RS256 verifier, valid as RS512.
        let token = sign(SigningMode::OtherAlg);
        assert_eq!(parts(&token).0["kid"], current.as_str());
        let err = verify(&token, &jwks, provider, CLIENT_ID).expect_err("not RS256");
        assert_eq!(err.kind(), &ErrorKind::InvalidAlgorithm);
        let key = DecodingKey::from_jwk(jwks.find(&current).expect("current key")).expect("RSA JWK");
        let mut rs512 = Validation::new(Algorithm::RS512);
        rs512.set_audience(&[CLIENT_ID]);
        decode::<Value>(&token, &key, &rs512).expect("a real RS512 signature");
    }
}

#[tokio::test]
async fn explicit_claims_are_signed_as_given() {
    let env = start().await;
    let provider = OidcProvider::Apple;
    let (_, jwks) = env.jwks(provider).await;
    let now = now();
    let sign = |claims: Value| env.emulator.sign_id_token(provider, claims, SigningMode::Current);

    let expired =
        json!({ "iss": provider.issuer(), "aud": CLIENT_ID, "sub": "s", "iat": now - 7200, "exp": now - 3600 });
    let err = verify(&sign(expired), &jwks, provider, CLIENT_ID).expect_err("expired");
    assert_eq!(err.kind(), &ErrorKind::ExpiredSignature);

    let wrong_iss = json!({ "iss": "https://evil.example", "aud": CLIENT_ID, "sub": "s", "exp": now + 600 });
    let err = verify(&sign(wrong_iss), &jwks, provider, CLIENT_ID).expect_err("issuer");
    assert_eq!(err.kind(), &ErrorKind::InvalidIssuer);

    let not_yet =
        json!({ "iss": provider.issuer(), "aud": CLIENT_ID, "sub": "s", "exp": now + 7200, "nbf": now + 3600 });
    let token = sign(not_yet);
    let key = DecodingKey::from_jwk(&jwks.keys[0]).expect("RSA JWK");
    let mut validation = Validation::new(Algorithm::RS256);
    validation.set_audience(&[CLIENT_ID]);
    validation.validate_nbf = true;
    let err = decode::<Value>(&token, &key, &validation).expect_err("not yet valid");
    assert_eq!(err.kind(), &ErrorKind::ImmatureSignature);
}

#[tokio::test]
async fn jwks_max_age_is_configurable() {
    let env = start().await;
    env.emulator.set_jwks_max_age(42);
    let (headers, _) = env.jwks(OidcProvider::Google).await;
    assert_eq!(headers["cache-control"], "public, max-age=42, must-revalidate, no-transform");
    let (headers, _) = env.jwks(OidcProvider::Apple).await;
    assert_eq!(headers["cache-control"], "public, max-age=42");
}

#[tokio::test]
async fn google_tokeninfo_and_userinfo() {
    let env = start().await;
    let e = &env.emulator;
    let sub = e.create_oidc_user(OidcProvider::Google, "Ada King Lovelace", Some("ada@example.com"), true);
    let token = e.issue_oauth_access_token(OidcProvider::Google, &sub, CLIENT_ID);
    assert!(token.starts_with("ya29."), "{token}");

    let (status, _, body) = env.get_json(&format!("/google/tokeninfo?access_token={token}"), None).await;
    assert_eq!(status, StatusCode::OK, "{body}");
    let mut keys: Vec<&str> = body.as_object().expect("object").keys().map(String::as_str).collect();
    keys.sort_unstable();
    assert_eq!(keys, ["access_type", "aud", "azp", "email", "email_verified", "exp", "expires_in", "scope", "sub"]);
    assert_eq!(body["aud"], CLIENT_ID);
    assert_eq!(body["azp"], CLIENT_ID);
    assert_eq!(body["sub"], sub);
    assert_eq!(body["email"], "ada@example.com");
    assert_eq!(body["email_verified"], "true");
    assert_eq!(body["access_type"], "online");
    let expires_in: i64 = body["expires_in"].as_str().and_then(|s| s.parse().ok()).expect("a number as a string");
    assert!((3500..=3599).contains(&expires_in), "{expires_in}");
    let exp: i64 = body["exp"].as_str().and_then(|s| s.parse().ok()).expect("a number as a string");
    assert!((exp - now() - expires_in).abs() <= 2);

    let (status, _, body) = env.get_json("/google/v1/userinfo", Some(&token)).await;
    assert_eq!(status, StatusCode::OK, "{body}");
    assert_eq!(body["sub"], sub);
    assert_eq!(body["name"], "Ada King Lovelace");
    assert_eq!(body["given_name"], "Ada");
    assert_eq!(body["family_name"], "Lovelace");
    assert_eq!(body["email"], "ada@example.com");
    assert_eq!(body["email_verified"], true, "userinfo answers a bool");
    assert!(body["picture"].as_str().is_some_and(|p| p.starts_with("https://")));

    // Bad tokens: a made-up one, a LinkedIn one, and a revoked one.
    let linkedin_sub = e.create_oidc_user(OidcProvider::LinkedIn, "Ada", None, true);
    let linkedin_token = e.issue_oauth_access_token(OidcProvider::LinkedIn, &linkedin_sub, CLIENT_ID);
    let revoked = e.issue_oauth_access_token(OidcProvider::Google, &sub, CLIENT_ID);
    e.revoke_oauth_access_token(&revoked);
    for bad in ["ya29.made-up", linkedin_token.as_str(), revoked.as_str()] {
        let (status, _, body) = env.get_json(&format!("/google/tokeninfo?access_token={bad}"), None).await;
        assert_eq!(status, StatusCode::BAD_REQUEST);
        assert_eq!(body, json!({ "error": "invalid_token", "error_description": "Invalid Value" }));
        let (status, headers, body) = env.get_json("/google/v1/userinfo", Some(bad)).await;
        assert_eq!(status, StatusCode::UNAUTHORIZED);
        assert_eq!(body, json!({ "error": "invalid_request", "error_description": "Invalid Credentials" }));
        assert!(headers.contains_key("www-authenticate"));
    }
    let (status, _, body) = env.get_json("/google/tokeninfo", None).await;
    assert_eq!(status, StatusCode::BAD_REQUEST);
    assert_eq!(body["error"], "invalid_request");
    let (status, _, _) = env.get_json("/google/v1/userinfo", None).await;
    assert_eq!(status, StatusCode::UNAUTHORIZED);
    // The original token is still good.
    let (status, _, _) = env.get_json(&format!("/google/tokeninfo?access_token={token}"), None).await;
    assert_eq!(status, StatusCode::OK);
}

#[tokio::test]
async fn linkedin_userinfo() {
    let env = start().await;
    let e = &env.emulator;
    let sub = e.create_oidc_user(OidcProvider::LinkedIn, "Ada Lovelace", Some("ada@example.com"), true);
    let token = e.issue_oauth_access_token(OidcProvider::LinkedIn, &sub, "77abcdef");

    let (status, _, body) = env.get_json("/linkedin/v2/userinfo", Some(&token)).await;
    assert_eq!(status, StatusCode::OK, "{body}");
    assert_eq!(body["sub"], sub);
    assert_eq!(body["name"], "Ada Lovelace");
    assert_eq!(body["given_name"], "Ada");
    assert_eq!(body["family_name"], "Lovelace");
    assert_eq!(body["email"], "ada@example.com");
    assert_eq!(body["email_verified"], true);
    assert_eq!(body["locale"], json!({ "country": "US", "language": "en" }));
    assert!(body["picture"].as_str().is_some_and(|p| p.starts_with("https://")));

    let google_sub = e.create_oidc_user(OidcProvider::Google, "Ada", None, true);
    let google_token = e.issue_oauth_access_token(OidcProvider::Google, &google_sub, CLIENT_ID);
    let revoked = e.issue_oauth_access_token(OidcProvider::LinkedIn, &sub, "77abcdef");
    e.revoke_oauth_access_token(&revoked);
    for bad in ["AQmadeup", google_token.as_str(), revoked.as_str()] {
        let (status, _, body) = env.get_json("/linkedin/v2/userinfo", Some(bad)).await;
        assert_eq!(status, StatusCode::UNAUTHORIZED);
        assert_eq!(body, json!({ "serviceErrorCode": 65600, "message": "Invalid access token", "status": 401 }));
    }
    let (status, _, body) = env.get_json("/linkedin/v2/userinfo", None).await;
    assert_eq!(status, StatusCode::UNAUTHORIZED);
    assert_eq!(body["serviceErrorCode"], 65604);
}

#[tokio::test]
async fn faults_apply_to_provider_routes_and_every_request_is_counted() {
    let env = start().await;
    let e = &env.emulator;
    let sub = e.create_oidc_user(OidcProvider::Google, "Ada", Some("ada@example.com"), true);
    let token = e.issue_oauth_access_token(OidcProvider::Google, &sub, CLIENT_ID);
    let tokeninfo = format!("/google/tokeninfo?access_token={token}");
    let paths = [
        OidcProvider::Google.jwks_path(),
        OidcProvider::LinkedIn.jwks_path(),
        OidcProvider::Apple.jwks_path(),
        OidcProvider::FacebookLimited.jwks_path(),
        tokeninfo.as_str(),
        "/google/v1/userinfo",
        "/linkedin/v2/userinfo",
    ];

    e.set_fault(Fault::Status500);
    for path in paths {
        let before = e.request_count();
        let response = env.get(path).await;
        assert_eq!(response.status(), StatusCode::INTERNAL_SERVER_ERROR, "{path}");
        assert_eq!(e.request_count(), before + 1, "{path}");
    }
    // Faulted JWKS requests still count as fetches.
    assert_eq!(e.jwks_fetches(OidcProvider::Google), 1);

    e.set_fault(Fault::RateLimited);
    assert_eq!(env.get(OidcProvider::Apple.jwks_path()).await.status(), StatusCode::FORBIDDEN);

    e.set_fault(Fault::InvalidJson);
    let response = env.get(OidcProvider::LinkedIn.jwks_path()).await;
    assert_eq!(response.status(), StatusCode::OK);
    assert!(response.json::<Value>().await.is_err(), "the body is not JSON");

    e.set_fault(Fault::CloseConnection);
    let result = env.client.get(env.url(&tokeninfo)).send().await;
    assert!(result.is_err(), "the connection is dropped: {result:?}");

    e.set_fault(Fault::Hang);
    let result = env.client.get(env.url("/google/v1/userinfo")).timeout(Duration::from_millis(300)).send().await;
    assert!(result.is_err_and(|e| e.is_timeout()));

    e.set_fault(Fault::None);
    for path in paths[..5].iter() {
        assert_eq!(env.get(path).await.status(), StatusCode::OK, "{path}");
    }

    // Unknown paths under a provider prefix are that provider's 404, counted too.
    let before = e.request_count();
    assert_eq!(env.get("/google/oauth2/v1/nope").await.status(), StatusCode::NOT_FOUND);
    assert_eq!(env.get("/apple").await.status(), StatusCode::NOT_FOUND);
    assert_eq!(e.request_count(), before + 2);
    // Admin calls are not.
    let before = e.request_count();
    let (status, _) = env.post_admin("/_emulator/oidc/google/rotate", json!({})).await;
    assert_eq!(status, StatusCode::OK);
    assert_eq!(e.request_count(), before);
}

#[tokio::test]
async fn admin_routes_drive_the_providers() {
    let env = start().await;
    for provider in OidcProvider::ALL {
        let slug = provider.slug();
        let (status, body) = env
            .post_admin(
                &format!("/_emulator/oidc/{slug}/users"),
                json!({ "name": "Ada Lovelace", "email": "ada@example.com" }),
            )
            .await;
        assert_eq!(status, StatusCode::OK, "{body}");
        let sub = body["sub"].as_str().expect("sub").to_string();

        let (status, body) = env
            .post_admin(
                &format!("/_emulator/oidc/{slug}/id_tokens"),
                json!({ "sub": sub, "aud": CLIENT_ID, "nonce": "n" }),
            )
            .await;
        assert_eq!(status, StatusCode::OK, "{body}");
        let (_, jwks) = env.jwks(provider).await;
        let claims = verify(body["id_token"].as_str().expect("id_token"), &jwks, provider, CLIENT_ID)
            .unwrap_or_else(|e| panic!("{provider}: {e:?}"))
            .claims;
        assert_eq!(claims["sub"], sub.as_str());
        let expected_verified = if matches!(provider, OidcProvider::Google) { json!(true) } else { json!("true") };
        if provider != OidcProvider::FacebookLimited {
            assert_eq!(claims["email_verified"], expected_verified, "{provider}: verified by default");
        }

        let (status, body) = env
            .post_admin(&format!("/_emulator/oidc/{slug}/access_tokens"), json!({ "sub": sub, "aud": CLIENT_ID }))
            .await;
        if matches!(provider, OidcProvider::Google | OidcProvider::LinkedIn) {
            assert_eq!(status, StatusCode::OK, "{body}");
            let path = if provider == OidcProvider::Google { "/google/v1/userinfo" } else { "/linkedin/v2/userinfo" };
            let (status, _, userinfo) = env.get_json(path, body["access_token"].as_str()).await;
            assert_eq!(status, StatusCode::OK);
            assert_eq!(userinfo["sub"], sub.as_str());
        } else {
            assert_eq!(status, StatusCode::BAD_REQUEST, "{provider} has no access tokens: {body}");
        }

        let before = env.emulator.current_kid(provider);
        let (status, body) = env.post_admin(&format!("/_emulator/oidc/{slug}/rotate"), json!({})).await;
        assert_eq!(status, StatusCode::OK);
        assert_ne!(body["kid"], before.as_str());
        assert_eq!(body["kid"], env.emulator.current_kid(provider).as_str());

        let (status, _) = env
            .post_admin(&format!("/_emulator/oidc/{slug}/id_tokens"), json!({ "sub": "nobody", "aud": CLIENT_ID }))
            .await;
        assert_eq!(status, StatusCode::NOT_FOUND);
    }
    let (status, _) = env.post_admin("/_emulator/oidc/myspace/users", json!({ "name": "Tom" })).await;
    assert_eq!(status, StatusCode::NOT_FOUND);
    let (status, _) = env.post_admin("/_emulator/oidc/google/users", json!({ "email": "no name" })).await;
    assert_eq!(status, StatusCode::BAD_REQUEST);
    let (status, body) = env
        .post_admin(
            "/_emulator/oidc/google/users",
            json!({ "name": "Bob", "email": "b@example.com", "email_verified": false }),
        )
        .await;
    assert_eq!(status, StatusCode::OK);
    let sub = body["sub"].as_str().expect("sub");
    let (_, claims, _) = parts(&env.emulator.issue_id_token(OidcProvider::Google, sub, CLIENT_ID, None));
    assert_eq!(claims["email_verified"], false);
}

#[tokio::test]
#[should_panic(expected = "no plain access tokens")]
async fn apple_has_no_access_tokens() {
    let env = start().await;
    let sub = env.emulator.create_oidc_user(OidcProvider::Apple, "Ada", None, true);
    env.emulator.issue_oauth_access_token(OidcProvider::Apple, &sub, "com.example.app");
}

#[tokio::test]
#[should_panic(expected = "unknown user")]
async fn id_tokens_need_a_known_user() {
    let env = start().await;
    // A Google sub is not a LinkedIn user.
    let sub = env.emulator.create_oidc_user(OidcProvider::Google, "Ada", None, true);
    env.emulator.issue_id_token(OidcProvider::LinkedIn, &sub, CLIENT_ID, None);
}
