//! Custom OpenID Connect issuers created at run time and the Microsoft-like multi-tenant issuer,
//! over real HTTP: discovery, JWKS, tokens that verify with `jsonwebtoken` against the published
//! keys, rotation, per-issuer faults, the admin API, Microsoft's `{tenantid}` placeholder and `tid`.

mod common;

use std::time::Duration;

use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use base64::Engine;
use common::{start_with, Env};
use emulator::{
    EmulatorConfig, Fault, FaultOn, OidcIssuerOptions, SigningAlg, SigningMode, MICROSOFT, MICROSOFT_CONSUMER_TENANT,
};
use jsonwebtoken::jwk::JwkSet;
use jsonwebtoken::{decode_header, Algorithm, TokenData};
use reqwest::StatusCode;
use serde_json::{json, Value};

const CLIENT_ID: &str = "social-login-app";
const OTHER_CLIENT_ID: &str = "another-app";
const TENANT: &str = "72f988bf-86f1-41af-91ab-2d7cd011db47";

async fn start() -> Env {
    start_with(EmulatorConfig::default()).await
}

impl Env {
    async fn get_json(&self, url: &str) -> (StatusCode, reqwest::header::HeaderMap, Value) {
        let response = self.client.get(url).send().await.expect("request");
        let (status, headers) = (response.status(), response.headers().clone());
        let body = response.json().await.unwrap_or(Value::Null);
        (status, headers, body)
    }

    async fn post_admin(&self, path: &str, body: Value) -> (StatusCode, Value) {
        let response = self.client.post(self.url(path)).json(&body).send().await.expect("request");
        let status = response.status();
        (status, response.json().await.expect("a JSON body"))
    }

    /// Discovery, then the JWKS it names, as a relying party fetches them.
    async fn discover(&self, discovery_url: &str) -> (Value, JwkSet) {
        let (status, _, doc) = self.get_json(discovery_url).await;
        assert_eq!(status, StatusCode::OK, "discovery {discovery_url}: {doc}");
        let jwks_uri = doc["jwks_uri"].as_str().expect("jwks_uri").to_string();
        let response = self.client.get(&jwks_uri).send().await.expect("request");
        assert_eq!(response.status(), StatusCode::OK, "JWKS {jwks_uri}");
        (doc, response.json::<JwkSet>().await.expect("a JWKS"))
    }
}

fn algorithm(alg: SigningAlg) -> Algorithm {
    match alg {
        SigningAlg::RS256 => Algorithm::RS256,
        SigningAlg::RS512 => Algorithm::RS512,
        SigningAlg::PS256 => Algorithm::PS256,
        SigningAlg::ES256 => Algorithm::ES256,
    }
}

/// Verifies as a relying party does: the JWKS key named by the kid, only `alg`, the issuer and
/// our audience.
fn verify(
    token: &str,
    jwks: &JwkSet,
    alg: Algorithm,
    iss: &str,
    aud: &str,
) -> jsonwebtoken::errors::Result<TokenData<Value>> {
    common::verify_id_token(token, jwks, alg, iss, aud)
}

fn claims_of(token: &str) -> Value {
    let payload = token.split('.').nth(1).expect("a compact JWS");
    serde_json::from_slice(&URL_SAFE_NO_PAD.decode(payload).expect("base64url")).expect("JSON")
}

fn kids(jwks: &JwkSet) -> Vec<String> {
    jwks.keys.iter().map(|k| k.common.key_id.clone().unwrap_or_default()).collect()
}

#[tokio::test]
async fn a_custom_issuer_publishes_discovery_and_jwks_under_the_emulator() {
    let env = start().await;
    let info = env.emulator.create_oidc_issuer("keycloak", OidcIssuerOptions::default());
    assert_eq!(info.issuer, format!("{}/oidc/keycloak", env.base));
    assert_eq!(info.discovery_url, format!("{}/oidc/keycloak/.well-known/openid-configuration", env.base));
    let (status, headers, doc) = env.get_json(&info.discovery_url).await;
    assert_eq!(status, StatusCode::OK);
    assert_eq!(doc["issuer"], info.issuer.as_str());
    assert_eq!(doc["jwks_uri"], format!("{}/oidc/keycloak/jwks", env.base).as_str());
    assert_eq!(doc["id_token_signing_alg_values_supported"], json!(["RS256"]));
    assert_eq!(doc["subject_types_supported"], json!(["public"]));
    let cache_control = headers.get("cache-control").and_then(|v| v.to_str().ok()).unwrap_or_default();
    assert!(cache_control.starts_with("public, max-age="), "{cache_control}");
    let (_, jwks) = env.discover(&info.discovery_url).await;
    assert_eq!(kids(&jwks), vec![info.kid.clone()]);
    assert_eq!(env.emulator.oidc_issuer_fetches("keycloak"), (2, 1));

    // Another issuer has keys of its own; an unknown one is 404, a non-GET 405.
    let other = env.emulator.create_oidc_issuer("okta", OidcIssuerOptions::default());
    assert_ne!(other.kid, info.kid);
    let (status, _, _) = env.get_json(&env.url("/oidc/nobody/.well-known/openid-configuration")).await;
    assert_eq!(status, StatusCode::NOT_FOUND);
    let (status, _, _) = env.get_json(&env.url("/oidc/microsoft/jwks")).await;
    assert_eq!(status, StatusCode::NOT_FOUND, "Microsoft lives under /microsoft only");
    let response = env.client.post(&info.jwks_uri).send().await.expect("request");
    assert_eq!(response.status(), StatusCode::METHOD_NOT_ALLOWED);
}

#[tokio::test]
async fn tokens_with_chosen_claims_verify_with_the_published_key_for_every_algorithm() {
    let env = start().await;
    for alg in SigningAlg::ALL {
        let name = format!("idp-{}", alg.name().to_ascii_lowercase());
        let info = env.emulator.create_oidc_issuer(&name, OidcIssuerOptions { alg, ..Default::default() });
        let (doc, jwks) = env.discover(&info.discovery_url).await;
        assert_eq!(doc["id_token_signing_alg_values_supported"], json!([alg.name()]), "{alg}");
        let token = env.emulator.issue_custom_id_token(
            &name,
            CLIENT_ID,
            json!({ "sub": "user-1", "email": "ada@example.com", "email_verified": false,
                    "upn": "ada@corp.example", "nonce": "abc", "iat": null }),
        );
        let data =
            verify(&token, &jwks, algorithm(alg), &info.issuer, CLIENT_ID).unwrap_or_else(|e| panic!("{alg}: {e:?}"));
        assert_eq!(data.header.alg, algorithm(alg));
        assert_eq!(data.header.kid.as_deref(), Some(info.kid.as_str()));
        let claims = data.claims;
        assert_eq!(claims["iss"], info.issuer.as_str());
        assert_eq!(claims["aud"], CLIENT_ID);
        assert_eq!(claims["sub"], "user-1");
        assert_eq!(claims["email"], "ada@example.com");
        assert_eq!(claims["email_verified"], false);
        assert_eq!(claims["upn"], "ada@corp.example");
        assert_eq!(claims["nonce"], "abc");
        assert!(claims.get("iat").is_none(), "a null claim is removed: {claims}");
        assert!(claims["exp"].as_i64().is_some());
        // Another audience is refused; so is the token under another issuer.
        assert!(verify(&token, &jwks, algorithm(alg), &info.issuer, OTHER_CLIENT_ID).is_err());
        assert!(verify(&token, &jwks, algorithm(alg), "https://accounts.google.com", CLIENT_ID).is_err());
    }
}

#[tokio::test]
async fn signing_modes_are_refused_by_a_strict_verifier() {
    let env = start().await;
    for alg in [SigningAlg::RS256, SigningAlg::ES256] {
        let name = format!("modes-{}", alg.name().to_ascii_lowercase());
        let info = env.emulator.create_oidc_issuer(&name, OidcIssuerOptions { alg, ..Default::default() });
        let (_, jwks) = env.discover(&info.discovery_url).await;
        let now = i64::try_from(jsonwebtoken::get_current_timestamp()).expect("clock");
        let claims = json!({ "iss": info.issuer, "aud": CLIENT_ID, "sub": "s", "iat": now, "exp": now + 600 });
        for mode in SigningMode::ALL {
            let token = env.emulator.sign_custom_id_token(&name, claims.clone(), mode);
            let verified = verify(&token, &jwks, algorithm(alg), &info.issuer, CLIENT_ID);
            assert_eq!(verified.is_ok(), mode == SigningMode::Current, "{alg} {mode:?}: {verified:?}");
        }
        let expired = env.emulator.issue_custom_id_token(&name, CLIENT_ID, json!({ "exp": now - 3600 }));
        assert!(verify(&expired, &jwks, algorithm(alg), &info.issuer, CLIENT_ID).is_err(), "{alg}: expired");
    }
}

#[tokio::test]
async fn rotation_publishes_the_new_key_and_the_previous_one() {
    let env = start().await;
    for alg in [SigningAlg::RS256, SigningAlg::ES256] {
        let name = format!("rotating-{}", alg.name().to_ascii_lowercase());
        let info = env.emulator.create_oidc_issuer(&name, OidcIssuerOptions { alg, ..Default::default() });
        let old = env.emulator.issue_custom_id_token(&name, CLIENT_ID, Value::Null);
        let first = info.kid.clone();
        let second = env.emulator.rotate_oidc_issuer(&name);
        assert_ne!(first, second);
        assert_eq!(env.emulator.oidc_issuer_kid(&name), second);
        let new = env.emulator.issue_custom_id_token(&name, CLIENT_ID, Value::Null);
        let (_, jwks) = env.discover(&info.discovery_url).await;
        assert_eq!(kids(&jwks), vec![second.clone(), first.clone()], "{alg}");
        for token in [&old, &new] {
            verify(token, &jwks, algorithm(alg), &info.issuer, CLIENT_ID).unwrap_or_else(|e| panic!("{alg}: {e:?}"));
        }
        assert_eq!(decode_header(&new).expect("header").kid.as_deref(), Some(second.as_str()));
        // A second rotation retires the first key: tokens signed with it no longer verify.
        let third = env.emulator.rotate_oidc_issuer(&name);
        let (_, jwks) = env.discover(&info.discovery_url).await;
        assert_eq!(kids(&jwks), vec![third, second], "{alg}");
        assert!(verify(&old, &jwks, algorithm(alg), &info.issuer, CLIENT_ID).is_err(), "{alg}");
        verify(&new, &jwks, algorithm(alg), &info.issuer, CLIENT_ID).unwrap_or_else(|e| panic!("{alg}: {e:?}"));
    }
}

#[tokio::test]
async fn faults_hit_one_issuer_and_one_endpoint() {
    let env = start().await;
    let a = env.emulator.create_oidc_issuer("a", OidcIssuerOptions::default());
    let b = env.emulator.create_oidc_issuer("b", OidcIssuerOptions::default());
    let status = |url: String| {
        let client = env.client.clone();
        async move { client.get(url).send().await.expect("request").status() }
    };

    env.emulator.set_oidc_issuer_fault("a", Fault::Status500, FaultOn::Discovery);
    assert_eq!(status(a.discovery_url.clone()).await, StatusCode::INTERNAL_SERVER_ERROR);
    assert_eq!(status(a.jwks_uri.clone()).await, StatusCode::OK);
    assert_eq!(status(b.discovery_url.clone()).await, StatusCode::OK);

    env.emulator.set_oidc_issuer_fault("a", Fault::Status500, FaultOn::Jwks);
    assert_eq!(status(a.discovery_url.clone()).await, StatusCode::OK);
    assert_eq!(status(a.jwks_uri.clone()).await, StatusCode::INTERNAL_SERVER_ERROR);
    assert_eq!(env.emulator.oidc_issuer_fetches("a"), (2, 2), "faulted fetches count too");

    // Hang: a client with a deadline times out.
    env.emulator.set_oidc_issuer_fault("a", Fault::Hang, FaultOn::All);
    let short = reqwest::Client::builder().timeout(Duration::from_millis(300)).build().expect("client");
    let error = short.get(&a.discovery_url).send().await.expect_err("the discovery hangs");
    assert!(error.is_timeout(), "{error:?}");
    assert_eq!(status(b.jwks_uri.clone()).await, StatusCode::OK);

    // Cleared: the emulator-wide fault applies to the custom issuers as to the built-ins.
    env.emulator.set_oidc_issuer_fault("a", Fault::None, FaultOn::All);
    assert_eq!(status(a.discovery_url.clone()).await, StatusCode::OK);
    env.emulator.set_fault(Fault::Status500);
    assert_eq!(status(b.jwks_uri.clone()).await, StatusCode::INTERNAL_SERVER_ERROR);
    env.emulator.set_fault(Fault::None);

    // Over the admin API, with its stats.
    let (code, body) =
        env.post_admin("/_emulator/issuers/b/fault", json!({ "fault": "status500", "on": "jwks" })).await;
    assert_eq!((code, &body), (StatusCode::OK, &json!({ "fault": "status500", "on": "jwks" })));
    assert_eq!(status(b.jwks_uri.clone()).await, StatusCode::INTERNAL_SERVER_ERROR);
    let (code, _) =
        env.post_admin("/_emulator/issuers/b/fault", json!({ "fault": "status500", "on": "userinfo" })).await;
    assert_eq!(code, StatusCode::BAD_REQUEST);
    let (_, _, stats) = env.get_json(&env.url("/_emulator/issuers/b/stats")).await;
    assert_eq!(stats["jwks_fetches"].as_u64(), Some(3), "{stats}");
}

#[tokio::test]
async fn the_admin_api_creates_issuers_and_mints_their_tokens() {
    let env = start().await;
    let (status, info) = env.post_admin("/_emulator/issuers", json!({ "name": "zitadel", "alg": "ES256" })).await;
    assert_eq!(status, StatusCode::OK, "{info}");
    assert_eq!(info["issuer"], format!("{}/oidc/zitadel", env.base).as_str());
    assert_eq!(info["alg"], "ES256");
    for (body, expected) in [
        (json!({ "name": "zitadel" }), StatusCode::CONFLICT),
        (json!({ "name": "Bad Name" }), StatusCode::BAD_REQUEST),
        (json!({ "name": "microsoft" }), StatusCode::BAD_REQUEST),
        (json!({ "name": "hs", "alg": "HS256" }), StatusCode::BAD_REQUEST),
        (json!({ "name": "none", "alg": "none" }), StatusCode::BAD_REQUEST),
    ] {
        let (status, answer) = env.post_admin("/_emulator/issuers", body.clone()).await;
        assert_eq!(status, expected, "{body} -> {answer}");
    }
    let (status, _, again) = env.get_json(&env.url("/_emulator/issuers/zitadel")).await;
    assert_eq!((status, again["kid"].clone()), (StatusCode::OK, info["kid"].clone()));

    let (status, minted) = env
        .post_admin(
            "/_emulator/issuers/zitadel/id_tokens",
            json!({ "aud": CLIENT_ID, "claims": { "sub": "42", "email": "x@example.com" } }),
        )
        .await;
    assert_eq!(status, StatusCode::OK, "{minted}");
    let token = minted["id_token"].as_str().expect("id_token");
    let (_, jwks) = env.discover(info["discovery_url"].as_str().expect("discovery_url")).await;
    let data =
        verify(token, &jwks, Algorithm::ES256, info["issuer"].as_str().expect("issuer"), CLIENT_ID).expect("verifies");
    assert_eq!((data.claims["sub"].clone(), data.claims["email"].clone()), (json!("42"), json!("x@example.com")));

    let (status, forged) =
        env.post_admin("/_emulator/issuers/zitadel/id_tokens", json!({ "aud": CLIENT_ID, "mode": "none_alg" })).await;
    assert_eq!(status, StatusCode::OK);
    assert!(forged["id_token"].as_str().expect("id_token").ends_with('.'));
    let (status, _) =
        env.post_admin("/_emulator/issuers/zitadel/id_tokens", json!({ "aud": CLIENT_ID, "mode": "x" })).await;
    assert_eq!(status, StatusCode::BAD_REQUEST);
    let (status, _) = env.post_admin("/_emulator/issuers/nobody/id_tokens", json!({ "aud": CLIENT_ID })).await;
    assert_eq!(status, StatusCode::NOT_FOUND);

    let (status, rotated) = env.post_admin("/_emulator/issuers/zitadel/rotate", json!({})).await;
    assert_eq!(status, StatusCode::OK);
    assert_ne!(rotated["kid"], info["kid"]);

    // Discovery overrides: a document whose issuer is not the URL it was fetched from.
    let (status, _) = env
        .post_admin("/_emulator/issuers", json!({ "name": "liar", "discovery": { "issuer": "https://accounts.google.com", "userinfo_endpoint": null } }))
        .await;
    assert_eq!(status, StatusCode::OK);
    let (_, _, doc) = env.get_json(&env.url("/oidc/liar/.well-known/openid-configuration")).await;
    assert_eq!(doc["issuer"], "https://accounts.google.com");
    assert!(doc.get("userinfo_endpoint").is_none(), "{doc}");
    assert_eq!(doc["jwks_uri"], format!("{}/oidc/liar/jwks", env.base).as_str());
}

#[tokio::test]
async fn microsoft_discovery_has_the_tenant_placeholder_and_one_jwks() {
    let env = start().await;
    let placeholder = format!("{}/microsoft/{{tenantid}}/v2.0", env.base);
    let mut jwks_kids = Vec::new();
    for (tenant, issuer) in [
        ("common", placeholder.clone()),
        ("organizations", placeholder.clone()),
        ("consumers", format!("{}/microsoft/{MICROSOFT_CONSUMER_TENANT}/v2.0", env.base)),
        (TENANT, format!("{}/microsoft/{TENANT}/v2.0", env.base)),
    ] {
        let url = env.emulator.microsoft_discovery_url(tenant);
        assert_eq!(url, format!("{}/microsoft/{tenant}/v2.0/.well-known/openid-configuration", env.base));
        let (doc, jwks) = env.discover(&url).await;
        assert_eq!(doc["issuer"], issuer.as_str(), "{tenant}");
        assert_eq!(doc["jwks_uri"], format!("{}/microsoft/{tenant}/discovery/v2.0/keys", env.base).as_str());
        assert_eq!(doc["id_token_signing_alg_values_supported"], json!(["RS256"]));
        assert_eq!(doc["subject_types_supported"], json!(["pairwise"]));
        jwks_kids.push(kids(&jwks));
        let (_, _, raw) = env.get_json(doc["jwks_uri"].as_str().expect("jwks_uri")).await;
        assert_eq!(raw["keys"][0]["issuer"], placeholder.as_str(), "Microsoft's keys name the issuer they sign for");
    }
    assert!(jwks_kids.windows(2).all(|w| w[0] == w[1]), "one JWKS for every tenant: {jwks_kids:?}");
    assert_eq!(jwks_kids[0], vec![env.emulator.oidc_issuer_kid(MICROSOFT)]);

    let (status, _, body) =
        env.get_json(&env.url("/microsoft/contoso.example/v2.0/.well-known/openid-configuration")).await;
    assert_eq!(status, StatusCode::BAD_REQUEST);
    assert_eq!(body["error"], "invalid_tenant");

    env.emulator.set_oidc_issuer_fault(MICROSOFT, Fault::Status500, FaultOn::Discovery);
    let (status, _, _) = env.get_json(&env.emulator.microsoft_discovery_url("common")).await;
    assert_eq!(status, StatusCode::INTERNAL_SERVER_ERROR);
}

#[tokio::test]
async fn microsoft_tokens_carry_the_tenant_and_verify_against_the_placeholder_issuer() {
    let env = start().await;
    let (common, jwks) = env.discover(&env.emulator.microsoft_discovery_url("common")).await;
    let template = common["issuer"].as_str().expect("issuer").to_string();

    // A work account of a tenant, whose `email` claim names somebody else (Microsoft does not verify it).
    let work = env.emulator.create_microsoft_user(
        Some(TENANT),
        "Ada Lovelace",
        "ada@contoso.example",
        Some("victim@example.com"),
    );
    assert_eq!(work.tid, TENANT);
    let token = env.emulator.issue_microsoft_id_token(&work.oid, CLIENT_ID, Some("n0nce"), Value::Null);
    let claims = claims_of(&token);
    let tid = claims["tid"].as_str().expect("tid");
    assert_eq!(tid, TENANT);
    let issuer = template.replace("{tenantid}", tid);
    assert_eq!(issuer, env.emulator.microsoft_issuer(TENANT));
    let data = verify(&token, &jwks, Algorithm::RS256, &issuer, CLIENT_ID).expect("verifies with the common JWKS");
    assert_eq!(data.claims["oid"], work.oid.as_str());
    assert_eq!(data.claims["email"], "victim@example.com");
    assert_eq!(data.claims["preferred_username"], "ada@contoso.example");
    assert_eq!(data.claims["name"], "Ada Lovelace");
    assert_eq!(data.claims["nonce"], "n0nce");
    assert_eq!(data.claims["ver"], "2.0");
    // The placeholder itself is not an issuer any token carries.
    assert!(verify(&token, &jwks, Algorithm::RS256, &template, CLIENT_ID).is_err());

    // `sub` is pairwise: stable per app, different for another app; `oid` is the same.
    let again = claims_of(&env.emulator.issue_microsoft_id_token(&work.oid, CLIENT_ID, None, Value::Null));
    let other = claims_of(&env.emulator.issue_microsoft_id_token(&work.oid, OTHER_CLIENT_ID, None, Value::Null));
    assert_eq!(again["sub"], claims["sub"]);
    assert_ne!(other["sub"], claims["sub"]);
    assert_eq!(other["oid"], claims["oid"]);
    assert!(again.get("nonce").is_none());

    // A personal account: the consumer tenant, as the `consumers` discovery names it.
    let personal = env.emulator.create_microsoft_user(None, "Bob", "bob@outlook.com", None);
    assert_eq!(personal.tid, MICROSOFT_CONSUMER_TENANT);
    let token = env.emulator.issue_microsoft_id_token(
        &personal.oid,
        CLIENT_ID,
        None,
        json!({ "email": "ada@contoso.example" }),
    );
    let (consumers, _) = env.discover(&env.emulator.microsoft_discovery_url("consumers")).await;
    let data = verify(&token, &jwks, Algorithm::RS256, consumers["issuer"].as_str().expect("issuer"), CLIENT_ID)
        .expect("verifies");
    assert_eq!(data.claims["tid"], MICROSOFT_CONSUMER_TENANT);
    assert_eq!(data.claims["email"], "ada@contoso.example", "any email a test chooses");

    // Rotation, as the other issuers.
    let old_kid = env.emulator.oidc_issuer_kid(MICROSOFT);
    let new_kid = env.emulator.rotate_oidc_issuer(MICROSOFT);
    let (_, jwks) = env.discover(&env.emulator.microsoft_discovery_url(TENANT)).await;
    assert_eq!(kids(&jwks), vec![new_kid.clone(), old_kid]);
    let token = env.emulator.issue_microsoft_id_token(&work.oid, CLIENT_ID, None, Value::Null);
    assert_eq!(decode_header(&token).expect("header").kid.as_deref(), Some(new_kid.as_str()));
    verify(&token, &jwks, Algorithm::RS256, &issuer, CLIENT_ID).expect("verifies after rotation");
}

#[tokio::test]
async fn microsoft_users_and_tokens_over_the_admin_api() {
    let env = start().await;
    let (status, user) = env
        .post_admin(
            "/_emulator/microsoft/users",
            json!({ "name": "Ada", "tenant": TENANT, "email": "ceo@example.com" }),
        )
        .await;
    assert_eq!(status, StatusCode::OK, "{user}");
    assert_eq!(user["tid"], TENANT);
    let (status, minted) = env
        .post_admin("/_emulator/microsoft/id_tokens", json!({ "oid": user["oid"], "aud": CLIENT_ID, "nonce": "n" }))
        .await;
    assert_eq!(status, StatusCode::OK, "{minted}");
    let claims = claims_of(minted["id_token"].as_str().expect("id_token"));
    assert_eq!(claims["iss"], env.emulator.microsoft_issuer(TENANT).as_str());
    assert_eq!(
        (claims["email"].clone(), claims["preferred_username"].clone()),
        (json!("ceo@example.com"), json!("ceo@example.com"))
    );

    let (status, _) = env.post_admin("/_emulator/microsoft/users", json!({ "name": "X", "tenant": "contoso" })).await;
    assert_eq!(status, StatusCode::BAD_REQUEST);
    let (status, _) =
        env.post_admin("/_emulator/microsoft/id_tokens", json!({ "oid": "nobody", "aud": CLIENT_ID })).await;
    assert_eq!(status, StatusCode::NOT_FOUND);
    let (status, _) = env.post_admin("/_emulator/issuers/microsoft/id_tokens", json!({ "aud": CLIENT_ID })).await;
    assert_eq!(status, StatusCode::BAD_REQUEST, "Microsoft tokens are minted for its users");
    let (status, rotated) = env.post_admin("/_emulator/issuers/microsoft/rotate", json!({})).await;
    assert_eq!(status, StatusCode::OK);
    assert_eq!(rotated["kid"], env.emulator.oidc_issuer_kid(MICROSOFT).as_str());
}
