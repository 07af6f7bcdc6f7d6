//! Issue 28, point 1: an instance's sign-up policy, obeyed by both dialects. The attack: a
//! stranger signs up through `POST /api/v1/login` (which signs in to `DEFAULT_INSTANCE`) in an
//! instance that lets nobody in, then gets a user key for that user from the Syncano route.
//! Each test writes the policy as `admin set-sign-up` stores it (the instance item's `sign_up`).

use aws_sdk_dynamodb::types::AttributeValue;
use serde_json::{json, Value};

use crate::helpers::*;

/// Syncano's refusal of a first login the caller may not make (`SocialAuthView`: the key lacks
/// `allow_user_create`).
fn syncano_refusal() -> (u16, Value) {
    (403, json!({ "detail": "You do not have permission to create new user." }))
}

fn instance_key() -> Item {
    Item::from([
        ("pk".to_string(), AttributeValue::S(format!("INST#{INSTANCE}"))),
        ("sk".to_string(), AttributeValue::S("INSTANCE".into())),
    ])
}

/// Sets the demo instance's `sign_up` attribute (`None`: removes it, as on an instance item
/// written before the policy existed).
async fn set_policy(t: &TestApp, policy: Option<&str>) {
    let update = t.dynamo.update_item().table_name(&t.table).set_key(Some(instance_key()));
    let update = match policy {
        Some(p) => {
            update.update_expression("SET sign_up = :p").expression_attribute_values(":p", AttributeValue::S(p.into()))
        }
        None => update.update_expression("REMOVE sign_up"),
    };
    update.send().await.expect("set the policy");
}

/// The instance's user id counter: a refused sign-up must not even allocate an id.
async fn next_user_id(t: &TestApp) -> String {
    let item = t.dynamo.get_item().table_name(&t.table).set_key(Some(instance_key())).consistent_read(true);
    let item = item.send().await.expect("get").item.expect("the instance item");
    item.get("next_user_id").and_then(|v| v.as_n().ok()).cloned().unwrap_or_default()
}

async fn syncano_with(t: &TestApp, api_key: &str, token: &str) -> (u16, Value) {
    let req = t.http.post(t.syncano_url(INSTANCE)).header("x-api-key", api_key);
    json(req.json(&json!({ "access_token": token })).send().await.expect("request")).await
}

/// Everything a sign-up writes, and the id counter.
async fn footprint(t: &TestApp) -> ([usize; 4], usize, String) {
    (t.login_writes().await, t.count("UKEY#").await, next_user_id(t).await)
}

/// A stranger is refused by both dialects, as each real server refuses it, and nothing is
/// written; the users the instance already has still sign in through both.
async fn assert_closed_to_strangers(t: &TestApp, returning_token: &str) {
    let before = footprint(t).await;
    let (_, stranger) = t.facebook_user("Uninvited Cat", Some("uninvited@example.com"));
    assert_eq!(json(t.rocketchat_login(&stranger).await).await, (401, rc_login_unauthorized()), "Rocket.Chat");
    assert_eq!(syncano_with(t, &t.api_key, &stranger).await, syncano_refusal(), "the client key");
    // The operator's admin key does not override the instance's policy either.
    assert_eq!(syncano_with(t, ADMIN_API_KEY, &stranger).await, syncano_refusal(), "the admin key");
    assert_eq!(footprint(t).await, before, "a refused sign-up wrote something");

    let (status, body) = json(t.rocketchat_login(returning_token).await).await;
    assert_eq!(status, 200, "a returning user through Rocket.Chat: {body}");
    t.remember(body["data"]["authToken"].as_str().unwrap_or_default());
    let (status, body) = syncano_with(t, &t.api_key, returning_token).await;
    assert_eq!(status, 200, "a returning user through Syncano: {body}");
    t.remember(body["user_key"].as_str().unwrap_or_default());
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_closed_instance_signs_up_nobody_through_either_dialect() {
    let t = spawn_app().await;
    let (_, member) = t.facebook_user("Member Cat", None);
    let (status, body) = json(t.rocketchat_login(&member).await).await;
    assert_eq!(status, 200, "{body}");
    t.remember(body["data"]["authToken"].as_str().unwrap_or_default());

    set_policy(&t, Some("closed")).await;
    assert_closed_to_strangers(&t, &member).await;

    // Opened again, the same stranger gets in.
    set_policy(&t, Some("open")).await;
    let (_, newcomer) = t.facebook_user("Invited Cat", None);
    let (status, body) = json(t.rocketchat_login(&newcomer).await).await;
    assert_eq!(status, 200, "{body}");
    t.remember(body["data"]["authToken"].as_str().unwrap_or_default());
    t.assert_logs_clean();
}

/// An instance item written before the policy existed has no `sign_up`: it lets nobody new in
/// (docs/security.md, "Sign-up policy": the operator opens it with `admin set-sign-up`).
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_instance_without_a_policy_is_closed() {
    let t = spawn_app().await;
    let (_, member) = t.facebook_user("Old Member Cat", None);
    let (status, body) = syncano_with(&t, &t.api_key, &member).await;
    assert_eq!(status, 200, "{body}");
    t.remember(body["user_key"].as_str().unwrap_or_default());

    set_policy(&t, None).await;
    assert_closed_to_strangers(&t, &member).await;
    t.assert_logs_clean();
}
