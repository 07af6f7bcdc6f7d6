//! Syncano dialect: `POST /v1.1/instances/{instance}/user/auth/facebook/`.

use std::time::{Duration, Instant};

use emulator::Fault;
use futures::future::join_all;
use serde_json::{json, Value};

use crate::helpers::*;

fn is_micros_rfc3339(v: &Value) -> bool {
    let s = v.as_str().unwrap_or("");
    s.len() == 27 && s.ends_with('Z') && s.as_bytes()[10] == b'T' && s.as_bytes()[19] == b'.'
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn first_login_creates_the_user_and_the_next_returns_it() {
    let t = spawn_app().await;
    let (person, token) = t.facebook_user("Rocket Cat", Some("cat@example.com"));

    let (status, user) = json(t.syncano_login(&token).await).await;
    assert_eq!(status, 200, "{user}");
    let id = user["id"].as_u64().expect("integer id");
    assert_eq!(user["username"], "rocket.cat.2", "rocket.cat is reserved (Rocket.Chat's bot)");
    let key = user["user_key"].as_str().expect("user_key").to_string();
    t.remember(&key);
    assert!(key.len() == 40 && key.bytes().all(|b| b.is_ascii_hexdigit()), "{key}");
    let p = &user["profile"];
    assert_eq!((p["id"].as_u64(), p["owner"].as_u64()), (Some(id), Some(id)));
    assert_eq!(
        (p["owner_permissions"].as_str(), p["group_permissions"].as_str(), p["other_permissions"].as_str()),
        (Some("full"), Some("none"), Some("none"))
    );
    for null in ["channel", "channel_room", "group"] {
        assert!(p[null].is_null(), "{null}");
    }
    assert!(is_micros_rfc3339(&p["created_at"]) && is_micros_rfc3339(&p["updated_at"]), "{p}");
    assert_eq!(p["revision"], 1);
    let base = format!("/v1.1/instances/{INSTANCE}/users/{id}/");
    let profile = format!("/v1.1/instances/{INSTANCE}/classes/user_profile/objects/{id}/");
    assert_eq!(p["links"], json!({"self": profile, "owner": base}));
    assert_eq!(user["groups"], json!([]));
    assert_eq!(
        user["links"],
        json!({"self": base, "reset-key": format!("{base}reset_key/"), "groups": format!("{base}groups/"), "profile": profile})
    );
    assert_eq!(t.login_writes().await, [1, 1, 1, 0]);

    // A returning login, with a fresh token of the same person: same user, same stable key.
    let again = t.token(&person, APP_ID, 3600);
    let (status, user2) = json(t.syncano_login(&again).await).await;
    assert_eq!(status, 200);
    assert_eq!(user2["id"].as_u64(), Some(id));
    assert_eq!(user2["user_key"].as_str(), Some(key.as_str()));
    assert_eq!(t.login_writes().await, [1, 1, 1, 0]);

    // Another person is another user.
    let (_, other) = t.facebook_user("Someone Else", None);
    let (_, user3) = json(t.syncano_login(&other).await).await;
    assert_ne!(user3["id"].as_u64(), Some(id));
    assert_ne!(user3["user_key"], user["user_key"]);
    t.remember(user3["user_key"].as_str().unwrap_or_default());

    // The user key is stored nowhere in the table.
    let dump = format!("{:?}", t.scan().await);
    assert!(!dump.contains(&key));
    t.assert_logs_clean();
}

#[tokio::test]
async fn form_encoded_bodies_log_in_too() {
    let t = spawn_app().await;
    let (_, token) = t.facebook_user("Form User", None);
    let resp = t
        .http
        .post(t.syncano_url(INSTANCE))
        .header("x-api-key", &t.api_key)
        .header("content-type", "application/x-www-form-urlencoded")
        .body(format!("access_token={token}"))
        .send()
        .await
        .expect("request");
    let (status, user) = json(resp).await;
    assert_eq!(status, 200, "{user}");
    assert_eq!(user["username"], "form.user");
    t.remember(user["user_key"].as_str().unwrap_or_default());
    t.assert_logs_clean();
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_hundred_concurrent_first_logins_make_one_user() {
    let t = spawn_app_with(slow_machine).await;
    let person = t.emulator.create_facebook_user("Race Condition", None);
    let tokens: Vec<String> = (0..100).map(|_| t.token(&person, APP_ID, 3600)).collect();
    let responses = join_all(tokens.iter().map(|tok| async { json(t.syncano_login(tok).await).await })).await;
    let ids: Vec<Option<u64>> = responses
        .iter()
        .map(|(s, u)| {
            assert_eq!(*s, 200, "{u}");
            u["id"].as_u64()
        })
        .collect();
    assert!(ids[0].is_some() && ids.iter().all(|i| *i == ids[0]), "{ids:?}");
    assert_eq!(t.login_writes().await, [1, 1, 1, 0]);
    for (_, u) in &responses {
        t.remember(u["user_key"].as_str().unwrap_or_default());
    }
    t.assert_logs_clean();
}

#[tokio::test]
async fn usernames_collide_into_a_suffix() {
    let t = spawn_app().await;
    let (_, a) = t.facebook_user("Rocket Kit", None);
    let (_, b) = t.facebook_user("Rocket Kit", None);
    let (_, ua) = json(t.syncano_login(&a).await).await;
    let (_, ub) = json(t.syncano_login(&b).await).await;
    assert_eq!(ua["username"], "rocket.kit");
    assert_eq!(ub["username"], "rocket.kit.2");
    assert_eq!(t.login_writes().await, [2, 2, 2, 0]);
}

#[tokio::test]
async fn rejected_tokens_are_401_and_write_nothing() {
    let t = spawn_app().await;
    let person = t.emulator.create_facebook_user("Mallory", None);
    let other_app = t.token(&person, OTHER_APP_ID, 3600);
    let expired = t.token(&person, APP_ID, -60);
    let revoked = t.token(&person, APP_ID, 3600);
    t.emulator.revoke_facebook_token(&revoked);
    for token in [other_app.as_str(), expired.as_str(), revoked.as_str(), "EAAgarbage", "not a token", "x\u{7f}y"] {
        let (status, body) = json(t.syncano_login(token).await).await;
        assert_eq!((status, body), (401, json!({"detail": "Invalid username or password."})), "token {token:.12}");
    }
    assert_eq!(t.login_writes().await, [0, 0, 0, 0]);
    t.assert_logs_clean();
}

#[tokio::test]
async fn provider_failures_are_502_or_504_within_the_timeout_and_write_nothing() {
    let t = spawn_app().await;
    let (_, token) = t.facebook_user("Patient User", None);
    let limit = Duration::from_millis(PROVIDER_TIMEOUT_MS + 1500);
    for (fault, expected) in [
        (Fault::Status500, 502),
        (Fault::RateLimited, 502),
        (Fault::InvalidJson, 502),
        (Fault::CloseConnection, 502),
        (Fault::Hang, 504),
        (Fault::ResetMidBody, 502),
        (Fault::SlowDrip, 504),
        (Fault::HugeBody, 502),
    ] {
        t.emulator.set_fault(fault);
        let started = Instant::now();
        let (status, body) = json(t.syncano_login(&token).await).await;
        assert_eq!(status, expected, "{fault:?}: {body}");
        assert!(started.elapsed() < limit, "{fault:?} took {:?}", started.elapsed());
        let detail = body["detail"].as_str().unwrap_or_default();
        assert!(detail.contains("identity provider") && !detail.contains("Graph"), "{detail}");
    }
    t.emulator.set_fault(Fault::None);
    assert_eq!(t.login_writes().await, [0, 0, 0, 0]);

    // A provider nobody listens on.
    let closed = spawn_app_with(|v| {
        v.insert("FACEBOOK_GRAPH_URL".into(), "http://127.0.0.1:9".into());
    })
    .await;
    let (_, lonely) = closed.facebook_user("Lonely", None);
    let (status, _) = json(closed.syncano_login(&lonely).await).await;
    assert_eq!(status, 502);
    assert_eq!(closed.login_writes().await, [0, 0, 0, 0]);

    // And once the provider is back, the same login works.
    let (status, user) = json(t.syncano_login(&token).await).await;
    assert_eq!(status, 200);
    t.remember(user["user_key"].as_str().unwrap_or_default());
    t.assert_logs_clean();
}

/// Unreadable bodies: `apps/core/parsers.py` (JSON parse error, 400) and Django REST
/// framework's 415; the token field's own failures are 401s (`compat_syncano.rs`).
#[tokio::test]
async fn malformed_requests_are_400_or_415_naming_the_problem() {
    let t = spawn_app().await;
    let big = format!(r#"{{"access_token":"{}"}}"#, "A".repeat(20_000));
    let cases: Vec<(&str, String, u16, &str)> = vec![
        ("application/json", "{\"access_token\": ".into(), 400, "JSON parse error - "),
        ("text/plain", "access_token=x".into(), 400, "JSON parse error - "),
        ("application/json", big, 400, "too large"),
        ("application/xml", "<x/>".into(), 415, "Unsupported media type \"application/xml\" in request."),
        ("multipart/form-data", "x".into(), 400, "Multipart"),
    ];
    for (ct, body, expected, needle) in cases {
        let resp = t
            .http
            .post(t.syncano_url(INSTANCE))
            .header("x-api-key", &t.api_key)
            .header("content-type", ct)
            .body(body.clone())
            .send()
            .await
            .expect("request");
        let (status, err) = json(resp).await;
        assert_eq!(status, expected, "{ct} {body:.40}: {err}");
        let detail = err["detail"].as_str().unwrap_or_default();
        assert!(detail.contains(needle), "{detail} should mention {needle}");
    }
    assert_eq!(t.login_writes().await, [0, 0, 0, 0]);
}

#[tokio::test]
async fn api_keys_and_instances_are_checked_before_the_provider() {
    let t = spawn_app_with(no_access_cache).await;
    let (_, token) = t.facebook_user("Key Holder", None);
    let before = t.emulator.request_count();
    let post = |instance: &str, key: Option<&str>| {
        let mut r = t.http.post(t.syncano_url(instance)).json(&json!({"access_token": token}));
        if let Some(k) = key {
            r = r.header("x-api-key", k);
        }
        r.send()
    };
    let (s, b) = json(post(INSTANCE, None).await.expect("req")).await;
    assert_eq!(s, 403, "{b}");
    assert!(b["detail"].is_string());
    let (s, _) = json(post(INSTANCE, Some(&"0".repeat(40))).await.expect("req")).await;
    assert_eq!(s, 403);
    // An instance that does not exist is a wrong key: instance names cannot be probed for.
    let (s, b) = json(post("no-such-instance", Some(&t.api_key)).await.expect("req")).await;
    assert_eq!((s, b["detail"].as_str()), (403, Some("No such API Key.")));
    let (s, b) = json(post("Bad%20Name", Some(&t.api_key)).await.expect("req")).await;
    assert_eq!((s, b["detail"].as_str()), (403, Some("No such API Key.")));
    assert_eq!(t.emulator.request_count(), before, "the provider was asked without a valid key");

    // A new key works until it is revoked, then it is 403 at once (in this test's environment,
    // which keeps no answer; where one was kept, within API_KEY_CACHE_SECS: key_cache.rs).
    let instance = shared::InstanceName::parse(INSTANCE).expect("valid");
    let client = shared::store::ApiKeyPermissions::CLIENT;
    let (key_id, key) = t.app.store.create_api_key(&instance, client).await.expect("key");
    t.remember(key.expose());
    let (s, user) = json(post(INSTANCE, Some(key.expose())).await.expect("req")).await;
    assert_eq!(s, 200);
    t.remember(user["user_key"].as_str().unwrap_or_default());
    assert!(t.app.store.list_api_keys(&instance).await.expect("list").iter().any(|k| k.key_id == key_id));
    assert!(t.app.store.revoke_api_key(&instance, &key_id).await.expect("revoke"));
    let (s, _) = json(post(INSTANCE, Some(key.expose())).await.expect("req")).await;
    assert_eq!(s, 403);
    // The table holds only hashes of keys.
    assert!(!format!("{:?}", t.scan().await).contains(EVENT_API_KEY));
    t.assert_logs_clean();
}

#[tokio::test]
async fn paths_outside_the_syncano_routes_are_api_gateways_404() {
    let t = spawn_app().await;
    for path in
        ["/v1.1/instances/demo/user/auth/", "/v1.1/instances/demo/user/auth/facebook", "/v1.1/instances/demo/users/"]
    {
        let resp = t.http.post(format!("{}{path}", t.base)).send().await.expect("req");
        assert_eq!(json(resp).await, (404, json!({"message": "Not Found"})), "{path}");
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn every_request_writes_one_structured_line_without_secrets() {
    let t = spawn_app().await;
    let (_, token) = t.facebook_user("Logged Person", None);
    let resp = t.syncano_login(&token).await;
    let request_id = resp.headers()["apigw-requestid"].to_str().expect("ascii").to_string();
    let (status, user) = json(resp).await;
    assert_eq!(status, 200);
    t.remember(user["user_key"].as_str().unwrap_or_default());
    let lines = request_lines(&request_id);
    assert_eq!(lines.len(), 1, "one line per request: {lines:?}");
    let f = &lines[0];
    assert_eq!(f["route"], "POST /v1.1/instances/{instance}/user/auth/facebook/");
    assert_eq!(
        (f["provider"].as_str(), f["status"].as_u64(), f["outcome"].as_str()),
        (Some("facebook"), Some(200), Some("served"))
    );
    assert!(f["latency_ms"].as_f64().is_some_and(|ms| ms > 0.0), "{f}");
    t.assert_logs_clean();
}
