//! An instance's own custom OpenID Connect providers and its own Microsoft app, served on
//! Rocket.Chat's `POST /api/v1/login` through the local gateway (issue 31; docs/security.md
//! "Per-instance custom OpenID Connect providers and Microsoft"). The instance's configuration
//! is written raw, as the admin tool writes it: in the instance's item (`INSTCONF#{instance}` /
//! `PROVIDERS`) the attribute `oidc-{name}` for a custom provider, `microsoft` for Microsoft.
//! A Rocket.Chat client sends the ID token as a custom OAuth service's `accessToken` (or
//! `idToken`), with `expiresIn` as Rocket.Chat's OAuth handler requires, and the raw `nonce`.
//! The verifier-level refusals are in tests/api/custom_oidc.rs.

use std::collections::HashMap;

use aws_sdk_dynamodb::types::AttributeValue;
use emulator::{Fault, FaultOn, OidcIssuerOptions, OidcProvider, SigningAlg, SigningMode};
use local_stack::demo::GOOGLE_CLIENT_ID;
use serde_json::{json, Value};
use shared::domain::tokens::sha256_hex;

use crate::helpers::*;

const CLIENT_ID: &str = "rc-mobile-app";
const NONCE: &str = "raw-nonce-of-this-login";
const TENANT: &str = "72f988bf-86f1-41af-91ab-2d7cd011db47";
const OTHER_TENANT: &str = "0b1c2d3e-4f50-6172-8394-a5b6c7d8e9f0";

fn s(v: &str) -> AttributeValue {
    AttributeValue::S(v.to_string())
}

fn list(values: &[&str]) -> AttributeValue {
    AttributeValue::L(values.iter().map(|v| s(v)).collect())
}

/// One attribute of `instance`'s configuration item, written raw (`SET #p = :v`).
async fn put_raw(t: &TestApp, instance: &str, attribute: &str, value: HashMap<String, AttributeValue>) {
    t.dynamo
        .update_item()
        .table_name(&t.table)
        .key("pk", s(&format!("INSTCONF#{instance}")))
        .key("sk", s("PROVIDERS"))
        .update_expression("SET #p = :v")
        .expression_attribute_names("#p", attribute)
        .expression_attribute_values(":v", AttributeValue::M(value))
        .send()
        .await
        .expect("update");
}

/// A custom provider as `set-oidc-provider` writes it: discovery, RS256 unless `algorithms`.
fn oidc_attr(issuer: &str, algorithms: &[&str], trust_email: bool) -> HashMap<String, AttributeValue> {
    HashMap::from([
        ("issuer".to_string(), s(issuer)),
        ("ids".to_string(), list(&[CLIENT_ID, "rc-web"])),
        ("algorithms".to_string(), list(algorithms)),
        ("trust_email".to_string(), AttributeValue::Bool(trust_email)),
    ])
}

/// Microsoft as `set-provider INSTANCE microsoft --tenant T --client-id ID` writes it.
fn microsoft_attr(tenant: &str) -> HashMap<String, AttributeValue> {
    HashMap::from([("tenant".to_string(), s(tenant)), ("ids".to_string(), list(&[CLIENT_ID]))])
}

/// The functions with a roomy failure limiter and Microsoft's authority at the emulator (the
/// deployment has no Microsoft app of its own).
async fn spawn() -> TestApp {
    spawn_app_with(|v| {
        v.insert("LOGIN_FAILURES_PER_USER_MAX".into(), "1000".into());
        v.insert("LOGIN_FAILURES_MAX".into(), "1000".into());
        let emulator = v["FACEBOOK_GRAPH_URL"].clone();
        v.insert("MICROSOFT_AUTHORITY_URL".into(), format!("{emulator}/microsoft"));
    })
    .await
}

async fn rc_at(t: &TestApp, base: &str, body: Value) -> (u16, Value) {
    let resp = t.http.post(format!("{base}/api/v1/login")).json(&body).send().await.expect("request");
    let (status, body) = json(resp).await;
    t.remember(body["data"]["authToken"].as_str().unwrap_or_default());
    (status, body)
}

async fn rc(t: &TestApp, body: Value) -> (u16, Value) {
    rc_at(t, &t.base, body).await
}

/// Rocket.Chat's custom OAuth login with `token` for the service `service`.
fn login_body(service: &str, token: &str) -> Value {
    json!({ "serviceName": service, "accessToken": token, "expiresIn": 3600, "nonce": NONCE })
}

/// A token of the emulator's issuer `issuer` for our app, nonce of [`NONCE`], `claims` over.
fn token(t: &TestApp, issuer: &str, claims: Value) -> String {
    let mut all = json!({ "sub": "person-1", "nonce": sha256_hex(NONCE), "name": "Ada Corp",
                          "email": "ada@corp.example", "email_verified": true });
    if let (Value::Object(all), Value::Object(extra)) = (&mut all, claims) {
        all.extend(extra);
    }
    let token = t.emulator.issue_custom_id_token(issuer, CLIENT_ID, all);
    t.remember(&token);
    token
}

/// A refusal through the gateway: Rocket.Chat's plain 401 and nothing written.
async fn refused(t: &TestApp, body: Value, why: &str) {
    let before = t.login_writes().await;
    let (status, answer) = rc(t, body).await;
    assert_eq!((status, &answer), (401, &rc_login_unauthorized()), "{why}");
    assert_eq!(t.login_writes().await, before, "{why}: nothing written");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_custom_provider_of_the_default_instance_logs_in_by_its_name_and_refuses_every_bad_token() {
    let t = spawn().await;
    let corp = t.emulator.create_oidc_issuer("corp", OidcIssuerOptions::default());
    let ec =
        t.emulator.create_oidc_issuer("corp-ec", OidcIssuerOptions { alg: SigningAlg::ES256, ..Default::default() });
    let other = t.emulator.create_oidc_issuer("elsewhere", OidcIssuerOptions::default());
    put_raw(&t, INSTANCE, "oidc-corp", oidc_attr(&corp.issuer, &["RS256"], false)).await;
    // Configured for RS256 only while the issuer signs ES256: the algorithm refusal.
    put_raw(&t, INSTANCE, "oidc-corp-ec", oidc_attr(&ec.issuer, &["RS256"], false)).await;

    // First login creates one user, the second returns the same one.
    let (status, first) = rc(&t, login_body("corp", &token(&t, "corp", json!({})))).await;
    assert_eq!(status, 200, "{first}");
    let (status, second) = rc(&t, login_body("corp", &token(&t, "corp", json!({})))).await;
    assert_eq!(status, 200, "{second}");
    assert_eq!(first["data"]["userId"], second["data"]["userId"], "the same user");
    assert_ne!(first["data"]["authToken"], second["data"]["authToken"], "a session each");
    // `idToken` is read too.
    let body = json!({ "serviceName": "corp", "idToken": token(&t, "corp", json!({})), "expiresIn": 3600,
                       "nonce": NONCE });
    let (status, third) = rc(&t, body).await;
    assert_eq!((status, &third["data"]["userId"]), (200, &first["data"]["userId"]), "{third}");

    // Each refusal: 401 and nothing written.
    let now = shared::domain::clock::now_secs();
    let fresh = json!({ "sub": "person-2" });
    let wrong_issuer = {
        let mut all = json!({ "sub": "person-2", "nonce": sha256_hex(NONCE) });
        all["iss"] = json!(other.issuer);
        t.emulator.issue_custom_id_token("corp", CLIENT_ID, all)
    };
    refused(&t, login_body("corp", &wrong_issuer), "wrong issuer").await;
    let elsewhere =
        t.emulator.issue_custom_id_token("elsewhere", CLIENT_ID, json!({"sub": "p", "nonce": sha256_hex(NONCE)}));
    refused(&t, login_body("corp", &elsewhere), "another issuer's token").await;
    let wrong_aud = t.emulator.issue_custom_id_token("corp", "someone-elses-app", json!({"nonce": sha256_hex(NONCE)}));
    refused(&t, login_body("corp", &wrong_aud), "wrong audience").await;
    refused(&t, login_body("corp-ec", &token(&t, "corp-ec", fresh.clone())), "algorithm not configured").await;
    let expired = token(&t, "corp", json!({ "sub": "person-2", "iat": now - 7200, "exp": now - 3600 }));
    refused(&t, login_body("corp", &expired), "expired").await;
    let no_nonce_claim = token(&t, "corp", json!({ "sub": "person-2", "nonce": null }));
    refused(&t, login_body("corp", &no_nonce_claim), "nonce claim missing").await;
    let mut no_raw_nonce = login_body("corp", &token(&t, "corp", fresh.clone()));
    no_raw_nonce.as_object_mut().expect("object").remove("nonce");
    refused(&t, no_raw_nonce, "raw nonce missing").await;
    let mut other_nonce = login_body("corp", &token(&t, "corp", fresh.clone()));
    other_nonce["nonce"] = json!("another-nonce");
    refused(&t, other_nonce, "nonce mismatch").await;
    let claims = json!({ "iss": corp.issuer, "aud": CLIENT_ID, "sub": "person-2", "iat": now, "exp": now + 600,
                         "nonce": sha256_hex(NONCE) });
    let unknown_key = t.emulator.sign_custom_id_token("corp", claims.clone(), SigningMode::UnknownKid);
    refused(&t, login_body("corp", &unknown_key), "unknown key").await;
    let none = t.emulator.sign_custom_id_token("corp", claims, SigningMode::NoneAlg);
    refused(&t, login_body("corp", &none), "alg none").await;

    // A name no instance configures: Rocket.Chat's unknown service.
    let (status, body) = rc(&t, login_body("nobody-configured-this", &token(&t, "corp", json!({})))).await;
    assert_eq!((status, body["error"].as_str()), (401, Some("error-invalid-service")), "{body}");
    t.assert_logs_clean();
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_custom_providers_discovery_down_answers_502_and_writes_nothing() {
    let t = spawn().await;
    let down = t.emulator.create_oidc_issuer("down-idp", OidcIssuerOptions::default());
    put_raw(&t, INSTANCE, "oidc-down-idp", oidc_attr(&down.issuer, &["RS256"], false)).await;
    t.emulator.set_oidc_issuer_fault("down-idp", Fault::Status500, FaultOn::Discovery);
    let before = t.login_writes().await;
    let (status, body) = rc(&t, login_body("down-idp", &token(&t, "down-idp", json!({})))).await;
    assert_eq!(status, 502, "{body}");
    assert_eq!(t.login_writes().await, before);
    t.emulator.set_oidc_issuer_fault("down-idp", Fault::None, FaultOn::All);
    let (status, body) = rc(&t, login_body("down-idp", &token(&t, "down-idp", json!({})))).await;
    assert_eq!(status, 200, "back up: {body}");
    t.assert_logs_clean();
}

/// A custom provider and a Microsoft app of instance A (the demo instance) are served where A
/// is the default instance, never by a deployment whose default instance B has none.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_custom_provider_of_instance_a_is_not_served_on_instance_b() {
    let t = spawn().await;
    let corp = t.emulator.create_oidc_issuer("corp-a", OidcIssuerOptions::default());
    put_raw(&t, INSTANCE, "oidc-corp-a", oidc_attr(&corp.issuer, &["RS256"], false)).await;
    put_raw(&t, INSTANCE, "microsoft", microsoft_attr("common")).await;
    t.open_instance("inst-b").await;
    let b = {
        let mut vars = t.vars.clone();
        vars.insert("DEFAULT_INSTANCE".into(), "inst-b".into());
        // B's deployment has no Microsoft app of its own either (the test stack's has one).
        vars.remove("MICROSOFT_CLIENT_IDS");
        let mut app = shared::App::from_vars(&vars).await.expect("config");
        let client = local_stack::iam::with_function_credentials(app.store.client());
        app.store = shared::store::UserStore::new(client, t.table.clone()).with_user_id_block(app.config.user_id_block);
        serve_app(std::sync::Arc::new(app)).await
    };
    let ms = t.emulator.create_microsoft_user(Some(TENANT), "Ann", "ann@corp.example", None);
    let ms_token = |t: &TestApp| {
        let token = t.emulator.issue_microsoft_id_token(&ms.oid, CLIENT_ID, Some(&sha256_hex(NONCE)), Value::Null);
        t.remember(&token);
        token
    };
    let before = t.login_writes().await;
    let (status, body) = rc_at(&t, &b, login_body("corp-a", &token(&t, "corp-a", json!({})))).await;
    assert_eq!((status, body["error"].as_str()), (401, Some("error-invalid-service")), "on B: {body}");
    let (status, body) = rc_at(&t, &b, login_body("microsoft", &ms_token(&t))).await;
    assert_eq!((status, body["error"].as_str()), (401, Some("error-invalid-service")), "on B: {body}");
    assert_eq!(t.login_writes().await, before, "nothing written on B");
    let (status, body) = rc(&t, login_body("corp-a", &token(&t, "corp-a", json!({})))).await;
    assert_eq!(status, 200, "on A: {body}");
    let (status, body) = rc(&t, login_body("microsoft", &ms_token(&t))).await;
    assert_eq!(status, 200, "on A: {body}");
    t.assert_logs_clean();
}

/// A single-tenant Microsoft app of the instance refuses another tenant's token; the nOAuth
/// attempt: an Entra token carrying a victim's (Google-verified) email gets a new user, never
/// the victim's, even with linking on.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn microsoft_of_an_instance_keeps_its_tenant_and_never_links_by_email() {
    let t = spawn().await;
    put_raw(&t, INSTANCE, "microsoft", microsoft_attr(TENANT)).await;
    t.app.store.set_linking(&shared::InstanceName::parse(INSTANCE).expect("valid"), true).await.expect("linking");
    let issue = |oid: &str| {
        let token = t.emulator.issue_microsoft_id_token(oid, CLIENT_ID, Some(&sha256_hex(NONCE)), Value::Null);
        t.remember(&token);
        token
    };
    let guest = t.emulator.create_microsoft_user(Some(OTHER_TENANT), "Eve", "eve@other.example", None);
    refused(&t, login_body("microsoft", &issue(&guest.oid)), "another tenant").await;

    // The victim signs up with Google (a verified Gmail address).
    let sub = t.emulator.create_oidc_user(OidcProvider::Google, "Victim", Some("victim@gmail.com"), true);
    let google = t.emulator.issue_id_token(OidcProvider::Google, &sub, GOOGLE_CLIENT_ID, None);
    t.remember(&google);
    let (status, victim) = rc(&t, json!({"serviceName": "google", "idToken": google, "expiresIn": 3600})).await;
    assert_eq!(status, 200, "{victim}");
    // The attacker's own tenant puts the victim's address in `email`.
    let attacker =
        t.emulator.create_microsoft_user(Some(TENANT), "Mallory", "mallory@evil.example", Some("victim@gmail.com"));
    let (status, body) = rc(&t, login_body("microsoft", &issue(&attacker.oid))).await;
    assert_eq!(status, 200, "{body}");
    assert_ne!(body["data"]["userId"], victim["data"]["userId"], "never the victim's account");
    t.assert_logs_clean();
}

/// trust_email=false never links by email; trust_email=true links a verified email only.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_custom_provider_links_by_email_only_when_trusted_and_verified() {
    let t = spawn().await;
    let plain = t.emulator.create_oidc_issuer("plain-idp", OidcIssuerOptions::default());
    let trusted = t.emulator.create_oidc_issuer("trusted-idp", OidcIssuerOptions::default());
    put_raw(&t, INSTANCE, "oidc-plain-idp", oidc_attr(&plain.issuer, &["RS256"], false)).await;
    put_raw(&t, INSTANCE, "oidc-trusted-idp", oidc_attr(&trusted.issuer, &["RS256"], true)).await;
    t.app.store.set_linking(&shared::InstanceName::parse(INSTANCE).expect("valid"), true).await.expect("linking");
    let sub = t.emulator.create_oidc_user(OidcProvider::Google, "Ada", Some("ada@gmail.com"), true);
    let google = t.emulator.issue_id_token(OidcProvider::Google, &sub, GOOGLE_CLIENT_ID, None);
    t.remember(&google);
    let (status, ada) = rc(&t, json!({"serviceName": "google", "idToken": google, "expiresIn": 3600})).await;
    assert_eq!(status, 200, "{ada}");
    let ada_id = ada["data"]["userId"].clone();
    let email = json!({ "sub": "s-1", "email": "ada@gmail.com", "email_verified": true });

    let (status, body) = rc(&t, login_body("plain-idp", &token(&t, "plain-idp", email.clone()))).await;
    assert_eq!(status, 200, "{body}");
    assert_ne!(body["data"]["userId"], ada_id, "trust_email off: a new user");
    let unverified = json!({ "sub": "s-2", "email": "ada@gmail.com", "email_verified": false });
    let (status, body) = rc(&t, login_body("trusted-idp", &token(&t, "trusted-idp", unverified))).await;
    assert_eq!(status, 200, "{body}");
    assert_ne!(body["data"]["userId"], ada_id, "an unverified email: a new user");
    let (status, body) = rc(&t, login_body("trusted-idp", &token(&t, "trusted-idp", email))).await;
    assert_eq!(status, 200, "{body}");
    assert_eq!(body["data"]["userId"], ada_id, "trusted and verified: linked");
    t.assert_logs_clean();
}

/// A closed sign-up policy refuses a custom provider's first login (Rocket.Chat's 401).
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_closed_instance_refuses_a_custom_providers_first_login() {
    let t = spawn().await;
    let corp = t.emulator.create_oidc_issuer("closed-idp", OidcIssuerOptions::default());
    put_raw(&t, INSTANCE, "oidc-closed-idp", oidc_attr(&corp.issuer, &["RS256"], false)).await;
    t.dynamo
        .update_item()
        .table_name(&t.table)
        .key("pk", s(&format!("INST#{INSTANCE}")))
        .key("sk", s("INSTANCE"))
        .update_expression("SET sign_up = :p")
        .expression_attribute_values(":p", s("closed"))
        .send()
        .await
        .expect("close");
    refused(&t, login_body("closed-idp", &token(&t, "closed-idp", json!({}))), "sign-up closed").await;
    // Syncano's login at `oidc-{name}` (the fallback) keeps the same policy: Syncano's 403.
    let before = t.login_writes().await;
    let body = json!({ "access_token": token(&t, "closed-idp", json!({})), "nonce": NONCE });
    let (status, answer) = t.syncano_at("oidc-closed-idp", body).await;
    let refused_body = json!({ "detail": "You do not have permission to create new user." });
    assert_eq!((status, &answer), (403, &refused_body), "sign-up closed on Syncano");
    assert_eq!(t.login_writes().await, before, "nothing written on Syncano");
    t.assert_logs_clean();
}

/// A stored entry the functions' rules refuse (an `HS256` algorithm, a `http://` JWKS URL off
/// loopback, a bad tenant) is not served, fails closed for that provider alone, and is logged
/// by its attribute name; the instance's valid provider is still served.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_bad_stored_entry_fails_closed_for_its_provider_alone() {
    let t = spawn().await;
    let good = t.emulator.create_oidc_issuer("good-idp", OidcIssuerOptions::default());
    let bad = t.emulator.create_oidc_issuer("bad-idp", OidcIssuerOptions::default());
    put_raw(&t, INSTANCE, "oidc-good-idp", oidc_attr(&good.issuer, &["RS256"], false)).await;
    put_raw(&t, INSTANCE, "oidc-bad-idp", oidc_attr(&bad.issuer, &["HS256"], false)).await;
    let mut far = oidc_attr(&bad.issuer, &["RS256"], false);
    far.insert("jwks_url".into(), s("http://keys.example/jwks"));
    put_raw(&t, INSTANCE, "oidc-far-idp", far).await;
    put_raw(&t, INSTANCE, "microsoft", microsoft_attr("contoso.example")).await;
    for (service, issuer) in [("bad-idp", "bad-idp"), ("far-idp", "bad-idp")] {
        let (status, body) = rc(&t, login_body(service, &token(&t, issuer, json!({})))).await;
        assert_eq!((status, body["error"].as_str()), (401, Some("error-invalid-service")), "{service}: {body}");
    }
    let ms = t.emulator.create_microsoft_user(Some(TENANT), "Ann", "ann@corp.example", None);
    let ms_token = t.emulator.issue_microsoft_id_token(&ms.oid, CLIENT_ID, Some(&sha256_hex(NONCE)), Value::Null);
    t.remember(&ms_token);
    let (status, body) = rc(&t, login_body("microsoft", &ms_token)).await;
    assert_eq!((status, body["error"].as_str()), (401, Some("error-invalid-service")), "{body}");
    let (status, body) = rc(&t, login_body("good-idp", &token(&t, "good-idp", json!({})))).await;
    assert_eq!(status, 200, "{body}");
    let logs = logs();
    assert!(logs.contains("oidc-bad-idp") && logs.contains("oidc-far-idp"), "the refused entries are logged");
    t.assert_logs_clean();
}

/// The instance's own Microsoft entry is refused when read (a bad tenant): the instance's
/// Microsoft logins are not served at all, never by the deployment's Microsoft app in its place
/// (whose tokens would otherwise sign in to an instance that chose another app).
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_bad_microsoft_entry_never_falls_back_to_the_deployments_microsoft_app() {
    const DEPLOYMENT_APP: &str = "deployment-ms-app";
    let t = spawn_app_with(|v| {
        let emulator = v["FACEBOOK_GRAPH_URL"].clone();
        v.insert("MICROSOFT_AUTHORITY_URL".into(), format!("{emulator}/microsoft"));
        v.insert("MICROSOFT_CLIENT_IDS".into(), DEPLOYMENT_APP.into());
    })
    .await;
    let ms = t.emulator.create_microsoft_user(Some(TENANT), "Ann", "ann@corp.example", None);
    let token = t.emulator.issue_microsoft_id_token(&ms.oid, DEPLOYMENT_APP, Some(&sha256_hex(NONCE)), Value::Null);
    t.remember(&token);
    put_raw(&t, INSTANCE, "microsoft", microsoft_attr("not-a-tenant")).await;
    let before = t.login_writes().await;
    let (status, body) = rc(&t, login_body("microsoft", &token)).await;
    assert_eq!((status, body["error"].as_str()), (401, Some("error-invalid-service")), "{body}");
    assert_eq!(t.login_writes().await, before, "nothing written");

    // A valid entry of the instance's own: the deployment's Microsoft app's tokens are refused
    // there (as a bad token), the instance's app's log in.
    let t = spawn_app_with(|v| {
        let emulator = v["FACEBOOK_GRAPH_URL"].clone();
        v.insert("MICROSOFT_AUTHORITY_URL".into(), format!("{emulator}/microsoft"));
        v.insert("MICROSOFT_CLIENT_IDS".into(), DEPLOYMENT_APP.into());
    })
    .await;
    put_raw(&t, INSTANCE, "microsoft", microsoft_attr(TENANT)).await;
    let ms = t.emulator.create_microsoft_user(Some(TENANT), "Ann", "ann@corp.example", None);
    let issue = |aud: &str| {
        let token = t.emulator.issue_microsoft_id_token(&ms.oid, aud, Some(&sha256_hex(NONCE)), Value::Null);
        t.remember(&token);
        token
    };
    refused(&t, login_body("microsoft", &issue(DEPLOYMENT_APP)), "the deployment's app on the instance").await;
    let (status, body) = rc(&t, login_body("microsoft", &issue(CLIENT_ID))).await;
    assert_eq!(status, 200, "{body}");
    t.assert_logs_clean();
}

/// Two instances with a custom provider at the same issuer (under different names, with
/// different client ids) share one discovery document and one key set in an execution
/// environment: one fetch of each for both; and each refuses the other's app's tokens.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn instances_at_one_issuer_share_its_keys_and_keep_their_own_audiences() {
    let t = spawn().await;
    t.open_instance("inst-b").await;
    let idp = t.emulator.create_oidc_issuer("shared-idp", OidcIssuerOptions::default());
    put_raw(&t, INSTANCE, "oidc-corp-a", oidc_attr(&idp.issuer, &["RS256"], false)).await;
    let mut b_attr = oidc_attr(&idp.issuer, &["RS256"], false);
    b_attr.insert("ids".into(), list(&["b-app"]));
    put_raw(&t, "inst-b", "oidc-corp-b", b_attr).await;
    let (a, b) =
        (shared::InstanceName::parse(INSTANCE).expect("valid"), shared::InstanceName::parse("inst-b").expect("valid"));
    // Read each instance's configuration (as a login does), which names the providers.
    t.app.providers_for(&a).await.expect("A's configuration");
    t.app.providers_for(&b).await.expect("B's configuration");
    let (corp_a, corp_b) = (
        shared::Provider::Oidc(shared::domain::identity::OidcName::existing("corp-a").expect("read")),
        shared::Provider::Oidc(shared::domain::identity::OidcName::existing("corp-b").expect("read")),
    );
    let creds = |aud: &str| {
        let token = t.emulator.issue_custom_id_token("shared-idp", aud, json!({ "nonce": sha256_hex(NONCE) }));
        t.remember(&token);
        shared::providers::Credentials {
            id_token: Some(shared::Secret::new(token)),
            nonce: Some(shared::Secret::new(NONCE)),
            ..Default::default()
        }
    };
    t.app.verify(&a, corp_a, &creds(CLIENT_ID)).await.expect("A's app on A");
    t.app.verify(&b, corp_b, &creds("b-app")).await.expect("B's app on B");
    assert_eq!(t.emulator.oidc_issuer_fetches("shared-idp"), (1, 1), "one discovery and one JWKS fetch for both");
    assert!(t.app.verify(&b, corp_b, &creds(CLIENT_ID)).await.is_err(), "A's app's token on B");
    assert!(t.app.verify(&a, corp_a, &creds("b-app")).await.is_err(), "B's app's token on A");
    assert!(t.app.verify(&b, corp_a, &creds(CLIENT_ID)).await.is_err(), "A's provider is not B's");
    t.assert_logs_clean();
}

/// The entries exactly as the admin tool writes them (`UserStore::put_instance_oidc` /
/// `put_instance_microsoft`, what `set-oidc-provider` and `set-provider INSTANCE microsoft`
/// call), with a claim map and an explicit JWKS URL, log in through the gateway.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn entries_written_by_the_admin_tools_code_are_served() {
    let t = spawn().await;
    let idp = t.emulator.create_oidc_issuer("admin-idp", OidcIssuerOptions::default());
    let policy = shared::config::UrlPolicy { allow_loopback_http: true };
    let config = shared::config::CustomOidcConfig::new("admin-idp", &idp.issuer, vec![CLIENT_ID.into()], policy)
        .and_then(|c| c.with_jwks_url(&idp.jwks_uri, policy))
        .and_then(|c| c.with_claims("display", "mail", "photo"))
        .expect("valid");
    let instance = shared::InstanceName::parse(INSTANCE).expect("valid");
    t.app.store.put_instance_oidc(&instance, &config).await.expect("put");
    let authority = t.vars["MICROSOFT_AUTHORITY_URL"].clone();
    let ms = shared::config::MicrosoftConfig::new(TENANT, vec![CLIENT_ID.into()], &authority, policy).expect("valid");
    t.app.store.put_instance_microsoft(&instance, &ms).await.expect("put");

    let (status, body) =
        rc(&t, login_body("admin-idp", &token(&t, "admin-idp", json!({ "display": "Shown Name" })))).await;
    assert_eq!(status, 200, "{body}");
    assert_eq!(body["data"]["me"]["name"], "Shown Name", "the configured name claim");
    let user = t.emulator.create_microsoft_user(Some(TENANT), "Ann", "ann@corp.example", None);
    let ms_token = t.emulator.issue_microsoft_id_token(&user.oid, CLIENT_ID, Some(&sha256_hex(NONCE)), Value::Null);
    t.remember(&ms_token);
    let (status, body) = rc(&t, login_body("microsoft", &ms_token)).await;
    assert_eq!(status, 200, "{body}");
    t.assert_logs_clean();
}

/// The same item serves the instance's custom provider on Syncano at `oidc-{name}` (the
/// fallback's `{backend}` route), in an environment that has not learnt the name yet: the
/// fallback reads the instance's configuration before calling the backend unknown. Without that
/// read the first login answered 400 "Unsupported social backend." (seen).
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_instances_custom_provider_logs_in_on_syncano_at_oidc_name_in_a_fresh_environment() {
    let t = spawn().await;
    // A name no other test of this process configures: nothing has interned it yet.
    let name = "syncano-first-learnt";
    assert!(shared::domain::identity::OidcName::existing(name).is_none(), "a fresh name");
    let issuer = t.emulator.create_oidc_issuer(name, OidcIssuerOptions::default());
    put_raw(&t, INSTANCE, &format!("oidc-{name}"), oidc_attr(&issuer.issuer, &["RS256"], false)).await;
    let id_token = token(&t, name, json!({ "sub": "syncano-person" }));
    let body = json!({ "access_token": id_token, "nonce": NONCE });
    let (status, first) = t.syncano_at(&format!("oidc-{name}"), body.clone()).await;
    assert_eq!(status, 200, "{first}");
    let (status, again) = t.syncano_at(&format!("oidc-{name}"), body).await;
    assert_eq!((status, &again["id"]), (200, &first["id"]), "the same person is the same user");
    // Another instance that configures nothing answers as for an unknown backend.
    let unknown = t.syncano_at("oidc-not-configured-anywhere", json!({ "access_token": "x" })).await;
    assert_eq!(unknown.0, 400, "{}", unknown.1);
}
