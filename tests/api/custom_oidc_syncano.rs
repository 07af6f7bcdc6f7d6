//! Microsoft and custom OpenID Connect providers on Syncano (issue 31), through the gateway:
//! `POST /v1.1/instances/{instance}/user/auth/{backend}/` at `microsoft-graph` and `oidc-{name}`,
//! which no function of its own serves, is the fallback function's login. Microsoft is
//! configured deployment-wide in the local stack (`local_stack::demo`, at the emulator's
//! Microsoft-like authority); the nOAuth attempt, the tenant rules, and an unconfigured backend
//! that answers exactly as one that does not exist.

use std::sync::Arc;

use emulator::{OidcIssuerOptions, SigningAlg};
use local_stack::demo::MICROSOFT_CLIENT_ID;
use serde_json::{json, Value};
use shared::domain::identity::OidcName;
use shared::domain::tokens::sha256_hex;
use shared::InstanceName;

use crate::helpers::*;

const TENANT: &str = "72f988bf-86f1-41af-91ab-2d7cd011db47";
const OTHER_TENANT: &str = "0b1c2d3e-4f50-6172-8394-a5b6c7d8e9f0";
const RAW_NONCE: &str = "raw-nonce-of-this-attempt";

fn detail(text: &str) -> Value {
    json!({ "detail": text })
}

/// A Microsoft user of `tenant` with the `email` claim given, and an ID token of our app for
/// them (nonce: SHA-256 of [`RAW_NONCE`], as Apple's), `claims` merged over.
fn microsoft(t: &TestApp, tenant: &str, name: &str, email: &str, claims: Value) -> String {
    let user = t.emulator.create_microsoft_user(Some(tenant), name, &format!("{name}@{tenant}.example"), Some(email));
    let token =
        t.emulator.issue_microsoft_id_token(&user.oid, MICROSOFT_CLIENT_ID, Some(&sha256_hex(RAW_NONCE)), claims);
    t.remember(&token);
    token
}

fn google(t: &TestApp, name: &str, email: &str) -> String {
    let sub = t.emulator.create_oidc_user(emulator::OidcProvider::Google, name, Some(email), true);
    let token =
        t.emulator.issue_id_token(emulator::OidcProvider::Google, &sub, local_stack::demo::GOOGLE_CLIENT_ID, None);
    t.remember(&token);
    token
}

async fn ok(t: &TestApp, backend: &str, body: Value) -> Value {
    let (status, body) = t.syncano_at(backend, body).await;
    assert_eq!(status, 200, "{backend}: {body}");
    t.remember(body["user_key"].as_str().unwrap_or_default());
    body
}

/// The items of `pk`, as the table holds them.
async fn items_of(t: &TestApp, pk: &str) -> Vec<Item> {
    t.scan()
        .await
        .into_iter()
        .filter(|i| matches!(i.get("pk"), Some(aws_sdk_dynamodb::types::AttributeValue::S(p)) if p == pk))
        .collect()
}

/// A Microsoft ID token (the Syncano `access_token`, a JWT: the ID token) with its raw nonce
/// logs in on `microsoft-graph`: a user made, the same user the next time; JSON or a form, as
/// the Syncano JS library sends `socialLogin`'s body.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn microsoft_logs_in_on_syncano_with_the_deployment_app() {
    let t = spawn_app().await;
    let token = microsoft(&t, TENANT, "Ada", "ada@corp.example", Value::Null);
    let first = ok(&t, "microsoft-graph", json!({ "access_token": token, "nonce": RAW_NONCE })).await;
    assert!(first["id"].as_u64().is_some(), "{first}");
    let form = t
        .http
        .post(format!("{}/v1.1/instances/{INSTANCE}/user/auth/microsoft-graph/", t.base))
        .header("x-api-key", &t.api_key)
        .form(&[("access_token", token.as_str()), ("nonce", RAW_NONCE)])
        .send()
        .await
        .expect("request");
    let (status, again) = json(form).await;
    assert_eq!(status, 200, "{again}");
    assert_eq!(again["id"], first["id"], "the same Microsoft user, the same user");
    // The identity is keyed by Microsoft's tenant and object id, not the email.
    assert_eq!(t.count(&format!("IDENT#{INSTANCE}#microsoft#{TENANT}:")).await, 1);
    // Without the raw nonce the token is refused as Syncano refuses a bad token.
    let (status, body) = t.syncano_at("microsoft-graph", json!({ "access_token": token })).await;
    assert_eq!((status, body), (401, detail("Invalid username or password.")));
    t.assert_logs_clean();
}

/// nOAuth on Syncano: a victim signs up with Google (a verified Gmail address, in an instance
/// that links accounts by email); an attacker's Entra tenant issues a token whose `email` (and
/// `email_verified`) is the victim's. Microsoft does not verify `email`: the attacker gets a new
/// user, the victim's user is untouched. (The route did not exist before this change, so this
/// test could not fail on the old code for this reason; it fails (the attacker gets the victim's
/// user) when Microsoft's two email rules are removed: `email_verified` forced false in
/// `CustomOidcVerifier::verify` and Microsoft's arm of `VerifiedIdentity::authoritative_email`.)
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn noauth_an_entra_token_with_the_victims_email_gets_a_new_user_on_syncano() {
    let t = spawn_app().await;
    let instance = InstanceName::parse(INSTANCE).expect("valid");
    t.app.store.set_linking(&instance, true).await.expect("linking on");
    let victim = ok(&t, "google-oauth2", json!({ "access_token": google(&t, "Victim", "victim@gmail.com") })).await;
    let victim_pk = format!("USER#{INSTANCE}#{}", victim["id"]);
    let before = items_of(&t, &victim_pk).await;

    let claims = json!({ "email": "victim@gmail.com", "email_verified": true });
    let token = microsoft(&t, OTHER_TENANT, "Mallory", "victim@gmail.com", claims);
    let attacker = ok(&t, "microsoft-graph", json!({ "access_token": token, "nonce": RAW_NONCE })).await;
    assert_ne!(attacker["id"], victim["id"], "nOAuth: Microsoft's email must not reach the victim's account");
    assert_ne!(attacker["user_key"], victim["user_key"]);
    assert_eq!(items_of(&t, &victim_pk).await, before, "the victim's user untouched");
    assert_eq!(t.count("EMAIL#").await, 1, "only the victim's authoritative email is indexed");
}

/// A single-tenant deployment refuses another tenant's token (and a personal account): 401
/// `{"detail": ...}` as Syncano answers a bad token; its own tenant logs in.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_single_tenant_refuses_other_tenants_on_syncano() {
    let t = spawn_app_with(|v| {
        v.insert("MICROSOFT_TENANT".into(), TENANT.into());
    })
    .await;
    let guest = microsoft(&t, OTHER_TENANT, "Eve", "eve@other.example", Value::Null);
    let (status, body) = t.syncano_at("microsoft-graph", json!({ "access_token": guest, "nonce": RAW_NONCE })).await;
    assert_eq!((status, body), (401, detail("Invalid username or password.")));
    let personal = t.emulator.create_microsoft_user(None, "Bob", "bob@outlook.com", None);
    let token = t.emulator.issue_microsoft_id_token(
        &personal.oid,
        MICROSOFT_CLIENT_ID,
        Some(&sha256_hex(RAW_NONCE)),
        Value::Null,
    );
    t.remember(&token);
    let (status, body) = t.syncano_at("microsoft-graph", json!({ "access_token": token, "nonce": RAW_NONCE })).await;
    assert_eq!((status, body), (401, detail("Invalid username or password.")));
    assert_eq!(t.login_writes().await[0], 0, "no user made");
    let member = microsoft(&t, TENANT, "Ada", "ada@corp.example", Value::Null);
    ok(&t, "microsoft-graph", json!({ "access_token": member, "nonce": RAW_NONCE })).await;
}

/// Where Microsoft is not configured, `microsoft-graph` answers exactly as a backend that does
/// not exist (403 without a key, 401 without a token, else 400 "Unsupported social backend."),
/// whatever the body holds; so do `oidc-unknown` and a configured custom name this deployment
/// does not serve. No provider is asked, nothing written, and a name only a client sent is never
/// interned.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_unconfigured_backend_answers_as_an_unknown_one() {
    let t = spawn_app_with(|v| {
        v.remove("MICROSOFT_CLIENT_IDS");
    })
    .await;
    let configured = OidcName::configured("served-elsewhere").expect("valid");
    let token = microsoft(&t, TENANT, "Ada", "ada@corp.example", Value::Null);
    let bodies = [
        json!({ "access_token": token, "nonce": RAW_NONCE }),
        json!({ "access_token": "EAAB" }),
        json!({ "access_token": "x", "nonce": "" }),
        json!({ "access_token": "\u{7f}not printable" }),
        json!({}),
        json!([]),
    ];
    let before = t.emulator.request_count();
    let backends = ["microsoft-graph".to_string(), "oidc-unknown".into(), format!("oidc-{}", configured.name())];
    for body in &bodies {
        let unknown = t.syncano_at("myspace", body.clone()).await;
        for backend in &backends {
            assert_eq!(t.syncano_at(backend, body.clone()).await, unknown, "{backend}: {body}");
        }
        for key in [None, Some("0".repeat(40))] {
            let at = |backend: &str| {
                let req = t.http.post(format!("{}/v1.1/instances/{INSTANCE}/user/auth/{backend}/", t.base));
                let req = match &key {
                    Some(k) => req.header("x-api-key", k),
                    None => req,
                };
                req.json(body).send()
            };
            let unknown = json(at("myspace").await.expect("request")).await;
            for backend in &backends {
                assert_eq!(json(at(backend).await.expect("request")).await, unknown, "{backend}: {body} {key:?}");
            }
        }
    }
    let (status, body) = t.syncano_at("microsoft-graph", json!({ "access_token": "EAAB" })).await;
    assert_eq!((status, body), (400, detail("Unsupported social backend.")));
    assert_eq!(t.emulator.request_count(), before, "no provider asked");
    assert_eq!(t.login_writes().await, [0, 0, 0, 0]);
    assert_eq!(OidcName::existing("unknown"), None, "a client's name is never interned");
    // Other methods keep the fallback's 405 with Allow.
    let resp = t
        .http
        .get(format!("{}/v1.1/instances/{INSTANCE}/user/auth/microsoft-graph/", t.base))
        .header("x-api-key", &t.api_key)
        .send()
        .await
        .expect("request");
    assert_eq!(resp.headers().get("allow").and_then(|v| v.to_str().ok()), Some("POST"));
    assert_eq!(json(resp).await, (405, detail("Method \"GET\" not allowed.")));
}

/// A custom provider this deployment serves logs in at `oidc-{name}` with its ID token and raw
/// nonce; another issuer's token is refused as a bad token.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_custom_provider_logs_in_at_oidc_name() {
    let t = spawn_app().await;
    let info =
        t.emulator.create_oidc_issuer("acme-sso", OidcIssuerOptions { alg: SigningAlg::RS256, ..Default::default() });
    let mut app = t.new_environment().await;
    let custom =
        shared::config::CustomOidcConfig::new(&info.name, &info.issuer, vec!["acme-app".into()], app.config.url_policy)
            .expect("valid");
    let http = reqwest::Client::new();
    app.providers = app.providers.with_custom_oidc(vec![custom], &http, &app.config);
    let base = serve_app(Arc::new(app)).await;

    let claims = json!({ "sub": "acme-1", "nonce": sha256_hex(RAW_NONCE), "name": "Ada Lovelace",
                         "email": "ada@acme.example", "email_verified": true });
    let token = t.emulator.issue_custom_id_token("acme-sso", "acme-app", claims.clone());
    t.remember(&token);
    let login = |token: String| {
        t.http
            .post(format!("{base}/v1.1/instances/{INSTANCE}/user/auth/oidc-acme-sso/"))
            .header("x-api-key", &t.api_key)
            .json(&json!({ "access_token": token, "nonce": RAW_NONCE }))
            .send()
    };
    let (status, user) = json(login(token).await.expect("request")).await;
    assert_eq!(status, 200, "{user}");
    t.remember(user["user_key"].as_str().unwrap_or_default());
    let other = t.emulator.issue_custom_id_token("acme-sso", "someone-elses-app", claims);
    t.remember(&other);
    let (status, body) = json(login(other).await.expect("request")).await;
    assert_eq!((status, body), (401, detail("Invalid username or password.")));
}

/// The local stack's deployment-wide Microsoft serves Rocket.Chat's `microsoft` too (its ID
/// token and raw nonce on `/api/v1/login`): the same person is the same user on both APIs' login
/// paths of one instance.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_local_stack_serves_rocketchat_microsoft() {
    let t = spawn_app().await;
    let token = microsoft(&t, TENANT, "Ada", "ada@corp.example", Value::Null);
    let body = json!({ "serviceName": "microsoft", "idToken": token, "nonce": RAW_NONCE, "expiresIn": 3600 });
    let resp = t.http.post(format!("{}/api/v1/login", t.base)).json(&body).send().await.expect("request");
    let (status, answer) = json(resp).await;
    assert_eq!(status, 200, "{answer}");
    t.remember(answer["data"]["authToken"].as_str().unwrap_or_default());
    assert_eq!(answer["status"], "success");
}

/// Attack: requests without a valid API key at `oidc-{name}` backends of instance names an
/// attacker invents must not make the fallback read each instance's configuration item
/// (`INSTCONF#{instance}`): that read is for instances whose key checked, as Syncano checks the
/// key before the backend. Before the fix each such request read `INSTCONF#` of its instance
/// (a DynamoDB read per request, and the per-environment cache of instances filled by strangers).
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn strangers_at_custom_backends_never_read_instance_configurations() {
    let (t, proxy) = spawn_app_behind_proxy().await;
    for i in 0..4 {
        let instance = format!("invented-{i}-{}", std::process::id());
        let (status, body) =
            t.syncano_in(&instance, "not-a-key", &format!("oidc-made-up-{i}"), json!({ "access_token": "x" })).await;
        assert_eq!((status, body), (403, detail("No such API Key.")), "{instance}");
    }
    // Nor with the demo instance's name and a wrong key.
    let (status, _) = t.syncano_in(INSTANCE, "not-a-key", "oidc-made-up", json!({ "access_token": "x" })).await;
    assert_eq!(status, 403);
    let reads: Vec<String> = proxy
        .take()
        .into_iter()
        .flat_map(|call| call.keys.into_iter().map(move |k| format!("{} {}", call.operation, k.pk)))
        .filter(|k| k.contains("INSTCONF#"))
        .collect();
    assert!(reads.is_empty(), "configuration read before the key check: {reads:?}");
    // A client with the key still logs in at a configured custom backend: that path is unchanged
    // (an_instances_custom_provider_logs_in_on_syncano_at_oidc_name_in_a_fresh_environment).
}
