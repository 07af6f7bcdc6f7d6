//! Issue 30, "API key checks without a read per request": each execution environment keeps the
//! answers of the API key check and the instance's settings for `API_KEY_CACHE_SECS` (negative
//! answers `API_KEY_NEGATIVE_CACHE_SECS`), so an app's traffic does not funnel through its
//! instance's partition (`INST#{instance}`); and what that costs: how long a revoked key, a new
//! key and a changed sign-up policy take to be seen (docs/security.md, "API key cache").

use std::time::{Duration, Instant};

use serde_json::json;
use shared::domain::records::SignUpPolicy;
use shared::store::ApiKeyPermissions;
use shared::{InstanceName, Secret};

use crate::helpers::*;

fn instance_reads(calls: &[local_stack::counting_proxy::DynamoCall]) -> Vec<String> {
    let pk = format!("INST#{INSTANCE}");
    calls.iter().filter(|c| c.keys.iter().any(|k| k.pk == pk)).map(|c| c.operation.clone()).collect()
}

/// The hot key of issue 30: every Syncano request read `INST#{instance}` (its instance item and
/// the API key item, one consistent BatchGetItem), and every first login the instance item again
/// for the sign-up policy. After one check, an environment reads that partition no more within
/// the cache time: returning and first logins of both dialects, `GET user/`.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_environment_reads_the_instance_partition_once_per_cache_period() {
    let (t, proxy) = spawn_app_behind_proxy().await;
    let (_, token) = t.facebook_user("Warm Person", None);
    let (status, body) = t.syncano_at("facebook", json!({ "access_token": token })).await;
    assert_eq!(status, 200, "{body}");
    t.remember(body["user_key"].as_str().unwrap_or_default());
    proxy.take();

    for _ in 0..3 {
        let (status, _) = t.syncano_at("facebook", json!({ "access_token": token })).await;
        assert_eq!(status, 200);
    }
    assert_eq!(t.user_key_status(body["user_key"].as_str().unwrap_or_default()).await, 200);
    for name in ["First Syncano", "Second Syncano"] {
        let (_, token) = t.facebook_user(name, None);
        let (status, body) = t.syncano_at("facebook", json!({ "access_token": token })).await;
        assert_eq!(status, 200, "{body}");
        t.remember(body["user_key"].as_str().unwrap_or_default());
    }
    let (_, token) = t.facebook_user("First Rocket", None);
    let (status, body) = json(t.rocketchat_login(&token).await).await;
    assert_eq!(status, 200, "{body}");
    t.remember(body["data"]["authToken"].as_str().unwrap_or_default());

    let calls = proxy.take();
    assert_eq!(instance_reads(&calls), Vec::<String>::new(), "the instance's partition was read again");
    t.assert_logs_clean();
}

/// How long this file's environments keep answers: short, so that the tests wait it out.
const CACHE_SECS: u64 = 3;
const NEGATIVE_CACHE_SECS: u64 = 1;

async fn spawn_caching_app() -> TestApp {
    spawn_app_with(|vars| {
        vars.insert("API_KEY_CACHE_SECS".into(), CACHE_SECS.to_string());
        vars.insert("API_KEY_NEGATIVE_CACHE_SECS".into(), NEGATIVE_CACHE_SECS.to_string());
    })
    .await
}

/// Another execution environment of the same functions on the test's table: its own `App` (so
/// nothing kept in memory), each function signing as itself, behind a gateway of its own.
async fn another_environment(t: &TestApp) -> String {
    t.new_environment_gateway().await
}

/// Syncano's `GET user/` at `base` with `api_key` and the user's key: its status.
async fn user_status(t: &TestApp, base: &str, api_key: &str, user_key: &str) -> u16 {
    let req = t.http.get(format!("{base}/v1.1/instances/{INSTANCE}/user/"));
    let req = req.header("x-api-key", api_key).header("x-user-key", user_key);
    req.send().await.expect("request").status().as_u16()
}

/// A user of the demo instance and their user key.
async fn user_key(t: &TestApp) -> String {
    let (_, token) = t.facebook_user("Keyed Person", None);
    let (status, body) = t.syncano_at("facebook", json!({ "access_token": token })).await;
    assert_eq!(status, 200, "{body}");
    let key = body["user_key"].as_str().unwrap_or_default().to_string();
    t.remember(&key);
    key
}

/// Waits until `since` + `secs` (and a little more) has passed.
async fn wait_out(since: Instant, secs: u64) {
    let until = since + Duration::from_secs(secs) + Duration::from_millis(300);
    tokio::time::sleep(until.saturating_duration_since(Instant::now())).await;
}

/// The trade-off, stated by `admin revoke-key`: a revoked client key still works where an
/// environment checked it less than `API_KEY_CACHE_SECS` ago, and nowhere else; after that
/// time, nowhere.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_revoked_client_key_works_at_most_the_cache_time_and_at_once_not_in_a_new_environment() {
    let t = spawn_caching_app().await;
    let user = user_key(&t).await;
    let instance = InstanceName::parse(INSTANCE).expect("valid");
    let (key_id, key) = t.app.store.create_api_key(&instance, ApiKeyPermissions::CLIENT).await.expect("key");
    t.remember(key.expose());
    assert_eq!(user_status(&t, &t.base, key.expose(), &user).await, 200);
    // Kept from before the answer came: it runs out no later than the cache time from now.
    let checked = Instant::now();

    assert!(t.app.store.revoke_api_key(&instance, &key_id).await.expect("revoke"));
    assert_eq!(user_status(&t, &t.base, key.expose(), &user).await, 200, "kept by the environment that checked it");
    let fresh = another_environment(&t).await;
    assert_eq!(user_status(&t, &fresh, key.expose(), &user).await, 403, "a new environment reads it");
    wait_out(checked, CACHE_SECS).await;
    assert_eq!(user_status(&t, &t.base, key.expose(), &user).await, 403, "after the cache time");
    t.assert_logs_clean();
}

/// An admin key (`ignore_acl`: resets any user's key, deletes users) is never kept: revoked, it
/// is refused at once, also where it was just used.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_revoked_admin_key_is_refused_at_once() {
    let t = spawn_caching_app().await;
    let user = user_key(&t).await;
    let instance = InstanceName::parse(INSTANCE).expect("valid");
    let (key_id, key) = t.app.store.create_api_key(&instance, ApiKeyPermissions::ADMIN).await.expect("key");
    t.remember(key.expose());
    assert_eq!(user_status(&t, &t.base, key.expose(), &user).await, 200);
    assert!(t.app.store.revoke_api_key(&instance, &key_id).await.expect("revoke"));
    assert_eq!(user_status(&t, &t.base, key.expose(), &user).await, 403);
    t.assert_logs_clean();
}

/// A new key works at once in an environment that never tried it, and within
/// `API_KEY_NEGATIVE_CACHE_SECS` where it was tried (and refused) before it existed; an
/// unknown key is read again after that time, not kept as long as a valid one.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_created_key_works_at_once_or_within_the_negative_cache_time() {
    let t = spawn_caching_app().await;
    let user = user_key(&t).await;
    let key = Secret::new(format!("k{}", "7".repeat(39)));
    t.remember(key.expose());
    assert_eq!(user_status(&t, &t.base, key.expose(), &user).await, 403, "not a key yet");
    let tried = Instant::now();

    let instance = InstanceName::parse(INSTANCE).expect("valid");
    t.app.store.import_api_key(&instance, &key, ApiKeyPermissions::CLIENT).await.expect("key");
    let fresh = another_environment(&t).await;
    assert_eq!(user_status(&t, &fresh, key.expose(), &user).await, 200, "at once where it was never tried");
    wait_out(tried, NEGATIVE_CACHE_SECS).await;
    assert_eq!(user_status(&t, &t.base, key.expose(), &user).await, 200, "within the negative cache time");
    t.assert_logs_clean();
}

/// A closed sign-up policy is seen by each environment within `API_KEY_CACHE_SECS`, through
/// both dialects; at once by a new one; and so is opening it again.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_changed_sign_up_policy_takes_effect_within_the_cache_time() {
    let t = spawn_caching_app().await;
    let instance = InstanceName::parse(INSTANCE).expect("valid");
    user_key(&t).await;
    let read = Instant::now();

    t.app.store.set_sign_up(&instance, SignUpPolicy::Closed).await.expect("close");
    let fresh = another_environment(&t).await;
    let (_, stranger) = t.facebook_user("Late Stranger", None);
    let syncano_at = |base: &str, token: &str| {
        let req = t.http.post(format!("{base}/v1.1/instances/{INSTANCE}/user/auth/facebook/"));
        req.header("x-api-key", &t.api_key).json(&json!({ "access_token": token })).send()
    };
    let (status, body) = json(syncano_at(&fresh, &stranger).await.expect("request")).await;
    assert_eq!(status, 403, "a new environment reads the closed policy: {body}");
    wait_out(read, CACHE_SECS).await;
    let (status, body) = json(syncano_at(&t.base, &stranger).await.expect("request")).await;
    assert_eq!(status, 403, "after the cache time: {body}");
    let (status, _) = json(t.rocketchat_login(&stranger).await).await;
    assert_eq!(status, 401, "Rocket.Chat, after the cache time");

    let reopened = Instant::now();
    t.app.store.set_sign_up(&instance, SignUpPolicy::Open).await.expect("open");
    wait_out(reopened, CACHE_SECS).await;
    let (status, body) = json(t.rocketchat_login(&stranger).await).await;
    assert_eq!(status, 200, "opened again, after the cache time: {body}");
    t.remember(body["data"]["authToken"].as_str().unwrap_or_default());
    t.assert_logs_clean();
}
