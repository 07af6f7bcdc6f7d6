//! Apple's server-to-server notifications (issue 13), `POST /callbacks/apple/{instance}`: every
//! event type through the local gateway, with notifications the emulator signs with its Apple
//! keys; redeliveries change nothing more; forged ones (another key, another audience, expired,
//! altered) are refused and change nothing.

use emulator::{apple_event, apple_notification_claims, OidcProvider, SigningMode};
use local_stack::demo::{APPLE_CLIENT_ID, OTHER_APPLE_CLIENT_ID};
use serde_json::{json, Value};
use shared::InstanceName;

use crate::helpers::*;

fn instance() -> InstanceName {
    InstanceName::parse(INSTANCE).expect("valid")
}

/// An Apple ID token of `sub` with `email`, and the raw nonce it is bound to.
fn apple_token(t: &TestApp, sub: &str, email: &str) -> (String, String) {
    let now = shared::domain::clock::now_secs();
    let nonce = format!("nonce-{sub}");
    let claims = json!({
        "iss": OidcProvider::Apple.issuer(), "aud": APPLE_CLIENT_ID, "sub": sub, "iat": now, "exp": now + 3600,
        "email": email, "email_verified": "true", "nonce": shared::domain::tokens::sha256_hex(&nonce),
    });
    let token = t.emulator.sign_id_token(OidcProvider::Apple, claims, SigningMode::Current);
    t.remember(&token);
    (token, nonce)
}

/// A Syncano Apple sign-in: (user id, user key).
async fn syncano_apple(t: &TestApp, sub: &str, email: &str) -> (u64, String) {
    let (token, nonce) = apple_token(t, sub, email);
    let (status, body) = t.syncano_at("apple", json!({ "access_token": token, "nonce": nonce })).await;
    assert_eq!(status, 200, "{body}");
    let key = body["user_key"].as_str().expect("user_key").to_string();
    t.remember(&key);
    (body["id"].as_u64().expect("id"), key)
}

/// A Rocket.Chat Apple sign-in: (authToken, userId).
async fn rocketchat_apple(t: &TestApp, sub: &str, email: &str) -> (String, String) {
    let (token, nonce) = apple_token(t, sub, email);
    let body = json!({ "serviceName": "apple", "identityToken": token, "nonce": nonce });
    let (status, body) =
        json(t.http.post(format!("{}/api/v1/login", t.base)).json(&body).send().await.expect("request")).await;
    assert_eq!(status, 200, "{body}");
    let auth = body["data"]["authToken"].as_str().expect("authToken").to_string();
    t.remember(&auth);
    (auth, body["data"]["userId"].as_str().expect("userId").to_string())
}

async fn notify(t: &TestApp, instance: &str, body: &Value) -> (u16, Value) {
    let url = format!("{}/callbacks/apple/{instance}", t.base);
    json(t.http.post(url).json(body).send().await.expect("request")).await
}

/// Apple's notification of `kind` about `sub`, as the emulator signs it for our app.
fn notification(t: &TestApp, kind: &str, sub: &str) -> Value {
    t.emulator.apple_notification(APPLE_CLIENT_ID, kind, sub, None)
}

fn handled(event: &str, outcome: &str) -> (u16, Value) {
    (200, json!({ "event": event, "outcome": outcome }))
}

/// `consent-revoked` and `account-delete` of a person whose only identity is Apple delete the
/// user: every credential refused, the audit says `apple`, the next sign-in is a new user, and a
/// redelivery has nothing left to do.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn consent_revoked_and_account_delete_delete_an_apple_only_user() {
    let t = spawn_app().await;
    for (kind, sub) in [("consent-revoked", "000100.revoked.0001"), ("account-delete", "000100.deleted.0001")] {
        let email = format!("{}@privaterelay.appleid.com", &sub[7..14]);
        let session = rocketchat_apple(&t, sub, &email).await;
        let (id, key) = syncano_apple(&t, sub, &email).await;
        assert_eq!((t.me_status(&session).await, t.user_key_status(&key).await), (200, 200));

        let body = notification(&t, kind, sub);
        assert_eq!(notify(&t, INSTANCE, &body).await, handled(kind, "account-deleted"), "{kind}");
        assert_eq!(t.me_status(&session).await, 401, "{kind}: the session ended");
        assert_eq!(t.user_key_status(&key).await, 403, "{kind}: the user key is refused");
        // Apple may deliver twice: nothing is left to do.
        assert_eq!(notify(&t, INSTANCE, &body).await, handled(kind, "nothing-to-do"), "{kind}");
        let (again, _) = syncano_apple(&t, sub, &email).await;
        assert!(again > id, "{kind}: the next sign-in is a new user");
    }
    assert_eq!(t.audit_reasons().await, ["apple", "apple"]);
    t.assert_logs_clean();
}

/// A user who also signs in another way keeps that way: the Apple identity goes and every
/// session ends; the other identity still signs in as the same user, and the Apple one as a new
/// user.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn consent_revoked_removes_only_the_apple_identity_of_a_user_with_two() {
    let t = spawn_app_with(no_access_cache).await;
    t.app.store.set_linking(&instance(), true).await.expect("set linking");
    // Two Apple identities of one iCloud address: Apple runs that mailbox, so they link.
    let (a, b, email) = ("000200.first.0001", "000200.second.0001", "ann.two@icloud.com");
    let (id, key) = syncano_apple(&t, a, email).await;
    assert_eq!(syncano_apple(&t, b, email).await.0, id, "linked");
    let session = rocketchat_apple(&t, b, email).await;

    let (status, body) = notify(&t, INSTANCE, &notification(&t, "consent-revoked", a)).await;
    assert_eq!((status, body), handled("consent-revoked", "identity-removed"));
    assert_eq!(t.me_status(&session).await, 401, "every session of the user ended");
    assert_eq!(t.user_key_status(&key).await, 200, "the user and its key remain");
    assert_eq!(syncano_apple(&t, b, email).await.0, id, "the other identity is the same user");
    // Linking would join the address's holder again: with it off, the removed identity is a new user.
    t.app.store.set_linking(&instance(), false).await.expect("set linking");
    assert_ne!(syncano_apple(&t, a, email).await.0, id, "the removed identity is no longer this user's");
    assert!(t.audit_reasons().await.is_empty(), "no account was deleted");
}

/// `email-disabled`/`email-enabled` record Hide My Email's state on the identity; a redelivery
/// or an older event never overwrites a newer one; unknown types and unknown people are 200.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn email_events_record_the_relay_state_in_order_and_other_events_are_acknowledged() {
    let t = spawn_app().await;
    let sub = "000300.relay.0001";
    let relay = "relay0001@privaterelay.appleid.com";
    let (_, key) = syncano_apple(&t, sub, relay).await;
    let state = || async { t.app.store.email_forwarding(&instance(), "apple", sub).await.expect("read") };
    assert_eq!(state().await, None);

    let signed = |kind: &str, at_ms: i64| {
        let now = shared::domain::clock::now_secs();
        let claims = apple_notification_claims(APPLE_CLIENT_ID, &apple_event(kind, sub, Some(relay), at_ms), now);
        json!({ "payload": t.emulator.sign_id_token(OidcProvider::Apple, claims, SigningMode::Current) })
    };
    // A minute ago, so that the emulator's own delivery below is newer.
    let t0 = (shared::domain::clock::now_secs() - 60) * 1000;
    let disabled = signed("email-disabled", t0);
    assert_eq!(notify(&t, INSTANCE, &disabled).await, handled("email-disabled", "recorded"));
    assert_eq!(state().await, Some(false));
    assert_eq!(notify(&t, INSTANCE, &disabled).await, handled("email-disabled", "nothing-to-do"), "redelivered");
    let enabled = signed("email-enabled", t0 + 1000);
    assert_eq!(notify(&t, INSTANCE, &enabled).await, handled("email-enabled", "recorded"));
    assert_eq!(state().await, Some(true));
    let older = signed("email-disabled", t0 - 1000);
    assert_eq!(notify(&t, INSTANCE, &older).await, handled("email-disabled", "nothing-to-do"), "out of order");
    assert_eq!(state().await, Some(true));
    // The emulator's own delivery (email and is_private_email as Apple writes them).
    let fresh = t.emulator.apple_notification(APPLE_CLIENT_ID, "email-disabled", sub, Some(relay));
    assert_eq!(notify(&t, INSTANCE, &fresh).await, handled("email-disabled", "recorded"));

    assert_eq!(notify(&t, INSTANCE, &notification(&t, "something-new", sub)).await, handled("other", "ignored"));
    let nobody = notification(&t, "consent-revoked", "000300.nobody.0001");
    assert_eq!(notify(&t, INSTANCE, &nobody).await, handled("consent-revoked", "nothing-to-do"));
    assert_eq!(t.user_key_status(&key).await, 200, "none of it touched the user");
}

/// Forgeries are 401 and change nothing: every signing attack of the emulator's matrix, another
/// app's audience, another issuer, an expired or future one, an altered payload, no events;
/// bodies that are not a notification are 400; a path that is no instance 404.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn forged_notifications_are_refused_and_change_nothing() {
    let t = spawn_app().await;
    let sub = "000400.victim.0001";
    let session = rocketchat_apple(&t, sub, "victim@icloud.com").await;
    let now = shared::domain::clock::now_secs();
    let event = apple_event("account-delete", sub, None, now * 1000);
    let claims = apple_notification_claims(APPLE_CLIENT_ID, &event, now);
    let sign = |claims: Value, mode| json!({ "payload": t.emulator.sign_id_token(OidcProvider::Apple, claims, mode) });
    let with = |key: &str, value: Value| {
        let mut c = claims.clone();
        c[key] = value;
        sign(c, SigningMode::Current)
    };

    let mut forged: Vec<(String, Value)> = SigningMode::ALL
        .into_iter()
        .filter(|m| *m != SigningMode::Current)
        .map(|m| (format!("{m:?}"), sign(claims.clone(), m)))
        .collect();
    forged.extend([
        ("another app".to_string(), with("aud", json!(OTHER_APPLE_CLIENT_ID))),
        ("another issuer".to_string(), with("iss", json!("https://accounts.google.com"))),
        ("expired".to_string(), {
            let mut c = claims.clone();
            (c["iat"], c["exp"]) = (json!(now - 2 * 86_400), json!(now - 86_400));
            sign(c, SigningMode::Current)
        }),
        ("issued in the future".to_string(), with("iat", json!(now + 3600))),
        ("no exp".to_string(), {
            let mut c = claims.clone();
            c.as_object_mut().expect("object").remove("exp");
            sign(c, SigningMode::Current)
        }),
        ("no events".to_string(), with("events", Value::Null)),
        ("events without sub".to_string(), with("events", json!(json!({"type": "account-delete"}).to_string()))),
        (
            "Google's key".to_string(),
            json!({ "payload": t.emulator.sign_id_token(OidcProvider::Google, claims.clone(), SigningMode::Current) }),
        ),
        ("not a JWT".to_string(), json!({ "payload": "not-a-jwt" })),
    ]);
    // The real notification with one character of its claims changed.
    let real = notification(&t, "account-delete", sub);
    let payload = real["payload"].as_str().expect("payload");
    let mut parts: Vec<String> = payload.split('.').map(str::to_string).collect();
    parts[1] = parts[1].replacen('e', "f", 1);
    forged.push(("altered".to_string(), json!({ "payload": parts.join(".") })));

    for (what, body) in &forged {
        let (status, answer) = notify(&t, INSTANCE, body).await;
        assert_eq!(status, 401, "{what}: {answer}");
        assert_eq!(answer["error"], "invalid_notification", "{what}");
    }
    for body in [json!({}), json!({ "payload": 5 }), json!(["payload"]), json!("payload")] {
        assert_eq!(notify(&t, INSTANCE, &body).await.0, 400, "{body}");
    }
    let raw = t.http.post(format!("{}/callbacks/apple/{INSTANCE}", t.base)).body("payload=x").send().await;
    assert_eq!(raw.expect("request").status().as_u16(), 400);
    assert_eq!(notify(&t, "not_an_instance", &real).await.0, 404);

    assert_eq!(t.me_status(&session).await, 200, "no forgery touched the user");
    // The real one still works afterwards.
    assert_eq!(notify(&t, INSTANCE, &real).await, handled("account-delete", "account-deleted"));
    assert_eq!(t.me_status(&session).await, 401);
}

/// A deployment that does not serve Sign in with Apple has no notifications to take.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn without_apple_configured_the_route_is_404() {
    let t = spawn_app_with(|vars| {
        vars.remove("APPLE_CLIENT_IDS");
    })
    .await;
    let (status, body) = notify(&t, INSTANCE, &notification(&t, "consent-revoked", "000500.x.0001")).await;
    assert_eq!((status, &body["error"]), (404, &json!("not_found")), "{body}");
}

/// Issue 28, point 3: a captured `account-delete` (or `consent-revoked`) replayed after the
/// person signed up again must not delete the new account. Each notification is recorded (by its
/// `jti`) until it expires: the replay is acknowledged and does nothing.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_replayed_account_event_after_a_new_sign_up_leaves_the_new_account() {
    let t = spawn_app().await;
    for (kind, sub) in [("account-delete", "000600.replayed.0001"), ("consent-revoked", "000600.replayed.0002")] {
        let email = format!("{}@privaterelay.appleid.com", &sub[7..15]);
        let (id, _) = syncano_apple(&t, sub, &email).await;
        let captured = notification(&t, kind, sub);
        assert_eq!(notify(&t, INSTANCE, &captured).await, handled(kind, "account-deleted"), "{kind}");

        // The person signs up again with the same Apple account: a new user.
        let session = rocketchat_apple(&t, sub, &email).await;
        let (again, key) = syncano_apple(&t, sub, &email).await;
        assert!(again > id, "{kind}: a new user");

        // The captured notification, replayed.
        assert_eq!(notify(&t, INSTANCE, &captured).await, handled(kind, "nothing-to-do"), "{kind}: replayed");
        assert_eq!(t.me_status(&session).await, 200, "{kind}: the new session lives");
        assert_eq!(t.user_key_status(&key).await, 200, "{kind}: the new account is untouched");
    }
    assert_eq!(t.audit_reasons().await, ["apple", "apple"], "only the two real deletions");
    // One record per notification, each expiring with its token (exp + leeway), under DynamoDB's TTL.
    let now = shared::domain::clock::now_secs();
    let records: Vec<_> = t
        .scan()
        .await
        .into_iter()
        .filter(|i| i.get("pk").and_then(|v| v.as_s().ok()).is_some_and(|pk| pk.starts_with("APPLENOTE#")))
        .collect();
    assert_eq!(records.len(), 2, "{records:?}");
    for r in records {
        let expires_at: i64 = r["expires_at"].as_n().expect("expires_at").parse().expect("a number");
        assert!((now + 86_400 - 120..=now + 86_400 + 3_600).contains(&expires_at), "{expires_at} vs {now}");
    }
    t.assert_logs_clean();
}

/// Issue 28, point 3: an account event older than the identity it would act on (the person
/// signed up again after Apple issued it; a notification never delivered, or one whose record
/// expired) does nothing to the new identity, whatever its `jti`.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_account_event_older_than_the_identity_does_nothing() {
    let t = spawn_app().await;
    let sub = "000700.older.0001";
    let email = "older0001@privaterelay.appleid.com";
    let session = rocketchat_apple(&t, sub, email).await;
    let (_, key) = syncano_apple(&t, sub, email).await;
    let now = shared::domain::clock::now_secs();
    for kind in ["account-delete", "consent-revoked"] {
        // Issued (and its event dated) ten minutes before the sign-up, still within its exp.
        let event = apple_event(kind, sub, None, (now - 600) * 1000);
        let claims = apple_notification_claims(APPLE_CLIENT_ID, &event, now - 600);
        let old = json!({ "payload": t.emulator.sign_id_token(OidcProvider::Apple, claims, SigningMode::Current) });
        assert_eq!(notify(&t, INSTANCE, &old).await, handled(kind, "nothing-to-do"), "{kind}");
        assert_eq!(t.me_status(&session).await, 200, "{kind}: the session lives");
        assert_eq!(t.user_key_status(&key).await, 200, "{kind}: the account is untouched");
    }
    // A notification of now still acts.
    assert_eq!(
        notify(&t, INSTANCE, &notification(&t, "account-delete", sub)).await,
        handled("account-delete", "account-deleted")
    );
    assert_eq!(t.me_status(&session).await, 401);
}

/// Issue 28, point 7: the Apple app serves every instance, so `account-delete` is about the
/// person in all of them, whichever instance's URL it arrives at: here the other instance's.
/// Where the person has another identity only the Apple identity goes. On `main` the instance
/// named by the URL alone acted (the default instance's user kept its Apple identity).
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn account_delete_acts_in_every_instance_where_the_person_signed_in() {
    let t = spawn_app().await;
    let other_key = t.open_instance("second-app").await;
    let sub = "000100.twoapps.0001";
    let email = "twoapps@privaterelay.appleid.com";
    let (_, key) = syncano_apple(&t, sub, email).await;
    let (token, nonce) = apple_token(&t, sub, email);
    let (status, other) =
        t.syncano_in("second-app", &other_key, "apple", json!({ "access_token": token, "nonce": nonce })).await;
    assert_eq!(status, 200, "{other}");
    let other_user_key = other["user_key"].as_str().expect("user_key").to_string();
    t.remember(&other_user_key);

    let body = notification(&t, "account-delete", sub);
    assert_eq!(notify(&t, "second-app", &body).await, handled("account-delete", "account-deleted"));
    assert_eq!(t.user_key_status_in("second-app", &other_key, &other_user_key).await, 403, "where it arrived");
    assert_eq!(t.user_key_status(&key).await, 403, "and in the default instance");
    let left = t.scan().await.into_iter().filter(|i| format!("{i:?}").contains(sub)).count();
    assert_eq!(left, 0, "no item names the Apple subject any more");
    t.assert_logs_clean();
}
