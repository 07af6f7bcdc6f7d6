//! Issue 33, the store without transactions: each multi-step change (a first login, a key reset,
//! a logout) stopped after each of its writes by the store's fault hook (`WriteFaults`: the task
//! that made them never runs again, as a killed process), then finished by the next request or
//! by the sweeper's entry point (`UserStore::finish_pending`). Nothing is lost, nothing is
//! duplicated, and no credential opens more than it should meanwhile.

use std::time::{Duration, Instant};

use aws_sdk_dynamodb::types::AttributeValue;
use futures::future::join_all;
use serde_json::Value;
use shared::store::Finished;

use crate::helpers::*;

/// The writes of a first login: identity, username, then user, user-key lookup and subject entry
/// (together), then the identity's `REMOVE pending`.
const FIRST_LOGIN_WRITES: u64 = 6;
/// The writes of a key reset of a user with one identity: new lookup, user, identity snapshot,
/// old lookup deleted, new lookup's `REMOVE pending`.
const KEY_RESET_WRITES: u64 = 5;

fn text(item: &Item, name: &str) -> String {
    match item.get(name) {
        Some(AttributeValue::S(v)) | Some(AttributeValue::N(v)) => v.clone(),
        _ => String::new(),
    }
}

fn pk(item: &Item) -> String {
    text(item, "pk")
}

/// Waits until the fault hook has stopped a write (the "process" is dead there), then heals it.
async fn wait_stopped(t: &TestApp, what: &str) {
    let started = Instant::now();
    while t.app.store.write_faults().caught() == 0 {
        assert!(started.elapsed() < Duration::from_secs(30), "{what}: never reached the stopped write");
        tokio::time::sleep(Duration::from_millis(10)).await;
    }
    t.app.store.write_faults().heal();
}

/// Starts `request`, which the armed hook stops; returns once it is stopped (its answer never comes).
async fn stopped<F>(t: &TestApp, what: &str, request: F)
where
    F: std::future::Future + Send + 'static,
    F::Output: Send,
{
    let task = tokio::spawn(request);
    wait_stopped(t, what).await;
    // The client gives up; the server's task stays stopped at its write.
    task.abort();
}

/// Exactly one whole user `id` in the table: user item (live), one identity naming it (not
/// pending), its username, its user-key lookup, its subject entry; `expect` users in all.
async fn assert_one_whole_user(t: &TestApp, id: &str, users: usize, what: &str) {
    let items = t.scan().await;
    let named = |prefix: &str| {
        items.iter().filter(|i| pk(i).starts_with(prefix) && text(i, "user_id") == id).cloned().collect::<Vec<_>>()
    };
    let user = named("USER#");
    assert_eq!(user.len(), 1, "{what}: the user item");
    assert!(!user[0].contains_key("deleted_at"), "{what}");
    let identities = named("IDENT#");
    assert_eq!(identities.len(), 1, "{what}: one identity");
    assert!(!identities[0].contains_key("pending") && !identities[0].contains_key("sweep_pk"), "{what}: finished");
    assert_eq!(text(&identities[0], "username"), text(&user[0], "username"), "{what}");
    let names = named("UNAME#");
    assert_eq!(names.len(), 1, "{what}: one username");
    assert_eq!(pk(&names[0]), format!("UNAME#{INSTANCE}#{}", text(&user[0], "username")), "{what}");
    assert_eq!(named("UKEY#").len(), 1, "{what}: one user-key lookup");
    let subject = pk(&identities[0]).rsplit('#').next().unwrap_or_default().to_string();
    assert!(items.iter().any(|i| pk(i) == format!("SUBJECT#facebook#{subject}")), "{what}: the subject entry");
    let count = |prefix: &str| items.iter().filter(|i| pk(i).starts_with(prefix)).count();
    assert_eq!([count("USER#"), count("IDENT#"), count("UNAME#"), count("UKEY#")], [users; 4], "{what}: no extra item");
    assert!(!items.iter().any(|i| i.contains_key("pending")), "{what}: nothing left pending");
}

async fn user_with_key(t: &TestApp, key: &str) -> (u16, Value) {
    let resp = t
        .http
        .get(format!("{}/v1.1/instances/{INSTANCE}/user/", t.base))
        .header("x-api-key", &t.api_key)
        .header("x-user-key", key)
        .send()
        .await
        .expect("user/");
    json(resp).await
}

async fn users_now(t: &TestApp) -> usize {
    t.count("USER#").await
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_first_login_stopped_after_any_write_is_finished_by_the_next_login() {
    let t = spawn_app().await;
    for writes in 0..FIRST_LOGIN_WRITES {
        let what = format!("stopped after {writes} writes");
        let users = users_now(&t).await;
        let (_, token) = t.facebook_user("Half Done", None);
        t.app.store.write_faults().stop_after(writes);
        let (http, url, key, tok) = (t.http.clone(), t.syncano_url(INSTANCE), t.api_key.clone(), token.clone());
        stopped(&t, &what, async move {
            http.post(url).header("x-api-key", key).json(&serde_json::json!({ "access_token": tok })).send().await
        })
        .await;
        let (status, user) = json(t.syncano_login(&token).await).await;
        assert_eq!(status, 200, "{what}: {user}");
        let key = user["user_key"].as_str().unwrap_or_default().to_string();
        t.remember(&key);
        assert_one_whole_user(&t, &user["id"].to_string(), users + 1, &what).await;
        assert_eq!(user_with_key(&t, &key).await.0, 200, "{what}: the key answered works");
        let (status, again) = json(t.syncano_login(&token).await).await;
        assert_eq!((status, &again["id"], &again["username"]), (200, &user["id"], &user["username"]), "{what}");
    }
    t.assert_logs_clean();
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_first_login_stopped_after_any_write_is_finished_by_the_sweepers_entry_point() {
    let t = spawn_app().await;
    for writes in 1..FIRST_LOGIN_WRITES {
        let what = format!("stopped after {writes} writes");
        let users = users_now(&t).await;
        let (_, token) = t.facebook_user("Swept Up", None);
        t.app.store.write_faults().stop_after(writes);
        let (http, url, key, tok) = (t.http.clone(), t.syncano_url(INSTANCE), t.api_key.clone(), token.clone());
        stopped(&t, &what, async move {
            http.post(url).header("x-api-key", key).json(&serde_json::json!({ "access_token": tok })).send().await
        })
        .await;
        let pending: Vec<Item> = t.scan().await.into_iter().filter(|i| i.contains_key("pending")).collect();
        assert_eq!(pending.len(), 1, "{what}: the identity is pending");
        assert!(pk(&pending[0]).starts_with("IDENT#"), "{what}");
        let id = text(&pending[0], "user_id");
        let finished = t.app.store.finish_pending(&pk(&pending[0]), "IDENT").await.expect("finish");
        assert_eq!(finished, Finished::Done, "{what}");
        assert_eq!(t.app.store.finish_pending(&pk(&pending[0]), "IDENT").await.expect("again"), Finished::NotPending);
        assert_one_whole_user(&t, &id, users + 1, &what).await;
        let (status, user) = json(t.syncano_login(&token).await).await;
        assert_eq!((status, user["id"].to_string()), (200, id.clone()), "{what}: {user}");
        let key = user["user_key"].as_str().unwrap_or_default().to_string();
        t.remember(&key);
        assert_eq!(user_with_key(&t, &key).await.0, 200, "{what}");
    }
    t.assert_logs_clean();
}

/// The 100-way race of one person's first logins, with every write stopped from the N-th on (as
/// if the processes making them died there), then the survivors released and one more login.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_hundred_first_logins_of_one_person_crashed_at_any_write_still_make_one_user() {
    let t = spawn_app_with(slow_machine).await;
    for writes in 1..FIRST_LOGIN_WRITES {
        let what = format!("crashed after {writes} writes");
        let users = users_now(&t).await;
        let person = t.emulator.create_facebook_user("Race Crash", None);
        let tokens: Vec<String> = (0..100).map(|_| t.token(&person, APP_ID, 3600)).collect();
        t.app.store.write_faults().stop_after(writes);
        let logins = join_all(tokens.iter().map(|tok| {
            let req = t.http.post(t.syncano_url(INSTANCE)).header("x-api-key", &t.api_key);
            let req = req.json(&serde_json::json!({ "access_token": tok })).timeout(Duration::from_secs(8));
            async move {
                match req.send().await {
                    Ok(resp) => Some(json(resp).await),
                    Err(_) => None,
                }
            }
        }));
        let (answers, ()) = tokio::join!(logins, wait_stopped(&t, &what));
        let (status, last) = json(t.syncano_login(&tokens[0]).await).await;
        assert_eq!(status, 200, "{what}: {last}");
        t.remember(last["user_key"].as_str().unwrap_or_default());
        for (status, body) in answers.into_iter().flatten() {
            // A login answers with the one user, or (never half-written) a retryable 503.
            assert!(status == 200 && body["id"] == last["id"] || status == 503, "{what}: {status} {body}");
        }
        assert_one_whole_user(&t, &last["id"].to_string(), users + 1, &what).await;
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_key_reset_stopped_after_any_write_never_lets_the_old_key_in_once_decided_and_is_swept() {
    let t = spawn_app().await;
    let reset = |id: String| {
        let url = format!("{}/v1.1/instances/{INSTANCE}/users/{id}/reset_key/", t.base);
        t.http.post(url).header("x-api-key", ADMIN_API_KEY).send()
    };
    for writes in 1..KEY_RESET_WRITES {
        let what = format!("reset stopped after {writes} writes");
        let (_, token) = t.facebook_user("Key Crash", None);
        let (status, user) = json(t.syncano_login(&token).await).await;
        assert_eq!(status, 200, "{user}");
        let old_key = user["user_key"].as_str().unwrap_or_default().to_string();
        t.remember(&old_key);
        let id = user["id"].to_string();
        t.app.store.write_faults().stop_after(writes);
        stopped(&t, &what, reset(id.clone())).await;
        // From the deciding write (the user's generation, the 2nd) on, the old key is refused.
        let decided = writes >= 2;
        let expected = if decided { 403 } else { 200 };
        assert_eq!(user_with_key(&t, &old_key).await.0, expected, "{what}: the old key");
        // The sweeper finishes (or undoes) it from the new lookup, which is pending.
        let pending: Vec<Item> = t.scan().await.into_iter().filter(|i| i.contains_key("pending")).collect();
        assert_eq!(pending.len(), 1, "{what}");
        assert!(pk(&pending[0]).starts_with("UKEY#"), "{what}");
        let finished = t.app.store.finish_pending(&pk(&pending[0]), "UKEY").await.expect("finish");
        assert_eq!(finished, Finished::Done, "{what}");
        assert_eq!(user_with_key(&t, &old_key).await.0, expected, "{what}: the old key after the sweep");
        let (status, again) = json(t.syncano_login(&token).await).await;
        assert_eq!((status, &again["id"]), (200, &user["id"]), "{what}: {again}");
        let key = again["user_key"].as_str().unwrap_or_default().to_string();
        t.remember(&key);
        assert_eq!(key == old_key, !decided, "{what}: the login answers the current key");
        assert_eq!(user_with_key(&t, &key).await.0, 200, "{what}: and it works");
        let items = t.scan().await;
        let lookups = items.iter().filter(|i| pk(i).starts_with("UKEY#") && text(i, "user_id") == id).count();
        assert_eq!(lookups, 1, "{what}: one lookup, the current key's");
        assert!(!items.iter().any(|i| i.contains_key("pending")), "{what}");
        // A reset now goes through whole.
        let (status, after) = json(reset(id.clone()).await.expect("reset")).await;
        assert_eq!(status, 200, "{what}: {after}");
        t.remember(after["user_key"].as_str().unwrap_or_default());
        assert_eq!(user_with_key(&t, &key).await.0, 403, "{what}");
    }
    t.assert_logs_clean();
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_logout_stopped_after_its_first_write_has_logged_the_session_out() {
    let t = spawn_app().await;
    let (_, token) = t.facebook_user("Leaving Soon", None);
    let (status, body) = json(t.rocketchat_login(&token).await).await;
    assert_eq!(status, 200, "{body}");
    let auth = body["data"]["authToken"].as_str().unwrap_or_default().to_string();
    let user_id = body["data"]["userId"].as_str().unwrap_or_default().to_string();
    t.remember(&auth);
    t.app.store.write_faults().stop_after(1);
    let logout =
        t.http.post(format!("{}/api/v1/logout", t.base)).header("x-auth-token", &auth).header("x-user-id", &user_id);
    stopped(&t, "logout", logout.send()).await;
    assert_eq!(t.me(&auth, &user_id).await.status().as_u16(), 401, "the session is gone from the first write");
    // The list entry left behind names no session: "log out everywhere else" removes it.
    assert_eq!(t.count("USESS#").await, 1);
    let (_, other) = json(t.rocketchat_login(&token).await).await;
    let other_auth = other["data"]["authToken"].as_str().unwrap_or_default().to_string();
    t.remember(&other_auth);
    let resp = t
        .http
        .post(format!("{}/api/v1/users.removeOtherTokens", t.base))
        .header("x-auth-token", &other_auth)
        .header("x-user-id", &user_id)
        .send()
        .await
        .expect("removeOtherTokens");
    assert_eq!(resp.status().as_u16(), 200);
    assert_eq!(t.count("USESS#").await, 1, "only the live session's entry");
    assert_eq!(t.count("SESSION#").await, 1);
    t.assert_logs_clean();
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn concurrent_key_resets_leave_one_current_key_and_one_lookup() {
    let t = spawn_app_with(slow_machine).await;
    let (_, token) = t.facebook_user("Many Resets", None);
    let (status, user) = json(t.syncano_login(&token).await).await;
    assert_eq!(status, 200, "{user}");
    let old_key = user["user_key"].as_str().unwrap_or_default().to_string();
    t.remember(&old_key);
    let id = user["id"].to_string();
    let url = format!("{}/v1.1/instances/{INSTANCE}/users/{id}/reset_key/", t.base);
    let answers = join_all((0..10).map(|_| async {
        json(t.http.post(&url).header("x-api-key", ADMIN_API_KEY).send().await.expect("reset")).await
    }))
    .await;
    let mut keys = vec![old_key];
    for (status, body) in &answers {
        // Each reset wins its round or resets on top of the winner; 503 only after repeated losses.
        assert!(*status == 200 || *status == 503, "{status} {body}");
        if *status == 200 {
            let key = body["user_key"].as_str().unwrap_or_default().to_string();
            t.remember(&key);
            keys.push(key);
        }
    }
    assert!(keys.len() > 1, "at least one reset went through");
    let (_, now) = json(t.syncano_login(&token).await).await;
    let current = now["user_key"].as_str().unwrap_or_default().to_string();
    for key in &keys {
        let expected = if *key == current { 200 } else { 403 };
        assert_eq!(user_with_key(&t, key).await.0, expected, "only the current key opens the account");
    }
    let items = t.scan().await;
    let lookups = items.iter().filter(|i| pk(i).starts_with("UKEY#") && text(i, "user_id") == id).count();
    assert_eq!(lookups, 1, "one lookup: the current key's");
    assert!(!items.iter().any(|i| i.contains_key("pending")), "every reset finished");
    t.assert_logs_clean();
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_instance_creation_failed_after_its_counter_is_finished_by_the_retry() {
    let t = spawn_app().await;
    let store = &t.app.store;
    let instance = shared::InstanceName::parse("half-made").expect("name");
    store.write_faults().arm(1, shared::store::WriteFault::Fail);
    assert!(store.create_instance_with(&instance, shared::domain::records::SignUpPolicy::Open).await.is_err());
    store.write_faults().heal();
    assert!(store.instance_settings(&instance).await.expect("read").is_none(), "no instance yet: only its counter");
    store.create_instance_with(&instance, shared::domain::records::SignUpPolicy::Open).await.expect("the retry");
    assert!(store.instance_settings(&instance).await.expect("read").is_some());
    assert!(matches!(
        store.create_instance_with(&instance, shared::domain::records::SignUpPolicy::Open).await,
        Err(shared::store::StoreError::InstanceExists)
    ));
    let items = t.scan().await;
    assert_eq!(items.iter().filter(|i| pk(i) == "USERIDS#half-made").count(), 1);
    // A first login there takes ids from the counter made by the failed attempt.
    let permissions = shared::domain::records::ApiKeyPermissions { ignore_acl: false, allow_user_create: true };
    let (_, key) = store.create_api_key(&instance, permissions).await.expect("key");
    t.remember(key.expose());
    let (_, token) = t.facebook_user("Half Made", None);
    let (status, body) =
        t.syncano_in("half-made", key.expose(), "facebook", serde_json::json!({ "access_token": token })).await;
    assert_eq!((status, body["id"].as_u64()), (200, Some(1)), "{body}");
    t.remember(body["user_key"].as_str().unwrap_or_default());
    t.assert_logs_clean();
}

/// A finisher that read a first login pending, then paused between its steps while a whole
/// deletion of that user ran, must not bring the deleted user back: what it writes after is a
/// user no identity names, and its credentials die at once.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_finisher_resumed_after_a_whole_deletion_does_not_revive_the_deleted_user() {
    let t = spawn_app().await;
    let (person, token) = t.facebook_user("Come Back", None);
    // A first login stopped before its last write: everything written, the identity pending.
    t.app.store.write_faults().stop_after(FIRST_LOGIN_WRITES - 1);
    let (http, url, key, tok) = (t.http.clone(), t.syncano_url(INSTANCE), t.api_key.clone(), token.clone());
    stopped(&t, "first login", async move {
        http.post(url).header("x-api-key", key).json(&serde_json::json!({ "access_token": tok })).send().await
    })
    .await;
    let pending: Vec<Item> = t.scan().await.into_iter().filter(|i| i.contains_key("pending")).collect();
    assert_eq!(pending.len(), 1);
    let id: u64 = text(&pending[0], "user_id").parse().expect("user id");
    let instance = shared::InstanceName::parse(INSTANCE).expect("instance");
    let user = t.app.store.get_user(&instance, id).await.expect("read").expect("the user item is written");
    let user_key = shared::store::user_key_of(&t.app.user_keys, &user).expect("key");
    t.remember(user_key.expose());

    // Another login of the person finds the identity pending and finishes it: its username claim
    // passes, then it pauses before the user item's put.
    t.app.store.write_faults().arm(1, shared::store::WriteFault::Pause);
    let finisher = t.http.post(t.syncano_url(INSTANCE)).header("x-api-key", &t.api_key);
    let finisher = tokio::spawn(finisher.json(&serde_json::json!({ "access_token": token })).send());
    let started = Instant::now();
    while t.app.store.write_faults().caught() == 0 {
        assert!(started.elapsed() < Duration::from_secs(30), "the finisher never reached its step (3)");
        tokio::time::sleep(Duration::from_millis(10)).await;
    }
    // Meanwhile the whole deletion of the user runs.
    let delete = t.http.delete(format!("{}/v1.1/instances/{INSTANCE}/users/{id}/", t.base));
    let deleted = delete.header("x-api-key", ADMIN_API_KEY).send().await.expect("delete");
    assert_eq!(deleted.status().as_u16(), 204);
    assert_eq!(user_with_key(&t, user_key.expose()).await.0, 403, "deleted");
    // The finisher resumes: its writes land on a user no identity names any more.
    t.app.store.write_faults().heal();
    let answer = finisher.await.expect("task").expect("answer");
    assert_eq!(answer.status().as_u16(), 503, "the finisher's login answers no user");
    assert!(t.app.store.get_user(&instance, id).await.expect("read").is_none(), "the deleted user stays deleted");
    assert_eq!(user_with_key(&t, user_key.expose()).await.0, 403, "its key stays refused");
    let items = t.scan().await;
    assert!(!items.iter().any(|i| pk(i).starts_with("IDENT#") && text(i, "user_id") == id.to_string()));
    // The person's next sign-in (a new token: the deletion revoked the app's) is a new user.
    let token = t.token(&person, APP_ID, 3600);
    let (status, again) = json(t.syncano_login(&token).await).await;
    assert_eq!(status, 200, "{again}");
    assert_ne!(again["id"].as_u64(), Some(id));
    t.remember(again["user_key"].as_str().unwrap_or_default());
    t.assert_logs_clean();
}
