//! Rocket.Chat compatibility: one test per case of docs/compatibility.md, through the local
//! gateway. Each test names the real server's source file it follows (RocketChat/Rocket.Chat
//! unless it says meteor/meteor); where we deviate on purpose, the doc says why.

use emulator::OidcProvider;
use local_stack::demo::{APPLE_CLIENT_ID, GOOGLE_CLIENT_ID};
use serde_json::{json, Value};

use crate::helpers::*;

async fn post_login(t: &TestApp, content_type: &str, body: &str) -> reqwest::Response {
    t.http
        .post(format!("{}/api/v1/login", t.base))
        .header("content-type", content_type)
        .body(body.to_string())
        .send()
        .await
        .expect("request")
}

fn content_type(resp: &reqwest::Response) -> String {
    resp.headers().get("content-type").and_then(|v| v.to_str().ok()).unwrap_or_default().to_string()
}

fn header(resp: &reqwest::Response, name: &str) -> Option<String> {
    resp.headers().get(name).and_then(|v| v.to_str().ok()).map(str::to_string)
}

/// A Rocket.Chat login refusal: 401, JSON, the body given, and no user or session written.
async fn assert_refused(t: &TestApp, resp: reqwest::Response, body: &Value) {
    assert_eq!(content_type(&resp), "application/json");
    assert_eq!(json(resp).await, (401, body.clone()));
    assert_eq!(t.login_writes().await, [0, 0, 0, 0]);
}

async fn rc_login(t: &TestApp, body: Value) -> (String, String, Value) {
    let (status, login) =
        json(t.http.post(format!("{}/api/v1/login", t.base)).json(&body).send().await.expect("req")).await;
    assert_eq!(status, 200, "{login}");
    let auth = login["data"]["authToken"].as_str().expect("authToken").to_string();
    t.remember(&auth);
    (auth, login["data"]["userId"].as_str().expect("userId").to_string(), login)
}

fn facebook_login(token: &str) -> Value {
    json!({"serviceName": "facebook", "accessToken": token, "secret": "s", "expiresIn": 3600})
}

// apps/meteor/app/api/server/ApiClass.ts: the login route answers `self.success({status, data})`,
// and `success()` adds `success: true` to the object.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_login_answer_carries_success_true() {
    let t = spawn_app().await;
    let (_, token) = t.facebook_user("Success Cat", None);
    let resp = t.rocketchat_login(&token).await;
    assert_eq!(content_type(&resp), "application/json");
    let (status, body) = json(resp).await;
    assert_eq!(status, 200, "{body}");
    t.remember(body["data"]["authToken"].as_str().unwrap_or_default());
    assert_eq!((body["success"].as_bool(), body["status"].as_str()), (Some(true), Some("success")));
    let keys: Vec<&String> = body.as_object().expect("object").keys().collect();
    assert_eq!(keys, ["data", "status", "success"]);
    let data: Vec<&String> = body["data"].as_object().expect("data").keys().collect();
    assert_eq!(data, ["authToken", "me", "userId"]);
}

// meteor/meteor packages/accounts-base/accounts_server.js (`_runLoginHandlers`: no handler takes
// a request without credentials: "Unrecognized options for login request"), turned into `User not
// found` by apps/meteor/app/lib/server/lib/loginErrorMessageOverride.ts and into `Unauthorized` by
// ApiClass.ts's login route. The OAuth handler skips a falsy accessToken
// (apps/meteor/server/lib/auth-providers/oauth/oauth.ts).
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_missing_or_empty_access_token_is_401_unauthorized() {
    let t = spawn_app().await;
    for body in [
        json!({"serviceName": "facebook", "secret": "s", "expiresIn": 3600}),
        json!({"serviceName": "facebook", "accessToken": "", "secret": "s", "expiresIn": 3600}),
        json!({"serviceName": "facebook", "accessToken": null, "expiresIn": 3600}),
    ] {
        assert_refused(&t, post_login(&t, "application/json", &body.to_string()).await, &rc_login_unauthorized()).await;
    }
}

// Same sources: a body Rocket.Chat cannot read leaves `bodyParams` empty, which no login handler
// takes (accounts_server.js `_runLoginHandlers` → loginErrorMessageOverride.ts → ApiClass.ts).
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_empty_or_non_json_body_is_401_unauthorized() {
    let t = spawn_app().await;
    for (ct, body) in [
        ("application/json", ""),
        ("application/json", "{}"),
        ("application/json", r#"{"serviceName": "facebook", "#),
        ("application/json", "[1, 2]"),
        ("text/plain", "serviceName=facebook"),
    ] {
        assert_refused(&t, post_login(&t, ct, body).await, &rc_login_unauthorized()).await;
    }
}

// apps/meteor/server/lib/auth-providers/oauth/facebook.ts: `check(options, Match.ObjectIncluding(
// {expiresIn: Match.Integer}))` throws a Match.Error, not a Meteor.Error, so today's ApiClass.ts
// answers 500 `Internal server error` (a bug); apps/meteor/app/api/server/api.js (the older API)
// answered 401 with the message. We answer that 401, in today's envelope.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_non_integer_expires_in_is_401_naming_the_field() {
    let t = spawn_app().await;
    for expires in [json!("200"), json!(2.5), json!({})] {
        let body = json!({"serviceName": "facebook", "accessToken": "EAAx", "secret": "s", "expiresIn": expires});
        let expected = json!({"success": false, "status": "error", "error": "error-invalid-params",
                              "message": "expiresIn must be an integer."});
        assert_refused(&t, post_login(&t, "application/json", &body.to_string()).await, &expected).await;
    }
    assert_eq!(t.emulator.request_count(), 0, "Facebook is not asked");
}

// apps/meteor/server/lib/auth-providers/oauth/oauth.ts: an unknown serviceName throws
// `new Error('Unexpected AccessToken service …')` (a plain Error: 500 in today's ApiClass.ts, a
// bug); the older api.js answered 401 with that message, which we answer.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_unknown_service_name_is_401_naming_it() {
    let t = spawn_app().await;
    let body = json!({"serviceName": "myspace", "accessToken": "x", "secret": "s", "expiresIn": 1});
    let expected = json!({"success": false, "status": "error", "error": "error-invalid-service",
                          "message": "Unexpected AccessToken service myspace"});
    assert_refused(&t, post_login(&t, "application/json", &body.to_string()).await, &expected).await;
}

// apps/meteor/server/lib/auth-providers/oauth/facebook.ts throws a plain Error when Graph refuses
// the token (500 today, a bug; 401 in the older api.js, with Facebook's error text). We answer the
// 401 with ApiClass.ts's `Unauthorized` body, and no provider detail.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_rejected_token_is_401_unauthorized() {
    let t = spawn_app().await;
    let person = t.emulator.create_facebook_user("Refused Cat", None);
    let expired = t.token(&person, APP_ID, -1);
    let resp = post_login(&t, "application/json", &facebook_login(&expired).to_string()).await;
    assert_refused(&t, resp, &rc_login_unauthorized()).await;
}

// meteor/meteor packages/accounts-base/accounts_server.js (`defaultResumeLoginHandler`: an unknown
// token is `Meteor.Error(403, "You've been logged out by the server. Please log in again.")`),
// replaced by apps/meteor/app/lib/server/lib/loginErrorMessageOverride.ts with `User not found`,
// which ApiClass.ts answers as 401 `Unauthorized`.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_invalid_resume_token_is_401_unauthorized() {
    let t = spawn_app().await;
    let (_, token) = t.facebook_user("Resumed Cat", None);
    let (auth, user_id, _) = rc_login(&t, facebook_login(&token)).await;
    let resp = t
        .http
        .post(format!("{}/api/v1/logout", t.base))
        .header("x-auth-token", &auth)
        .header("x-user-id", &user_id)
        .send()
        .await
        .expect("logout");
    assert_eq!(resp.status().as_u16(), 200);
    for token in [auth.as_str(), "never-issued-token", ""] {
        let resp = post_login(&t, "application/json", &json!({ "resume": token }).to_string()).await;
        assert_eq!(content_type(&resp), "application/json");
        assert_eq!(json(resp).await, (401, rc_login_unauthorized()), "{token:?}");
    }
    t.assert_logs_clean();
}

// apps/meteor/app/api/server/ApiClass.ts: an `authRequired` route without a user answers
// `unauthorized('You must be logged in to do this.')` plus `status` and `message`.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn me_logout_and_remove_other_tokens_without_credentials_answer_unauthorized() {
    let t = spawn_app().await;
    let routes = [
        (reqwest::Method::GET, "/api/v1/me"),
        (reqwest::Method::POST, "/api/v1/logout"),
        (reqwest::Method::GET, "/api/v1/logout"),
        (reqwest::Method::POST, "/api/v1/users.removeOtherTokens"),
    ];
    let credentials: [&[(&str, &str)]; 3] = [
        &[],
        &[("x-auth-token", "not-a-session")],
        &[("x-auth-token", "not-a-session"), ("x-user-id", "aYjNnig8BEAWeQzMh")],
    ];
    for (method, path) in routes {
        for headers in credentials {
            let mut req = t.http.request(method.clone(), format!("{}{path}", t.base));
            for (k, v) in headers {
                req = req.header(*k, *v);
            }
            let resp = req.send().await.expect("request");
            assert_eq!(content_type(&resp), "application/json");
            assert_eq!(json(resp).await, (401, rc_not_logged_in()), "{method} {path} {headers:?}");
        }
    }
}

// apps/meteor/app/api/server/helpers/getUserInfo.ts: `email` is the first verified address,
// `emails[].verified` as stored, `_updatedAt`, `settings.profile` and `settings.preferences`,
// `avatarUrl`, `isOAuthUser`, `services.password.exists`; `utcOffset` is the user's own (we never
// know it, so it is left out).
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_me_object_is_get_user_info_for_an_oauth_user() {
    let t = spawn_app().await;
    let sub = t.emulator.create_oidc_user(OidcProvider::Google, "Gina Google", Some("gina@gmail.com"), true);
    let id_token = t.emulator.issue_id_token(OidcProvider::Google, &sub, GOOGLE_CLIENT_ID, None);
    t.remember(&id_token);
    let (auth, user_id, login) =
        rc_login(&t, json!({"serviceName": "google", "idToken": id_token, "expiresIn": 3600})).await;
    let me = &login["data"]["me"];
    assert_eq!(me["email"], "gina@gmail.com", "the provider vouches for it: {me}");
    assert_eq!(me["emails"], json!([{"address": "gina@gmail.com", "verified": true}]));
    assert_eq!(me["settings"], json!({"profile": {}, "preferences": {}}));
    assert_eq!((me["isOAuthUser"].as_bool(), me["active"].as_bool()), (Some(true), Some(true)));
    assert_eq!(me["services"], json!({"password": {"exists": false}}));
    assert_eq!(me["avatarUrl"], format!("http://127.0.0.1:3000/avatar/{}", me["username"].as_str().unwrap_or("")));
    assert!(me.get("utcOffset").is_none(), "unknown, so absent: {me}");
    let updated = me["_updatedAt"].as_str().expect("_updatedAt");
    assert!(updated.len() == 24 && updated.ends_with('Z') && updated.as_bytes()[19] == b'.', "{updated}");
    for key in ["_id", "name", "emails", "status", "statusConnection", "username", "active", "roles", "settings"] {
        assert!(me.get(key).is_some(), "the seed's {key} stays: {me}");
    }
    // `me` answers the same object, with `success` (ApiClass.ts `success()`).
    let (status, body) = json(t.me(&auth, &user_id).await).await;
    let mut expected = me.clone();
    expected["success"] = json!(true);
    assert_eq!((status, body), (200, expected));

    // A Facebook user: Facebook vouches for no address, so no top-level `email`.
    let (_, token) = t.facebook_user("Unverified Cat", Some("cat@example.com"));
    let (_, _, login) = rc_login(&t, facebook_login(&token)).await;
    let me = &login["data"]["me"];
    assert!(me.get("email").is_none(), "{me}");
    assert_eq!(me["emails"], json!([{"address": "cat@example.com", "verified": false}]));
    t.assert_logs_clean();
}

// apps/meteor/server/routes/avatar/user.ts and utils.ts: `/avatar/{username}` answers a user
// without an uploaded avatar with the initials SVG, `Cache-Control: <...> max-age=<AvatarCacheTime>`
// and `Content-Disposition: inline`; getUserInfo.ts points `avatarUrl` at it. We never redirect to
// the provider's picture (its URL names the person at the provider: docs/security.md), and cache
// privately.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_avatar_url_answers_the_initials_never_the_providers_picture() {
    let t = spawn_app().await;
    let (_, token) = t.facebook_user("Picture Cat", None);
    let (_, _, login) = rc_login(&t, facebook_login(&token)).await;
    let username = login["data"]["me"]["username"].as_str().expect("username").to_string();
    let avatar_url = login["data"]["me"]["avatarUrl"].as_str().expect("avatarUrl").to_string();
    assert_eq!(avatar_url, format!("http://127.0.0.1:3000/avatar/{username}"));
    let no_redirects = reqwest::Client::builder().redirect(reqwest::redirect::Policy::none()).build().expect("client");
    let resp = no_redirects.get(format!("{}/avatar/{username}", t.base)).send().await.expect("avatar");
    assert_eq!(resp.status().as_u16(), 200);
    assert_eq!(header(&resp, "location"), None);
    assert_eq!(header(&resp, "content-type").as_deref(), Some("image/svg+xml"));
    assert_eq!(header(&resp, "cache-control").as_deref(), Some("private, max-age=3600"));
    assert_eq!(header(&resp, "content-disposition").as_deref(), Some("inline"));
    assert!(resp.text().await.expect("svg").contains("\">\nP\n</text>"));
}

// apps/meteor/server/routes/avatar/user.ts and utils.ts (`renderSVGLetters`,
// `FALLBACK_LAST_MODIFIED`, `wasFallbackModified`): a user without a picture, an unknown
// username and `@name` get the initials SVG, with the fixed Last-Modified and a 304 for it.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_avatar_without_picture_or_user_is_the_initials_svg() {
    let t = spawn_app().await;
    let sub = t.emulator.create_oidc_user(OidcProvider::Apple, "ignored", Some("ann@icloud.com"), true);
    let id_token = t.emulator.issue_id_token(OidcProvider::Apple, &sub, APPLE_CLIENT_ID, Some("n1"));
    t.remember(&id_token);
    let (_, _, login) = rc_login(
        &t,
        json!({"serviceName": "apple", "identityToken": id_token, "nonce": "n1", "fullName": "Ann Apple"}),
    )
    .await;
    assert_eq!(login["data"]["me"]["username"], "ann.apple");
    for (path, initial) in [("ann.apple", "A"), ("nobody.here", "N"), ("@zed", "Z"), ("%40zed", "Z")] {
        let resp = t.http.get(format!("{}/avatar/{path}?size=64", t.base)).send().await.expect("avatar");
        assert_eq!(resp.status().as_u16(), 200, "{path}");
        assert_eq!(header(&resp, "content-type").as_deref(), Some("image/svg+xml"), "{path}");
        assert_eq!(header(&resp, "cache-control").as_deref(), Some("private, max-age=3600"));
        assert_eq!(header(&resp, "content-disposition").as_deref(), Some("inline"));
        assert_eq!(header(&resp, "last-modified").as_deref(), Some("Thu, 01 Jan 2015 00:00:00 GMT"));
        assert_eq!(header(&resp, "content-security-policy").as_deref(), Some("default-src 'none'"));
        let svg = resp.text().await.expect("svg");
        assert!(svg.starts_with("<svg xmlns=\"http://www.w3.org/2000/svg\" viewBox=\"0 0 64 64\">"), "{svg}");
        assert!(svg.contains(&format!("\">\n{initial}\n</text>")), "{path}: {svg}");
    }
    let resp = t
        .http
        .get(format!("{}/avatar/nobody.here", t.base))
        .header("if-modified-since", "Thu, 01 Jan 2015 00:00:00 GMT")
        .send()
        .await
        .expect("avatar");
    assert_eq!(resp.status().as_u16(), 304);
    assert_eq!(header(&resp, "cache-control").as_deref(), Some("private, max-age=3600"));
    assert!(resp.bytes().await.expect("body").is_empty());
}

// apps/meteor/app/api/server/ApiClass.ts: `logout` is registered with `get()` (deprecated,
// "will be removed in Restivus v1.0") and `post()`, both calling the same action.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn get_logout_works_like_post() {
    let t = spawn_app().await;
    let (_, token) = t.facebook_user("Get Out Cat", None);
    let (auth, user_id, _) = rc_login(&t, facebook_login(&token)).await;
    let logout =
        || t.http.get(format!("{}/api/v1/logout", t.base)).header("x-auth-token", &auth).header("x-user-id", &user_id);
    let resp = logout().send().await.expect("logout");
    assert_eq!(content_type(&resp), "application/json");
    assert_eq!(json(resp).await, (200, json!({"status": "success", "data": {"message": "You've been logged out!"}})));
    assert_eq!(json(logout().send().await.expect("again")).await, (401, rc_not_logged_in()));
    assert_eq!(t.count("SESSION#").await, 0);
    t.assert_logs_clean();
}
