//! Revocation at the provider on account deletion (issue 13): Apple's authorization code is
//! exchanged at sign-in (the emulator checks our ES256 client secret for real) and its refresh
//! token kept sealed, never in plain text; deleting the account revokes it at Apple, and a
//! revocation that fails never blocks the deletion and is retried by `revocation-retry`;
//! deleting a Facebook user withdraws our app's permissions, after which their token is refused;
//! a code of another person is a refused login.

use aws_sdk_dynamodb::types::AttributeValue;
use emulator::OidcProvider;
use local_stack::demo::APPLE_CLIENT_ID;
use serde_json::{json, Value};

use crate::helpers::*;

/// An Apple person of the emulator: (sub, a fresh ID token for our app, its raw nonce, a fresh
/// authorization code for our app).
fn apple_person(t: &TestApp, name: &str) -> (String, String, String, String) {
    let sub = t.emulator.create_oidc_user(OidcProvider::Apple, name, Some("x@privaterelay.appleid.com"), true);
    let nonce = format!("nonce-{sub}");
    let token = t.emulator.issue_id_token(OidcProvider::Apple, &sub, APPLE_CLIENT_ID, Some(&nonce));
    let code = t.emulator.apple_authorization_code(&sub, APPLE_CLIENT_ID);
    t.remember(&token);
    t.remember(&code);
    (sub, token, nonce, code)
}

/// A Syncano Apple sign-in with a code: (user id, user key).
async fn syncano_apple(t: &TestApp, token: &str, nonce: &str, code: &str) -> (u16, Value) {
    t.syncano_at("apple", json!({ "access_token": token, "nonce": nonce, "authorization_code": code })).await
}

/// A Rocket.Chat Apple sign-in with a code.
async fn rocketchat_apple(t: &TestApp, token: &str, nonce: &str, code: &str) -> (u16, Value) {
    let body = json!({ "serviceName": "apple", "identityToken": token, "nonce": nonce, "authorizationCode": code });
    json(t.http.post(format!("{}/api/v1/login", t.base)).json(&body).send().await.expect("request")).await
}

/// Apple's refresh tokens of `sub`: (token, revoked).
fn refresh_tokens(t: &TestApp, sub: &str) -> Vec<(String, bool)> {
    t.emulator.apple_refresh_tokens(sub).into_iter().map(|r| (r.token, r.revoked)).collect()
}

/// Every string anywhere in the table.
async fn table_text(t: &TestApp) -> String {
    format!("{:?}", t.scan().await)
}

async fn pending(t: &TestApp) -> Vec<Item> {
    t.scan()
        .await
        .into_iter()
        .filter(|i| i.get("pk").and_then(|v| v.as_s().ok()).is_some_and(|pk| pk.split('#').next() == Some("REVOKE")))
        .collect()
}

fn delete_self(t: &TestApp, user_key: &str) -> reqwest::RequestBuilder {
    t.http
        .delete(format!("{}/v1.1/instances/{INSTANCE}/user/", t.base))
        .header("x-api-key", &t.api_key)
        .header("x-user-key", user_key)
}

fn delete_user(t: &TestApp, id: u64) -> reqwest::RequestBuilder {
    t.http.delete(format!("{}/v1.1/instances/{INSTANCE}/users/{id}/", t.base)).header("x-api-key", ADMIN_API_KEY)
}

/// Runs `revocation-retry` as EventBridge would, through the gateway's registry.
async fn run_retry(t: &TestApp) -> Value {
    let functions = local_stack::gateway::scheduled_functions(t.app.clone());
    let retry = functions.get("revocation-retry").expect("revocation-retry is scheduled");
    let event = crate::events::scheduled_event("revocation-retry");
    retry(event).await.expect("revocation-retry")
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn apple_codes_are_exchanged_sealed_and_revoked_on_deletion_in_each_dialect() {
    let t = spawn_app().await;

    // Syncano: sign in with the code, then the user deletes itself.
    let (sub, token, nonce, code) = apple_person(&t, "Sealed Cat");
    let (status, body) = syncano_apple(&t, &token, &nonce, &code).await;
    assert_eq!(status, 200, "{body}");
    let key = body["user_key"].as_str().expect("user_key").to_string();
    t.remember(&key);
    assert_eq!(t.emulator.revocation_stats(), (1, 0, 0), "exchanged once");
    let tokens = refresh_tokens(&t, &sub);
    assert_eq!(tokens.len(), 1);
    let (refresh, revoked) = tokens[0].clone();
    t.remember(&refresh);
    assert!(!revoked);
    // Kept sealed on the identity, never in plain text anywhere in the table.
    assert!(!table_text(&t).await.contains(&refresh), "the refresh token is stored in plain text");
    let ident = format!("IDENT#{INSTANCE}#apple#{sub}");
    let item = t.scan().await.into_iter().find(|i| i.get("pk").and_then(|v| v.as_s().ok()) == Some(&ident));
    let sealed = item.as_ref().and_then(|i| i.get("refresh_token")).and_then(|v| v.as_s().ok()).cloned();
    assert!(sealed.as_deref().is_some_and(|s| s.starts_with("v2.1.")), "{item:?}");
    // A returning sign-in without a code changes nothing.
    let (status, _) = t.syncano_at("apple", json!({ "access_token": token, "nonce": nonce })).await;
    assert_eq!(status, 200);

    let resp = delete_self(&t, &key).send().await.expect("delete");
    assert_eq!(resp.status().as_u16(), 204);
    assert_eq!(refresh_tokens(&t, &sub), [(refresh, true)], "revoked at Apple");
    assert_eq!(t.emulator.revocation_stats(), (1, 1, 0));
    assert!(pending(&t).await.is_empty(), "nothing left to retry");

    // Rocket.Chat: the same with authorizationCode and users.deleteOwnAccount.
    let (sub, token, nonce, code) = apple_person(&t, "Sealed Rocket");
    let (status, body) = rocketchat_apple(&t, &token, &nonce, &code).await;
    assert_eq!(status, 200, "{body}");
    let auth = body["data"]["authToken"].as_str().expect("authToken").to_string();
    t.remember(&auth);
    let rc_id = body["data"]["userId"].as_str().expect("userId").to_string();
    let username = body["data"]["me"]["username"].as_str().expect("username").to_string();
    let (refresh, _) = refresh_tokens(&t, &sub)[0].clone();
    t.remember(&refresh);
    assert!(!table_text(&t).await.contains(&refresh));
    let confirm = json!({ "password": shared::domain::tokens::sha256_hex(&username) });
    let delete = t
        .http
        .post(format!("{}/api/v1/users.deleteOwnAccount", t.base))
        .header("x-auth-token", &auth)
        .header("x-user-id", &rc_id)
        .json(&confirm);
    assert_eq!(json(delete.send().await.expect("delete")).await, (200, json!({ "success": true })));
    assert_eq!(refresh_tokens(&t, &sub), [(refresh, true)]);

    // An admin deletion revokes too.
    let (sub, token, nonce, code) = apple_person(&t, "Admin Sealed");
    let (_, body) = syncano_apple(&t, &token, &nonce, &code).await;
    let id = body["id"].as_u64().expect("id");
    assert_eq!(delete_user(&t, id).send().await.expect("delete").status().as_u16(), 204);
    assert!(refresh_tokens(&t, &sub).iter().all(|(_, revoked)| *revoked));
    assert_eq!(t.emulator.revocation_stats(), (3, 3, 0));
    t.assert_logs_clean();
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_failed_revocation_never_blocks_the_deletion_and_is_retried() {
    let t = spawn_app().await;
    let (sub, token, nonce, code) = apple_person(&t, "Retried Cat");
    let (status, body) = syncano_apple(&t, &token, &nonce, &code).await;
    assert_eq!(status, 200, "{body}");
    let key = body["user_key"].as_str().expect("user_key").to_string();
    t.remember(&key);
    let (refresh, _) = refresh_tokens(&t, &sub)[0].clone();
    t.remember(&refresh);

    // Apple is down: the deletion still succeeds and the user is gone.
    t.emulator.fail_apple_revocations(2);
    assert_eq!(delete_self(&t, &key).send().await.expect("delete").status().as_u16(), 204);
    let me = t
        .http
        .get(format!("{}/v1.1/instances/{INSTANCE}/user/", t.base))
        .header("x-api-key", &t.api_key)
        .header("x-user-key", &key);
    assert_eq!(me.send().await.expect("user/").status().as_u16(), 403, "the deletion happened");
    assert_eq!(refresh_tokens(&t, &sub), [(refresh.clone(), false)]);

    // One pending item, sealed, retried in 15 minutes.
    let items = pending(&t).await;
    assert_eq!(items.len(), 1, "{items:?}");
    let item = &items[0];
    assert_eq!(item["sk"].as_s().ok(), Some(&format!("apple#{INSTANCE}#{sub}")));
    assert_eq!(item["attempts"].as_n().ok().map(String::as_str), Some("1"));
    let next: i64 = item["next_attempt"].as_n().expect("next_attempt").parse().expect("number");
    let wait = next - shared::domain::clock::now_secs();
    assert!((890..=900).contains(&wait), "15 minutes: {wait}");
    let expires: i64 = item["expires_at"].as_n().expect("expires_at").parse().expect("number");
    assert!((expires - shared::domain::clock::now_secs()) / 86_400 >= 29, "kept 30 days");
    assert!(!table_text(&t).await.contains(&refresh), "the pending item holds it sealed");

    // Not due yet: the scheduled run leaves it alone.
    assert_eq!(run_retry(&t).await, json!({ "due": 0, "done": 0, "rescheduled": 0 }));
    // Due, but Apple still fails: rescheduled, doubling.
    make_due(&t, &format!("apple#{INSTANCE}#{sub}")).await;
    assert_eq!(run_retry(&t).await, json!({ "due": 1, "done": 0, "rescheduled": 1 }));
    let item = &pending(&t).await[0];
    assert_eq!(item["attempts"].as_n().ok().map(String::as_str), Some("2"));
    let next: i64 = item["next_attempt"].as_n().expect("next_attempt").parse().expect("number");
    assert!((1790..=1800).contains(&(next - shared::domain::clock::now_secs())), "30 minutes");
    // Apple is back: revoked, and the item goes.
    make_due(&t, &format!("apple#{INSTANCE}#{sub}")).await;
    assert_eq!(run_retry(&t).await, json!({ "due": 1, "done": 1, "rescheduled": 0 }));
    assert_eq!(refresh_tokens(&t, &sub), [(refresh, true)]);
    assert!(pending(&t).await.is_empty());
    assert_eq!(run_retry(&t).await, json!({ "due": 0, "done": 0, "rescheduled": 0 }));
    t.assert_logs_clean();
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn deleting_a_facebook_user_withdraws_our_permissions() {
    let t = spawn_app().await;
    let (person, token) = t.facebook_user("Withdrawn Cat", None);
    let (status, body) = json(t.syncano_login(&token).await).await;
    assert_eq!(status, 200, "{body}");
    let id = body["id"].as_u64().expect("id");
    assert_eq!(delete_user(&t, id).send().await.expect("delete").status().as_u16(), 204);
    assert_eq!(t.emulator.revocation_stats(), (0, 0, 1), "DELETE /{{user-id}}/permissions");
    // The person's token for our app no longer works (Graph refuses it), in either dialect.
    assert_eq!(t.syncano_login(&token).await.status().as_u16(), 401);
    assert_eq!(t.rocketchat_login(&token).await.status().as_u16(), 401);
    // Signing in again (a new token, as after reconnecting the app) makes a new user.
    let (status, body) = json(t.syncano_login(&t.token(&person, APP_ID, 3600)).await).await;
    assert_eq!(status, 200, "{body}");
    assert!(body["id"].as_u64().expect("id") > id);
    assert!(pending(&t).await.is_empty());
    t.assert_logs_clean();
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_code_of_another_person_is_refused_and_a_bad_code_does_not_block_the_login() {
    let t = spawn_app().await;
    let (_, token, nonce, _) = apple_person(&t, "Honest Cat");
    let (_, _, _, someone_elses) = apple_person(&t, "Other Cat");
    let before = t.login_writes().await;
    let (status, body) = syncano_apple(&t, &token, &nonce, &someone_elses).await;
    assert_eq!(status, 401, "{body}");
    let (_, _, _, someone_elses) = apple_person(&t, "Other Rocket");
    let (status, body) = rocketchat_apple(&t, &token, &nonce, &someone_elses).await;
    assert_eq!((status, body), (401, rc_login_unauthorized()));
    assert_eq!(t.login_writes().await, before, "nothing written");

    // A code Apple refuses (used, expired, made up: invalid_grant) is logged, not the login's
    // failure: the person signs in, without a refresh token kept.
    let (sub, token, nonce, code) = apple_person(&t, "Late Cat");
    let (status, _) = syncano_apple(&t, &token, &nonce, "c0000000000000000000000000000000.0.aaaa").await;
    assert_eq!(status, 200);
    assert!(refresh_tokens(&t, &sub).is_empty());
    // The same code twice: the second exchange is refused by Apple, the login goes on.
    assert_eq!(syncano_apple(&t, &token, &nonce, &code).await.0, 200);
    assert_eq!(syncano_apple(&t, &token, &nonce, &code).await.0, 200);
    assert_eq!(refresh_tokens(&t, &sub).len(), 1);
    t.assert_logs_clean();
}

/// When Apple itself tells us the person withdrew (a notification), nothing is revoked at Apple.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_deletion_that_comes_from_apple_revokes_nothing_at_apple() {
    let t = spawn_app().await;
    let (sub, token, nonce, code) = apple_person(&t, "Notified Cat");
    assert_eq!(syncano_apple(&t, &token, &nonce, &code).await.0, 200);
    let body = t.emulator.apple_notification(APPLE_CLIENT_ID, "account-delete", &sub, None);
    let resp = t.http.post(format!("{}/callbacks/apple/{INSTANCE}", t.base)).json(&body).send().await;
    assert_eq!(resp.expect("notification").status().as_u16(), 200);
    assert_eq!(t.emulator.revocation_stats(), (1, 0, 0));
    assert!(pending(&t).await.is_empty());
    assert_eq!(t.count(&format!("IDENT#{INSTANCE}#apple#")).await, 0, "the identity and its sealed token are gone");
}

/// Only the first step of user `id`'s deletion (the tombstone and its pending revocations), as a
/// crash right after it would leave it; returns the revocations it recorded.
async fn deletion_step_one(t: &TestApp, id: u64) -> Vec<shared::store::PendingRevocation> {
    let plan = deciding_write(t, id).await;
    let instance = shared::InstanceName::parse(INSTANCE).expect("valid");
    t.app.store.release_user(&instance, id, &plan).await.expect("step 2").unwrap_or_default()
}

/// The deciding write of user `id`'s self-deletion only (its tombstone, recording the providers
/// to revoke at), as a process stopped right after it leaves it; the plan it recorded.
async fn deciding_write(t: &TestApp, id: u64) -> shared::store::RevocationPlan {
    let instance = shared::InstanceName::parse(INSTANCE).expect("valid");
    let now = shared::domain::clock::now_secs();
    let reason = shared::store::DeletionReason::User;
    let plan = t.app.revocation_plan(&instance, reason, now).await.expect("plan");
    let step = t.app.store.prepare_tombstone(&instance, id, &t.app.user_keys, reason, now + 3600, now + 86_400, &plan);
    let shared::store::Step1::Ready(step) = step.await.expect("step 1") else { panic!("a live user") };
    assert!(t.app.store.commit_tombstone(step).await.expect("tombstone").is_some());
    plan
}

/// The partition of the pending revocation `sk` (its shard, or the older `REVOKE`).
async fn pending_pk(t: &TestApp, sk: &str) -> String {
    let item =
        pending(t).await.into_iter().find(|i| i.get("sk").and_then(|v| v.as_s().ok()).map(String::as_str) == Some(sk));
    item.and_then(|i| i.get("pk").and_then(|v| v.as_s().ok()).cloned()).expect("pending revocation")
}

/// Sets `next_attempt` of the pending revocation `sk` to the past.
async fn make_due(t: &TestApp, sk: &str) {
    t.dynamo
        .update_item()
        .table_name(&t.table)
        .key("pk", AttributeValue::S(pending_pk(t, sk).await))
        .key("sk", AttributeValue::S(sk.into()))
        .update_expression("SET next_attempt = :past")
        .expression_attribute_values(":past", AttributeValue::N((shared::domain::clock::now_secs() - 1).to_string()))
        .send()
        .await
        .expect("due");
}

/// Facebook down during the deletion (Graph 500, a timeout): the deletion succeeds, the
/// withdrawal stays pending and the retry does it once Graph answers.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_facebook_outage_during_the_deletion_is_retried() {
    let t = spawn_app().await;
    let (_, token) = t.facebook_user("Outage Cat", None);
    let (_, body) = json(t.syncano_login(&token).await).await;
    let id = body["id"].as_u64().expect("id");
    let subject = t.scan().await.into_iter().find_map(|i| {
        let pk = i.get("pk")?.as_s().ok()?;
        pk.strip_prefix(&format!("IDENT#{INSTANCE}#facebook#")).map(str::to_string)
    });
    let subject = subject.expect("the Facebook identity");
    t.emulator.set_fault(emulator::Fault::Status500);
    assert_eq!(delete_user(&t, id).send().await.expect("delete").status().as_u16(), 204);
    t.emulator.set_fault(emulator::Fault::None);
    assert_eq!(t.count(&format!("USER#{INSTANCE}#{id}")).await, 0, "deleted");
    let sk = format!("facebook#{INSTANCE}#{subject}");
    let items = pending(&t).await;
    assert_eq!(
        items.iter().map(|i| i["sk"].as_s().expect("sk").clone()).collect::<Vec<_>>(),
        std::slice::from_ref(&sk)
    );
    assert!(!items[0].contains_key("sealed_token"), "Facebook needs only our app token");
    // (Signing in again now would be a new sign-up of the person, whose consent the retry then
    // keeps: `a_pending_facebook_revocation_never_withdraws_the_consent_of_a_new_sign_up`.)

    make_due(&t, &sk).await;
    assert_eq!(run_retry(&t).await, json!({ "due": 1, "done": 1, "rescheduled": 0 }));
    assert_eq!(t.emulator.revocation_stats(), (0, 0, 1));
    assert_eq!(t.rocketchat_login(&token).await.status().as_u16(), 401, "withdrawn");
    t.assert_logs_clean();
}

/// A deletion that crashed right after its first step (as `crash.rs` kills one) has recorded
/// what to revoke in that step's own transaction: finishing the deletion does not lose it, and
/// `revocation-retry` revokes it.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_deletion_stopped_after_its_first_step_still_revokes() {
    let t = spawn_app().await;
    let (sub, token, nonce, code) = apple_person(&t, "Crashed Cat");
    let (_, body) = syncano_apple(&t, &token, &nonce, &code).await;
    let id = body["id"].as_u64().expect("id");
    let key = body["user_key"].as_str().expect("user_key").to_string();
    t.remember(&key);
    let (refresh, _) = refresh_tokens(&t, &sub)[0].clone();
    t.remember(&refresh);

    // Step 1 only, as a crash would leave it.
    let recorded = deletion_step_one(&t, id).await;
    assert_eq!(recorded.len(), 1);
    assert_eq!(pending(&t).await.len(), 1, "recorded with the tombstone");
    // The retry of the deletion (the same key) finishes it; the revocation is still pending.
    assert_eq!(delete_self(&t, &key).send().await.expect("delete").status().as_u16(), 204);
    assert_eq!(pending(&t).await.len(), 1);
    // Due at once: the next scheduled run revokes it.
    assert_eq!(run_retry(&t).await, json!({ "due": 1, "done": 1, "rescheduled": 0 }));
    assert_eq!(refresh_tokens(&t, &sub), [(refresh, true)]);
    assert!(pending(&t).await.is_empty());
    t.assert_logs_clean();
}

/// Rotating `REFRESH_TOKEN_KEY` (a new current key, the old one as the previous) loses no
/// stored refresh token: one sealed before the rotation is still revoked at a deletion, and a
/// pending revocation sealed before it is still done by the retry; new tokens are sealed with
/// the new key's version.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn rotating_the_refresh_token_key_keeps_pending_revocations() {
    let t = spawn_app().await;
    let sealed_of = |items: Vec<Item>, sub: &str| {
        let ident = format!("IDENT#{INSTANCE}#apple#{sub}");
        items
            .into_iter()
            .find(|i| i.get("pk").and_then(|v| v.as_s().ok()) == Some(&ident))
            .and_then(|i| i.get("refresh_token").and_then(|v| v.as_s().ok()).cloned())
            .unwrap_or_default()
    };
    // Before the rotation: one person signed in (token sealed, version 1), and one already
    // deleted while Apple was down (a pending revocation, sealed, version 1).
    let (kept_sub, token, nonce, code) = apple_person(&t, "Kept Across");
    let (status, kept) = syncano_apple(&t, &token, &nonce, &code).await;
    assert_eq!(status, 200, "{kept}");
    t.remember(kept["user_key"].as_str().unwrap_or_default());
    assert!(sealed_of(t.scan().await, &kept_sub).starts_with("v2.1."), "sealed under version 1");
    let (pending_sub, token, nonce, code) = apple_person(&t, "Pending Across");
    let (_, gone) = syncano_apple(&t, &token, &nonce, &code).await;
    let gone_key = gone["user_key"].as_str().expect("user_key").to_string();
    t.remember(&gone_key);
    t.emulator.fail_apple_revocations(1);
    assert_eq!(delete_self(&t, &gone_key).send().await.expect("delete").status().as_u16(), 204);
    assert_eq!(pending(&t).await.len(), 1);

    // The rotation.
    let mut vars = t.vars.clone();
    let old_key = vars["REFRESH_TOKEN_KEY"].clone();
    vars.insert("REFRESH_TOKEN_KEY".into(), "bmV3LWtleS1uZXcta2V5LW5ldy1rZXktbmV3LWtleSE=".into());
    vars.insert("REFRESH_TOKEN_KEY_VERSION".into(), "2".into());
    vars.insert("REFRESH_TOKEN_KEY_PREVIOUS".into(), old_key);
    vars.insert("REFRESH_TOKEN_KEY_PREVIOUS_VERSION".into(), "1".into());
    let rotated = std::sync::Arc::new(shared::App::from_vars(&vars).await.expect("rotated config"));
    let base = serve_app(rotated.clone()).await;

    // The pending revocation sealed under version 1 is done by the rotated deployment's retry.
    make_due(&t, &format!("apple#{INSTANCE}#{pending_sub}")).await;
    let functions = local_stack::gateway::scheduled_functions(rotated.clone());
    let retry = functions.get("revocation-retry").expect("revocation-retry is scheduled");
    let outcome = retry(crate::events::scheduled_event("revocation-retry")).await.expect("revocation-retry");
    assert_eq!(outcome, json!({ "due": 1, "done": 1, "rescheduled": 0 }));
    assert!(refresh_tokens(&t, &pending_sub).iter().all(|(_, revoked)| *revoked), "revoked after the rotation");

    // The token sealed before the rotation is revoked by a deletion after it.
    let kept_key = kept["user_key"].as_str().expect("user_key");
    let delete = t
        .http
        .delete(format!("{base}/v1.1/instances/{INSTANCE}/user/"))
        .header("x-api-key", &t.api_key)
        .header("x-user-key", kept_key);
    assert_eq!(delete.send().await.expect("delete").status().as_u16(), 204);
    assert!(refresh_tokens(&t, &kept_sub).iter().all(|(_, revoked)| *revoked), "revoked after the rotation");
    assert!(pending(&t).await.is_empty(), "nothing given up, nothing left");

    // A sign-in after the rotation seals with the new version.
    let (new_sub, token, nonce, code) = apple_person(&t, "After Rotation");
    let body = json!({ "access_token": token, "nonce": nonce, "authorization_code": code });
    let resp = t
        .http
        .post(format!("{base}/v1.1/instances/{INSTANCE}/user/auth/apple/"))
        .header("x-api-key", &t.api_key)
        .json(&body)
        .send()
        .await
        .expect("login");
    let (status, fresh) = json(resp).await;
    assert_eq!(status, 200, "{fresh}");
    t.remember(fresh["user_key"].as_str().unwrap_or_default());
    assert!(sealed_of(t.scan().await, &new_sub).starts_with("v2.2."), "sealed under version 2");
    t.assert_logs_clean();
}

/// The app-scoped id of `person` that our deletion records.
fn facebook_subject(t: &TestApp, person: &str) -> String {
    t.emulator.app_scoped_user_id(person, APP_ID)
}

/// Issue 28, point 4: the person whose revocation failed at their deletion signs up again (a new
/// code, a new refresh token at Apple) before `revocation-retry` comes round. The pending
/// revocation belongs to the deleted account: the retry must not end the new grant (Apple
/// revokes the whole authorization of the person for our client, new tokens included).
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_pending_apple_revocation_never_revokes_the_grant_of_a_new_sign_up() {
    let t = spawn_app().await;
    let (sub, token, nonce, code) = apple_person(&t, "Returning Cat");
    let (status, body) = syncano_apple(&t, &token, &nonce, &code).await;
    assert_eq!(status, 200, "{body}");
    let (key, first_id) = (body["user_key"].as_str().expect("user_key").to_string(), body["id"].clone());
    t.remember(&key);
    t.emulator.fail_apple_revocations(1);
    assert_eq!(delete_self(&t, &key).send().await.expect("delete").status().as_u16(), 204);
    assert_eq!(pending(&t).await.len(), 1, "the failed revocation is pending");

    // The same person signs up again: a new user, a new grant at Apple.
    let code = t.emulator.apple_authorization_code(&sub, APPLE_CLIENT_ID);
    t.remember(&code);
    let token = t.emulator.issue_id_token(OidcProvider::Apple, &sub, APPLE_CLIENT_ID, Some(&nonce));
    t.remember(&token);
    let (status, body) = syncano_apple(&t, &token, &nonce, &code).await;
    assert_eq!(status, 200, "{body}");
    assert_ne!(body["id"], first_id, "a new user");
    let tokens = refresh_tokens(&t, &sub);
    assert_eq!(tokens.len(), 2);
    for (refresh, _) in &tokens {
        t.remember(refresh);
    }

    make_due(&t, &format!("apple#{INSTANCE}#{sub}")).await;
    run_retry(&t).await;
    assert!(refresh_tokens(&t, &sub).iter().all(|(_, revoked)| !revoked), "the new grant was revoked");
    assert!(pending(&t).await.is_empty(), "the stale revocation is dropped, not retried for 30 days");
    assert_eq!(t.emulator.revocation_stats().1, 0, "nothing was sent to Apple");
    t.assert_logs_clean();
}

/// Point 4 for Facebook: the deletion's withdrawal failed (Graph down); the person signs up again
/// (a new consent, a new token); the retry must not withdraw the new consent.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_pending_facebook_revocation_never_withdraws_the_consent_of_a_new_sign_up() {
    let t = spawn_app().await;
    let (person, token) = t.facebook_user("Returning Fox", None);
    let (_, body) = json(t.syncano_login(&token).await).await;
    let id = body["id"].as_u64().expect("id");
    t.emulator.set_fault(emulator::Fault::Status500);
    assert_eq!(delete_user(&t, id).send().await.expect("delete").status().as_u16(), 204);
    t.emulator.set_fault(emulator::Fault::None);
    let sk = format!("facebook#{INSTANCE}#{}", facebook_subject(&t, &person));
    assert_eq!(pending(&t).await.len(), 1);

    let again = t.token(&person, APP_ID, 3600);
    let (status, body) = json(t.syncano_login(&again).await).await;
    assert_eq!(status, 200, "{body}");
    assert!(body["id"].as_u64().expect("id") > id, "a new user");

    make_due(&t, &sk).await;
    run_retry(&t).await;
    assert_eq!(t.emulator.revocation_stats().2, 0, "the new consent was withdrawn");
    assert_eq!(t.syncano_login(&again).await.status().as_u16(), 200, "the new user still signs in");
    assert!(pending(&t).await.is_empty());
    t.assert_logs_clean();
}

/// Point 4, the other order: the person signs up again between the deletion's first step
/// (which recorded the revocation) and the deletion's own attempt at it (a slow deletion, or one
/// finished by a retry). The attempt must not revoke the new grant either.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_sign_up_between_the_deletions_first_step_and_its_revocation_keeps_its_grant() {
    let t = spawn_app().await;
    let (sub, token, nonce, code) = apple_person(&t, "Quick Cat");
    let (_, body) = syncano_apple(&t, &token, &nonce, &code).await;
    let id = body["id"].as_u64().expect("id");
    let key = body["user_key"].as_str().expect("user_key").to_string();
    t.remember(&key);
    let recorded = deletion_step_one(&t, id).await;
    assert_eq!(recorded.len(), 1);

    let code = t.emulator.apple_authorization_code(&sub, APPLE_CLIENT_ID);
    t.remember(&code);
    let token = t.emulator.issue_id_token(OidcProvider::Apple, &sub, APPLE_CLIENT_ID, Some(&nonce));
    t.remember(&token);
    assert_eq!(syncano_apple(&t, &token, &nonce, &code).await.0, 200);
    for (refresh, _) in refresh_tokens(&t, &sub) {
        t.remember(&refresh);
    }

    // The deletion's own attempt, with what its first step recorded.
    t.app.revoke_pending(&recorded, std::time::Duration::from_secs(5)).await;
    assert!(refresh_tokens(&t, &sub).iter().all(|(_, revoked)| !revoked), "the new grant was revoked");
    assert!(pending(&t).await.is_empty());
    assert_eq!(delete_self(&t, &key).send().await.expect("finish").status().as_u16(), 204);
    assert_eq!(run_retry(&t).await["due"], 0);
    assert!(refresh_tokens(&t, &sub).iter().all(|(_, revoked)| !revoked));
    t.assert_logs_clean();
}

/// Issue 28, point 9: our app secret was reset at Facebook and the new one is not in our
/// configuration yet. Graph then refuses our app token (190 without a subcode, "Invalid OAuth
/// access token signature."), which is not "the person removed the app": every withdrawal stays
/// pending, logged as a failure, until the secret is right again.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_rotated_facebook_app_secret_keeps_every_pending_revocation() {
    let t = spawn_app().await;
    let mut subjects = Vec::new();
    let mut tokens = Vec::new();
    for name in ["Rotated One", "Rotated Two"] {
        let (person, token) = t.facebook_user(name, None);
        let (_, body) = json(t.syncano_login(&token).await).await;
        subjects.push((body["id"].as_u64().expect("id"), facebook_subject(&t, &person)));
        tokens.push(token);
    }
    let ours = t.vars["FACEBOOK_APP_SECRET"].clone();
    let rotated = format!("rotated{}", &ours[..ours.len().min(16)]);
    t.remember(&rotated);
    t.emulator.rotate_facebook_app_secret(APP_ID, &rotated);

    for (id, _) in &subjects {
        assert_eq!(delete_user(&t, *id).send().await.expect("delete").status().as_u16(), 204);
    }
    let items = pending(&t).await;
    assert_eq!(items.len(), 2, "a refused app token is not a removed app: {items:?}");
    assert!(items.iter().all(|i| i["attempts"].as_n().ok().map(String::as_str) == Some("1")));
    for (_, subject) in &subjects {
        make_due(&t, &format!("facebook#{INSTANCE}#{subject}")).await;
    }
    assert_eq!(run_retry(&t).await, json!({ "due": 2, "done": 0, "rescheduled": 2 }));
    assert_eq!(pending(&t).await.len(), 2, "kept for the next run");
    assert!(logs().contains("revocation failed; will retry"), "logged as a failure");
    assert_eq!(t.emulator.revocation_stats().2, 0);

    // The secret is right again (here: Facebook's put back): the next run withdraws both.
    t.emulator.rotate_facebook_app_secret(APP_ID, &ours);
    for (_, subject) in &subjects {
        make_due(&t, &format!("facebook#{INSTANCE}#{subject}")).await;
    }
    assert_eq!(run_retry(&t).await, json!({ "due": 2, "done": 2, "rescheduled": 0 }));
    assert_eq!(t.emulator.revocation_stats().2, 2);
    for token in &tokens {
        assert_eq!(t.syncano_login(token).await.status().as_u16(), 401, "withdrawn");
    }
    t.assert_logs_clean();
}

/// Graph's answer about a person who already removed the app (190, subcode 458 "App Not
/// Installed") is the one refusal that counts as done.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_person_who_already_removed_the_app_counts_as_withdrawn() {
    let t = spawn_app().await;
    let (person, token) = t.facebook_user("Gone Fox", None);
    let (_, body) = json(t.syncano_login(&token).await).await;
    let id = body["id"].as_u64().expect("id");
    t.emulator.remove_facebook_app(&person, APP_ID);
    assert_eq!(delete_user(&t, id).send().await.expect("delete").status().as_u16(), 204);
    assert!(pending(&t).await.is_empty(), "nothing left to withdraw");
    assert_eq!(t.emulator.revocation_stats().2, 0);
    t.assert_logs_clean();
}

/// Issue 30: pending revocations are spread over `REVOKE#{shard}` partitions, so a wave of
/// deletions writes to many keys; one recorded by an older deployment in the single `REVOKE`
/// partition is still found, retried and deleted there.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn pending_revocations_are_sharded_and_an_older_unsharded_one_is_still_retried() {
    let t = spawn_app().await;
    let mut sks = Vec::new();
    for name in ["Wave One", "Wave Two", "Wave Three"] {
        let (person, token) = t.facebook_user(name, None);
        let (_, body) = json(t.syncano_login(&token).await).await;
        let id = body["id"].as_u64().expect("id");
        t.emulator.set_fault(emulator::Fault::Status500);
        assert_eq!(delete_user(&t, id).send().await.expect("delete").status().as_u16(), 204);
        t.emulator.set_fault(emulator::Fault::None);
        sks.push(format!("facebook#{INSTANCE}#{}", facebook_subject(&t, &person)));
    }
    for sk in &sks {
        let pk = pending_pk(&t, sk).await;
        let shard: u32 = pk.strip_prefix("REVOKE#").expect("sharded").parse().expect("shard number");
        assert!(shard < 32, "{pk}");
    }
    // The first as an older deployment recorded it: moved to the single partition.
    let old = pending(&t).await.into_iter().find(|i| i["sk"].as_s().ok() == Some(&sks[0])).expect("pending");
    let mut moved = old.clone();
    moved.insert("pk".into(), AttributeValue::S("REVOKE".into()));
    t.dynamo.put_item().table_name(&t.table).set_item(Some(moved)).send().await.expect("put");
    let key = [("pk", old["pk"].clone()), ("sk", old["sk"].clone())];
    t.dynamo
        .delete_item()
        .table_name(&t.table)
        .set_key(Some(key.into_iter().map(|(k, v)| (k.to_string(), v)).collect()))
        .send()
        .await
        .expect("delete");
    assert_eq!(pending_pk(&t, &sks[0]).await, "REVOKE");
    for sk in &sks {
        make_due(&t, sk).await;
    }
    assert_eq!(run_retry(&t).await, json!({ "due": 3, "done": 3, "rescheduled": 0 }));
    assert!(pending(&t).await.is_empty(), "every one done and deleted, the older one too");
    t.assert_logs_clean();
}

/// Issue 33: the deletion records its revocation (step 2) before it deletes the identity (step
/// 3), so `revocation-retry` may come round while a deletion stopped between the two: the
/// identity is still there, naming the deleted user. That is the deletion under way, not a new
/// sign-up of the person: the withdrawal is done, not dropped as superseded (it would then never
/// be done: the retry deletes it).
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_revocation_retried_while_its_deletion_is_unfinished_is_done_not_dropped() {
    use local_stack::counting_proxy::DynamoFault;
    let (t, proxy) = spawn_app_behind_proxy().await;
    let (_, token) = t.facebook_user("Unfinished Fox", None);
    let (_, body) = json(t.syncano_login(&token).await).await;
    let id = body["id"].as_u64().expect("id");
    // The tombstone and the revocation are written; the identity's removal fails.
    proxy.fail(DynamoFault::ServerError, Some("DeleteItem"), u32::MAX);
    assert_eq!(delete_user(&t, id).send().await.expect("delete").status().as_u16(), 503);
    proxy.heal();
    assert_eq!(pending(&t).await.len(), 1, "recorded");
    assert_eq!(t.count(&format!("IDENT#{INSTANCE}#facebook#")).await, 1, "the identity is still there");
    let report = run_retry(&t).await;
    assert_eq!(report["done"], 1, "{report}");
    assert_eq!(t.emulator.revocation_stats().2, 1, "withdrawn at Facebook");
    assert_eq!(delete_user(&t, id).send().await.expect("finish").status().as_u16(), 204);
    assert!(pending(&t).await.is_empty(), "not recorded again by the finishing deletion");
    assert_eq!(t.count(&format!("IDENT#{INSTANCE}#facebook#")).await, 0);
}

/// The sweeper finishes a deletion that stopped right after its deciding write (the tombstone)
/// in an environment of its own, as on AWS: the revocations it records are those the tombstone
/// decided (Apple's, here), and it reads no instance's provider apps to know them (its policy
/// allows no `INSTCONF#` read: before, it read them to plan the revocations again, and was
/// refused whenever its environment had not kept them, i.e. always on AWS).
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_sweeper_finishes_a_deletion_with_the_revocations_its_tombstone_decided() {
    let t = spawn_app().await;
    let (sub, token, nonce, code) = apple_person(&t, "Swept Cat");
    let (_, body) = syncano_apple(&t, &token, &nonce, &code).await;
    let id = body["id"].as_u64().expect("id");
    t.remember(body["user_key"].as_str().expect("user_key"));
    let (refresh, _) = refresh_tokens(&t, &sub)[0].clone();
    t.remember(&refresh);

    // The deciding write only, as a process stopped right after it leaves the deletion.
    let plan = deciding_write(&t, id).await;
    assert!(plan.providers.contains(&"apple"), "{plan:?}");
    assert!(pending(&t).await.is_empty(), "nothing recorded yet");

    let user_pk = format!("USER#{INSTANCE}#{id}");
    crate::sweeper::make_due(&t, &user_pk, "USER").await;
    let report = crate::sweeper::run_sweeper(&t).await;
    assert!(report.finished >= 1, "{report:?}");
    assert_eq!(pending(&t).await.len(), 1, "the Apple revocation the tombstone decided, recorded by the sweeper");
    assert_eq!(run_retry(&t).await, json!({ "due": 1, "done": 1, "rescheduled": 0 }));
    assert_eq!(refresh_tokens(&t, &sub), [(refresh, true)]);
    t.assert_logs_clean();
}
