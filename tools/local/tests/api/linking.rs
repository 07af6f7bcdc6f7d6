//! The account linking policy: off by default; when an instance turns it on, a new identity joins
//! an existing user only when both its provider and the existing user's vouch for the same email
//! as verified. An unverified email never links (the account-takeover attempts below).

use emulator::OidcProvider;
use local_stack::demo::{GITHUB_CLIENT_ID, GOOGLE_CLIENT_ID};
use serde_json::json;
use shared::InstanceName;

use crate::helpers::*;

async fn syncano(t: &TestApp, backend: &str, token: &str) -> serde_json::Value {
    let (status, body) = t.syncano_at(backend, json!({ "access_token": token })).await;
    assert_eq!(status, 200, "{backend}: {body}");
    t.remember(body["user_key"].as_str().unwrap_or_default());
    body
}

fn google(t: &TestApp, name: &str, email: &str, verified: bool) -> String {
    let sub = t.emulator.create_oidc_user(OidcProvider::Google, name, Some(email), verified);
    let token = t.emulator.issue_id_token(OidcProvider::Google, &sub, GOOGLE_CLIENT_ID, None);
    t.remember(&token);
    token
}

fn github(t: &TestApp, login: &str, email: &str, verified: bool) -> String {
    let id = t.emulator.create_github_user(login, None, &[(email, verified, true)]);
    let token = t.emulator.issue_github_token(id, GITHUB_CLIENT_ID);
    t.remember(&token);
    token
}

async fn linking(t: &TestApp, on: bool) {
    t.app.store.set_linking(&InstanceName::parse(INSTANCE).expect("valid"), on).await.expect("set linking");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn off_by_default_two_providers_are_two_users() {
    let t = spawn_app().await;
    let a = syncano(&t, "google-oauth2", &google(&t, "Ada Two", "ada@example.com", true)).await;
    let b = syncano(&t, "github", &github(&t, "ada", "ada@example.com", true)).await;
    assert_ne!(a["id"], b["id"]);
    assert_eq!(t.count("EMAIL#").await, 0);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn on_both_verified_the_second_provider_joins_the_user() {
    let t = spawn_app().await;
    linking(&t, true).await;
    let a = syncano(&t, "google-oauth2", &google(&t, "Lin Ked", "Linked@Example.com", true)).await;
    let b = syncano(&t, "github", &github(&t, "linked", "linked@example.com", true)).await;
    assert_eq!(a["id"], b["id"], "same verified email, linking on: one user");
    assert_eq!(a["user_key"], b["user_key"]);
    assert_eq!(t.login_writes().await[..3], [1, 2, 1], "one user, two identities, one username");
    t.assert_logs_clean();
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_unverified_email_never_takes_over_an_account() {
    let t = spawn_app().await;
    linking(&t, true).await;
    let victim = syncano(&t, "google-oauth2", &google(&t, "Victim", "victim@example.com", true)).await;
    // Facebook never vouches for emails; a GitHub or Google email that is not verified neither.
    let fb_person = t.emulator.create_facebook_user("Mallory", Some("victim@example.com"));
    let fb = t.token(&fb_person, APP_ID, 3600);
    for (backend, token) in [
        ("facebook", fb),
        ("github", github(&t, "mallory", "victim@example.com", false)),
        ("google-oauth2", google(&t, "Mallory", "victim@example.com", false)),
    ] {
        let attacker = syncano(&t, backend, &token).await;
        assert_ne!(attacker["id"], victim["id"], "{backend}: an unverified email must not link");
        assert_ne!(attacker["user_key"], victim["user_key"]);
    }
    assert_eq!(t.count("EMAIL#").await, 1, "only the victim's verified email is indexed");
    // The victim's user is untouched: still one identity.
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
async fn both_sides_must_vouch_an_unverified_first_user_is_never_joined() {
    let t = spawn_app().await;
    linking(&t, true).await;
    // The first user's email came unverified (Facebook): it is not an email anyone can link to.
    let person = t.emulator.create_facebook_user("Wanda", Some("wanda@example.com"));
    let token = t.token(&person, APP_ID, 3600);
    let first = syncano(&t, "facebook", &token).await;
    let second = syncano(&t, "google-oauth2", &google(&t, "Wanda", "wanda@example.com", true)).await;
    assert_ne!(first["id"], second["id"]);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_hundred_way_race_of_two_providers_of_one_verified_email_makes_one_user() {
    let t = spawn_app_with(slow_machine).await;
    linking(&t, true).await;
    let sub = t.emulator.create_oidc_user(OidcProvider::Google, "Race Linked", Some("race@example.com"), true);
    let gh = t.emulator.create_github_user("race", None, &[("race@example.com", true, true)]);
    let tokens: Vec<(&str, String)> = (0..100)
        .map(|i| {
            let token = if i % 2 == 0 {
                ("google-oauth2", t.emulator.issue_id_token(OidcProvider::Google, &sub, GOOGLE_CLIENT_ID, None))
            } else {
                ("github", t.emulator.issue_github_token(gh, GITHUB_CLIENT_ID))
            };
            t.remember(&token.1);
            token
        })
        .collect();
    let answers = futures::future::join_all(
        tokens.iter().map(|(backend, token)| t.syncano_at(backend, json!({ "access_token": token }))),
    )
    .await;
    for (status, body) in &answers {
        assert_eq!(*status, 200, "{body}");
        t.remember(body["user_key"].as_str().unwrap_or_default());
    }
    assert!(answers.iter().all(|(_, b)| b["id"] == answers[0].1["id"]), "one user for both providers");
    assert_eq!(t.login_writes().await[..3], [1, 2, 1], "one user, two identities, one username");
    t.assert_logs_clean();
}
