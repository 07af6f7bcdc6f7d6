//! After the login: Rocket.Chat `me`, `logout` and `resume`; Syncano `user/` and `reset_key/`.

use serde_json::json;
use shared::{InstanceName, Secret};

use crate::helpers::*;

async fn rc_login(t: &TestApp, name: &str) -> (String, String, serde_json::Value) {
    let (_, token) = t.facebook_user(name, None);
    let (status, body) = json(t.rocketchat_login(&token).await).await;
    assert_eq!(status, 200, "{body}");
    let auth = body["data"]["authToken"].as_str().expect("authToken").to_string();
    t.remember(&auth);
    (auth, body["data"]["userId"].as_str().expect("userId").to_string(), body["data"]["me"].clone())
}

async fn me(t: &TestApp, auth: &str, user_id: &str) -> (u16, serde_json::Value) {
    let resp =
        t.http.get(format!("{}/api/v1/me", t.base)).header("x-auth-token", auth).header("x-user-id", user_id).send();
    json(resp.await.expect("request")).await
}

async fn logout(t: &TestApp, auth: &str, user_id: &str) -> (u16, serde_json::Value) {
    let resp = t
        .http
        .post(format!("{}/api/v1/logout", t.base))
        .header("x-auth-token", auth)
        .header("x-user-id", user_id)
        .send();
    json(resp.await.expect("request")).await
}

fn not_logged_in() -> (u16, serde_json::Value) {
    (401, rc_not_logged_in())
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn login_me_logout_me() {
    let t = spawn_app().await;
    let (auth, user_id, login_me) = rc_login(&t, "Session Cat").await;
    let (status, body) = me(&t, &auth, &user_id).await;
    assert_eq!(status, 200, "{body}");
    let mut expected = login_me.clone();
    expected["success"] = json!(true);
    assert_eq!(body, expected);

    // Another login is another session; logging out one leaves the other.
    let (other_auth, other_user, _) = rc_login(&t, "Session Cat").await;
    assert_ne!(other_user, user_id, "a second Session Cat is another person");
    assert_eq!(me(&t, &auth, &other_user).await, not_logged_in(), "a token is only good for its own user");

    assert_eq!(
        logout(&t, &auth, &user_id).await,
        (200, json!({"status": "success", "data": {"message": "You've been logged out!"}}))
    );
    assert_eq!(me(&t, &auth, &user_id).await, not_logged_in());
    assert_eq!(logout(&t, &auth, &user_id).await, not_logged_in());
    assert_eq!(me(&t, &other_auth, &other_user).await.0, 200);
    let resp = t.http.get(format!("{}/api/v1/me", t.base)).send().await.expect("request");
    assert_eq!(json(resp).await, not_logged_in());
    t.assert_logs_clean();
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn expired_sessions_are_refused_before_dynamodb_deletes_them() {
    let t = spawn_app().await;
    let (_, user_id, _) = rc_login(&t, "Old Timer").await;
    // A session item whose expiry has passed but that TTL has not deleted yet.
    let users = t.scan().await;
    let rc_user = users
        .iter()
        .find(|i| matches!(i.get("rc_id"), Some(aws_sdk_dynamodb::types::AttributeValue::S(r)) if *r == user_id))
        .expect("user item");
    let user_num: u64 = match rc_user.get("user_id") {
        Some(aws_sdk_dynamodb::types::AttributeValue::N(n)) => n.parse().expect("number"),
        _ => panic!("no user_id"),
    };
    let record = t
        .app
        .store
        .get_user(&InstanceName::parse(INSTANCE).expect("valid"), user_num)
        .await
        .expect("read")
        .expect("user");
    let stale = Secret::new("stale-session-token-0123456789abcdefghijklmn");
    t.remember(stale.expose());
    t.app.store.put_session(&stale, &record, shared::domain::clock::now_secs() - 1).await.expect("put");
    assert_eq!(t.count("SESSION#").await, 2);
    assert_eq!(me(&t, stale.expose(), &user_id).await, not_logged_in());
    let resp = t.app.session_user(&stale, &user_id).await;
    assert!(matches!(resp, Err(shared::UseCaseError::NotLoggedIn)), "the function refuses it too: {resp:?}");
    let (status, _) = json(
        t.http
            .post(format!("{}/api/v1/login", t.base))
            .json(&json!({"resume": stale.expose()}))
            .send()
            .await
            .expect("req"),
    )
    .await;
    assert_eq!(status, 401);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn resume_gives_back_the_session_without_the_provider() {
    let t = spawn_app().await;
    let (auth, user_id, _) = rc_login(&t, "Resume Cat").await;
    let asked = t.emulator.request_count();
    let resume = |token: String| {
        let url = format!("{}/api/v1/login", t.base);
        let http = t.http.clone();
        async move { json(http.post(url).json(&json!({ "resume": token })).send().await.expect("request")).await }
    };
    let (status, body) = resume(auth.clone()).await;
    assert_eq!(status, 200, "{body}");
    // Meteor's resume: the same token (expiry and all: security.rs), no new session.
    assert_eq!(body["data"]["authToken"].as_str(), Some(auth.as_str()));
    assert_eq!(body["data"]["userId"].as_str(), Some(user_id.as_str()));
    assert_eq!(t.emulator.request_count(), asked, "resume must not ask the provider");
    assert_eq!(t.count("SESSION#").await, 1);
    assert_eq!(me(&t, &auth, &user_id).await.0, 200);
    logout(&t, &auth, &user_id).await;
    for token in [auth.clone(), "garbage-token".to_string(), String::new()] {
        assert_eq!(resume(token).await, (401, rc_login_unauthorized()));
    }
    t.assert_logs_clean();
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn syncano_user_and_reset_key() {
    let t = spawn_app().await;
    let (_, token) = t.facebook_user("Key Keeper", None);
    let (status, login) = json(t.syncano_login(&token).await).await;
    assert_eq!(status, 200);
    let old_key = login["user_key"].as_str().expect("key").to_string();
    t.remember(&old_key);
    let id = login["id"].as_u64().expect("id");
    let user = |key: Option<String>, api_key: String| {
        let mut r = t.http.get(format!("{}/v1.1/instances/{INSTANCE}/user/", t.base)).header("x-api-key", api_key);
        if let Some(k) = key {
            r = r.header("x-user-key", k);
        }
        async move { json(r.send().await.expect("request")).await }
    };
    assert_eq!(user(Some(old_key.clone()), t.api_key.clone()).await, (200, login.clone()));
    assert_eq!(user(Some("0".repeat(40)), t.api_key.clone()).await.0, 403);
    assert_eq!(user(None, t.api_key.clone()).await.0, 403, "no user key: the function's own 403");
    assert_eq!(user(Some(old_key.clone()), "f".repeat(40)).await.0, 403);

    let reset = |id: String, api_key: Option<String>| {
        let mut r = t.http.post(format!("{}/v1.1/instances/{INSTANCE}/users/{id}/reset_key/", t.base));
        if let Some(k) = api_key {
            r = r.header("x-api-key", k);
        }
        async move { json(r.send().await.expect("request")).await }
    };
    let admin = Some(ADMIN_API_KEY.to_string());
    assert_eq!(reset(id.to_string(), None).await.0, 403);
    assert_eq!(reset("999999".into(), admin.clone()).await.0, 404);
    assert_eq!(reset("not-a-number".into(), admin.clone()).await.0, 404);
    let (status, after) = reset(id.to_string(), admin.clone()).await;
    assert_eq!(status, 200, "{after}");
    let new_key = after["user_key"].as_str().expect("key").to_string();
    t.remember(&new_key);
    assert_ne!(new_key, old_key);
    assert_eq!(after["id"].as_u64(), Some(id));
    assert_eq!(user(Some(old_key.clone()), t.api_key.clone()).await.0, 403, "the old key is refused from then on");
    assert_eq!(user(Some(new_key.clone()), t.api_key.clone()).await.0, 200);
    // The next provider login answers the new key (stable until the next reset).
    let (_, relogin) = json(t.syncano_login(&token).await).await;
    assert_eq!(relogin["user_key"].as_str(), Some(new_key.as_str()));
    // Still no plain key in the table, and exactly one lookup item for the user.
    let dump = format!("{:?}", t.scan().await);
    assert!(!dump.contains(&old_key) && !dump.contains(&new_key));
    assert_eq!(t.count("UKEY#").await, 1, "one lookup item: the current key's");
    t.assert_logs_clean();
}

fn authorizer_request(
    headers: &[(&str, &str)],
    instance: Option<&str>,
) -> shared::entry::authorizer::AuthorizerRequest {
    let mut v =
        json!({ "headers": headers.iter().map(|(k, v)| (k.to_string(), json!(v))).collect::<serde_json::Map<_, _>>() });
    if let Some(i) = instance {
        v["pathParameters"] = json!({ "instance": i });
    }
    serde_json::from_value(v).expect("authorizer event")
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_authorizer_allows_a_live_session_or_user_key_and_denies_everything_else() {
    let t = spawn_app().await;
    let (auth, rc_id, me_json) = rc_login(&t, "Guarded Cat").await;
    let (_, token) = t.facebook_user("Keyed Cat", None);
    let (_, user) = json(t.syncano_login(&token).await).await;
    let user_key = user["user_key"].as_str().expect("key").to_string();
    t.remember(&user_key);
    let api_key = t.api_key.clone();
    // Each scheme's headers go to their own authorizer (the cross-scheme attempts: security.rs).
    let decide = |headers: Vec<(&'static str, String)>, instance: Option<&'static str>| {
        let h: Vec<(&str, &str)> = headers.iter().map(|(k, v)| (*k, v.as_str())).collect();
        let req = authorizer_request(&h, instance);
        let scheme = if h.iter().any(|(k, _)| k.starts_with("x-api-key") || k.starts_with("x-user-key")) {
            shared::entry::authorizer::Scheme::SyncanoUserKey
        } else {
            shared::entry::authorizer::Scheme::RocketChatSession
        };
        let app = t.app.clone();
        async move {
            let answer = shared::entry::authorizer::handle(&app, scheme, req).await.expect("authorizer answers");
            serde_json::to_value(answer).expect("json")
        }
    };
    let allowed = decide(vec![("x-auth-token", auth.clone()), ("x-user-id", rc_id.clone())], None).await;
    assert_eq!(allowed["isAuthorized"], true);
    assert_eq!(allowed["context"]["rocketChatUserId"], json!(rc_id));
    assert_eq!(allowed["context"]["username"], me_json["username"]);
    assert_eq!(allowed["context"]["instance"], INSTANCE);
    for instance in [Some(INSTANCE), None] {
        let allowed = decide(vec![("x-api-key", api_key.clone()), ("x-user-key", user_key.clone())], instance).await;
        assert_eq!(allowed["isAuthorized"], true, "{instance:?}");
        assert_eq!(allowed["context"]["userId"], user["id"]);
    }
    let denied = json!({"isAuthorized": false});
    for (name, headers, instance) in [
        ("nothing", vec![], None),
        ("token without user id", vec![("x-auth-token", auth.clone())], None),
        (
            "someone else's user id",
            vec![("x-auth-token", auth.clone()), ("x-user-id", "aYjNnig8BEAWeQzMh".to_string())],
            None,
        ),
        ("unknown session", vec![("x-auth-token", "nope".to_string()), ("x-user-id", rc_id.clone())], None),
        ("wrong user key", vec![("x-api-key", api_key.clone()), ("x-user-key", "0".repeat(40))], Some(INSTANCE)),
        ("wrong api key", vec![("x-api-key", "0".repeat(40)), ("x-user-key", user_key.clone())], Some(INSTANCE)),
        (
            "unknown instance",
            vec![("x-api-key", api_key.clone()), ("x-user-key", user_key.clone())],
            Some("no-such-instance"),
        ),
    ] {
        assert_eq!(decide(headers, instance).await, denied, "{name}");
    }
    // A logged-out session is denied at once (API Gateway's cache aside).
    logout(&t, &auth, &rc_id).await;
    assert_eq!(decide(vec![("x-auth-token", auth.clone()), ("x-user-id", rc_id.clone())], None).await, denied);
    t.assert_logs_clean();
}
