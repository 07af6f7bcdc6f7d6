//! Deleting an account (issue 13): Rocket.Chat `users.deleteOwnAccount`, Syncano `DELETE
//! users/{id}/` (admin) and `DELETE user/` (the user itself). Afterwards no credential of the
//! user works and the same person's next sign-in is a new user; a deletion stopped by a DynamoDB
//! fault, or left as a tombstone, refuses every credential and is finished by a retry.

use aws_sdk_dynamodb::types::AttributeValue;
use local_stack::counting_proxy::DynamoFault;
use serde_json::{json, Value};
use shared::entry::authorizer::{AuthorizerRequest, Scheme};
use shared::store::{DeletionReason, Tombstoned};
use shared::InstanceName;

use crate::helpers::*;

/// Rocket.Chat's wrong confirmation: the method's `Meteor.Error('error-invalid-username',
/// 'Invalid username', {method})` through the route's `failure(e.message, e.error, …, e)`.
fn invalid_username() -> Value {
    json!({
        "success": false,
        "error": "Invalid username [error-invalid-username]",
        "errorType": "error-invalid-username",
        "details": { "method": "deleteUserOwnAccount" }
    })
}

async fn send(req: reqwest::RequestBuilder) -> (u16, String) {
    let resp = req.send().await.expect("request");
    (resp.status().as_u16(), resp.text().await.expect("body"))
}

async fn send_json(req: reqwest::RequestBuilder) -> (u16, Value) {
    json(req.send().await.expect("request")).await
}

/// A Rocket.Chat login of `token`: (authToken, userId, username).
async fn rc_login(t: &TestApp, token: &str) -> (String, String, String) {
    let (status, body) = json(t.rocketchat_login(token).await).await;
    assert_eq!(status, 200, "{body}");
    let auth = body["data"]["authToken"].as_str().expect("authToken").to_string();
    t.remember(&auth);
    let username = body["data"]["me"]["username"].as_str().expect("username").to_string();
    (auth, body["data"]["userId"].as_str().expect("userId").to_string(), username)
}

/// A Syncano login of `token`: (id, user key).
async fn syncano_login(t: &TestApp, token: &str) -> (u64, String) {
    let (status, body) = json(t.syncano_login(token).await).await;
    assert_eq!(status, 200, "{body}");
    let key = body["user_key"].as_str().expect("user_key").to_string();
    t.remember(&key);
    (body["id"].as_u64().expect("id"), key)
}

fn delete_own(t: &TestApp, auth: &str, rc_id: &str, body: Value) -> reqwest::RequestBuilder {
    t.http
        .post(format!("{}/api/v1/users.deleteOwnAccount", t.base))
        .header("x-auth-token", auth)
        .header("x-user-id", rc_id)
        .json(&body)
}

fn confirmation(username: &str) -> Value {
    json!({ "password": shared::domain::tokens::sha256_hex(username), "confirmRelinquish": true })
}

fn delete_user(t: &TestApp, id: &str, api_key: &str) -> reqwest::RequestBuilder {
    t.http.delete(format!("{}/v1.1/instances/{INSTANCE}/users/{id}/", t.base)).header("x-api-key", api_key)
}

fn delete_self(t: &TestApp, user_key: &str) -> reqwest::RequestBuilder {
    t.http
        .delete(format!("{}/v1.1/instances/{INSTANCE}/user/", t.base))
        .header("x-api-key", &t.api_key)
        .header("x-user-key", user_key)
}

/// The authorizer function's own answer (200 allow, 403 deny), not API Gateway's cached one: a
/// cached allow outlives a deletion by up to `AuthorizerCacheSeconds` (docs/security.md).
async fn authorize(t: &TestApp, scheme: Scheme, headers: &[(&str, &str)]) -> u16 {
    let req = AuthorizerRequest {
        headers: headers.iter().map(|(k, v)| (k.to_string(), v.to_string())).collect(),
        path_parameters: [("instance".to_string(), INSTANCE.to_string())].into(),
    };
    match shared::entry::authorizer::authorize(&t.app, scheme, &req).await.expect("the store answers") {
        r if r.is_authorized => 200,
        _ => 403,
    }
}

/// Every credential of a user: (Rocket.Chat sessions, Syncano user key).
struct Credentials {
    sessions: Vec<(String, String)>,
    user_key: String,
}

impl Credentials {
    /// Each credential through each place that checks it: `me`, resume, `user/`, both authorizers.
    async fn statuses(&self, t: &TestApp) -> Vec<u16> {
        let mut out = Vec::new();
        for (auth, rc_id) in &self.sessions {
            let me =
                t.http.get(format!("{}/api/v1/me", t.base)).header("x-auth-token", auth).header("x-user-id", rc_id);
            out.push(send(me).await.0);
            out.push(send(t.http.post(format!("{}/api/v1/login", t.base)).json(&json!({ "resume": auth }))).await.0);
            out.push(authorize(t, Scheme::RocketChatSession, &[("x-auth-token", auth), ("x-user-id", rc_id)]).await);
        }
        let user = t
            .http
            .get(format!("{}/v1.1/instances/{INSTANCE}/user/", t.base))
            .header("x-api-key", &t.api_key)
            .header("x-user-key", &self.user_key);
        out.push(send(user).await.0);
        let keys = [("x-api-key", t.api_key.as_str()), ("x-user-key", self.user_key.as_str())];
        out.push(authorize(t, Scheme::SyncanoUserKey, &keys).await);
        out
    }

    async fn assert_all_work(&self, t: &TestApp, when: &str) {
        let statuses = self.statuses(t).await;
        assert!(statuses.iter().all(|s| *s == 200), "{when}: {statuses:?}");
    }

    async fn assert_none_works(&self, t: &TestApp, when: &str) {
        let statuses = self.statuses(t).await;
        assert!(statuses.iter().all(|s| [401, 403].contains(s)), "{when}: {statuses:?}");
    }
}

/// A person signed in both ways: two Rocket.Chat sessions and the Syncano key of one user; the
/// Facebook person's id (a deletion withdraws our app's permissions at Facebook, so their token
/// stops working: the next sign-in needs a new one, [`TestApp::token`]).
async fn person(t: &TestApp, name: &str) -> (String, u64, String, Credentials) {
    let (person, token) = t.facebook_user(name, None);
    let (auth1, rc_id, username) = rc_login(t, &token).await;
    let (auth2, _, _) = rc_login(t, &token).await;
    let (id, user_key) = syncano_login(t, &token).await;
    let creds = Credentials { sessions: vec![(auth1, rc_id.clone()), (auth2, rc_id)], user_key };
    (person, id, username, creds)
}

/// The items of the user `id` (and its sessions), by kind: everything a deletion must remove.
async fn items_of(t: &TestApp, id: u64, creds: &Credentials) -> Vec<String> {
    let hashes: Vec<String> = creds.sessions.iter().map(|(a, _)| shared::domain::tokens::sha256_hex(a)).collect();
    let ukey = format!("UKEY#{INSTANCE}#{}", shared::domain::tokens::sha256_hex(&creds.user_key));
    t.scan()
        .await
        .into_iter()
        .filter_map(|item| {
            let pk = item.get("pk").and_then(|v| v.as_s().ok()).cloned().unwrap_or_default();
            let owned = matches!(item.get("user_id"), Some(AttributeValue::N(n)) if *n == id.to_string());
            let ours = pk == format!("USER#{INSTANCE}#{id}")
                || pk == format!("USESS#{INSTANCE}#{id}")
                || pk == ukey
                || hashes.iter().any(|h| pk == format!("SESSION#{h}"))
                // (a pending revocation names the deleted user, issue 33: it stays for
                // revocation-retry when the provider or the table failed the deletion's attempt)
                || (owned && !pk.starts_with("AUDIT#") && !pk.starts_with("REVOKE"));
            ours.then_some(pk)
        })
        .collect()
}

/// The audit items of the instance: (user id, reason), each checked to hold nothing else.
async fn audits(t: &TestApp) -> Vec<(u64, String)> {
    let mut out = Vec::new();
    for item in t.scan().await {
        // The instance's audit partitions (issue 30: spread by user id).
        let Some(shard) =
            item.get("pk").and_then(|v| v.as_s().ok()).and_then(|pk| pk.strip_prefix(&format!("AUDIT#{INSTANCE}#")))
        else {
            continue;
        };
        let id: u64 = item["user_id"].as_n().expect("user_id").parse().expect("number");
        assert_eq!(shard, (id % 32).to_string(), "the audit item of user {id} lives in its shard");
        let mut names: Vec<&str> = item.keys().map(String::as_str).collect();
        names.sort_unstable();
        // (sweep_pk and sweep_at: the sweep index finds it when it expires, issue 33)
        assert_eq!(
            names,
            ["deleted_at", "expires_at", "instance", "pk", "reason", "sk", "sweep_at", "sweep_pk", "user_id"],
            "{item:?}"
        );
        let id: u64 = item["user_id"].as_n().expect("user_id").parse().expect("number");
        let sk = item["sk"].as_s().expect("sk");
        assert!(sk.starts_with(&format!("DELETED#{id}#")), "{sk}");
        let expires: i64 = item["expires_at"].as_n().expect("expires_at").parse().expect("number");
        let in_days = (expires - shared::domain::clock::now_secs()) / 86_400;
        assert!((364..=365).contains(&in_days), "the audit item is kept AUDIT_RETENTION_DAYS: {in_days}");
        out.push((id, item["reason"].as_s().expect("reason").clone()));
    }
    out
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn rocketchat_delete_own_account_revokes_everything_and_the_next_sign_in_is_a_new_user() {
    let t = spawn_app().await;
    let (fb_person, id, username, creds) = person(&t, "Leaving Cat").await;
    let (auth, rc_id) = creds.sessions[0].clone();
    creds.assert_all_work(&t, "before").await;

    // Refusals first: the user survives each.
    let bad_session = delete_own(&t, "not-a-session", &rc_id, confirmation(&username));
    assert_eq!(send_json(bad_session).await, (401, rc_not_logged_in()));
    let required = json!({"success": false, "error": "Body parameter \"password\" is required."});
    for body in [json!({}), json!({ "password": "" }), json!({ "password": null })] {
        assert_eq!(send_json(delete_own(&t, &auth, &rc_id, body.clone())).await, (400, required.clone()), "{body}");
    }
    for wrong in ["rocket.cat", &username, &shared::domain::tokens::sha256_hex(&username).to_uppercase()] {
        let resp = send_json(delete_own(&t, &auth, &rc_id, json!({ "password": wrong }))).await;
        assert_eq!(resp, (400, invalid_username()), "{wrong}");
    }
    creds.assert_all_work(&t, "after the refusals").await;

    // Rocket.Chat trims the confirmation.
    let padded = json!({ "password": format!(" {} ", shared::domain::tokens::sha256_hex(&username)) });
    assert_eq!(send_json(delete_own(&t, &auth, &rc_id, padded)).await, (200, json!({ "success": true })));
    creds.assert_none_works(&t, "after the deletion").await;
    assert_eq!(items_of(&t, id, &creds).await, Vec::<String>::new());
    assert_eq!(audits(&t).await, [(id, "user".to_string())]);
    // The deleted session cannot delete again.
    let again = delete_own(&t, &auth, &rc_id, confirmation(&username));
    assert_eq!(send_json(again).await, (401, rc_not_logged_in()));

    // The same person signs in again: a new user.
    let token = t.token(&fb_person, APP_ID, 3600);
    let (_, new_rc_id, _) = rc_login(&t, &token).await;
    let (new_id, _) = syncano_login(&t, &token).await;
    assert_ne!(new_rc_id, rc_id);
    assert!(new_id > id, "{new_id} after {id}");
    t.assert_logs_clean();
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn syncano_admin_and_self_deletion() {
    let t = spawn_app().await;
    let (fb_person, id, _, creds) = person(&t, "Admin Gone").await;
    let no_permission = json!({ "detail": "You do not have permission to perform this action." });
    // The client key an app ships may not delete, whether or not the user exists.
    for target in [id.to_string(), "999999".to_string()] {
        assert_eq!(send_json(delete_user(&t, &target, &t.api_key)).await, (403, no_permission.clone()));
    }
    assert_eq!(send_json(delete_user(&t, "999999", ADMIN_API_KEY)).await, (404, json!({ "detail": "Not found." })));
    assert_eq!(send_json(delete_user(&t, "+1", ADMIN_API_KEY)).await, (404, json!({ "detail": "Not found." })));
    creds.assert_all_work(&t, "after the refusals").await;

    assert_eq!(send(delete_user(&t, &id.to_string(), ADMIN_API_KEY)).await, (204, String::new()));
    creds.assert_none_works(&t, "after the admin deletion").await;
    assert_eq!(items_of(&t, id, &creds).await, Vec::<String>::new());
    // Done: the id is unknown from now on.
    assert_eq!(send_json(delete_user(&t, &id.to_string(), ADMIN_API_KEY)).await.0, 404);
    let (new_id, _) = syncano_login(&t, &t.token(&fb_person, APP_ID, 3600)).await;
    assert!(new_id > id);

    // The user deletes itself with its key.
    let (_, self_id, _, own) = person(&t, "Self Gone").await;
    assert_eq!(send_json(delete_self(&t, &"0".repeat(40))).await, (403, no_permission.clone()));
    let no_api_key = t
        .http
        .delete(format!("{}/v1.1/instances/{INSTANCE}/user/", t.base))
        .header("x-user-key", own.user_key.as_str());
    assert_eq!(send_json(no_api_key).await, (403, no_permission.clone()));
    own.assert_all_work(&t, "after the refusals").await;
    assert_eq!(send(delete_self(&t, &own.user_key)).await, (204, String::new()));
    own.assert_none_works(&t, "after the self deletion").await;
    assert_eq!(items_of(&t, self_id, &own).await, Vec::<String>::new());
    assert_eq!(send_json(delete_self(&t, &own.user_key)).await, (403, no_permission));

    let mut audited = audits(&t).await;
    audited.sort();
    assert_eq!(audited, [(id, "admin".to_string()), (self_id, "user".to_string())]);
    t.assert_logs_clean();
}

/// The methods a path does not serve: refused as the served method would be first (its keys),
/// then 405 with `Allow` from the route list.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_other_methods_of_the_deletion_paths_are_405_after_the_key_checks() {
    let t = spawn_app().await;
    let (_, _, _, creds) = person(&t, "Methods Cat").await;
    let detail = format!("{}/v1.1/instances/{INSTANCE}/users/1/", t.base);
    let user = format!("{}/v1.1/instances/{INSTANCE}/user/", t.base);
    let resp = t.http.put(&detail).header("x-api-key", &t.api_key).send().await.expect("request");
    assert_eq!(resp.status().as_u16(), 403, "a client key is refused before the method");
    let resp = t.http.put(&detail).header("x-api-key", ADMIN_API_KEY).send().await.expect("request");
    assert_eq!(resp.status().as_u16(), 405);
    assert_eq!(resp.headers().get("allow").and_then(|v| v.to_str().ok()), Some("DELETE"));
    let resp = t
        .http
        .post(&user)
        .header("x-api-key", &t.api_key)
        .header("x-user-key", &creds.user_key)
        .send()
        .await
        .expect("request");
    assert_eq!(resp.status().as_u16(), 405);
    assert_eq!(resp.headers().get("allow").and_then(|v| v.to_str().ok()), Some("GET, DELETE"));
}

/// The writes a deletion makes, in order: (operation, partition key).
const WRITES: [&str; 5] = ["PutItem", "UpdateItem", "DeleteItem", "TransactWriteItems", "BatchWriteItem"];

fn writes_of(calls: Vec<local_stack::counting_proxy::DynamoCall>) -> Vec<(String, String)> {
    calls
        .into_iter()
        .filter(|c| WRITES.contains(&c.operation.as_str()))
        .map(|c| (c.operation.clone(), c.keys.first().map(|k| k.pk.clone()).unwrap_or_default()))
        .collect()
}

/// Fails the `k`-th write of `writes` and every later one of its operation (a process that stops
/// there: nothing after it is written).
fn stop_at(proxy: &local_stack::counting_proxy::CountingProxy, writes: &[(String, String)], k: usize) {
    let op = &writes[k].0;
    let skip = writes[..k].iter().filter(|(w, _)| w == op).count();
    proxy.fail_after(u32::try_from(skip).unwrap_or(u32::MAX), DynamoFault::ServerError, Some(op), u32::MAX);
}

/// A deletion stopped by DynamoDB at each step: before the first write nothing changed; after
/// it nothing of the user works any more; the retry with the same credential finishes.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_deletion_interrupted_by_a_dynamodb_fault_completes_on_retry() {
    let (t, proxy) = spawn_app_behind_proxy().await;
    // A whole deletion, to learn its writes: the first is the tombstone, the tombstone's own
    // delete is the last of the user's.
    let (_, id0, _, _) = person(&t, "Counted Cat").await;
    proxy.take();
    assert_eq!(send(delete_user(&t, &id0.to_string(), ADMIN_API_KEY)).await.0, 204);
    let writes = writes_of(proxy.take());
    let user_pk = format!("USER#{INSTANCE}#{id0}");
    assert_eq!(writes[0], ("UpdateItem".to_string(), user_pk.clone()), "the tombstone decides: {writes:?}");
    let last = writes.iter().rposition(|w| *w == ("DeleteItem".to_string(), user_pk.clone())).expect("tombstone");

    // Step 1 fails: the user is untouched.
    let (_, id, username, creds) = person(&t, "Faulty Cat").await;
    let (auth, rc_id) = creds.sessions[0].clone();
    proxy.fail(DynamoFault::ServerError, Some("UpdateItem"), u32::MAX);
    let (status, body) = send_json(delete_own(&t, &auth, &rc_id, confirmation(&username))).await;
    proxy.heal();
    assert_eq!((status, &body["error"]), (503, &json!("error-service-unavailable")), "{body}");
    creds.assert_all_work(&t, "step 1 failed").await;

    // Step 4 (the session list) fails: a tombstone, no credential works, the retry finishes.
    proxy.fail(DynamoFault::ServerError, Some("Query"), u32::MAX);
    let (status, _) = send_json(delete_own(&t, &auth, &rc_id, confirmation(&username))).await;
    proxy.heal();
    assert_eq!(status, 503);
    assert!(t.app.store.is_deleting(&InstanceName::parse(INSTANCE).expect("valid"), id).await.expect("read"));
    let rest = Credentials { sessions: creds.sessions[1..].to_vec(), user_key: creds.user_key.clone() };
    rest.assert_none_works(&t, "tombstoned").await;
    // The retry needs no confirmation any more: it was given when the deletion began.
    let retry = delete_own(&t, &auth, &rc_id, json!({ "password": "anything" }));
    assert_eq!(send_json(retry).await, (200, json!({ "success": true })));
    assert_eq!(items_of(&t, id, &creds).await, Vec::<String>::new());

    // Step 5 (the tombstone) fails on a Syncano deletion: the admin's retry finishes it.
    let (_, id2, _, creds2) = person(&t, "Faulty Key").await;
    stop_at(&proxy, &writes, last);
    assert_eq!(send_json(delete_user(&t, &id2.to_string(), ADMIN_API_KEY)).await.0, 503);
    proxy.heal();
    creds2.assert_none_works(&t, "tombstone left").await;
    assert!(t.app.store.is_deleting(&InstanceName::parse(INSTANCE).expect("valid"), id2).await.expect("read"));
    assert_eq!(send(delete_user(&t, &id2.to_string(), ADMIN_API_KEY)).await, (204, String::new()));
    assert_eq!(items_of(&t, id2, &creds2).await, Vec::<String>::new());

    // The same on a user's own Syncano deletion, stopped before the user-key lookup goes (the
    // write before the tombstone's): the key that began it finishes it. (Stopped between the
    // two, the key no longer finds the tombstone: the admin or the sweeper finishes it, as in
    // the test below.)
    let (_, id3, _, creds3) = person(&t, "Faulty Self").await;
    assert!(writes[last - 1].0 == "DeleteItem" && writes[last - 1].1.starts_with("UKEY#"), "{writes:?}");
    stop_at(&proxy, &writes, last - 1);
    assert_eq!(send_json(delete_self(&t, &creds3.user_key)).await.0, 503);
    proxy.heal();
    creds3.assert_none_works(&t, "tombstone left by the user itself").await;
    assert_eq!(send(delete_self(&t, &creds3.user_key)).await, (204, String::new()));
    assert_eq!(items_of(&t, id3, &creds3).await, Vec::<String>::new());
    // One audit item per deletion, however many attempts it took.
    assert_eq!(audits(&t).await.len(), 4);
    t.assert_logs_clean();
}

/// Issue 33: a deletion made of single-item writes, stopped at EVERY one of them (the process
/// dies there: that write and all after it never happen). Before the first (the tombstone)
/// every credential still works; after it none does; whoever finds it unfinished (the retry,
/// or the sweeper through `App::finish_pending`) finishes it, leaving nothing of the user, no
/// identity of the person, and one audit item per deletion.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_deletion_stopped_at_any_write_is_finished_by_a_retry_or_the_sweeper() {
    let (t, proxy) = spawn_app_behind_proxy().await;
    let instance = InstanceName::parse(INSTANCE).expect("valid");
    let (_, id0, _, _) = person(&t, "Counted Cat").await;
    proxy.take();
    assert_eq!(send(delete_user(&t, &id0.to_string(), ADMIN_API_KEY)).await.0, 204);
    let writes = writes_of(proxy.take());
    let user_pk = format!("USER#{INSTANCE}#{id0}");
    let last = writes.iter().rposition(|w| *w == ("DeleteItem".to_string(), user_pk.clone())).expect("tombstone");
    // tombstone, identity, subject entry, username, audit, 2 sessions, user key, tombstone
    assert!(last >= 8, "{writes:?}");
    for k in 0..=last {
        let (_, id, _, creds) = person(&t, &format!("Stopped Cat {k}")).await;
        let ident = t.scan().await.into_iter().find_map(|i| {
            let pk = i.get("pk")?.as_s().ok()?.clone();
            (pk.starts_with(&format!("IDENT#{INSTANCE}#")) && i.get("user_id")?.as_n().ok()? == &id.to_string())
                .then_some(pk)
        });
        let ident = ident.expect("the person's identity");
        stop_at(&proxy, &writes, k);
        let status = send(delete_user(&t, &id.to_string(), ADMIN_API_KEY)).await.0;
        proxy.heal();
        assert_eq!(status, 503, "stopped at write {k} {:?}", writes[k]);
        if k == 0 {
            creds.assert_all_work(&t, "nothing written").await;
        } else {
            creds.assert_none_works(&t, &format!("stopped at write {k} {:?}", writes[k])).await;
        }
        let by_sweeper = k > 0 && k % 2 == 1;
        if by_sweeper {
            // The sweeper function itself (its IAM policy enforced), once the tombstone is due:
            // it finishes the deletion without calling a provider (revocations stay recorded).
            let user_pk = format!("USER#{INSTANCE}#{id}");
            crate::sweeper::make_due(&t, &user_pk, "USER").await;
            let report = crate::sweeper::run_sweeper(&t).await;
            assert!(proxy.denials().is_empty(), "write {k}: the sweeper's policy: {:?}", proxy.denials());
            assert!(report.finished >= 1, "write {k}: {report:?}");
            // Finished: nothing pending any more.
            let again = t.app.finish_pending(&user_pk, "USER").await.expect("finish");
            assert_eq!(again, shared::store::Finished::NotPending, "write {k}");
        } else {
            assert_eq!(send(delete_user(&t, &id.to_string(), ADMIN_API_KEY)).await.0, 204, "write {k}");
        }
        assert_eq!(items_of(&t, id, &creds).await, Vec::<String>::new(), "write {k} {:?}", writes[k]);
        assert_eq!(t.count(&ident).await, 0, "write {k}: the identity is gone");
        assert!(!t.app.store.is_deleting(&instance, id).await.expect("read"), "write {k}");
    }
    // One audit item per deletion, however many attempts it took.
    assert_eq!(audits(&t).await.len(), last + 2);
}

/// How a deletion left as a tombstone is finished in the test below.
#[derive(Debug, Clone, Copy)]
enum Retry {
    /// Rocket.Chat `users.deleteOwnAccount` with another of the user's sessions.
    OwnSession,
    /// Syncano `DELETE users/{id}/` with the admin key.
    Admin,
    /// Syncano `DELETE user/` with the user's own key, the one that began the deletion.
    OwnUserKey,
}

/// A deletion that stopped right after its first step (a crash): the tombstone alone refuses
/// every credential, a key reset and a deletion's own confirmation check, and any retry finishes
/// it, the user's own Syncano key included.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_tombstoned_user_has_no_working_credential_and_a_retry_finishes_it() {
    let t = spawn_app().await;
    let instance = InstanceName::parse(INSTANCE).expect("valid");
    let far = shared::domain::clock::now_secs() + 3600;
    let kept = shared::domain::clock::now_secs() + 365 * 86_400;
    for (name, retry) in
        [("Crashed Cat", Retry::OwnSession), ("Crashed Key", Retry::Admin), ("Crashed Self", Retry::OwnUserKey)]
    {
        let (fb_person, id, _, creds) = person(&t, name).await;
        let step1 = t.app.store.tombstone_user(&instance, id, &t.app.user_keys, DeletionReason::User, far, kept);
        assert_eq!(step1.await.expect("step 1"), Tombstoned::Yes);
        creds.assert_none_works(&t, name).await;
        let reset = t
            .http
            .post(format!("{}/v1.1/instances/{INSTANCE}/users/{id}/reset_key/", t.base))
            .header("x-api-key", ADMIN_API_KEY);
        assert_eq!(send(reset).await.0, 404, "{name}: a tombstone has no key to reset");
        // The sessions are still stored until step 2: a second step 1 changes nothing.
        let again = t.app.store.tombstone_user(&instance, id, &t.app.user_keys, DeletionReason::Admin, far, kept);
        assert_eq!(again.await.expect("idempotent"), Tombstoned::Yes);
        match retry {
            Retry::Admin => {
                assert_eq!(send(delete_user(&t, &id.to_string(), ADMIN_API_KEY)).await, (204, String::new()));
            }
            Retry::OwnSession => {
                let (auth, rc_id) = &creds.sessions[1];
                let retry = delete_own(&t, auth, rc_id, json!({ "password": "x" }));
                assert_eq!(send_json(retry).await, (200, json!({ "success": true })));
            }
            Retry::OwnUserKey => {
                assert_eq!(send(delete_self(&t, &creds.user_key)).await, (204, String::new()));
                // Finished: the key's lookup went with the tombstone.
                assert_eq!(send(delete_self(&t, &creds.user_key)).await.0, 403, "{name}");
            }
        }
        assert_eq!(items_of(&t, id, &creds).await, Vec::<String>::new(), "{name}");
        // The next sign-in of the same person is a new user.
        assert!(syncano_login(&t, &t.token(&fb_person, APP_ID, 3600)).await.0 > id);
    }
    assert_eq!(audits(&t).await.len(), 3);
}

/// The tombstone's condition (issue 28): an unlink and a link that land between step 1's read
/// and its write keep the number of identities, so a count let the tombstone through and left
/// the linked identity pointing at a deleted user (signing in as it found a user that no longer
/// exists). The condition compares the user's identity version, which both bump: the write is
/// refused and the deletion reads again.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_unlink_and_a_link_between_the_deletions_read_and_write_leave_no_live_identity() {
    use emulator::OidcProvider;
    use local_stack::demo::GOOGLE_CLIENT_ID;
    use shared::store::Step1;

    let t = spawn_app().await;
    let instance = InstanceName::parse(INSTANCE).expect("valid");
    t.app.store.set_linking(&instance, true).await.expect("linking on");
    let google = |sub: &str| {
        let claims = json!({
            "iss": OidcProvider::Google.issuer(), "aud": GOOGLE_CLIENT_ID, "sub": sub,
            "iat": shared::domain::clock::now_secs(), "exp": shared::domain::clock::now_secs() + 3600,
            "email": "versioned@gmail.com", "email_verified": true, "name": "Versioned Cat",
        });
        let token = t.emulator.sign_id_token(OidcProvider::Google, claims, emulator::SigningMode::Current);
        t.remember(&token);
        json!({ "access_token": token })
    };
    let (_, a) = t.syncano_at("google-oauth2", google("versioned-1")).await;
    let (_, b) = t.syncano_at("google-oauth2", google("versioned-2")).await;
    let id = a["id"].as_u64().expect("id");
    assert_eq!(b["id"], a["id"], "linked by the Gmail address");
    t.remember(a["user_key"].as_str().unwrap_or_default());

    // Step 1 reads the user (two identities)...
    let now = shared::domain::clock::now_secs();
    let plan = t.app.revocation_plan(&instance, DeletionReason::User, now).await.expect("plan");
    let read = t.app.store.prepare_tombstone(
        &instance,
        id,
        &t.app.user_keys,
        DeletionReason::User,
        now + 3600,
        now + 86_400,
        &plan,
    );
    let Step1::Ready(step) = read.await.expect("read") else { panic!("a live user") };
    // ...one identity goes and another joins (still two)...
    let unlinked = t.app.store.unlink_identity(&instance, id, "google", "versioned-1").await.expect("unlink");
    assert_eq!(unlinked, shared::store::Unlinked::Removed);
    let (status, c) = t.syncano_at("google-oauth2", google("versioned-3")).await;
    assert_eq!((status, &c["id"]), (200, &a["id"]), "linked");
    // ...and step 1 writes what it read: refused.
    assert!(t.app.store.commit_tombstone(step).await.expect("write").is_none(), "the user changed since the read");

    // The deletion, run to the end, takes every identity the user has now.
    let delete =
        t.http.delete(format!("{}/v1.1/instances/{INSTANCE}/users/{id}/", t.base)).header("x-api-key", ADMIN_API_KEY);
    assert_eq!(delete.send().await.expect("delete").status().as_u16(), 204);
    assert_eq!(t.count(&format!("IDENT#{INSTANCE}#google#")).await, 0, "an identity of the deleted user is left");
    let (status, again) = t.syncano_at("google-oauth2", google("versioned-3")).await;
    assert_eq!(status, 200, "{again}");
    assert_ne!(again["id"], a["id"], "a new user, not the deleted one");
    t.assert_logs_clean();
}

/// A deleted user's username is held for a while (`USERNAME_HOLD_SECS`) before anyone else may
/// take it: a stranger signing up with the same name right after the deletion does not become
/// the `@name` the deleted user's contacts knew; once the hold has ended, the name is free again.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_deleted_users_username_is_held_before_anyone_else_may_take_it() {
    let t = spawn_app().await;
    let (_, token) = t.facebook_user("Held Name", None);
    let (auth, rc_id, username) = rc_login(&t, &token).await;
    assert_eq!(username, "held.name");
    let confirm = json!({ "password": shared::domain::tokens::sha256_hex(&username) });
    assert_eq!(send_json(delete_own(&t, &auth, &rc_id, confirm)).await, (200, json!({ "success": true })));

    // Right after: a stranger with the same name gets the next candidate.
    let (_, stranger) = t.facebook_user("Held Name", None);
    let (_, _, taken) = rc_login(&t, &stranger).await;
    assert_eq!(taken, "held.name.2", "a deleted user's username went to a stranger at once");

    // The hold ends (its item says until when; DynamoDB's TTL removes it some time later).
    let held_until = shared::domain::clock::now_secs() - 1;
    t.dynamo
        .update_item()
        .table_name(&t.table)
        .key("pk", AttributeValue::S(format!("UNAME#{INSTANCE}#held.name")))
        .key("sk", AttributeValue::S("UNAME".into()))
        .update_expression("SET held_until = :past, expires_at = :past")
        .condition_expression("attribute_exists(held_until) AND attribute_not_exists(user_id)")
        .expression_attribute_values(":past", AttributeValue::N(held_until.to_string()))
        .send()
        .await
        .expect("the name is held, by no user");
    let (_, later) = t.facebook_user("Held Name", None);
    let (_, _, freed) = rc_login(&t, &later).await;
    assert_eq!(freed, "held.name", "the name is free once the hold has ended");
    t.assert_logs_clean();
}

/// Google's ID token for `sub` with the Gmail address `email` (verified: Google runs Gmail, so
/// it links where the instance links by email).
fn gmail_token(t: &TestApp, sub: &str, email: &str) -> Value {
    use emulator::OidcProvider;
    let claims = json!({
        "iss": OidcProvider::Google.issuer(), "aud": local_stack::demo::GOOGLE_CLIENT_ID, "sub": sub,
        "iat": shared::domain::clock::now_secs(), "exp": shared::domain::clock::now_secs() + 3600,
        "email": email, "email_verified": true, "name": "Racing Cat",
    });
    let token = t.emulator.sign_id_token(OidcProvider::Google, claims, emulator::SigningMode::Current);
    t.remember(&token);
    json!({ "access_token": token })
}

/// The verified Google identity `sub` with the Gmail address `email`, as the verifier makes it.
fn gmail_identity(sub: &str, email: &str) -> shared::domain::identity::VerifiedIdentity {
    shared::domain::identity::VerifiedIdentity {
        provider: shared::domain::identity::Provider::Google,
        subject: sub.into(),
        name: Some("Racing Cat".into()),
        email: Some(email.into()),
        email_verified: true,
        hosted_domain: None,
        avatar_url: None,
    }
}

/// Issue 33: a deletion racing a link by email. The link's first write (its identity, pending)
/// lands, then the whole deletion (which read the user's list without it), then the link's
/// second write (the identity into the user's list): refused by the tombstone or the missing
/// user, and the link deletes its identity again. No identity is left naming the deleted user,
/// and the person's next sign-in with it is a new user.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_deletion_between_a_links_two_writes_leaves_no_identity_of_the_deleted_user() {
    use shared::store::{LinkOutcome, Linking};
    let t = spawn_app().await;
    let instance = InstanceName::parse(INSTANCE).expect("valid");
    t.app.store.set_linking(&instance, true).await.expect("linking on");
    let email = "racing.link@gmail.com";
    let (status, a) = t.syncano_at("google-oauth2", gmail_token(&t, "race-link-1", email)).await;
    assert_eq!(status, 200, "{a}");
    t.remember(a["user_key"].as_str().unwrap_or_default());
    let id = a["id"].as_u64().expect("id");

    let begun = t.app.store.begin_link(&instance, &gmail_identity("race-link-2", email), email).await;
    let Linking::Pending(link) = begun.expect("step 1") else { panic!("the identity is new") };
    assert_eq!(t.count(&format!("IDENT#{INSTANCE}#google#race-link-2")).await, 1);
    let delete =
        t.http.delete(format!("{}/v1.1/instances/{INSTANCE}/users/{id}/", t.base)).header("x-api-key", ADMIN_API_KEY);
    assert_eq!(delete.send().await.expect("delete").status().as_u16(), 204);
    let outcome = t.app.store.complete_link(&link).await.expect("step 2");
    assert!(matches!(outcome, LinkOutcome::UserGone), "the link must not join a deleted user");
    assert_eq!(t.count(&format!("IDENT#{INSTANCE}#google#")).await, 0, "an identity of the deleted user is left");
    let (status, again) = t.syncano_at("google-oauth2", gmail_token(&t, "race-link-2", email)).await;
    assert_eq!(status, 200, "{again}");
    assert_ne!(again["id"], a["id"], "a new user, not the deleted one");
    t.assert_logs_clean();
}

/// Issue 33: a link by email whose process stopped right after its first write (the identity,
/// pending): the sweeper (`App::finish_pending` on the identity) finishes it, so the identity is
/// in its user's list and a later deletion of the user takes it too.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_link_stopped_after_its_identity_is_finished_by_the_sweeper_and_deleted_with_its_user() {
    use shared::store::{Finished, Linking};
    let t = spawn_app().await;
    let instance = InstanceName::parse(INSTANCE).expect("valid");
    t.app.store.set_linking(&instance, true).await.expect("linking on");
    let email = "stopped.link@gmail.com";
    let (status, a) = t.syncano_at("google-oauth2", gmail_token(&t, "stop-link-1", email)).await;
    assert_eq!(status, 200, "{a}");
    t.remember(a["user_key"].as_str().unwrap_or_default());
    let id = a["id"].as_u64().expect("id");

    let begun = t.app.store.begin_link(&instance, &gmail_identity("stop-link-2", email), email).await;
    assert!(matches!(begun.expect("step 1"), Linking::Pending(_)));
    // (the process dies here)
    let pk = format!("IDENT#{INSTANCE}#google#stop-link-2");
    assert_eq!(t.app.finish_pending(&pk, "IDENT").await.expect("sweep"), Finished::Done);
    let item = t.scan().await.into_iter().find(|i| i.get("pk").and_then(|v| v.as_s().ok()) == Some(&pk));
    let item = item.expect("the identity stays, linked");
    assert!(!item.contains_key("pending") && !item.contains_key("sweep_pk"), "finished: {item:?}");
    assert_eq!(t.app.finish_pending(&pk, "IDENT").await.expect("sweep"), Finished::NotPending, "finished already");
    let (status, b) = t.syncano_at("google-oauth2", gmail_token(&t, "stop-link-2", email)).await;
    assert_eq!((status, &b["id"]), (200, &a["id"]), "{b}");

    let delete =
        t.http.delete(format!("{}/v1.1/instances/{INSTANCE}/users/{id}/", t.base)).header("x-api-key", ADMIN_API_KEY);
    assert_eq!(delete.send().await.expect("delete").status().as_u16(), 204);
    assert_eq!(t.count(&format!("IDENT#{INSTANCE}#google#")).await, 0, "an identity of the deleted user is left");
    t.assert_logs_clean();
}

/// Issue 33: an unlink stopped after its first write (the identity off the user's list) and
/// before the identity item went: that identity must never sign in as the user again once
/// finished. The sweeper finishes one; a deletion of the user finishes another (the tombstone
/// takes the identity the unlink was removing).
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_unlink_stopped_after_the_users_list_is_finished_by_the_sweeper_or_the_deletion() {
    use shared::store::Finished;
    let (t, proxy) = spawn_app_behind_proxy().await;
    let instance = InstanceName::parse(INSTANCE).expect("valid");
    t.app.store.set_linking(&instance, true).await.expect("linking on");
    let email = "stopped.unlink@gmail.com";
    let mut last = 0;
    for sub in ["unlink-1", "unlink-2", "unlink-3"] {
        let (status, u) = t.syncano_at("google-oauth2", gmail_token(&t, sub, email)).await;
        assert_eq!(status, 200, "{u}");
        t.remember(u["user_key"].as_str().unwrap_or_default());
        last = u["id"].as_u64().expect("id");
    }
    let id = last;
    let user_pk = format!("USER#{INSTANCE}#{id}");

    // Stopped before the identity's delete: the sweeper finishes it.
    proxy.fail(DynamoFault::ServerError, Some("DeleteItem"), u32::MAX);
    assert!(t.app.store.unlink_identity(&instance, id, "google", "unlink-1").await.is_err());
    proxy.heal();
    assert_eq!(t.count(&format!("IDENT#{INSTANCE}#google#unlink-1")).await, 1);
    assert_eq!(t.app.finish_pending(&user_pk, "USER").await.expect("sweep"), Finished::Done);
    assert_eq!(t.count(&format!("IDENT#{INSTANCE}#google#unlink-1")).await, 0);
    assert_eq!(t.count("SUBJECT#google#unlink-1").await, 0);
    assert_eq!(t.app.finish_pending(&user_pk, "USER").await.expect("sweep"), Finished::NotPending);

    // Stopped again; then the user is deleted: the identity the unlink was removing goes too.
    proxy.fail(DynamoFault::ServerError, Some("DeleteItem"), u32::MAX);
    assert!(t.app.store.unlink_identity(&instance, id, "google", "unlink-2").await.is_err());
    proxy.heal();
    let delete =
        t.http.delete(format!("{}/v1.1/instances/{INSTANCE}/users/{id}/", t.base)).header("x-api-key", ADMIN_API_KEY);
    assert_eq!(delete.send().await.expect("delete").status().as_u16(), 204);
    assert_eq!(t.count(&format!("IDENT#{INSTANCE}#google#")).await, 0, "an identity of the deleted user is left");
    t.assert_logs_clean();
}

/// Issue 33: a link (after its identity) and an unlink stopped at each of their later writes
/// (the process dies there) are finished by the sweeper: the linked identity ends in its user's
/// list with its subject entry and no pending mark; the unlinked one ends gone with its subject
/// entry, the user without its `unlinking` mark.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_link_and_an_unlink_stopped_at_each_write_are_finished_by_the_sweeper() {
    use shared::store::{Finished, Linking};
    let (t, proxy) = spawn_app_behind_proxy().await;
    let instance = InstanceName::parse(INSTANCE).expect("valid");
    t.app.store.set_linking(&instance, true).await.expect("linking on");
    let attr = |pk: String| {
        let t = &t;
        async move { t.scan().await.into_iter().find(|i| i.get("pk").and_then(|v| v.as_s().ok()) == Some(&pk)) }
    };
    // complete_link: the user's list (UpdateItem), the subject entry (PutItem), the mark (UpdateItem).
    // unlink: the user's list (UpdateItem), the identity and the subject entry (DeleteItem), the mark.
    let stops = [("UpdateItem", 0), ("PutItem", 0), ("UpdateItem", 1)];
    let unlink_stops = [("DeleteItem", 0), ("DeleteItem", 1), ("UpdateItem", 1)];
    for (n, ((op, skip), (unlink_op, unlink_skip))) in stops.into_iter().zip(unlink_stops).enumerate() {
        let email = format!("each.step.{n}@gmail.com");
        let (status, a) = t.syncano_at("google-oauth2", gmail_token(&t, &format!("each-{n}-a"), &email)).await;
        assert_eq!(status, 200, "{a}");
        t.remember(a["user_key"].as_str().unwrap_or_default());
        let id = a["id"].as_u64().expect("id");
        let sub = format!("each-{n}-b");

        let begun = t.app.store.begin_link(&instance, &gmail_identity(&sub, &email), &email).await;
        let Linking::Pending(link) = begun.expect("step 1") else { panic!("a new identity") };
        proxy.fail_after(skip, DynamoFault::ServerError, Some(op), u32::MAX);
        assert!(t.app.store.complete_link(&link).await.is_err(), "link stopped at {op} {skip}");
        proxy.heal();
        let pk = format!("IDENT#{INSTANCE}#google#{sub}");
        assert_eq!(t.app.finish_pending(&pk, "IDENT").await.expect("sweep"), Finished::Done, "{op} {skip}");
        let ident = attr(pk.clone()).await.expect("linked");
        assert!(!ident.contains_key("pending_link") && !ident.contains_key("sweep_pk"), "{ident:?}");
        let user = attr(format!("USER#{INSTANCE}#{id}")).await.expect("user");
        let ids = user.get("identities").and_then(|v| v.as_ss().ok()).cloned().unwrap_or_default();
        assert!(ids.contains(&format!("google#{sub}")), "{op} {skip}: {ids:?}");
        assert_eq!(t.count(&format!("SUBJECT#google#{sub}")).await, 1, "{op} {skip}");

        proxy.fail_after(unlink_skip, DynamoFault::ServerError, Some(unlink_op), u32::MAX);
        assert!(t.app.store.unlink_identity(&instance, id, "google", &sub).await.is_err(), "{unlink_op}");
        proxy.heal();
        let user_pk = format!("USER#{INSTANCE}#{id}");
        assert_eq!(t.app.finish_pending(&user_pk, "USER").await.expect("sweep"), Finished::Done, "{unlink_op}");
        assert!(attr(pk).await.is_none(), "{unlink_op} {unlink_skip}: the identity is gone");
        assert_eq!(t.count(&format!("SUBJECT#google#{sub}")).await, 0, "{unlink_op} {unlink_skip}");
        let user = attr(user_pk).await.expect("user");
        assert!(!user.contains_key("unlinking") && !user.contains_key("sweep_pk"), "{user:?}");
    }
    t.assert_logs_clean();
}

/// Issue 33: a deletion and links racing for real, through the gateway: ten first logins of ten
/// Google identities of one Gmail address (each links to the user holding it) while that user
/// is deleted. Whatever the interleaving, at the end every identity names a live user whose list
/// holds it, every live user's list names only identities that exist, and no tombstone and no
/// pending mark is left.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn links_racing_a_deletion_leave_no_identity_of_a_deleted_user() {
    let t = spawn_app().await;
    let instance = InstanceName::parse(INSTANCE).expect("valid");
    t.app.store.set_linking(&instance, true).await.expect("linking on");
    let email = "racing.many@gmail.com";
    let (status, a) = t.syncano_at("google-oauth2", gmail_token(&t, "many-0", email)).await;
    assert_eq!(status, 200, "{a}");
    t.remember(a["user_key"].as_str().unwrap_or_default());
    let id = a["id"].as_u64().expect("id");
    let tokens: Vec<Value> = (1..=10).map(|i| gmail_token(&t, &format!("many-{i}"), email)).collect();
    let delete =
        t.http.delete(format!("{}/v1.1/instances/{INSTANCE}/users/{id}/", t.base)).header("x-api-key", ADMIN_API_KEY);
    let logins = futures::future::join_all(tokens.into_iter().map(|tok| t.syncano_at("google-oauth2", tok)));
    let (deleted, answers) = tokio::join!(delete.send(), logins);
    assert_eq!(deleted.expect("delete").status().as_u16(), 204);
    for (status, body) in &answers {
        assert_eq!(*status, 200, "{body}");
        t.remember(body["user_key"].as_str().unwrap_or_default());
    }

    let items = t.scan().await;
    let s_of = |i: &Item, k: &str| i.get(k).and_then(|v| v.as_s().ok()).cloned().unwrap_or_default();
    let users: Vec<&Item> = items.iter().filter(|i| s_of(i, "pk").starts_with(&format!("USER#{INSTANCE}#"))).collect();
    assert!(users.iter().all(|u| !u.contains_key("deleted_at") && !u.contains_key("pending")), "{users:?}");
    let live: std::collections::HashMap<String, Vec<String>> = users
        .iter()
        .map(|u| {
            let ids = u.get("identities").and_then(|v| v.as_ss().ok()).cloned().unwrap_or_default();
            (u.get("user_id").and_then(|v| v.as_n().ok()).cloned().unwrap_or_default(), ids)
        })
        .collect();
    assert!(!live.contains_key(&id.to_string()), "the deleted user is gone");
    let idents: Vec<&Item> =
        items.iter().filter(|i| s_of(i, "pk").starts_with(&format!("IDENT#{INSTANCE}#google#many-"))).collect();
    for ident in &idents {
        let pk = s_of(ident, "pk");
        let owner = ident.get("user_id").and_then(|v| v.as_n().ok()).cloned().unwrap_or_default();
        let sub = pk.rsplit('#').next().unwrap_or_default();
        let list = live.get(&owner).unwrap_or_else(|| panic!("{pk} names user {owner}, who is not live"));
        assert!(list.contains(&format!("google#{sub}")), "{pk} is not in its user's list {list:?}");
        assert!(!ident.contains_key("pending_link"), "{pk} left pending");
    }
    for (owner, list) in &live {
        for entry in list {
            let pk = format!("IDENT#{INSTANCE}#{entry}");
            assert!(idents.iter().any(|i| s_of(i, "pk") == pk), "user {owner} lists {entry}, which does not exist");
        }
    }
    // (Not asserted: that the identities signed in during the deletion share one new user. While
    // the email entry still names the tombstone, a first login cannot link and makes a user
    // without the entry: docs/security.md, issue 33, "known remainder".)
    t.assert_logs_clean();
}
