//! Rocket.Chat dialect: `POST /api/v1/login`.

use emulator::Fault;
use futures::future::join_all;
use serde_json::json;
use shared::domain::tokens::sha256_hex;

use crate::helpers::*;

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn first_login_creates_the_user_and_each_login_gets_a_fresh_session() {
    let t = spawn_app().await;
    let (person, token) = t.facebook_user("Rocket Cat", Some("cat@example.com"));
    let (status, body) = json(t.rocketchat_login(&token).await).await;
    assert_eq!(status, 200, "{body}");
    assert_eq!((body["status"].as_str(), body["success"].as_bool()), (Some("success"), Some(true)));
    let data = &body["data"];
    let auth = data["authToken"].as_str().expect("authToken").to_string();
    t.remember(&auth);
    assert!(auth.len() >= 43, "at least 256 bits: {}", auth.len());
    let user_id = data["userId"].as_str().expect("userId").to_string();
    let me = &data["me"];
    assert_eq!(me["_id"].as_str(), Some(user_id.as_str()));
    assert_eq!(user_id.len(), 17);
    assert_eq!(me["name"], "Rocket Cat");
    // `rocket.cat` is Rocket.Chat's own bot: reserved, so the name starts at its first suffix.
    assert_eq!(me["username"], "rocket.cat.2");
    assert_eq!(me["emails"], json!([{"address": "cat@example.com", "verified": false}]));
    assert_eq!((me["status"].as_str(), me["statusConnection"].as_str()), (Some("offline"), Some("offline")));
    assert_eq!((me.get("utcOffset"), me["active"].as_bool()), (None, Some(true)));
    assert_eq!(me["roles"], json!(["user"]));
    assert_eq!(me["settings"], json!({"profile": {}, "preferences": {}}));
    assert_eq!(me["avatarUrl"], "http://127.0.0.1:3000/avatar/rocket.cat.2");
    assert_eq!(t.login_writes().await, [1, 1, 1, 1]);

    // The session is stored under the token's hash, never the token.
    assert_eq!(t.count(&format!("SESSION#{}", sha256_hex(&auth))).await, 1);
    assert!(!format!("{:?}", t.scan().await).contains(&auth));

    let again = t.token(&person, APP_ID, 3600);
    let (status, body2) = json(t.rocketchat_login(&again).await).await;
    assert_eq!(status, 200);
    assert_eq!(body2["data"]["userId"].as_str(), Some(user_id.as_str()));
    let auth2 = body2["data"]["authToken"].as_str().unwrap_or_default().to_string();
    t.remember(&auth2);
    assert_ne!(auth2, auth);
    assert_eq!(t.login_writes().await, [1, 1, 1, 2]);

    // The same person through the Syncano API is the same user of the default instance.
    let (_, su) = json(t.syncano_login(&again).await).await;
    assert_eq!(su["username"], "rocket.cat.2");
    t.remember(su["user_key"].as_str().unwrap_or_default());
    t.assert_logs_clean();
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn concurrent_first_logins_make_one_user() {
    let t = spawn_app_with(slow_machine).await;
    let person = t.emulator.create_facebook_user("Twin Login", None);
    let tokens: Vec<String> = (0..100).map(|_| t.token(&person, APP_ID, 3600)).collect();
    let responses = join_all(tokens.iter().map(|tok| async { json(t.rocketchat_login(tok).await).await })).await;
    let first = responses[0].1["data"]["userId"].clone();
    for (status, body) in &responses {
        assert_eq!(*status, 200, "{body}");
        assert_eq!(body["data"]["userId"], first);
        t.remember(body["data"]["authToken"].as_str().unwrap_or_default());
    }
    assert_eq!(t.login_writes().await, [1, 1, 1, 100]);
    t.assert_logs_clean();
}

#[tokio::test]
async fn rejected_tokens_are_401_and_the_client_secret_is_never_trusted() {
    let t = spawn_app().await;
    let person = t.emulator.create_facebook_user("Mallory", None);
    let other_app = t.token(&person, OTHER_APP_ID, 3600);
    let expired = t.token(&person, APP_ID, -1);
    let unauthorized = rc_login_unauthorized();
    for token in [other_app.as_str(), expired.as_str(), "EAAgarbage"] {
        assert_eq!(json(t.rocketchat_login(token).await).await, (401, unauthorized.clone()));
    }
    // Rocket.Chat itself would accept another app's token if the client sends that app's secret.
    let resp = t
        .http
        .post(format!("{}/api/v1/login", t.base))
        .json(&json!({"serviceName": "facebook", "accessToken": other_app, "secret": "other-app's secret", "expiresIn": 60}))
        .send()
        .await
        .expect("request");
    assert_eq!(resp.status().as_u16(), 401);
    assert_eq!(t.login_writes().await, [0, 0, 0, 0]);
    t.assert_logs_clean();
}

#[tokio::test]
async fn provider_failures_are_502_or_504_and_write_nothing() {
    let t = spawn_app().await;
    let (_, token) = t.facebook_user("Patient User", None);
    for (fault, status, error) in
        [(Fault::Status500, 502, "error-provider-unavailable"), (Fault::Hang, 504, "error-provider-timeout")]
    {
        t.emulator.set_fault(fault);
        let (s, body) = json(t.rocketchat_login(&token).await).await;
        assert_eq!(
            (s, body["success"].as_bool(), body["status"].as_str(), body["error"].as_str()),
            (status, Some(false), Some("error"), Some(error)),
            "{body}"
        );
    }
    assert_eq!(t.login_writes().await, [0, 0, 0, 0]);
}

/// Every malformed login is a 401 in Rocket.Chat's envelope, never a 400 (its login route answers
/// every failure with `unauthorized()`: apps/meteor/app/api/server/ApiClass.ts); the cases one by
/// one, with their sources: compat_rocketchat.rs.
#[tokio::test]
async fn bad_input_is_401_in_rocketchat_shape() {
    let t = spawn_app().await;
    let url = format!("{}/api/v1/login", t.base);
    let cases = [
        (r#"{"serviceName":"facebook","accessToken":"x","secret":"s","expiresIn":"200"}"#, "expiresIn"),
        (r#"{"serviceName":"facebook","accessToken":"x","secret":"s","expiresIn":2.5}"#, "expiresIn"),
        (r#"{"serviceName":"facebook","accessToken":"x","secret":"s"}"#, "expiresIn"),
        (r#"{"serviceName":"facebook","secret":"s","expiresIn":1}"#, "Unauthorized"),
        (r#"{"serviceName":"facebook","accessToken":{},"expiresIn":1}"#, "accessToken"),
        (r#"{"serviceName":7,"accessToken":"x","expiresIn":1}"#, "serviceName"),
        (r#"{"serviceName":"myspace","accessToken":"x","secret":"s","expiresIn":1}"#, "myspace"),
        (r#"{"serviceName":"facebook","#, "Unauthorized"),
        ("null", "Unauthorized"),
    ];
    for (body, needle) in cases {
        let resp =
            t.http.post(&url).header("content-type", "application/json").body(body).send().await.expect("request");
        let (status, err) = json(resp).await;
        assert_eq!(
            (status, err["success"].as_bool(), err["status"].as_str()),
            (401, Some(false), Some("error")),
            "{body}: {err}"
        );
        assert!(err["message"].as_str().unwrap_or_default().contains(needle), "{err} should mention {needle}");
    }
    let resp = t.http.post(&url).header("content-type", "text/xml").body("<login/>").send().await.expect("request");
    assert_eq!(resp.status().as_u16(), 401);
    let resp = t
        .http
        .post(&url)
        .header("content-type", "application/json")
        .body(vec![b'{'; 100_000])
        .send()
        .await
        .expect("request");
    assert_eq!(resp.status().as_u16(), 401);
    assert_eq!(t.login_writes().await, [0, 0, 0, 0]);
}
