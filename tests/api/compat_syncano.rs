//! Compatibility with Syncano's open-sourced platform (`Syncano/syncano-platform`), one test per
//! case of `docs/compatibility.md` (Syncano), through the local gateway. Each names the platform's
//! source file it follows; a deliberate deviation says so.

use serde_json::{json, Value};

use crate::helpers::*;

async fn send(req: reqwest::RequestBuilder) -> (u16, Value) {
    json(req.send().await.expect("request")).await
}

/// (status, `Allow`, body) of a request.
async fn send_allow(req: reqwest::RequestBuilder) -> (u16, Option<String>, Value) {
    let resp = req.send().await.expect("request");
    let allow = resp.headers().get("allow").and_then(|v| v.to_str().ok()).map(str::to_string);
    let (status, body) = json(resp).await;
    (status, allow, body)
}

fn detail(text: &str) -> Value {
    json!({ "detail": text })
}

const NO_PERMISSION: &str = "You do not have permission to perform this action.";

/// A Facebook token of a new person and the login body carrying it.
fn login_body(t: &TestApp, name: &str) -> Value {
    let (_, token) = t.facebook_user(name, None);
    json!({ "access_token": token })
}

/// `apps/core/authentication.py` (no key: no `request.auth`) with `apps/users/v1/views.py`
/// (`SocialAuthView.permission_classes`: `IsApiKeyAccess`): DRF's permission denial.
#[tokio::test]
async fn no_api_key_is_403_you_do_not_have_permission() {
    let t = spawn_app().await;
    let body = login_body(&t, "Keyless");
    let (status, answer) = send(t.http.post(t.syncano_url(INSTANCE)).json(&body)).await;
    assert_eq!((status, answer), (403, detail(NO_PERMISSION)));
    // The same on user/ and reset_key/.
    let user = format!("{}/v1.1/instances/{INSTANCE}/user/", t.base);
    assert_eq!(send(t.http.get(user)).await, (403, detail(NO_PERMISSION)));
    let reset = format!("{}/v1.1/instances/{INSTANCE}/users/1/reset_key/", t.base);
    assert_eq!(send(t.http.post(reset)).await, (403, detail(NO_PERMISSION)));
}

/// `apps/core/authentication.py` (`get_auth`: `AuthenticationFailed('No such API Key.')`, made a
/// 403 by DRF as the authenticator has no `authenticate_header`). Deviation: an unknown instance
/// answers the same (the platform's `apps/instances/mixins.py` answers 404 "Instance was not
/// found."), so instance names cannot be enumerated.
#[tokio::test]
async fn an_unknown_api_key_or_instance_is_403_no_such_api_key() {
    let t = spawn_app().await;
    let body = login_body(&t, "Wrong Key");
    let wrong = "0".repeat(40);
    let (status, answer) = send(t.http.post(t.syncano_url(INSTANCE)).header("x-api-key", &wrong).json(&body)).await;
    assert_eq!((status, answer), (403, detail("No such API Key.")));
    let (status, answer) =
        send(t.http.post(t.syncano_url("no-such-instance")).header("x-api-key", &t.api_key).json(&body)).await;
    assert_eq!((status, answer), (403, detail("No such API Key.")));
    let user = format!("{}/v1.1/instances/{INSTANCE}/user/", t.base);
    assert_eq!(send(t.http.get(user).header("x-api-key", &wrong)).await, (403, detail("No such API Key.")));
}

/// `settings/common.py` (`DEFAULT_PARSER_CLASSES`: JSON, `PreflightParser`, form, multipart),
/// `apps/batch/parsers.py` (`text/plain` is read as JSON) and Django REST framework's
/// `UnsupportedMediaType`: 415 naming the `Content-Type` as sent.
#[tokio::test]
async fn an_unsupported_media_type_is_415_and_text_plain_is_json() {
    let t = spawn_app().await;
    let post = |ct: &str, body: String| {
        t.http.post(t.syncano_url(INSTANCE)).header("x-api-key", &t.api_key).header("content-type", ct).body(body)
    };
    let (status, answer) = send(post("application/xml; charset=utf-8", "<x/>".into())).await;
    assert_eq!(
        (status, answer),
        (415, detail("Unsupported media type \"application/xml; charset=utf-8\" in request."))
    );
    // text/plain (a CORS "simple request") and multipart log in like JSON and forms do.
    let (_, token) = t.facebook_user("Plain Text", None);
    let (status, user) = send(post("text/plain", json!({ "access_token": token }).to_string())).await;
    assert_eq!(status, 200, "{user}");
    t.remember(user["user_key"].as_str().unwrap_or_default());
    let multipart =
        format!("--b0\r\nContent-Disposition: form-data; name=\"access_token\"\r\n\r\n{token}\r\n--b0--\r\n");
    let (status, again) = send(post("multipart/form-data; boundary=b0", multipart)).await;
    assert_eq!((status, &again["id"]), (200, &user["id"]), "{again}");
    t.assert_logs_clean();
}

/// `apps/users/v1/views.py` (`SocialAuthView.post`: an invalid `SocialAuthSerializer`
/// (`apps/admins/serializers.py`, a `CharField`) raises `WrongTokenCredentials`) and
/// `apps/core/exceptions.py`: 401 "Invalid authorization token.". No provider is asked.
#[tokio::test]
async fn a_missing_or_blank_access_token_is_401_invalid_authorization_token() {
    let t = spawn_app().await;
    let before = t.emulator.request_count();
    for body in
        [json!({}), json!({ "access_token": "" }), json!({ "access_token": "   " }), json!({ "token": "x" }), json!([])]
    {
        let (status, answer) =
            send(t.http.post(t.syncano_url(INSTANCE)).header("x-api-key", &t.api_key).json(&body)).await;
        assert_eq!((status, answer), (401, detail("Invalid authorization token.")), "{body}");
    }
    // A form without the field, and a body without a Content-Type (DRF reads no data).
    let form = t
        .http
        .post(t.syncano_url(INSTANCE))
        .header("x-api-key", &t.api_key)
        .header("content-type", "application/x-www-form-urlencoded")
        .body("token=x");
    assert_eq!(send(form).await, (401, detail("Invalid authorization token.")));
    let bare = t.http.post(t.syncano_url(INSTANCE)).header("x-api-key", &t.api_key).body(r#"{"access_token":"x"}"#);
    assert_eq!(send(bare).await, (401, detail("Invalid authorization token.")));
    assert_eq!(t.emulator.request_count(), before, "no provider was asked");
    // A wrong key still answers first, as the platform authenticates before it reads the body.
    let wrong = t.http.post(t.syncano_url(INSTANCE)).header("x-api-key", "0".repeat(40)).json(&json!({}));
    assert_eq!(send(wrong).await, (403, detail("No such API Key.")));
    assert_eq!(t.login_writes().await, [0, 0, 0, 0]);
}

/// `apps/core/social_helpers.py` (`register_by_access_token`: a backend not in
/// `BACKEND_TO_ME_URL` raises `UnsupportedSocialBackend`) and `apps/core/exceptions.py`: 400
/// "Unsupported social backend.", after the key check and the serializer, as
/// `apps/users/v1/views.py` orders them. Served by the `syncano-fallback` function.
#[tokio::test]
async fn an_unknown_backend_is_400_unsupported_social_backend() {
    let t = spawn_app().await;
    let url = format!("{}/v1.1/instances/{INSTANCE}/user/auth/myspace/", t.base);
    let body = json!({ "access_token": "EAAB" });
    let resp = t.http.post(&url).header("x-api-key", &t.api_key).json(&body).send().await.expect("request");
    assert_eq!(resp.headers()["content-type"], "application/json");
    assert_eq!(json(resp).await, (400, detail("Unsupported social backend.")));
    // Its order: no key → 403, then no token → 401, only then the backend.
    assert_eq!(send(t.http.post(&url).json(&body)).await, (403, detail(NO_PERMISSION)));
    assert_eq!(
        send(t.http.post(&url).header("x-api-key", &t.api_key).json(&json!({}))).await,
        (401, detail("Invalid authorization token."))
    );
    // A served backend is not a 400.
    let (status, _) = send(t.http.post(t.syncano_url(INSTANCE)).header("x-api-key", &t.api_key).json(&body)).await;
    assert_eq!(status, 401);
}

/// Django REST framework's `APIView.dispatch` (`http_method_not_allowed`: 405 `Method "GET" not
/// allowed.` with `Allow`) on the views of `apps/users/v1/urls.py`, after authentication and
/// permissions (`initial()` runs first). Deviation: `Allow` lists only what this service serves
/// (no `OPTIONS` metadata, no `PUT`/`PATCH` user update).
#[tokio::test]
async fn wrong_methods_are_405_with_allow_after_the_key_checks() {
    let t = spawn_app().await;
    let key = t.api_key.as_str();
    let facebook = t.syncano_url(INSTANCE);
    let (status, allow, body) = send_allow(t.http.get(&facebook).header("x-api-key", key)).await;
    assert_eq!((status, allow.as_deref(), body), (405, Some("POST"), detail("Method \"GET\" not allowed.")));
    let myspace = format!("{}/v1.1/instances/{INSTANCE}/user/auth/myspace/", t.base);
    let (status, allow, body) = send_allow(t.http.delete(&myspace).header("x-api-key", key)).await;
    assert_eq!((status, allow.as_deref(), body), (405, Some("POST"), detail("Method \"DELETE\" not allowed.")));
    // The key is checked first: no key is 403, as on the platform.
    let (status, allow, body) = send_allow(t.http.get(&facebook)).await;
    assert_eq!((status, allow, body), (403, None, detail(NO_PERMISSION)));

    // user/ needs the user key first (`HasUser`), then GET (and our DELETE) is served.
    let (_, token) = t.facebook_user("Method Cat", None);
    let (_, user) = json(t.syncano_login(&token).await).await;
    let user_key = user["user_key"].as_str().expect("user_key").to_string();
    t.remember(&user_key);
    let user_url = format!("{}/v1.1/instances/{INSTANCE}/user/", t.base);
    assert_eq!(send(t.http.post(&user_url).header("x-api-key", key)).await, (403, detail(NO_PERMISSION)));
    let (status, allow, body) =
        send_allow(t.http.put(&user_url).header("x-api-key", key).header("x-user-key", &user_key)).await;
    assert_eq!((status, allow.as_deref(), body), (405, Some("GET, DELETE"), detail("Method \"PUT\" not allowed.")));
    // HEAD is GET's (Django's `View.setup`).
    let head = t.http.head(&user_url).header("x-api-key", key).header("x-user-key", &user_key);
    assert_eq!(head.send().await.expect("request").status().as_u16(), 200);

    // reset_key/ needs an admin key first (`IsApiKeyIgnoringAcl`), then only POST is served.
    let reset = format!("{}/v1.1/instances/{INSTANCE}/users/{}/reset_key/", t.base, user["id"]);
    assert_eq!(send(t.http.get(&reset).header("x-api-key", key)).await, (403, detail(NO_PERMISSION)));
    let (status, allow, body) = send_allow(t.http.get(&reset).header("x-api-key", ADMIN_API_KEY)).await;
    assert_eq!((status, allow.as_deref(), body), (405, Some("POST"), detail("Method \"GET\" not allowed.")));
    t.assert_logs_clean();
}

/// `apps/core/authentication.py` (`get_api_key`: `X-API-KEY`, the `api_key`/`apikey` query
/// parameters, `Authorization: <scheme> <key>`, the body's `_api_key`; `get_user_key`:
/// `X-USER-KEY`, `user_key`/`userkey`, `_user_key`). No key reaches a log line.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn api_and_user_keys_are_accepted_where_the_platform_accepts_them() {
    let t = spawn_app().await;
    let key = t.api_key.clone();
    let url = t.syncano_url(INSTANCE);
    let login = |req: reqwest::RequestBuilder| async {
        let (status, user) = send(req).await;
        t.remember(user["user_key"].as_str().unwrap_or_default());
        (status, user)
    };
    let (_, token) = t.facebook_user("Key Places", None);
    let body = json!({ "access_token": token });
    for (name, req) in [
        ("query api_key", t.http.post(format!("{url}?api_key={key}")).json(&body)),
        ("query apikey", t.http.post(format!("{url}?apikey={key}")).json(&body)),
        ("Authorization ApiKey", t.http.post(&url).header("authorization", format!("ApiKey {key}")).json(&body)),
        ("Authorization Token", t.http.post(&url).header("authorization", format!("Token {key}")).json(&body)),
        ("body _api_key", t.http.post(&url).json(&json!({ "access_token": token, "_api_key": key }))),
        ("form _api_key", t.http.post(&url).form(&[("access_token", token.as_str()), ("_api_key", key.as_str())])),
    ] {
        let (status, user) = login(req).await;
        assert_eq!(status, 200, "{name}: {user}");
    }
    // A wrong key in the query is a wrong key.
    let (status, answer) = send(t.http.post(format!("{url}?api_key={}", "0".repeat(40))).json(&body)).await;
    assert_eq!((status, answer), (403, detail("No such API Key.")));

    let (_, user) = login(t.http.post(&url).header("x-api-key", &key).json(&body)).await;
    let user_key = user["user_key"].as_str().expect("user_key").to_string();
    let me = format!("{}/v1.1/instances/{INSTANCE}/user/", t.base);
    for (name, req) in [
        ("query user_key", t.http.get(format!("{me}?api_key={key}&user_key={user_key}"))),
        ("query userkey", t.http.get(format!("{me}?userkey={user_key}")).header("x-api-key", &key)),
        ("body _user_key", t.http.get(&me).json(&json!({ "_api_key": key, "_user_key": user_key }))),
    ] {
        let (status, answer) = send(req).await;
        assert_eq!((status, &answer["id"]), (200, &user["id"]), "{name}: {answer}");
    }
    t.assert_logs_clean();
}

/// `apps/instances/mixins.py` (`InstanceBasedMixin.initialize_request`: `instance.lower()`
/// before the lookup): instance names are case-insensitive; links name the instance as stored.
#[tokio::test]
async fn instance_names_are_case_insensitive() {
    let t = spawn_app().await;
    let (_, token) = t.facebook_user("Upper Case", None);
    let (status, user) = send(
        t.http
            .post(t.syncano_url(&INSTANCE.to_uppercase()))
            .header("x-api-key", &t.api_key)
            .json(&json!({ "access_token": token })),
    )
    .await;
    assert_eq!(status, 200, "{user}");
    let user_key = user["user_key"].as_str().expect("user_key").to_string();
    t.remember(&user_key);
    assert_eq!(user["links"]["self"], format!("/v1.1/instances/{INSTANCE}/users/{}/", user["id"]));
    let me = format!("{}/v1.1/instances/DeMo/user/", t.base);
    let (status, again) = send(t.http.get(me).header("x-api-key", &t.api_key).header("x-user-key", &user_key)).await;
    assert_eq!((status, &again["id"]), (200, &user["id"]));
    t.assert_logs_clean();
}

/// `apps/users/v1/serializers.py` (`UserFullSerializer`: `groups`, the `profile` link) and
/// `apps/data/v1/serializers.py` (`DataObjectSerializer`: the profile's `self` link, a data
/// object of the `user_profile` class): the seed's user object plus the platform's fields.
#[tokio::test]
async fn the_user_object_has_the_seed_shape_and_the_platforms_fields() {
    let t = spawn_app().await;
    let (_, token) = t.facebook_user("Shape Cat", None);
    let (status, user) = json(t.syncano_login(&token).await).await;
    assert_eq!(status, 200, "{user}");
    t.remember(user["user_key"].as_str().unwrap_or_default());
    let id = user["id"].as_u64().expect("id");
    let base = format!("/v1.1/instances/{INSTANCE}/users/{id}/");
    let profile = format!("/v1.1/instances/{INSTANCE}/classes/user_profile/objects/{id}/");
    let mut keys: Vec<&str> = user.as_object().expect("object").keys().map(String::as_str).collect();
    keys.sort_unstable();
    assert_eq!(keys, ["groups", "id", "links", "profile", "user_key", "username"]);
    assert_eq!(user["groups"], json!([]));
    assert_eq!(
        user["links"],
        json!({ "self": base, "reset-key": format!("{base}reset_key/"), "groups": format!("{base}groups/"), "profile": profile })
    );
    assert_eq!(user["profile"]["links"], json!({ "self": profile, "owner": base }));
    t.assert_logs_clean();
}
