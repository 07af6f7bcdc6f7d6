//! Repeated rejected logins from one IP, or for one provider user from one IP, are slowed with
//! 429 and `Retry-After`; a success from another IP is never blocked by them.

use emulator::OidcProvider;
use local_stack::demo::{GOOGLE_CLIENT_ID, OTHER_GOOGLE_CLIENT_ID};
use serde_json::json;

use crate::helpers::*;

/// A request like the event samples (source IP 203.0.113.10), through the function in process.
async fn from_another_ip(t: &TestApp, sample: &str, body: serde_json::Value) -> (u16, serde_json::Value) {
    let text = std::fs::read_to_string(local_stack::dynamodb_local::repo_root().join(sample)).expect("sample");
    let mut event: serde_json::Value = serde_json::from_str(&text).expect("json");
    event["body"] = json!(body.to_string());
    event["headers"]["x-api-key"] = json!(t.api_key);
    let req = lambda_http::request::from_str(&event.to_string()).expect("event");
    let resp = google_login::handler(&t.app, req).await;
    let status = resp.status().as_u16();
    (status, serde_json::from_slice(resp.body()).unwrap_or_default())
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_ip_with_too_many_rejected_logins_gets_429_and_others_do_not() {
    let t = spawn_app_with(|v| {
        v.insert("LOGIN_FAILURES_MAX".into(), "3".into());
    })
    .await;
    for _ in 0..3 {
        assert_eq!(t.syncano_login("EAAnotAToken").await.status().as_u16(), 401);
    }
    assert_eq!(t.count("FAIL#127.0.0.1#").await, 1, "one counter per IP and window");
    // Now even a valid token from this IP waits, and the provider is not asked.
    let (_, token) = t.facebook_user("Patient Cat", None);
    let asked = t.emulator.request_count();
    let resp = t.syncano_login(&token).await;
    assert_eq!(resp.status().as_u16(), 429);
    let wait: i64 = resp.headers()["retry-after"].to_str().expect("ascii").parse().expect("seconds");
    assert!((1..=300).contains(&wait), "{wait}");
    assert_eq!(json(resp).await.1["detail"], "Too many failed logins. Try again later.");
    assert_eq!(t.emulator.request_count(), asked);
    let (status, body) = json(t.rocketchat_login(&token).await).await;
    assert_eq!((status, body["error"].as_str()), (429, Some("error-too-many-requests")));

    // The same login from another address (the event samples come from 203.0.113.10) succeeds.
    let text = std::fs::read_to_string(
        local_stack::dynamodb_local::repo_root().join("events/facebook-login/200-success.json"),
    )
    .expect("sample");
    let req = lambda_http::request::from_str(&text).expect("event");
    assert_eq!(facebook_login::handler(&t.app, req).await.status().as_u16(), 200);
    t.assert_logs_clean();
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn one_provider_user_failing_from_one_ip_is_slowed_before_the_ip() {
    let t = spawn_app_with(|v| {
        v.insert("LOGIN_FAILURES_MAX".into(), "10".into());
        v.insert("LOGIN_FAILURES_PER_USER_MAX".into(), "2".into());
    })
    .await;
    let alice = t.emulator.create_oidc_user(OidcProvider::Google, "Alice Nat", None, false);
    let bob = t.emulator.create_oidc_user(OidcProvider::Google, "Bob Nat", None, false);
    // Alice's tokens for another app are rejected twice: her pair (this IP, alice) is now over.
    for _ in 0..2 {
        let theirs = t.emulator.issue_id_token(OidcProvider::Google, &alice, OTHER_GOOGLE_CLIENT_ID, None);
        t.remember(&theirs);
        assert_eq!(t.syncano_at("google-oauth2", json!({ "access_token": theirs })).await.0, 401);
    }
    assert_eq!(t.count("FAIL#127.0.0.1#U#").await, 1, "one counter for the (IP, user) pair");
    let ok = t.emulator.issue_id_token(OidcProvider::Google, &alice, GOOGLE_CLIENT_ID, None);
    t.remember(&ok);
    let asked = t.emulator.request_count();
    let (status, body) = t.syncano_at("google-oauth2", json!({ "access_token": ok })).await;
    assert_eq!((status, body["detail"].as_str()), (429, Some("Too many failed logins. Try again later.")));
    assert_eq!(t.emulator.request_count(), asked, "the provider is not asked");
    // Bob behind the same address is not slowed, nor is Alice from another address.
    let bobs = t.emulator.issue_id_token(OidcProvider::Google, &bob, GOOGLE_CLIENT_ID, None);
    t.remember(&bobs);
    let (status, body) = t.syncano_at("google-oauth2", json!({ "access_token": bobs })).await;
    assert_eq!(status, 200, "{body}");
    t.remember(body["user_key"].as_str().unwrap_or_default());
    let (status, body) =
        from_another_ip(&t, "events/google-login/200-success.json", json!({ "access_token": ok })).await;
    assert_eq!(status, 200, "{body}");
    t.remember(body["user_key"].as_str().unwrap_or_default());
    t.assert_logs_clean();
}

/// A Facebook login with `token`, like the event sample but from `source_ip`, through the
/// function in process.
async fn facebook_from(t: &TestApp, source_ip: &str, token: &str) -> (u16, serde_json::Value) {
    let text = std::fs::read_to_string(
        local_stack::dynamodb_local::repo_root().join("events/facebook-login/200-success.json"),
    )
    .expect("sample");
    let mut event: serde_json::Value = serde_json::from_str(&text).expect("json");
    event["body"] = json!(json!({ "access_token": token }).to_string());
    event["headers"]["x-api-key"] = json!(t.api_key);
    event["headers"]["x-forwarded-for"] = json!(source_ip);
    event["headers"].as_object_mut().expect("headers").remove("content-length");
    event["requestContext"]["http"]["sourceIp"] = json!(source_ip);
    let req = lambda_http::request::from_str(&event.to_string()).expect("event");
    let resp = facebook_login::handler(&t.app, req).await;
    let status = resp.status().as_u16();
    (status, serde_json::from_slice(resp.body()).unwrap_or_default())
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn ipv6_clients_are_limited_by_their_64() {
    let t = spawn_app_with(|v| {
        v.insert("LOGIN_FAILURES_MAX".into(), "3".into());
    })
    .await;
    // Failures from two addresses of one /64 add up to the limit …
    for ip in ["2001:db8:1:2::a", "2001:db8:1:2:ffff::b", "2001:db8:1:2::a"] {
        assert_eq!(facebook_from(&t, ip, "EAAnotAToken").await.0, 401, "{ip}");
    }
    assert_eq!(t.count("FAIL#2001:db8:1:2::/64#").await, 1, "one counter for the /64");
    // … so a third address of it waits, and the provider is not asked.
    let (_, token) = t.facebook_user("Six Four", None);
    let asked = t.emulator.request_count();
    let (status, body) = facebook_from(&t, "2001:db8:1:2:1:2:3:4", &token).await;
    assert_eq!((status, body["detail"].as_str()), (429, Some("Too many failed logins. Try again later.")));
    assert_eq!(t.emulator.request_count(), asked);
    // The next /64 is another client; an IPv4-mapped address counts as its IPv4.
    let (status, body) = facebook_from(&t, "2001:db8:1:3::a", &token).await;
    assert_eq!(status, 200, "{body}");
    t.remember(body["user_key"].as_str().unwrap_or_default());
    assert_eq!(facebook_from(&t, "::ffff:198.51.100.7", "EAAnotAToken").await.0, 401);
    assert_eq!(t.count("FAIL#198.51.100.7#").await, 1);
    t.assert_logs_clean();
}

/// `POST /api/v1/login` with `{"resume": token}` through the gateway (source 127.0.0.1).
async fn resume(t: &TestApp, token: &str) -> (u16, serde_json::Value) {
    let resp = t.http.post(format!("{}/api/v1/login", t.base)).json(&json!({ "resume": token })).send().await;
    json(resp.expect("request")).await
}

/// Issue 28, point 6: twenty `{"resume": "<random>"}` misses, which cost nothing and ask no
/// provider, put every provider login from that IP (a whole office behind one NAT) in 429.
/// Resume misses now have their own counter and limit.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn resume_misses_do_not_block_the_ips_provider_logins() {
    let t = spawn_app_with(|v| {
        v.insert("LOGIN_FAILURES_MAX".into(), "3".into());
        v.insert("LOGIN_RESUME_MISSES_MAX".into(), "25".into());
    })
    .await;
    for i in 0..25 {
        let guess = format!("{i:0>43}");
        assert_eq!(resume(&t, &guess).await.0, 401, "miss {i}");
    }
    // The IP's provider logins are untouched: a valid login from it succeeds …
    let (_, token) = t.facebook_user("Office Cat", None);
    let (status, body) = json(t.rocketchat_login(&token).await).await;
    assert_eq!(status, 200, "{body}");
    t.remember(body["data"]["authToken"].as_str().unwrap_or_default());
    assert_eq!(t.count("FAIL#127.0.0.1#").await, 0, "no provider-login failure was counted");
    // … while the resume misses, over their own limit, now wait (the table is not read).
    let (status, body) = resume(&t, "another-guess").await;
    assert_eq!((status, body["error"].as_str()), (429, Some("error-too-many-requests")), "{body}");
    assert_eq!(t.count("FAIL#RESUME#127.0.0.1#").await, 1, "one resume counter per IP and window");
    t.assert_logs_clean();
}

/// Issue 28, point 6: the block was decided from one Lambda execution environment's memory, so
/// failures recorded through one were not refused by another. Two `App`s here are two
/// execution environments on one table.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_block_holds_in_every_execution_environment() {
    let t = spawn_app_with(|v| {
        v.insert("LOGIN_FAILURES_MAX".into(), "3".into());
    })
    .await;
    let other = std::sync::Arc::new(shared::App::from_vars(&t.vars).await.expect("app config"));
    let other_base = serve_app(other).await;
    for _ in 0..3 {
        assert_eq!(t.syncano_login("EAAnotAToken").await.status().as_u16(), 401);
    }
    let (_, token) = t.facebook_user("Elsewhere Cat", None);
    let (sessions, identities) = (t.count("SESSION#").await, t.count("IDENT#").await);
    // The other environment refuses the login: the table's counter is read with the identity
    // (after the provider accepted, before anything is written); then it knows, and refuses the
    // next attempts before the provider is asked.
    let rc = json!({ "serviceName": "facebook", "accessToken": token, "secret": "client-secret", "expiresIn": 3600 });
    let resp = t.http.post(format!("{other_base}/api/v1/login")).json(&rc).send().await.expect("request");
    let (status, body) = json(resp).await;
    t.remember(body["data"]["authToken"].as_str().unwrap_or_default());
    assert_eq!((status, body["error"].as_str()), (429, Some("error-too-many-requests")), "{body}");
    let asked = t.emulator.request_count();
    let resp = t.http.post(format!("{other_base}/api/v1/login")).json(&rc).send().await.expect("request");
    assert_eq!(json(resp).await.0, 429);
    let resp = t
        .http
        .post(format!("{other_base}/v1.1/instances/{INSTANCE}/user/auth/facebook/"))
        .header("x-api-key", &t.api_key)
        .json(&json!({ "access_token": token }))
        .send()
        .await
        .expect("request");
    let (status, body) = json(resp).await;
    t.remember(body["user_key"].as_str().unwrap_or_default());
    assert_eq!((status, body["detail"].as_str()), (429, Some("Too many failed logins. Try again later.")));
    assert_eq!(t.emulator.request_count(), asked, "once it knows, the provider is not asked");
    assert_eq!((t.count("SESSION#").await, t.count("IDENT#").await), (sessions, identities), "nothing written");
    t.assert_logs_clean();
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn ipv6_clients_are_also_limited_by_their_56_and_48() {
    let t = spawn_app_with(|v| {
        v.insert("LOGIN_FAILURES_MAX".into(), "2".into());
    })
    .await;
    // The /64 limit is 2, the /56's 2 × 4, the /48's 2 × 16. Two failures from each of four /64s
    // of 2001:db8:1:100::/56: each /64 is at its limit, and so is the /56.
    for i in 0..4u16 {
        for _ in 0..2 {
            let ip = format!("2001:db8:1:1{i:02x}::1");
            assert_eq!(facebook_from(&t, &ip, "EAAnotAToken").await.0, 401, "{ip}");
        }
    }
    let (_, token) = t.facebook_user("Wide Prefix", None);
    let asked = t.emulator.request_count();
    // A fresh /64 of that /56: refused.
    let (status, body) = facebook_from(&t, "2001:db8:1:1ff::9", &token).await;
    assert_eq!((status, body["detail"].as_str()), (429, Some("Too many failed logins. Try again later.")));
    assert_eq!(t.emulator.request_count(), asked);
    assert_eq!(t.count("FAIL#2001:db8:1:100::/56#").await, 1, "one counter for the /56");
    // Another /56 of the same /48 is still served …
    let (status, body) = facebook_from(&t, "2001:db8:1:200::9", &token).await;
    assert_eq!(status, 200, "{body}");
    t.remember(body["user_key"].as_str().unwrap_or_default());
    // … until the /48 itself is over 2 × 16: failures spread over many /56s of it.
    for i in 0..24u16 {
        let ip = format!("2001:db8:1:{:x}00::1", 0x10 + i);
        assert_eq!(facebook_from(&t, &ip, "EAAnotAToken").await.0, 401, "{ip}");
    }
    let (status, _) = facebook_from(&t, "2001:db8:1:ff00::9", &token).await;
    assert_eq!(status, 429, "the /48 is over its limit");
    // Another /48 is another client.
    let (status, body) = facebook_from(&t, "2001:db8:2::9", &token).await;
    assert_eq!(status, 200, "{body}");
    t.remember(body["user_key"].as_str().unwrap_or_default());
    t.assert_logs_clean();
}
