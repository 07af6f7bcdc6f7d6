//! Drives the emulator over real HTTP, as the product and the local stack do.

mod common;

use std::time::Duration;

use common::{start_with, Env};
use emulator::{Emulator, EmulatorConfig, FacebookApp, Fault};
use hmac::{Hmac, Mac};
use reqwest::{Client, Response, StatusCode};
use serde_json::{json, Value};
use sha2::Sha256;

const OUR_APP: &str = "111111111111111";
const OUR_SECRET: &str = "our-app-secret";
const OTHER_APP: &str = "222222222222222";
const OTHER_SECRET: &str = "other-app-secret";

async fn start() -> Env {
    let env = start_with(EmulatorConfig {
        facebook_apps: vec![
            FacebookApp { id: OUR_APP.into(), secret: OUR_SECRET.into() },
            FacebookApp { id: OTHER_APP.into(), secret: OTHER_SECRET.into() },
        ],
        ..Default::default()
    })
    .await;
    assert!(env.base.starts_with("http://127.0.0.1:"), "{}", env.base);
    env
}

fn proof(secret: &str, token: &str) -> String {
    let mut mac = Hmac::<Sha256>::new_from_slice(secret.as_bytes()).expect("any key length");
    mac.update(token.as_bytes());
    hex::encode(mac.finalize().into_bytes())
}

async fn json_of(response: Response) -> (StatusCode, Value) {
    let status = response.status();
    let body = response.json::<Value>().await.expect("a JSON body");
    (status, body)
}

impl Env {
    /// `GET /v22.0/me` as the product sends it: token in the header, with our proof.
    async fn me(&self, token: &str, fields: &str) -> (StatusCode, Value) {
        let response = self
            .client
            .get(self.url("/v22.0/me"))
            .bearer_auth(token)
            .query(&[("fields", fields), ("appsecret_proof", &proof(OUR_SECRET, token))])
            .send()
            .await
            .expect("request");
        json_of(response).await
    }

    async fn debug_token(&self, app_token: &str, input: &str) -> (StatusCode, Value) {
        let response = self
            .client
            .get(self.url("/v19.0/debug_token"))
            .query(&[("input_token", input), ("access_token", app_token)])
            .send()
            .await
            .expect("request");
        json_of(response).await
    }

    fn user_with_token(&self, ttl_secs: i64) -> (String, String) {
        let person = self.emulator.create_facebook_user("Ada King Lovelace", Some("ada@example.com"));
        let token = self.emulator.issue_facebook_token(&person, OUR_APP, ttl_secs);
        (person, token)
    }
}

fn assert_graph_error(body: &Value, code: u64, subcode: Option<u64>) {
    let error = &body["error"];
    assert_eq!(error["code"], json!(code), "{body}");
    assert_eq!(error["error_subcode"].as_u64(), subcode, "{body}");
    assert!(error["message"].is_string(), "{body}");
    assert!(error["type"].is_string(), "{body}");
    assert!(error["fbtrace_id"].as_str().is_some_and(|t| !t.is_empty()), "{body}");
}

#[tokio::test]
async fn me_with_the_right_proof_answers_the_requested_fields() {
    let env = start().await;
    let (person, token) = env.user_with_token(3600);
    assert!(token.starts_with("EAA") && token.len() >= 43, "{token}");

    let (status, body) = env.me(&token, "id,name,email,first_name,last_name,picture").await;
    assert_eq!(status, StatusCode::OK, "{body}");
    let asid = env.emulator.app_scoped_user_id(&person, OUR_APP);
    assert_ne!(asid, person);
    assert_ne!(asid, env.emulator.app_scoped_user_id(&person, OTHER_APP));
    assert_eq!(body["id"], json!(asid));
    assert_eq!(body["name"], "Ada King Lovelace");
    assert_eq!(body["email"], "ada@example.com");
    assert_eq!(body["first_name"], "Ada");
    assert_eq!(body["last_name"], "Lovelace");
    let picture = &body["picture"]["data"];
    assert_eq!(picture["height"], 50);
    assert_eq!(picture["width"], 50);
    assert_eq!(picture["is_silhouette"], false);
    let url = picture["url"].as_str().expect("picture url");
    assert!(url.starts_with("https://platform-lookaside.fbsbx.com/platform/profilepic/?asid="), "{url}");
    assert_eq!(body.as_object().map(|o| o.len()), Some(6), "{body}");

    // Only what was asked, `picture.type(large)` understood loosely.
    let (status, body) = env.me(&token, "id,picture.type(large)").await;
    assert_eq!(status, StatusCode::OK);
    assert_eq!(body["picture"]["data"]["width"], 200);
    assert!(body.get("name").is_none(), "{body}");
}

#[tokio::test]
async fn me_accepts_the_token_in_the_query_or_an_oauth_header_and_defaults_to_id_name() {
    let env = start().await;
    let person = env.emulator.create_facebook_user("Cher", None);
    let token = env.emulator.issue_facebook_token(&person, OUR_APP, 3600);

    let response =
        env.client.get(env.url("/v2.12/me")).query(&[("access_token", token.as_str())]).send().await.expect("request");
    let (status, body) = json_of(response).await;
    assert_eq!(status, StatusCode::OK, "{body}");
    assert_eq!(body, json!({ "id": env.emulator.app_scoped_user_id(&person, OUR_APP), "name": "Cher" }));

    let response = env
        .client
        .get(env.url("/v22.0/me?fields=email,last_name"))
        .header("Authorization", format!("OAuth {token}"))
        .send()
        .await
        .expect("request");
    let (status, body) = json_of(response).await;
    assert_eq!(status, StatusCode::OK, "{body}");
    // No email, no last name: left out; the id is always there.
    assert_eq!(body, json!({ "id": env.emulator.app_scoped_user_id(&person, OUR_APP) }));
}

#[tokio::test]
async fn a_token_of_another_app_fails_our_appsecret_proof() {
    let env = start().await;
    let person = env.emulator.create_facebook_user("Eve", Some("eve@example.com"));
    let token = env.emulator.issue_facebook_token(&person, OTHER_APP, 3600);

    let (status, body) = env.me(&token, "id,name").await;
    assert_eq!(status, StatusCode::BAD_REQUEST);
    assert_graph_error(&body, 100, None);
    assert_eq!(body["error"]["type"], "GraphMethodException");
    assert_eq!(body["error"]["message"], "Invalid appsecret_proof provided in the API argument");

    // With the other app's own proof the same token is fine.
    let response = env
        .client
        .get(env.url("/v22.0/me"))
        .bearer_auth(&token)
        .query(&[("appsecret_proof", proof(OTHER_SECRET, &token))])
        .send()
        .await
        .expect("request");
    assert_eq!(response.status(), StatusCode::OK);
}

#[tokio::test]
async fn an_expired_token_is_rejected_with_subcode_463() {
    let env = start().await;
    let (_, token) = env.user_with_token(-60);
    let response = env.client.get(env.url("/v22.0/me")).bearer_auth(&token).send().await.expect("request");
    let challenge = response
        .headers()
        .get("www-authenticate")
        .and_then(|v| v.to_str().ok())
        .map(str::to_string)
        .unwrap_or_default();
    let (status, body) = json_of(response).await;
    assert_eq!(status, StatusCode::BAD_REQUEST);
    assert_graph_error(&body, 190, Some(463));
    assert_eq!(body["error"]["type"], "OAuthException");
    let message = body["error"]["message"].as_str().unwrap_or_default();
    assert!(message.starts_with("Error validating access token: Session has expired on "), "{message}");
    assert!(message.contains(". The current time is "), "{message}");
    assert!(challenge.starts_with("OAuth \"Facebook Platform\" \"invalid_token\""), "{challenge}");
}

#[tokio::test]
async fn a_revoked_token_is_rejected_with_subcode_460() {
    let env = start().await;
    let (_, token) = env.user_with_token(3600);
    env.emulator.revoke_facebook_token(&token);
    let (status, body) = env.me(&token, "id").await;
    assert_eq!(status, StatusCode::BAD_REQUEST);
    assert_graph_error(&body, 190, Some(460));
    assert!(body["error"]["message"].as_str().is_some_and(|m| m.contains("The session has been invalidated")));
}

#[tokio::test]
async fn garbage_and_missing_tokens_are_rejected_on_me() {
    let env = start().await;
    let (status, body) = env.me("EAAnotARealTokenAtAll1234567890123456789012345", "id").await;
    assert_eq!(status, StatusCode::BAD_REQUEST);
    assert_graph_error(&body, 190, None);
    assert_eq!(body["error"]["message"], "Invalid OAuth access token - Cannot parse access token");

    let response = env.client.get(env.url("/v22.0/me")).send().await.expect("request");
    let (status, body) = json_of(response).await;
    assert_eq!(status, StatusCode::BAD_REQUEST);
    assert_graph_error(&body, 2500, None);
    assert_eq!(
        body["error"]["message"],
        "An active access token must be used to query information about the current user."
    );

    let response = env
        .client
        .get(env.url("/v22.0/me"))
        .bearer_auth(format!("{OUR_APP}|wrong-secret"))
        .send()
        .await
        .expect("request");
    let (status, body) = json_of(response).await;
    assert_eq!(status, StatusCode::BAD_REQUEST);
    assert_graph_error(&body, 190, None);
}

#[tokio::test]
async fn metadata_tells_a_user_from_a_page_and_an_application() {
    let env = start().await;
    let (person, token) = env.user_with_token(3600);
    let fields = "id,name,email,first_name,last_name,picture.type(large)";
    let me_with_metadata = |token: String| {
        let env = &env;
        async move {
            let response = env
                .client
                .get(env.url("/v22.0/me"))
                .bearer_auth(&token)
                .query(&[("fields", fields), ("appsecret_proof", &proof(OUR_SECRET, &token)), ("metadata", "1")])
                .send()
                .await
                .expect("request");
            json_of(response).await
        }
    };

    // A user token: the user, `metadata.type` "user"; without metadata=1 no metadata.
    let (status, body) = me_with_metadata(token.clone()).await;
    assert_eq!(status, StatusCode::OK, "{body}");
    assert_eq!(body["id"], json!(env.emulator.app_scoped_user_id(&person, OUR_APP)));
    assert_eq!(body["metadata"]["type"], "user", "{body}");
    let (_, plain) = env.me(&token, "id,name").await;
    assert!(plain.get("metadata").is_none(), "{plain}");

    // A Page token of our app, of a Page the person manages: "me" is the Page.
    let page = env.emulator.create_facebook_page(&person, "Lovelace Engines");
    let page_token = env.emulator.issue_facebook_page_token(&person, &page, OUR_APP);
    assert!(page_token.starts_with("EAA") && page_token != token);
    let (status, body) = me_with_metadata(page_token.clone()).await;
    assert_eq!(status, StatusCode::OK, "{body}");
    assert_eq!(body["id"], json!(page));
    assert_eq!(body["name"], "Lovelace Engines");
    assert_eq!(body["metadata"]["type"], "page", "{body}");
    assert!(body.get("email").is_none() && body.get("first_name").is_none(), "{body}");
    let (status, body) = env.me(&page_token, "id,name").await;
    assert_eq!((status, &body), (StatusCode::OK, &json!({ "id": page, "name": "Lovelace Engines" })));
    // Its appsecret_proof is checked like a user token's.
    let response = env
        .client
        .get(env.url("/v22.0/me"))
        .bearer_auth(&page_token)
        .query(&[("appsecret_proof", proof(OTHER_SECRET, &page_token))])
        .send()
        .await
        .expect("request");
    let (status, body) = json_of(response).await;
    assert_eq!(status, StatusCode::BAD_REQUEST);
    assert_graph_error(&body, 100, None);
    // debug_token calls it a Page token.
    let (status, body) = env.debug_token(&format!("{OUR_APP}|{OUR_SECRET}"), &page_token).await;
    assert_eq!(status, StatusCode::OK, "{body}");
    assert_eq!((&body["data"]["type"], &body["data"]["profile_id"]), (&json!("PAGE"), &json!(page)));

    // The app token: "me" is the application.
    let (status, body) = me_with_metadata(format!("{OUR_APP}|{OUR_SECRET}")).await;
    assert_eq!(status, StatusCode::OK, "{body}");
    assert_eq!(body["id"], OUR_APP);
    assert_eq!(body["metadata"]["type"], "application", "{body}");
    assert!(body.get("email").is_none(), "{body}");
}

#[test]
#[should_panic(expected = "NotAManager")]
fn only_a_manager_of_the_page_gets_its_token() {
    let emulator = Emulator::new(EmulatorConfig {
        facebook_apps: vec![FacebookApp { id: OUR_APP.into(), secret: OUR_SECRET.into() }],
        ..Default::default()
    });
    let owner = emulator.create_facebook_user("Page Owner", None);
    let stranger = emulator.create_facebook_user("Stranger", None);
    let page = emulator.create_facebook_page(&owner, "Owned");
    emulator.issue_facebook_page_token(&stranger, &page, OUR_APP);
}

#[tokio::test]
async fn unknown_paths_and_fields_are_graph_errors() {
    let env = start().await;
    let (_, token) = env.user_with_token(3600);
    let response =
        env.client.get(env.url("/v22.0/me/nonsense/more")).bearer_auth(&token).send().await.expect("request");
    let (status, body) = json_of(response).await;
    assert_eq!(status, StatusCode::BAD_REQUEST);
    assert_graph_error(&body, 2500, None);
    assert_eq!(body["error"]["message"], "Unknown path components: /nonsense/more");

    let (status, body) = env.me(&token, "id,shoe_size").await;
    assert_eq!(status, StatusCode::BAD_REQUEST);
    assert_graph_error(&body, 100, None);
}

#[tokio::test]
async fn debug_token_reports_own_and_other_apps_tokens() {
    let env = start().await;
    let our_app_token = format!("{OUR_APP}|{OUR_SECRET}");
    let (person, token) = env.user_with_token(3600);

    let (status, body) = env.debug_token(&our_app_token, &token).await;
    assert_eq!(status, StatusCode::OK, "{body}");
    let data = &body["data"];
    assert_eq!(data["app_id"], OUR_APP);
    assert_eq!(data["type"], "USER");
    assert_eq!(data["is_valid"], true);
    assert_eq!(data["user_id"], json!(env.emulator.app_scoped_user_id(&person, OUR_APP)));
    assert_eq!(data["scopes"], json!(["email", "public_profile"]));
    assert!(data["application"].is_string());
    let expires_at = data["expires_at"].as_i64().expect("expires_at");
    let issued_at = data["issued_at"].as_i64().expect("issued_at");
    assert!((3599..=3601).contains(&(expires_at - issued_at)), "{data}");
    assert!(data["data_access_expires_at"].as_i64().is_some_and(|t| t > expires_at));

    // Another app's token: valid, but with that app's id (the caller must compare).
    let other = env.emulator.issue_facebook_token(&person, OTHER_APP, 3600);
    let response = env
        .client
        .get(env.url("/v22.0/debug_token"))
        .query(&[("input_token", other.as_str())])
        .bearer_auth(&our_app_token)
        .send()
        .await
        .expect("request");
    let (status, body) = json_of(response).await;
    assert_eq!(status, StatusCode::OK, "{body}");
    assert_eq!(body["data"]["app_id"], OTHER_APP);
    assert_eq!(body["data"]["is_valid"], true);
    assert_eq!(body["data"]["user_id"], json!(env.emulator.app_scoped_user_id(&person, OTHER_APP)));
}

#[tokio::test]
async fn debug_token_of_invalid_tokens_and_with_bad_app_tokens() {
    let env = start().await;
    let our_app_token = format!("{OUR_APP}|{OUR_SECRET}");

    let (status, body) = env.debug_token(&our_app_token, "EAAgarbage").await;
    assert_eq!(status, StatusCode::OK);
    assert_eq!(body["data"]["is_valid"], false);
    assert_eq!(body["data"]["error"]["code"], 190);
    assert_eq!(body["data"]["scopes"], json!([]));

    let (_, expired) = env.user_with_token(-10);
    let (status, body) = env.debug_token(&our_app_token, &expired).await;
    assert_eq!(status, StatusCode::OK);
    assert_eq!(body["data"]["is_valid"], false, "{body}");
    assert_eq!(body["data"]["error"]["code"], 190);
    assert_eq!(body["data"]["error"]["subcode"], 463);
    assert!(body["data"]["expires_at"].as_i64().is_some());

    let (_, valid) = env.user_with_token(3600);
    let (status, body) = env.debug_token(&format!("{OUR_APP}|wrong-secret"), &valid).await;
    assert_eq!(status, StatusCode::BAD_REQUEST);
    assert_graph_error(&body, 190, None);
    assert_eq!(body["error"]["message"], "Invalid OAuth access token signature.");

    let (status, body) = env.debug_token(&format!("999|{OUR_SECRET}"), &valid).await;
    assert_eq!(status, StatusCode::BAD_REQUEST);
    assert_graph_error(&body, 190, None);
}

#[tokio::test]
async fn test_users_can_be_created_and_log_in() {
    let env = start().await;
    let response = env
        .client
        .post(env.url(&format!("/v22.0/{OUR_APP}/accounts/test-users")))
        .query(&[("installed", "true"), ("name", "Grace Hopper"), ("access_token", &format!("{OUR_APP}|{OUR_SECRET}"))])
        .send()
        .await
        .expect("request");
    let (status, user) = json_of(response).await;
    assert_eq!(status, StatusCode::OK, "{user}");
    for key in ["id", "access_token", "login_url", "email", "password"] {
        assert!(user[key].as_str().is_some_and(|v| !v.is_empty()), "{key} in {user}");
    }
    assert!(user["email"].as_str().is_some_and(|e| e.ends_with("@tfbnw.net")));
    let token = user["access_token"].as_str().unwrap_or_default();
    let (status, me) = env.me(token, "id,name,email").await;
    assert_eq!(status, StatusCode::OK, "{me}");
    assert_eq!(me["id"], user["id"]);
    assert_eq!(me["name"], "Grace Hopper");
    assert_eq!(me["email"], user["email"]);

    // Parameters may come as a form body too; another app's token is refused.
    let response = env
        .client
        .post(env.url(&format!("/v22.0/{OUR_APP}/accounts/test-users")))
        .form(&[("name", "Mallory"), ("access_token", &format!("{OTHER_APP}|{OTHER_SECRET}"))])
        .send()
        .await
        .expect("request");
    let (status, body) = json_of(response).await;
    assert_eq!(status, StatusCode::BAD_REQUEST);
    assert_graph_error(&body, 15, None);
}

#[tokio::test]
async fn faults_apply_to_every_graph_request() {
    let env = start().await;
    let (_, token) = env.user_with_token(3600);

    env.emulator.set_fault(Fault::Status500);
    let (status, body) = env.me(&token, "id").await;
    assert_eq!(status, StatusCode::INTERNAL_SERVER_ERROR);
    assert_graph_error(&body, 2, None);
    assert_eq!(body["error"]["is_transient"], true);

    env.emulator.set_fault(Fault::RateLimited);
    let (status, body) = env.debug_token(&format!("{OUR_APP}|{OUR_SECRET}"), &token).await;
    assert_eq!(status, StatusCode::FORBIDDEN);
    assert_graph_error(&body, 4, None);
    assert_eq!(body["error"]["message"], "(#4) Application request limit reached");

    env.emulator.set_fault(Fault::InvalidJson);
    let response = env.client.get(env.url("/v22.0/me")).bearer_auth(&token).send().await.expect("request");
    assert_eq!(response.status(), StatusCode::OK);
    let text = response.text().await.expect("body");
    assert!(serde_json::from_str::<Value>(&text).is_err(), "{text}");

    env.emulator.set_fault(Fault::Hang);
    let error = env
        .client
        .get(env.url("/v22.0/me"))
        .bearer_auth(&token)
        .timeout(Duration::from_millis(300))
        .send()
        .await
        .expect_err("a hanging emulator never answers");
    assert!(error.is_timeout(), "{error:?}");

    env.emulator.set_fault(Fault::CloseConnection);
    let error =
        env.client.get(env.url("/v22.0/me")).bearer_auth(&token).send().await.expect_err("the connection is dropped");
    assert!(!error.is_timeout() && error.status().is_none(), "{error:?}");

    env.emulator.set_fault(Fault::None);
    let (status, _) = env.me(&token, "id").await;
    assert_eq!(status, StatusCode::OK);
    assert_eq!(env.emulator.request_count(), 6);
}

#[tokio::test]
async fn admin_routes_drive_the_emulator_and_are_not_counted() {
    let env = start().await;
    let client = &env.client;
    let response = client
        .post(env.url("/_emulator/facebook/users"))
        .json(&json!({ "name": "Alan Turing", "email": "alan@example.com" }))
        .send()
        .await
        .expect("request");
    let (status, body) = json_of(response).await;
    assert_eq!(status, StatusCode::OK, "{body}");
    let person = body["id"].as_str().expect("id").to_string();

    let response = client
        .post(env.url("/_emulator/facebook/tokens"))
        .json(&json!({ "user": person, "app_id": OUR_APP, "ttl_secs": 3600 }))
        .send()
        .await
        .expect("request");
    let (status, body) = json_of(response).await;
    assert_eq!(status, StatusCode::OK, "{body}");
    let token = body["access_token"].as_str().expect("access_token").to_string();

    let (status, me) = env.me(&token, "id,email").await;
    assert_eq!(status, StatusCode::OK);
    assert_eq!(me["email"], "alan@example.com");
    assert_eq!(me["id"], json!(env.emulator.app_scoped_user_id(&person, OUR_APP)));

    // Unknown user, unknown fault, bad JSON: admin errors, no panic.
    let response = client
        .post(env.url("/_emulator/facebook/tokens"))
        .json(&json!({ "user": "nobody", "app_id": OUR_APP }))
        .send()
        .await
        .expect("request");
    assert_eq!(response.status(), StatusCode::NOT_FOUND);
    let response =
        client.post(env.url("/_emulator/fault")).json(&json!({ "fault": "meltdown" })).send().await.expect("request");
    assert_eq!(response.status(), StatusCode::BAD_REQUEST);
    let response = client.post(env.url("/_emulator/facebook/users")).body("{not json").send().await.expect("request");
    assert_eq!(response.status(), StatusCode::BAD_REQUEST);

    let response = client
        .post(env.url("/_emulator/fault"))
        .json(&json!({ "fault": "rate_limited" }))
        .send()
        .await
        .expect("request");
    assert_eq!(response.status(), StatusCode::OK);
    assert_eq!(env.emulator.fault(), Fault::RateLimited);
    let (status, _) = env.me(&token, "id").await;
    assert_eq!(status, StatusCode::FORBIDDEN);
    // Admin routes still work while a fault is set.
    let response =
        client.post(env.url("/_emulator/fault")).json(&json!({ "fault": "none" })).send().await.expect("request");
    assert_eq!(response.status(), StatusCode::OK);

    let response = client.get(env.url("/_emulator/stats")).send().await.expect("request");
    let (status, stats) = json_of(response).await;
    assert_eq!(status, StatusCode::OK);
    assert_eq!(stats["requests"], 2, "{stats}");
    assert_eq!(env.emulator.request_count(), 2);
}

#[tokio::test]
async fn the_router_can_be_served_by_axum() {
    let emulator = Emulator::new(EmulatorConfig {
        facebook_apps: vec![FacebookApp { id: OUR_APP.into(), secret: OUR_SECRET.into() }],
        ..Default::default()
    });
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.expect("bind");
    let base = format!("http://{}", listener.local_addr().expect("addr"));
    let router = emulator.router();
    tokio::spawn(async move { axum::serve(listener, router).await });
    let response = Client::new().get(format!("{base}/v22.0/me")).send().await.expect("request");
    let (status, body) = json_of(response).await;
    assert_eq!(status, StatusCode::BAD_REQUEST);
    assert_graph_error(&body, 2500, None);

    // Without our accept loop, CloseConnection aborts the response mid-way instead.
    emulator.set_fault(Fault::CloseConnection);
    let outcome = match Client::new().get(format!("{base}/v22.0/me")).send().await {
        Ok(response) => response.text().await.map(|_| ()),
        Err(error) => Err(error),
    };
    let error = outcome.expect_err("the response is broken");
    assert!(!error.is_timeout(), "{error:?}");
}
