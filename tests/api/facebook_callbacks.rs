//! Facebook's callbacks (issue 13) through the local gateway: the data deletion request
//! callback (`POST /callbacks/facebook/{instance}/data-deletion`), its status URL
//! (`GET /callbacks/facebook/deletion-status/{code}`) and the deauthorize callback
//! (`POST /callbacks/facebook/{instance}/deauthorize`), with `signed_request`s the emulator
//! signs with our app's secret; forged ones (another app's secret, another algorithm, a tampered
//! payload, garbage, too old) are refused and change nothing.

use aws_sdk_dynamodb::types::AttributeValue;
use emulator::{OidcProvider, SIGNED_REQUEST_ALGORITHM};
use local_stack::demo::GOOGLE_CLIENT_ID;
use serde_json::{json, Value};

use crate::helpers::*;

fn form(signed_request: &str) -> String {
    let mut out = String::from("signed_request=");
    for b in signed_request.bytes() {
        if b.is_ascii_alphanumeric() || matches!(b, b'-' | b'_' | b'.') {
            out.push(char::from(b));
        } else {
            out.push_str(&format!("%{b:02X}"));
        }
    }
    out
}

async fn post_raw(t: &TestApp, instance: &str, action: &str, content_type: &str, body: String) -> (u16, Value) {
    let url = format!("{}/callbacks/facebook/{instance}/{action}", t.base);
    json(t.http.post(url).header("content-type", content_type).body(body).send().await.expect("request")).await
}

async fn post(t: &TestApp, action: &str, signed_request: &str) -> (u16, Value) {
    post_raw(t, INSTANCE, action, "application/x-www-form-urlencoded", form(signed_request)).await
}

/// Facebook's `signed_request` about `asid`, signed with `app_id`'s secret.
fn signed(t: &TestApp, app_id: &str, asid: &str, algorithm: Option<&str>) -> String {
    let sr = t.emulator.facebook_signed_request(app_id, asid, algorithm);
    t.remember(&sr);
    sr
}

async fn status_of(t: &TestApp, code: &str) -> (u16, Value) {
    let url = format!("{}/callbacks/facebook/deletion-status/{code}", t.base);
    json(t.http.get(url).send().await.expect("request")).await
}

/// A Facebook person, signed in with Rocket.Chat and Syncano: (asid, session, user id, user key).
async fn signed_in(t: &TestApp, name: &str) -> (String, String, (String, String), u64, String) {
    let (person, token) = t.facebook_user(name, None);
    let asid = t.emulator.app_scoped_user_id(&person, APP_ID);
    let (status, rc) = json(t.rocketchat_login(&token).await).await;
    assert_eq!(status, 200, "{rc}");
    let session = (
        rc["data"]["authToken"].as_str().expect("authToken").to_string(),
        rc["data"]["userId"].as_str().expect("userId").to_string(),
    );
    t.remember(&session.0);
    let (id, key) = syncano_facebook(t, &token).await;
    (person, asid, session, id, key)
}

async fn syncano_facebook(t: &TestApp, token: &str) -> (u64, String) {
    let (status, body) = t.syncano_at("facebook", json!({ "access_token": token })).await;
    assert_eq!(status, 200, "{body}");
    let key = body["user_key"].as_str().expect("user_key").to_string();
    t.remember(&key);
    (body["id"].as_u64().expect("id"), key)
}

/// A person whose only identity is Facebook: the account is deleted (every credential refused,
/// audit `facebook`), the status URL says so, a redelivery answers the same code and does
/// nothing more, and the next Facebook login is a new user.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn data_deletion_deletes_a_facebook_only_user_and_the_status_url_answers() {
    let t = spawn_app().await;
    let (person, asid, session, id, key) = signed_in(&t, "Dee Leted").await;
    let sr = signed(&t, APP_ID, &asid, None);

    let (status, receipt) = post(&t, "data-deletion", &sr).await;
    assert_eq!(status, 200, "{receipt}");
    let code = receipt["confirmation_code"].as_str().expect("code").to_string();
    assert_eq!(code.len(), 32);
    assert_eq!(receipt["url"], format!("http://127.0.0.1:3000/callbacks/facebook/deletion-status/{code}"));
    assert!(!code.contains(&asid) && !receipt.to_string().contains(&asid), "nothing derived from the user id");
    assert_eq!(t.me_status(&session).await, 401, "the session ended");
    assert_eq!(t.user_key_status(&key).await, 403, "the user key is refused");
    assert_eq!(t.audit_reasons().await, ["facebook"]);

    let (status, body) = status_of(&t, &code).await;
    assert_eq!(status, 200, "{body}");
    assert_eq!((body["status"].as_str(), body["outcome"].as_str()), (Some("completed"), Some("account-deleted")));
    assert_eq!(body["confirmation_code"], code.as_str());
    assert!(body["completed_at"].is_string() && body["requested_at"].is_string());

    // Facebook may deliver twice: the same code, nothing more.
    assert_eq!(post(&t, "data-deletion", &sr).await, (200, receipt.clone()));
    // (and the completed deletion the demo data holds)
    assert_eq!((t.count("FBDEL#").await, t.count("FBREQ#").await), (2, 2));
    assert_eq!(t.audit_reasons().await, ["facebook"]);
    // No personal data in the status and request items.
    for item in t.scan().await.into_iter().filter(|i| {
        i.get("pk").and_then(|v| v.as_s().ok()).is_some_and(|pk| pk.starts_with("FBDEL#") || pk.starts_with("FBREQ#"))
    }) {
        // Only these attributes, none naming the person; the counts are the only numbers
        // besides times (and may equal the user id by chance).
        let known = [
            "pk",
            "sk",
            "code",
            "instance",
            "requested_at",
            "completed_at",
            "expires_at",
            "outcome",
            "accounts_deleted",
            "identities_removed",
            // The sweep index's keys (issue 33): an hour and a shard, a due time.
            "sweep_pk",
            "sweep_at",
        ];
        assert!(item.keys().all(|k| known.contains(&k.as_str())), "{item:?}");
        let counts = ["accounts_deleted", "identities_removed"];
        let text = format!("{:?}", item.iter().filter(|(k, _)| !counts.contains(&k.as_str())).collect::<Vec<_>>());
        assert!(!text.contains(&asid) && !text.contains(&format!("\"{id}\"")), "{text}");
    }

    let token = t.token(&person, APP_ID, 3600);
    let (again, _) = syncano_facebook(&t, &token).await;
    assert!(again > id, "the next Facebook login is a new user");
    // A later request of the same person (a new signed_request) finds nothing of the old user.
    let (status, later) = post(&t, "data-deletion", &signed(&t, APP_ID, "10000000000000099", None)).await;
    assert_eq!(status, 200);
    let later_code = later["confirmation_code"].as_str().expect("code");
    assert_ne!(later_code, code);
    assert_eq!(status_of(&t, later_code).await.1["outcome"], "nothing-to-do");
    t.assert_logs_clean();
}

/// A user who also signs in with Google keeps that: the Facebook identity goes, every session
/// ends, the user and its key remain, Facebook's picture is forgotten (no item names the person's
/// app-scoped id any more), and Facebook now signs in as a new user.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn data_deletion_of_a_user_with_another_identity_removes_only_facebook() {
    let t = spawn_app().await;
    let (person, asid, session, id, key) = signed_in(&t, "Two Ways").await;
    let sub = t.emulator.create_oidc_user(OidcProvider::Google, "Two Ways", Some("two.ways@gmail.com"), true);
    let google = t.emulator.issue_id_token(OidcProvider::Google, &sub, GOOGLE_CLIENT_ID, None);
    t.remember(&google);
    // Facebook never links by email: attach a Google identity as linking would.
    let facebook_pk = format!("IDENT#{INSTANCE}#facebook#{asid}");
    let items = t.scan().await;
    let mut ident = items
        .into_iter()
        .find(|i| i.get("pk").and_then(|v| v.as_s().ok()) == Some(&facebook_pk))
        .expect("facebook identity");
    assert!(format!("{ident:?}").contains("fbsbx.com"), "the user has Facebook's picture");
    ident.insert("pk".into(), AttributeValue::S(format!("IDENT#{INSTANCE}#google#{sub}")));
    t.dynamo.put_item().table_name(&t.table).set_item(Some(ident)).send().await.expect("put identity");
    t.dynamo
        .update_item()
        .table_name(&t.table)
        .key("pk", AttributeValue::S(format!("USER#{INSTANCE}#{id}")))
        .key("sk", AttributeValue::S("USER".into()))
        .update_expression("ADD identities :id")
        .expression_attribute_values(":id", AttributeValue::Ss(vec![format!("google#{sub}")]))
        .send()
        .await
        .expect("link");
    let (status, body) = t.syncano_at("google-oauth2", json!({ "access_token": google })).await;
    assert_eq!((status, body["id"].as_u64()), (200, Some(id)), "linked: {body}");

    let (status, receipt) = post(&t, "data-deletion", &signed(&t, APP_ID, &asid, None)).await;
    assert_eq!(status, 200, "{receipt}");
    let code = receipt["confirmation_code"].as_str().expect("code");
    assert_eq!(status_of(&t, code).await.1["outcome"], "identity-removed");
    assert_eq!(t.me_status(&session).await, 401, "every session of the user ended");
    assert_eq!(t.user_key_status(&key).await, 200, "the user and its key remain");
    for item in t.scan().await {
        let text = format!("{item:?}");
        assert!(!text.contains(&asid) && !text.contains("fbsbx.com"), "Facebook's data remains: {text}");
    }
    let (status, body) = t.syncano_at("google-oauth2", json!({ "access_token": google })).await;
    assert_eq!((status, body["id"].as_u64()), (200, Some(id)), "Google is still the same user");
    let token = t.token(&person, APP_ID, 3600);
    assert_ne!(syncano_facebook(&t, &token).await.0, id, "Facebook is no longer this user's");
    assert!(t.audit_reasons().await.is_empty(), "no account was deleted");
}

/// Deauthorize ends every session of the user; the user stays, and the next Facebook login is
/// the same user. A redelivery ends nothing more.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn deauthorize_ends_the_sessions_and_keeps_the_user() {
    let t = spawn_app().await;
    let (person, asid, session, id, _key) = signed_in(&t, "Dee Authorized").await;
    let sr = signed(&t, APP_ID, &asid, None);
    assert_eq!(post(&t, "deauthorize", &sr).await, (200, json!({ "sessions_ended": 1 })));
    assert_eq!(t.me_status(&session).await, 401, "the session ended");
    assert_eq!(post(&t, "deauthorize", &sr).await, (200, json!({ "sessions_ended": 0 })));
    let token = t.token(&person, APP_ID, 3600);
    assert_eq!(syncano_facebook(&t, &token).await.0, id, "the same user");
    // Nobody here: nothing to end.
    let (status, body) = post(&t, "deauthorize", &signed(&t, APP_ID, "10000000000000077", None)).await;
    assert_eq!((status, body), (200, json!({ "sessions_ended": 0 })));
    assert!(t.audit_reasons().await.is_empty());
    t.assert_logs_clean();
}

/// Forged, garbled and stale requests are refused at both callbacks, and delete nothing.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn forged_requests_are_refused_and_change_nothing() {
    let t = spawn_app().await;
    let (_, asid, session, _, key) = signed_in(&t, "Not Forgotten").await;
    let valid = signed(&t, APP_ID, &asid, None);
    let (_, payload) = valid.split_once('.').expect("dot");
    let (other_sig, _) = signed(&t, APP_ID, "10000000000000001", None)
        .split_once('.')
        .map(|(a, b)| (a.to_string(), b.to_string()))
        .expect("dot");
    let secret = t.vars["FACEBOOK_APP_SECRET"].clone();
    let stale = emulator::sign_signed_request(
        &secret,
        &emulator::signed_request_payload(
            &asid,
            SIGNED_REQUEST_ALGORITHM,
            shared::domain::clock::now_secs() - 2 * 86_400,
        ),
    );
    t.remember(&stale);
    let forged = [
        ("another app's secret", signed(&t, OTHER_APP_ID, &asid, None), 401),
        ("algorithm none", signed(&t, APP_ID, &asid, Some("none")), 401),
        ("algorithm HMAC-SHA1", signed(&t, APP_ID, &asid, Some("HMAC-SHA1")), 401),
        ("tampered payload", format!("{other_sig}.{payload}"), 401),
        ("too old", stale, 401),
        ("garbage", "garbage".to_string(), 400),
        ("bad base64", format!("%%%.{payload}"), 400),
    ];
    for action in ["data-deletion", "deauthorize"] {
        for (case, sr, expected) in &forged {
            let (status, body) = post(&t, action, sr).await;
            assert_eq!(status, *expected, "{action} {case}: {body}");
            assert!(body["error"].is_string() && body["message"].is_string(), "{action} {case}: {body}");
        }
        let (status, _) = post_raw(&t, INSTANCE, action, "application/x-www-form-urlencoded", "user_id=1".into()).await;
        assert_eq!(status, 400, "{action}: no signed_request");
        let (status, _) =
            post_raw(&t, INSTANCE, action, "application/json", json!({ "signed_request": valid }).to_string()).await;
        assert_eq!(status, 400, "{action}: not a form");
        let (status, body) =
            post_raw(&t, "Not_An_Instance!", action, "application/x-www-form-urlencoded", form(&valid)).await;
        assert_eq!((status, body["error"].as_str()), (404, Some("not_found")), "{action}: {body}");
    }
    assert_eq!(t.me_status(&session).await, 200, "nothing was deleted");
    assert_eq!(t.user_key_status(&key).await, 200);
    assert_eq!(t.count("FBDEL#").await, 1, "only the demo data's");
    assert!(t.audit_reasons().await.is_empty());
    for code in ["0".repeat(32), "not-a-code".to_string(), "F".repeat(32)] {
        let (status, body) = status_of(&t, &code).await;
        assert_eq!((status, body["error"].as_str()), (404, Some("not_found")), "{code}: {body}");
    }
    t.assert_logs_clean();
}

/// A deployment without a Facebook app answers 404 `not_found`, as Apple's callback does.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn without_facebook_the_callbacks_are_not_served() {
    let t = spawn_app_with(|v| {
        v.remove("FACEBOOK_APP_ID");
    })
    .await;
    let sr = signed(&t, APP_ID, "10000000000000001", None);
    for action in ["data-deletion", "deauthorize"] {
        let (status, body) = post(&t, action, &sr).await;
        assert_eq!((status, body["error"].as_str()), (404, Some("not_found")), "{action}: {body}");
    }
}

/// `payload` signed with our app's secret, as Facebook would.
fn signed_by_us(t: &TestApp, payload: &Value) -> String {
    let sr = emulator::sign_signed_request(&t.vars["FACEBOOK_APP_SECRET"], payload);
    t.remember(&sr);
    sr
}

/// Issue 28, point 8: `issued_at` is bounded to [now - 1 day, now + 5 minutes] at both
/// callbacks: a `signed_request` dated ten years ahead (or six minutes ahead), or two days old,
/// is refused and changes nothing; one of now is taken.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn signed_requests_issued_outside_the_window_are_refused() {
    let t = spawn_app().await;
    let (_, asid, session, _, key) = signed_in(&t, "Out Ofbounds").await;
    let now = shared::domain::clock::now_secs();
    let at = |issued_at: i64| {
        signed_by_us(&t, &emulator::signed_request_payload(&asid, SIGNED_REQUEST_ALGORITHM, issued_at))
    };
    for action in ["deauthorize", "data-deletion"] {
        for (case, issued_at) in [
            ("ten years ahead", now + 10 * 365 * 86_400),
            ("six minutes ahead", now + 360),
            ("two days old", now - 2 * 86_400),
        ] {
            let (status, body) = post(&t, action, &at(issued_at)).await;
            assert_eq!(
                (status, body["error"].as_str()),
                (401, Some("invalid_signed_request")),
                "{action} {case}: {body}"
            );
        }
    }
    assert_eq!(t.me_status(&session).await, 200, "nothing ended");
    assert_eq!(t.user_key_status(&key).await, 200, "nothing deleted");
    // Within the window: a minute ahead (clock skew) and now are taken.
    assert_eq!(post(&t, "deauthorize", &at(now + 60)).await, (200, json!({ "sessions_ended": 1 })));
    assert_eq!(post(&t, "deauthorize", &at(now)).await, (200, json!({ "sessions_ended": 0 })));
    assert_eq!(post(&t, "data-deletion", &at(now)).await.0, 200);
    assert_eq!(t.user_key_status(&key).await, 403, "deleted");
}

/// Issue 28, point 8: a login `signed_request` of Facebook's browser SDK (it carries `code` or
/// `oauth_token`) is HMAC-valid for our app, yet no callback's: refused with 400 at both
/// callbacks, and nothing changes.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn login_signed_requests_are_not_callbacks() {
    let t = spawn_app().await;
    let (_, asid, session, _, key) = signed_in(&t, "Log Inonly").await;
    let now = shared::domain::clock::now_secs();
    for (field, value) in [("code", "AQD7...login-code"), ("oauth_token", "EAAB...user-token")] {
        let mut payload = emulator::signed_request_payload(&asid, SIGNED_REQUEST_ALGORITHM, now);
        payload[field] = json!(value);
        let sr = signed_by_us(&t, &payload);
        for action in ["data-deletion", "deauthorize"] {
            let (status, body) = post(&t, action, &sr).await;
            assert_eq!((status, body["error"].as_str()), (400, Some("invalid_request")), "{action} {field}: {body}");
        }
    }
    assert_eq!(t.me_status(&session).await, 200, "nothing ended");
    assert_eq!(t.user_key_status(&key).await, 200, "nothing deleted");
    assert_eq!(t.count("FBREQ#").await, 1, "only the demo data's");
    assert!(t.audit_reasons().await.is_empty());
}

/// Issue 28, point 8: a deauthorize `signed_request` replayed after a fresh sign-in does not end
/// the new session: each is recorded (by the SHA-256 of its signature) as deletion requests are.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_replayed_deauthorize_after_a_fresh_sign_in_ends_nothing() {
    let t = spawn_app().await;
    let (person, asid, session, id, _) = signed_in(&t, "Re Played").await;
    let captured = signed(&t, APP_ID, &asid, None);
    assert_eq!(post(&t, "deauthorize", &captured).await, (200, json!({ "sessions_ended": 1 })));
    assert_eq!(t.me_status(&session).await, 401, "the session ended");

    // The person signs in again: a fresh session of the same user.
    let token = t.token(&person, APP_ID, 3600);
    let (status, rc) = json(t.rocketchat_login(&token).await).await;
    assert_eq!(status, 200, "{rc}");
    let fresh = (
        rc["data"]["authToken"].as_str().expect("authToken").to_string(),
        rc["data"]["userId"].as_str().expect("userId").to_string(),
    );
    t.remember(&fresh.0);
    assert_eq!(syncano_facebook(&t, &token).await.0, id);

    assert_eq!(post(&t, "deauthorize", &captured).await, (200, json!({ "sessions_ended": 0 })), "replayed");
    assert_eq!(t.me_status(&fresh).await, 200, "the fresh session lives");
    // The record: one item per request, expiring (DynamoDB TTL) once the request is too old anyway.
    let now = shared::domain::clock::now_secs();
    let records: Vec<_> = t
        .scan()
        .await
        .into_iter()
        .filter(|i| i.get("pk").and_then(|v| v.as_s().ok()).is_some_and(|pk| pk.starts_with("FBDEAUTH#")))
        .collect();
    assert_eq!(records.len(), 1, "{records:?}");
    let expires_at: i64 = records[0]["expires_at"].as_n().expect("expires_at").parse().expect("a number");
    assert!((now + 86_000..=now + 86_400 + 600).contains(&expires_at), "{expires_at} vs {now}");
    assert!(!format!("{:?}", records[0]).contains(&asid), "no personal data");
    t.assert_logs_clean();
}

/// Issue 28, point 7: one Facebook app serves every instance, so its data deletion request is
/// about the person's data in all of them, whichever instance's URL it arrives at. The person
/// signed in to two instances; the request at the first deletes the user in both (found through
/// the `SUBJECT#` index, no scan), and the status says how many accounts went. On `main` the
/// second instance's user kept its name, picture and key while the status said "deleted".
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn data_deletion_acts_in_every_instance_where_the_person_signed_in() {
    let t = spawn_app().await;
    let other_key = t.open_instance("second-app").await;
    let (person, token) = t.facebook_user("Two Apps", None);
    let asid = t.emulator.app_scoped_user_id(&person, APP_ID);
    let (_, key) = syncano_facebook(&t, &token).await;
    let (status, other) = t.syncano_in("second-app", &other_key, "facebook", json!({ "access_token": token })).await;
    assert_eq!(status, 200, "{other}");
    let other_user_key = other["user_key"].as_str().expect("user_key").to_string();
    t.remember(&other_user_key);
    assert_eq!(t.user_key_status_in("second-app", &other_key, &other_user_key).await, 200);

    let (status, receipt) = post(&t, "data-deletion", &signed(&t, APP_ID, &asid, None)).await;
    assert_eq!(status, 200, "{receipt}");
    assert_eq!(t.user_key_status(&key).await, 403, "deleted where the request arrived");
    assert_eq!(
        t.user_key_status_in("second-app", &other_key, &other_user_key).await,
        403,
        "deleted in the other instance too"
    );
    let (_, body) = status_of(&t, receipt["confirmation_code"].as_str().expect("code")).await;
    assert_eq!(body["outcome"], "account-deleted", "{body}");
    assert_eq!((body["accounts_deleted"].as_u64(), body["identities_removed"].as_u64()), (Some(2), Some(0)), "{body}");
    assert!(!body.to_string().contains("second-app"), "the status names no instance: {body}");
    let index = t.scan().await.into_iter().filter(|i| format!("{i:?}").contains(&asid)).count();
    assert_eq!(index, 0, "no item names the person's app-scoped id any more");
    t.assert_logs_clean();
}

/// Issue 33: Facebook delivers one data deletion request twice at the same time. Without a
/// transaction, the request item (created only if absent) decides the confirmation code: both
/// deliveries answer the same code, and there is one status item for the request.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_data_deletion_delivered_twice_at_once_has_one_code_and_one_status() {
    let t = spawn_app().await;
    let (_, asid, _, _, _) = signed_in(&t, "Twice Deleted").await;
    let sr = signed(&t, APP_ID, &asid, None);
    let (before_status, before_request) = (t.count("FBDEL#").await, t.count("FBREQ#").await);
    let (a, b) = tokio::join!(post(&t, "data-deletion", &sr), post(&t, "data-deletion", &sr));
    assert_eq!(a.0, 200, "{}", a.1);
    assert_eq!(a, b, "one code for one request");
    assert_eq!((t.count("FBDEL#").await, t.count("FBREQ#").await), (before_status + 1, before_request + 1));
    let code = a.1["confirmation_code"].as_str().expect("code").to_string();
    let (status, body) = status_of(&t, &code).await;
    assert_eq!((status, body["status"].as_str()), (200, Some("completed")), "{body}");
    assert_eq!(t.audit_reasons().await, ["facebook"]);
    t.assert_logs_clean();
}

/// Issue 33: a data deletion whose process stopped after the request item and before the status
/// item: Facebook's redelivery of the request writes the status under the request's code (as
/// the first delivery would have), does the deletion and answers that code.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_data_deletion_stopped_before_its_status_is_finished_by_the_redelivery() {
    use local_stack::counting_proxy::DynamoFault;
    let (t, proxy) = spawn_app_behind_proxy().await;
    let (_, asid, session, _, key) = signed_in(&t, "Stopped Deletion").await;
    let sr = signed(&t, APP_ID, &asid, None);
    let before = t.count("FBDEL#").await;
    // The first PutItem (the request item) passes; the status's fails.
    proxy.fail_after(1, DynamoFault::ServerError, Some("PutItem"), u32::MAX);
    let (status, _) = post(&t, "data-deletion", &sr).await;
    proxy.heal();
    assert_eq!(status, 503);
    assert_eq!(t.count("FBDEL#").await, before, "no status yet");
    let (status, receipt) = post(&t, "data-deletion", &sr).await;
    assert_eq!(status, 200, "{receipt}");
    let code = receipt["confirmation_code"].as_str().expect("code").to_string();
    let (status, body) = status_of(&t, &code).await;
    assert_eq!((status, body["outcome"].as_str()), (200, Some("account-deleted")), "{body}");
    assert_eq!(t.count("FBDEL#").await, before + 1);
    assert_eq!(post(&t, "data-deletion", &sr).await, (200, receipt));
    assert_eq!(t.me_status(&session).await, 401);
    assert_eq!(t.user_key_status(&key).await, 403);
}
