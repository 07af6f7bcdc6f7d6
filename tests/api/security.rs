//! The attacks of the security review, each performed through the local gateway as an attacker
//! would (one test per finding; each failed on the code before its fix).

use std::sync::Arc;

use aws_sdk_dynamodb::types::AttributeValue;
use serde_json::{json, Value};
use shared::store::ApiKeyPermissions;
use shared::InstanceName;

use crate::helpers::*;

const NO_PERMISSION: &str = "You do not have permission to perform this action.";

fn instance() -> InstanceName {
    InstanceName::parse(INSTANCE).expect("valid")
}

async fn syncano_user(t: &TestApp, name: &str) -> Value {
    let (_, token) = t.facebook_user(name, None);
    let (status, body) = json(t.syncano_login(&token).await).await;
    assert_eq!(status, 200, "{body}");
    t.remember(body["user_key"].as_str().unwrap_or_default());
    body
}

async fn rc_login_token(t: &TestApp, token: &str) -> (String, String) {
    let (status, body) = json(t.rocketchat_login(token).await).await;
    assert_eq!(status, 200, "{body}");
    let auth = body["data"]["authToken"].as_str().expect("authToken").to_string();
    t.remember(&auth);
    (auth, body["data"]["userId"].as_str().expect("userId").to_string())
}

async fn send(req: reqwest::RequestBuilder) -> (u16, Value) {
    json(req.send().await.expect("request")).await
}

fn with(req: reqwest::RequestBuilder, headers: &[(&str, &str)]) -> reqwest::RequestBuilder {
    headers.iter().fold(req, |r, (k, v)| r.header(*k, *v))
}

async fn reset(t: &TestApp, base: &str, id: &str, api_key: &str) -> (u16, Value) {
    let url = format!("{base}/v1.1/instances/{INSTANCE}/users/{id}/reset_key/");
    send(t.http.post(url).header("x-api-key", api_key)).await
}

async fn current_user(t: &TestApp, base: &str, instance: &str, headers: &[(&str, &str)]) -> (u16, Value) {
    send(with(t.http.get(format!("{base}/v1.1/instances/{instance}/user/")), headers)).await
}

async fn rc(t: &TestApp, method: reqwest::Method, path: &str, headers: &[(&str, &str)]) -> (u16, Value) {
    send(with(t.http.request(method, format!("{}{path}", t.base)), headers)).await
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_client_key_cannot_reset_anyones_key_and_reveals_no_user_id() {
    let t = spawn_app().await;
    let victim = syncano_user(&t, "Reset Victim").await;
    let id = victim["id"].to_string();
    let refused = (403, json!({ "detail": NO_PERMISSION }));
    // The key every app ships: walking ids gets the same refusal whether or not the user exists.
    for probe in [id.as_str(), "999999", "0", "not-a-number"] {
        assert_eq!(reset(&t, &t.base, probe, &t.api_key).await, refused, "client key, id {probe}");
    }
    let victim_key = victim["user_key"].as_str().expect("key");
    assert_eq!(
        current_user(&t, &t.base, INSTANCE, &[("x-api-key", &t.api_key), ("x-user-key", victim_key)]).await.0,
        200
    );
    // The operator's admin key (ignore_acl) may.
    let (status, after) = reset(&t, &t.base, &id, ADMIN_API_KEY).await;
    assert_eq!(status, 200, "{after}");
    t.remember(after["user_key"].as_str().unwrap_or_default());
    assert_ne!(after["user_key"], victim["user_key"]);
    assert_eq!(reset(&t, &t.base, "999999", ADMIN_API_KEY).await.0, 404);
    t.assert_logs_clean();
}

/// Follows `apps/core/social_helpers.py` (`SocialHelper.create_or_retrieve_social_user`: no
/// `allow_create`, no new user, `PermissionDenied('You do not have permission to create new
/// user.')`; an existing user is retrieved) and `apps/users/v1/views.py` (`SocialAuthView.post`
/// passes the key's `allow_user_create`).
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_key_without_allow_user_create_cannot_create_users() {
    let t = spawn_app().await;
    let (person, first_token) = t.facebook_user("Already Here", None);
    let (status, returning) = json(t.syncano_login(&first_token).await).await;
    assert_eq!(status, 200, "{returning}");
    t.remember(returning["user_key"].as_str().unwrap_or_default());
    let (_, key) = t
        .app
        .store
        .create_api_key(&instance(), ApiKeyPermissions { ignore_acl: false, allow_user_create: false })
        .await
        .expect("key");
    t.remember(key.expose());
    let login = |token: String| {
        let req = t
            .http
            .post(t.syncano_url(INSTANCE))
            .header("x-api-key", key.expose())
            .json(&json!({ "access_token": token }));
        send(req)
    };
    let before = t.login_writes().await;
    let (_, newcomer) = t.facebook_user("New Comer", None);
    assert_eq!(login(newcomer).await, (403, json!({ "detail": "You do not have permission to create new user." })));
    assert_eq!(t.login_writes().await, before, "nothing written");
    // That key still logs returning users in.
    let (status, body) = login(t.token(&person, APP_ID, 3600)).await;
    assert_eq!((status, &body["id"]), (200, &returning["id"]), "{body}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_unknown_instance_answers_exactly_like_a_known_one_without_a_valid_key() {
    let t = spawn_app().await;
    let zeros = "0".repeat(40);
    let login = |instance: &str, key: Option<&str>| {
        let mut req = t.http.post(t.syncano_url(instance)).json(&json!({ "access_token": EVENT_TOKEN }));
        if let Some(k) = key {
            req = req.header("x-api-key", k);
        }
        send(req)
    };
    for key in [None, Some(zeros.as_str())] {
        let known = login(INSTANCE, key).await;
        assert_eq!(known.0, 403, "{known:?}");
        assert_eq!(login("no-such-instance", key).await, known, "login, key {key:?}");
        let known =
            current_user(&t, &t.base, INSTANCE, &key.map(|k| ("x-api-key", k)).into_iter().collect::<Vec<_>>()).await;
        let unknown = current_user(
            &t,
            &t.base,
            "no-such-instance",
            &key.map(|k| ("x-api-key", k)).into_iter().collect::<Vec<_>>(),
        )
        .await;
        assert_eq!(unknown, known, "user/, key {key:?}");
    }
    // A valid key of one instance on another that does not exist: the same wrong-key answer.
    assert_eq!(login("no-such-instance", Some(&t.api_key)).await, login(INSTANCE, Some(&zeros)).await);
}

/// The session item of `auth`: (count of SESSION items, its expires_at).
async fn session_expiry(t: &TestApp, auth: &str) -> (usize, Option<i64>) {
    let pk = format!("SESSION#{}", shared::domain::tokens::sha256_hex(auth));
    let items = t.scan().await;
    let sessions =
        items.iter().filter(|i| matches!(i.get("pk"), Some(AttributeValue::S(p)) if p.starts_with("SESSION#")));
    let expiry = items.iter().find(|i| i.get("pk") == Some(&AttributeValue::S(pk.clone()))).and_then(|i| {
        match i.get("expires_at") {
            Some(AttributeValue::N(n)) => n.parse().ok(),
            _ => None,
        }
    });
    (sessions.count(), expiry)
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn resume_hands_back_the_same_session_and_never_extends_it() {
    let t = spawn_app().await;
    let (_, token) = t.facebook_user("Resumer", None);
    let (auth, user_id) = rc_login_token(&t, &token).await;
    let before = session_expiry(&t, &auth).await;
    assert!(before.1.is_some());
    tokio::time::sleep(std::time::Duration::from_millis(1100)).await;
    for _ in 0..3 {
        let (status, body) =
            send(t.http.post(format!("{}/api/v1/login", t.base)).json(&json!({ "resume": auth }))).await;
        assert_eq!(status, 200, "{body}");
        assert_eq!(body["data"]["authToken"].as_str(), Some(auth.as_str()), "the same token back");
        assert_eq!(body["data"]["userId"].as_str(), Some(user_id.as_str()));
    }
    assert_eq!(session_expiry(&t, &auth).await, before, "no new session, the original expiry");
    t.assert_logs_clean();
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn remove_other_tokens_logs_the_user_out_everywhere_else() {
    let t = spawn_app().await;
    let (_, token) = t.facebook_user("Many Devices", None);
    let sessions: Vec<(String, String)> = futures::future::join_all((0..3).map(|_| rc_login_token(&t, &token))).await;
    let (_, other_token) = t.facebook_user("Someone Else", None);
    let other = rc_login_token(&t, &other_token).await;
    let me = |s: &(String, String)| {
        let headers = [("x-auth-token", s.0.clone()), ("x-user-id", s.1.clone())];
        let req = with(
            t.http.get(format!("{}/api/v1/me", t.base)),
            &headers.iter().map(|(k, v)| (*k, v.as_str())).collect::<Vec<_>>(),
        );
        async move { send(req).await.0 }
    };
    let keep = &sessions[0];
    let headers = [("x-auth-token", keep.0.as_str()), ("x-user-id", keep.1.as_str())];
    let path = "/api/v1/users.removeOtherTokens";
    assert_eq!(rc(&t, reqwest::Method::POST, path, &headers).await, (200, json!({ "success": true })));
    assert_eq!(me(keep).await, 200, "this session stays");
    for s in &sessions[1..] {
        assert_eq!(me(s).await, 401, "every other session of the user is gone");
    }
    assert_eq!(me(&other).await, 200, "nobody else's");
    assert_eq!(
        t.count(&format!("USESS#{INSTANCE}#")).await,
        2,
        "the user's list holds this session only (and the other user's)"
    );
    let logged_out = rc_not_logged_in();
    assert_eq!(rc(&t, reqwest::Method::POST, path, &[]).await, (401, logged_out.clone()));
    let stale = [("x-auth-token", sessions[1].0.as_str()), ("x-user-id", sessions[1].1.as_str())];
    assert_eq!(rc(&t, reqwest::Method::POST, path, &stale).await, (401, logged_out));
    t.assert_logs_clean();
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn me_and_user_answer_in_their_dialect_for_every_credential_failure() {
    let t = spawn_app().await;
    let (_, token) = t.facebook_user("Dialect Cat", None);
    let (auth, user_id) = rc_login_token(&t, &token).await;
    let logged_out = (401, rc_not_logged_in());
    let headers = [("x-auth-token", auth.as_str()), ("x-user-id", user_id.as_str())];
    assert_eq!(rc(&t, reqwest::Method::POST, "/api/v1/logout", &headers).await.0, 200);
    // Rocket.Chat clients log the user out on this 401 (API Gateway's 403 left them stuck).
    assert_eq!(rc(&t, reqwest::Method::GET, "/api/v1/me", &headers).await, logged_out);
    assert_eq!(rc(&t, reqwest::Method::GET, "/api/v1/me", &[]).await, logged_out);
    assert_eq!(rc(&t, reqwest::Method::GET, "/api/v1/me", &[("x-auth-token", "x")]).await, logged_out);
    assert_eq!(rc(&t, reqwest::Method::POST, "/api/v1/logout", &headers).await, logged_out);
    let user = syncano_user(&t, "Dialect Key").await;
    let key = user["user_key"].as_str().expect("key");
    // `apps/users/permissions.py` (`HasUser`): DRF's permission denial.
    let bad_user_key = (403, json!({ "detail": "You do not have permission to perform this action." }));
    let api = t.api_key.clone();
    assert_eq!(
        current_user(&t, &t.base, INSTANCE, &[("x-api-key", &api), ("x-user-key", &"0".repeat(40))]).await,
        bad_user_key
    );
    assert_eq!(current_user(&t, &t.base, INSTANCE, &[("x-api-key", &api)]).await, bad_user_key);
    assert_eq!(current_user(&t, &t.base, INSTANCE, &[("x-api-key", &api), ("x-user-key", key)]).await.0, 200);
    t.assert_logs_clean();
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn each_authorizer_checks_its_own_scheme_only() {
    let t = spawn_app().await;
    let (_, token) = t.facebook_user("Scheme Cat", None);
    let (auth, rc_id) = rc_login_token(&t, &token).await;
    let user = syncano_user(&t, "Scheme Key").await;
    let key = user["user_key"].as_str().expect("key").to_string();
    let syncano_route = format!("{}{}", t.base, syncano_only(INSTANCE));
    let rc_route = format!("{}{ROCKETCHAT_ONLY}", t.base);
    let forbidden = (403, json!({ "message": "Forbidden" }));
    // Junk Syncano headers riding on a live Rocket.Chat session.
    let junk =
        [("x-api-key", "junk"), ("x-user-key", "junk"), ("x-auth-token", auth.as_str()), ("x-user-id", rc_id.as_str())];
    assert_eq!(send(with(t.http.get(&syncano_route), &junk)).await, forbidden);
    // Each scheme on its own route.
    let (status, body) =
        send(with(t.http.get(&syncano_route), &[("x-api-key", t.api_key.as_str()), ("x-user-key", key.as_str())]))
            .await;
    assert_eq!(status, 200, "{body}");
    assert_eq!(body["authorizer"]["lambda"]["userId"], user["id"]);
    let (status, body) = send(with(t.http.get(&rc_route), &[("x-auth-token", &auth), ("x-user-id", &rc_id)])).await;
    assert_eq!(status, 200, "{body}");
    assert_eq!(body["authorizer"]["lambda"]["rocketChatUserId"], json!(rc_id));
    // Junk Rocket.Chat headers with a valid user key on the Rocket.Chat route.
    let junk = [
        ("x-auth-token", "junk"),
        ("x-user-id", "junk"),
        ("x-api-key", t.api_key.as_str()),
        ("x-user-key", key.as_str()),
    ];
    assert_eq!(send(with(t.http.get(&rc_route), &junk)).await, forbidden);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_allow_for_one_instance_is_never_reused_for_another() {
    let t = spawn_app().await;
    let other = InstanceName::parse("other-tenant").expect("valid");
    t.app.store.create_instance(&other).await.expect("instance");
    let user = syncano_user(&t, "Tenant Cat").await;
    let key = user["user_key"].as_str().expect("key").to_string();
    let headers = [("x-api-key", t.api_key.as_str()), ("x-user-key", key.as_str())];
    let (status, body) = send(with(t.http.get(format!("{}{}", t.base, syncano_only(INSTANCE))), &headers)).await;
    assert_eq!((status, &body["authorizer"]["lambda"]["instance"]), (200, &json!(INSTANCE)), "{body}");
    // The same headers, now on a route of another instance, within the cache's lifetime.
    let (status, body) = send(with(t.http.get(format!("{}{}", t.base, syncano_only("other-tenant"))), &headers)).await;
    assert_eq!((status, body), (403, json!({ "message": "Forbidden" })), "a cached allow crossed instances");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_leaked_token_secret_alone_does_not_give_a_users_key() {
    let t = spawn_app().await;
    let user = syncano_user(&t, "Salted Cat").await;
    let key = user["user_key"].as_str().expect("key");
    let id = user["id"].as_u64().expect("id");
    let leaked = &t.app.config.token_secrets.as_ref().expect("configured").current.1;
    // What an attacker holding TOKEN_SECRET (and the public id) can compute.
    for generation in 0..4 {
        assert_ne!(shared::domain::tokens::derive_legacy_user_key(leaked, INSTANCE, id, generation).expose(), key);
        for salt in ["", "0", INSTANCE] {
            assert_ne!(shared::domain::tokens::derive_user_key(leaked, INSTANCE, id, generation, salt).expose(), key);
        }
    }
    // The salt lives with the user, in the table.
    let stored = t.app.store.get_user(&instance(), id).await.expect("read").expect("user");
    let salt = stored.key_salt.clone().expect("a salt");
    assert_eq!(salt.len(), 32);
    assert_eq!(shared::domain::tokens::derive_user_key(leaked, INSTANCE, id, 1, &salt).expose(), key, "secret + salt");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn rotating_the_token_secret_keeps_every_users_key_working() {
    let t = spawn_app().await;
    let (_, token) = t.facebook_user("Rotated Cat", None);
    let (_, before) = json(t.syncano_login(&token).await).await;
    let old_key = before["user_key"].as_str().expect("key").to_string();
    t.remember(&old_key);
    // The rotation: a new current secret (version 2), the old one kept as the previous.
    let mut vars = t.vars.clone();
    let old_secret = vars["TOKEN_SECRET"].clone();
    let new_secret = "n".repeat(16) + &"e".repeat(16) + "w-secret";
    t.remember(&new_secret);
    vars.insert("TOKEN_SECRET".into(), new_secret);
    vars.insert("TOKEN_SECRET_VERSION".into(), "2".into());
    vars.insert("TOKEN_SECRET_PREVIOUS".into(), old_secret);
    vars.insert("TOKEN_SECRET_PREVIOUS_VERSION".into(), "1".into());
    let rotated = Arc::new(shared::App::from_vars(&vars).await.expect("rotated config"));
    let base = serve_app(rotated.clone()).await;
    let api = t.api_key.clone();
    // The key the user holds still works, and the login still answers it.
    let (status, me) = current_user(&t, &base, INSTANCE, &[("x-api-key", &api), ("x-user-key", &old_key)]).await;
    assert_eq!((status, me["user_key"].as_str()), (200, Some(old_key.as_str())));
    let again = send(
        t.http
            .post(format!("{base}/v1.1/instances/{INSTANCE}/user/auth/facebook/"))
            .header("x-api-key", &api)
            .json(&json!({ "access_token": token })),
    )
    .await;
    assert_eq!((again.0, again.1["user_key"].as_str()), (200, Some(old_key.as_str())));
    // The new secret applies from the next reset.
    let (status, after) = reset(&t, &base, &before["id"].to_string(), ADMIN_API_KEY).await;
    assert_eq!(status, 200, "{after}");
    let new_key = after["user_key"].as_str().expect("key").to_string();
    t.remember(&new_key);
    let stored =
        rotated.store.get_user(&instance(), before["id"].as_u64().expect("id")).await.expect("read").expect("user");
    assert_eq!(stored.key_version, 2);
    assert_eq!(current_user(&t, &base, INSTANCE, &[("x-api-key", &api), ("x-user-key", &new_key)]).await.0, 200);
    assert_eq!(current_user(&t, &base, INSTANCE, &[("x-api-key", &api), ("x-user-key", &old_key)]).await.0, 403);
    // And a new user is made with it.
    let (_, newcomer) = t.facebook_user("After Rotation", None);
    let fresh = send(
        t.http
            .post(format!("{base}/v1.1/instances/{INSTANCE}/user/auth/facebook/"))
            .header("x-api-key", &api)
            .json(&json!({ "access_token": newcomer })),
    )
    .await;
    assert_eq!(fresh.0, 200);
    t.remember(fresh.1["user_key"].as_str().unwrap_or_default());
    let stored =
        rotated.store.get_user(&instance(), fresh.1["id"].as_u64().expect("id")).await.expect("read").expect("user");
    assert_eq!(stored.key_version, 2);
    t.assert_logs_clean();
}

/// `appsecret_proof = HMAC-SHA256(app secret, token)` and a Facebook `signed_request`'s signature
/// is `HMAC-SHA256(app secret, payload)`: a "token" that is a base64url JSON payload would make
/// us compute (and send) a valid signature for a deletion or deauthorize request of the
/// attacker's choosing. Such a token is refused before any proof is computed: 401 as for any
/// token Graph would refuse, and Graph is never called.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_facebook_token_that_is_a_signed_request_payload_gets_no_appsecret_proof() {
    use base64::engine::general_purpose::{STANDARD, URL_SAFE_NO_PAD};
    use base64::Engine;
    let t = spawn_app().await;
    let payload = json!({ "algorithm": "HMAC-SHA256", "issued_at": 1_700_000_000, "user_id": "1234567890" });
    let raw = serde_json::to_vec(&payload).expect("payload");
    let before = t.emulator.request_count();
    for token in [URL_SAFE_NO_PAD.encode(&raw), STANDARD.encode(&raw), URL_SAFE_NO_PAD.encode(b"  {\"a\":1} ")] {
        let (status, body) = json(t.syncano_login(&token).await).await;
        assert_eq!(status, 401, "{token}: {body}");
        let (status, body) = send(
            t.http
                .post(format!("{}/api/v1/login", t.base))
                .json(&json!({ "serviceName": "facebook", "accessToken": token, "secret": "", "expiresIn": 3600 })),
        )
        .await;
        assert_eq!(status, 401, "{token}: {body}");
    }
    assert_eq!(t.emulator.request_count(), before, "Graph was asked with a proof of a JSON payload");
    // A real token still gets through.
    let (_, token) = t.facebook_user("Proof Person", None);
    assert_eq!(t.syncano_login(&token).await.status(), 200);
    t.assert_logs_clean();
}

/// The avatar answer as a comparable shape: status, the headers (by name, with their values),
/// the body.
async fn avatar(t: &TestApp, path: &str) -> (u16, Vec<(String, String)>, String) {
    let no_redirects = reqwest::Client::builder().redirect(reqwest::redirect::Policy::none()).build().expect("client");
    let resp = no_redirects.get(format!("{}/avatar/{path}", t.base)).send().await.expect("avatar");
    let status = resp.status().as_u16();
    let mut headers: Vec<(String, String)> = resp
        .headers()
        .iter()
        .filter(|(n, _)| !matches!(n.as_str(), "date" | "content-length" | "apigw-requestid"))
        .map(|(n, v)| (n.to_string(), v.to_str().unwrap_or_default().to_string()))
        .collect();
    headers.sort();
    (status, headers, resp.text().await.expect("body"))
}

/// Issue 28, point 5: `GET /avatar/{username}` redirected to the provider's picture URL (which
/// carries Facebook's app-scoped id or GitHub's account id) with `Cache-Control: public`, even
/// after a deletion, and 302 against 200 told whether a username exists. Now every name gets
/// the same initials answer, cached privately, which names no one at any provider.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_avatar_route_discloses_no_provider_id_nor_whether_a_username_exists() {
    let t = spawn_app().await;
    let (person, token) = t.facebook_user("Picture Cat", None);
    let (status, login) = json(t.rocketchat_login(&token).await).await;
    assert_eq!(status, 200, "{login}");
    t.remember(login["data"]["authToken"].as_str().unwrap_or_default());
    let username = login["data"]["me"]["username"].as_str().expect("username").to_string();
    assert_eq!(username, "picture.cat");
    // Rocket.Chat's `avatarUrl` contract: the `me` object points at this route.
    assert_eq!(login["data"]["me"]["avatarUrl"], format!("http://127.0.0.1:3000/avatar/{username}"));

    let known = avatar(&t, &username).await;
    assert_eq!(known.0, 200, "{known:?}");
    let text = format!("{known:?}");
    for leak in [person.as_str(), "fbsbx", "lookaside", "githubusercontent", "http"] {
        assert!(!text.replace("http://www.w3.org/2000/svg", "").contains(leak), "{leak} in {text}");
    }
    let cache = known.1.iter().find(|(n, _)| n == "cache-control").map(|(_, v)| v.as_str());
    assert!(cache.is_some_and(|c| c.starts_with("private")), "{cache:?}");
    assert!(known.1.iter().any(|(n, v)| n == "content-type" && v == "image/svg+xml"), "an image: {known:?}");
    // An unknown username of the same length and first letter: the very same answer.
    let unknown = avatar(&t, "picture.dog").await;
    assert_eq!(known, unknown, "existence is not disclosed");

    // After the user deletes the account, the answer is still that of any name.
    let rc_id = login["data"]["userId"].as_str().expect("userId");
    let auth = login["data"]["authToken"].as_str().expect("authToken");
    let resp = t
        .http
        .post(format!("{}/api/v1/users.deleteOwnAccount", t.base))
        .header("x-auth-token", auth)
        .header("x-user-id", rc_id)
        .json(&json!({ "password": shared::domain::tokens::sha256_hex(&username), "confirmRelinquish": true }))
        .send()
        .await
        .expect("delete");
    assert_eq!(resp.status().as_u16(), 200);
    assert_eq!(avatar(&t, &username).await, unknown);
    t.assert_logs_clean();
}

/// The initials SVG carries the requested name's initial only, escaped: no markup of a name
/// reaches the document.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_avatar_svg_escapes_what_it_draws() {
    let t = spawn_app().await;
    for path in ["%3Cscript%3E", "%26amp", "%22onload%3D", "@%3Cb%3E", "%3F"] {
        let (status, _, svg) = avatar(&t, path).await;
        assert_eq!(status, 200, "{path}");
        let text = svg.split("font-size").nth(1).unwrap_or_default();
        assert!(!text.contains("<script") && !text.contains("<b") && !text.contains("onload"), "{path}: {svg}");
        assert_eq!(svg.matches('<').count(), 5, "only the SVG's own elements: {path}: {svg}");
        assert!(!svg.contains("&\n") && !svg.contains('"'.to_string().repeat(2).as_str()), "{path}: {svg}");
    }
    let (_, _, svg) = avatar(&t, "@%26zed").await;
    assert!(svg.contains("\">\nZ\n</text>"), "{svg}");
}

/// A name is shown to other people: a provider's or a client's name with a right-to-left
/// override, zero-width or full-width characters is stored cleaned (NFKC, no format
/// characters), and the usernames people read as the operator's or as Rocket.Chat's bot are
/// never given.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn names_are_cleaned_and_reserved_usernames_never_given() {
    let t = spawn_app().await;
    // Facebook's name, through Syncano.
    let (_, token) = t.facebook_user("\u{202E}Ａｄ\u{200B}ｍｉｎ\u{FEFF}", None);
    let (status, user) = json(t.syncano_login(&token).await).await;
    assert_eq!(status, 200, "{user}");
    t.remember(user["user_key"].as_str().unwrap_or_default());
    assert_eq!(user["username"].as_str(), Some("admin.2"), "{user}");
    let id = user["id"].as_u64().expect("id");
    let stored = t.app.store.get_user(&instance(), id).await.expect("read").expect("user");
    assert_eq!(stored.name.as_deref(), Some("Admin"), "the name as others will see it");
    // Apple's fullName, which the client sends, through Rocket.Chat.
    let sub = t.emulator.create_oidc_user(emulator::OidcProvider::Apple, "ignored", None, true);
    let nonce = format!("nonce-{sub}");
    let id_token = t.emulator.issue_id_token(
        emulator::OidcProvider::Apple,
        &sub,
        local_stack::demo::APPLE_CLIENT_ID,
        Some(&nonce),
    );
    let body = json!({
        "serviceName": "apple", "identityToken": id_token, "nonce": nonce,
        "fullName": { "givenName": "Rocket\u{2066}", "familyName": "\u{3164}Cat\u{202E}" },
    });
    let (status, rc) = send(t.http.post(format!("{}/api/v1/login", t.base)).json(&body)).await;
    assert_eq!(status, 200, "{rc}");
    t.remember(rc["data"]["authToken"].as_str().unwrap_or_default());
    let me = &rc["data"]["me"];
    assert_eq!((me["name"].as_str(), me["username"].as_str()), (Some("Rocket Cat"), Some("rocket.cat.2")), "{me}");
    t.assert_logs_clean();
}
