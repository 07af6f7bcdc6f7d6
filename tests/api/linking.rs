//! The account linking policy: off by default; when an instance turns it on, a new identity joins
//! an existing user only when the new identity's provider is authoritative for the email (runs
//! its mailbox: Google for Gmail and for a Workspace domain it names in `hd`, Apple for its own
//! domains and private relay) and the existing user's email was indexed by an authoritative
//! provider too. A provider that merely says "verified" (Facebook, GitHub, X, LinkedIn, Apple for
//! a foreign domain) never links, in either direction: the takeover and pre-hijack attempts below.

use emulator::{OidcProvider, SigningMode};
use local_stack::demo::{APPLE_CLIENT_ID, GITHUB_CLIENT_ID, GOOGLE_CLIENT_ID};
use serde_json::json;
use shared::InstanceName;

use crate::helpers::*;

async fn syncano(t: &TestApp, backend: &str, body: serde_json::Value) -> serde_json::Value {
    let (status, body) = t.syncano_at(backend, body).await;
    assert_eq!(status, 200, "{backend}: {body}");
    t.remember(body["user_key"].as_str().unwrap_or_default());
    body
}

async fn login(t: &TestApp, backend: &str, token: &str) -> serde_json::Value {
    syncano(t, backend, json!({ "access_token": token })).await
}

fn google(t: &TestApp, name: &str, email: &str, verified: bool) -> String {
    let sub = t.emulator.create_oidc_user(OidcProvider::Google, name, Some(email), verified);
    let token = t.emulator.issue_id_token(OidcProvider::Google, &sub, GOOGLE_CLIENT_ID, None);
    t.remember(&token);
    token
}

/// A Google ID token as Google signs it, with the claims given (`hd` for Workspace accounts).
fn google_claims(t: &TestApp, sub: &str, email: &str, hd: Option<&str>) -> String {
    let now = shared::domain::clock::now_secs();
    let mut claims = json!({
        "iss": OidcProvider::Google.issuer(), "aud": GOOGLE_CLIENT_ID, "sub": sub, "iat": now, "exp": now + 3600,
        "email": email, "email_verified": true, "name": "Work Person",
    });
    if let Some(hd) = hd {
        claims["hd"] = json!(hd);
    }
    let token = t.emulator.sign_id_token(OidcProvider::Google, claims, SigningMode::Current);
    t.remember(&token);
    token
}

/// Apple's ID token for `email` (verified, as Apple says of every address it hands out).
fn apple(t: &TestApp, sub: &str, email: &str) -> serde_json::Value {
    let now = shared::domain::clock::now_secs();
    let nonce = "linking-nonce";
    let claims = json!({
        "iss": OidcProvider::Apple.issuer(), "aud": APPLE_CLIENT_ID, "sub": sub, "iat": now, "exp": now + 3600,
        "email": email, "email_verified": "true", "nonce": shared::domain::tokens::sha256_hex(nonce),
    });
    let token = t.emulator.sign_id_token(OidcProvider::Apple, claims, SigningMode::Current);
    t.remember(&token);
    json!({ "access_token": token, "nonce": nonce })
}

fn github(t: &TestApp, login: &str, email: &str, verified: bool) -> String {
    let id = t.emulator.create_github_user(login, None, &[(email, verified, true)]);
    let token = t.emulator.issue_github_token(id, GITHUB_CLIENT_ID);
    t.remember(&token);
    token
}

fn facebook(t: &TestApp, name: &str, email: &str) -> String {
    let person = t.emulator.create_facebook_user(name, Some(email));
    t.token(&person, APP_ID, 3600)
}

async fn linking(t: &TestApp, on: bool) {
    t.app.store.set_linking(&InstanceName::parse(INSTANCE).expect("valid"), on).await.expect("set linking");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn off_by_default_two_identities_are_two_users() {
    let t = spawn_app().await;
    let a = login(&t, "google-oauth2", &google(&t, "Ada Two", "ada@gmail.com", true)).await;
    let b = login(&t, "google-oauth2", &google(&t, "Ada Two", "ada@gmail.com", true)).await;
    assert_ne!(a["id"], b["id"]);
    assert_eq!(t.count("EMAIL#").await, 0);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn on_two_authoritative_identities_of_one_address_are_one_user() {
    let t = spawn_app().await;
    linking(&t, true).await;
    // Email keys use ASCII case folding.
    let a = login(&t, "google-oauth2", &google(&t, "Lin Ked", "Linked@GMail.com", true)).await;
    let b = login(&t, "google-oauth2", &google(&t, "Lin Ked", "linked@gmail.com", true)).await;
    assert_eq!(a["id"], b["id"], "same Gmail address, linking on: one user");
    assert_eq!(a["user_key"], b["user_key"]);
    assert_eq!(t.login_writes().await[..3], [1, 2, 1], "one user, two identities, one username");
    // A Workspace account links by its own domain (`hd`), and only with it.
    let w1 = login(&t, "google-oauth2", &google_claims(&t, "ws-1", "ann@corp.example", Some("corp.example"))).await;
    let w2 = login(&t, "google-oauth2", &google_claims(&t, "ws-2", "Ann@Corp.Example", Some("corp.example"))).await;
    assert_eq!(w1["id"], w2["id"]);
    let no_hd = login(&t, "google-oauth2", &google_claims(&t, "ws-3", "ann@corp.example", None)).await;
    assert_ne!(no_hd["id"], w1["id"], "Google without hd is not the mailbox of corp.example");
    let other_hd =
        login(&t, "google-oauth2", &google_claims(&t, "ws-4", "ann@corp.example", Some("evil.example"))).await;
    assert_ne!(other_hd["id"], w1["id"]);
    t.assert_logs_clean();
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_provider_that_is_not_the_mailbox_never_links_into_an_account() {
    let t = spawn_app().await;
    linking(&t, true).await;
    let victim = login(&t, "google-oauth2", &google(&t, "Victim", "victim@gmail.com", true)).await;
    // Each claims the victim's address; GitHub, X, Facebook, LinkedIn and Apple (for Gmail) are
    // not its mailbox, whatever they say about verification; an unverified Google one neither.
    let attempts = [
        ("facebook", json!({ "access_token": facebook(&t, "Mallory", "victim@gmail.com") })),
        ("github", json!({ "access_token": github(&t, "mallory", "victim@gmail.com", true) })),
        ("google-oauth2", json!({ "access_token": google(&t, "Mallory", "victim@gmail.com", false) })),
        ("apple", apple(&t, "000111.mallory.0001", "victim@gmail.com")),
    ];
    for (backend, body) in attempts {
        let attacker = syncano(&t, backend, body).await;
        assert_ne!(attacker["id"], victim["id"], "{backend}: not the mailbox, must not link");
        assert_ne!(attacker["user_key"], victim["user_key"]);
    }
    assert_eq!(t.count("EMAIL#").await, 1, "only the victim's authoritative email is indexed");
    let victim_user: Vec<_> = t
        .scan()
        .await
        .into_iter()
        .filter(|i| {
            matches!(i.get("pk"), Some(aws_sdk_dynamodb::types::AttributeValue::S(pk)) if *pk == format!("USER#{INSTANCE}#{}", victim["id"]))
        })
        .collect();
    assert_eq!(victim_user.len(), 1);
    match victim_user[0].get("identities") {
        Some(aws_sdk_dynamodb::types::AttributeValue::Ss(ids)) => assert_eq!(ids.len(), 1, "{ids:?}"),
        other => panic!("identities: {other:?}"),
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn pre_hijack_an_attackers_account_on_the_victims_address_is_never_joined() {
    let t = spawn_app().await;
    linking(&t, true).await;
    // The attacker registers first, with the victim's address, where it is not checked by its
    // mailbox: GitHub (verified there once, or by a typo-squatted mail), Facebook, Apple.
    let gh = login(&t, "github", &github(&t, "prehijack", "victim2@gmail.com", true)).await;
    let fb = login(&t, "facebook", &facebook(&t, "Pre Hijack", "victim2@gmail.com")).await;
    let ap = syncano(&t, "apple", apple(&t, "000222.prehijack.0002", "victim2@gmail.com")).await;
    assert_eq!(t.count("EMAIL#").await, 0, "none of them indexes the address");
    // The victim's own login later is a user of its own, not the attacker's.
    let victim = login(&t, "google-oauth2", &google(&t, "Victim Two", "victim2@gmail.com", true)).await;
    for attacker in [&gh, &fb, &ap] {
        assert_ne!(attacker["id"], victim["id"]);
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn apple_addresses_link_only_through_apple_and_non_ascii_never() {
    let t = spawn_app().await;
    linking(&t, true).await;
    let a = syncano(&t, "apple", apple(&t, "000333.relay.0001", "x1@privaterelay.appleid.com")).await;
    let b = syncano(&t, "apple", apple(&t, "000333.relay.0002", "X1@PrivateRelay.AppleID.com")).await;
    assert_eq!(a["id"], b["id"], "Apple is the relay's authority");
    let g = login(
        &t,
        "google-oauth2",
        &google_claims(&t, "relay-g", "x1@privaterelay.appleid.com", Some("privaterelay.appleid.com")),
    )
    .await;
    assert_ne!(g["id"], a["id"], "a relay address links only through Apple");
    let n1 = login(&t, "google-oauth2", &google(&t, "Ünï", "ünï@gmail.com", true)).await;
    let n2 = login(&t, "google-oauth2", &google(&t, "Ünï", "ünï@gmail.com", true)).await;
    assert_ne!(n1["id"], n2["id"], "a non-ASCII address never links");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_hundred_way_race_of_two_identities_of_one_address_makes_one_user() {
    let t = spawn_app_with(slow_machine).await;
    linking(&t, true).await;
    let subs = [
        t.emulator.create_oidc_user(OidcProvider::Google, "Race Linked", Some("race@gmail.com"), true),
        t.emulator.create_oidc_user(OidcProvider::Google, "Race Linked", Some("race@gmail.com"), true),
    ];
    let tokens: Vec<String> = (0..100)
        .map(|i| {
            let token = t.emulator.issue_id_token(OidcProvider::Google, &subs[i % 2], GOOGLE_CLIENT_ID, None);
            t.remember(&token);
            token
        })
        .collect();
    let answers = futures::future::join_all(
        tokens.iter().map(|token| t.syncano_at("google-oauth2", json!({ "access_token": token }))),
    )
    .await;
    for (status, body) in &answers {
        assert_eq!(*status, 200, "{body}");
        t.remember(body["user_key"].as_str().unwrap_or_default());
    }
    assert!(answers.iter().all(|(_, b)| b["id"] == answers[0].1["id"]), "one user for both identities");
    assert_eq!(t.login_writes().await[..3], [1, 2, 1], "one user, two identities, one username");
    t.assert_logs_clean();
}
