//! Per-instance provider apps (docs/security.md "Per-instance provider apps"): an instance with
//! its own app at a provider accepts only that app's tokens; an instance without one is served
//! by the deployment's app; the secrets are sealed in the table.

use aws_sdk_dynamodb::types::AttributeValue;
use base64::Engine;
use emulator::OidcProvider;
use local_stack::demo::*;
use serde_json::{json, Value};
use shared::domain::sealing::{SealingKey, SealingKeys};
use shared::Secret;

use crate::helpers::*;

/// Instance B: open to sign-ups, with its own app at every provider (the emulator's "other"
/// apps); the demo instance (A) has none and is served by the deployment's apps.
const B: &str = "inst-b";

fn new_key() -> String {
    base64::engine::general_purpose::STANDARD.encode(rand::random::<[u8; 32]>())
}

/// One instance's own app at `provider` as the admin tool writes it, written raw: in the
/// instance's item (`INSTCONF#{instance}` / `PROVIDERS`), the attribute named as the provider,
/// the public ids in the clear, the secret sealed under `key` (version `version`), bound to the
/// instance, the provider and the app's first id.
async fn put_raw_app(
    t: &TestApp,
    instance: &str,
    provider: &str,
    ids: &[&str],
    secret: Option<&str>,
    key: &str,
    version: u32,
) {
    let keys = SealingKeys::new((version, SealingKey::from_base64(key).expect("key")), None);
    let mut app = std::collections::HashMap::from([(
        "ids".to_string(),
        AttributeValue::L(ids.iter().map(|i| AttributeValue::S(i.to_string())).collect()),
    )]);
    if let Some(secret) = secret {
        let aad = format!("INSTCONF#{instance}#PROVIDER#{provider}#{}", ids[0]);
        let sealed = keys.seal(&Secret::new(secret), &aad).expect("seal");
        app.insert("secret".to_string(), AttributeValue::S(sealed));
    }
    t.dynamo
        .update_item()
        .table_name(&t.table)
        .key("pk", AttributeValue::S(format!("INSTCONF#{instance}")))
        .key("sk", AttributeValue::S("PROVIDERS".into()))
        .update_expression("SET #p = :app")
        .expression_attribute_names("#p", provider)
        .expression_attribute_values(":app", AttributeValue::M(app))
        .send()
        .await
        .expect("update");
}

/// B's own apps at all six providers: the emulator's other app at each.
async fn give_b_its_own_apps(t: &TestApp, key: &str) {
    let a = &t.apps;
    put_raw_app(t, B, "facebook", &[OTHER_FACEBOOK_APP_ID], Some(&a.other_facebook_secret), key, 1).await;
    put_raw_app(t, B, "google", &[OTHER_GOOGLE_CLIENT_ID], None, key, 1).await;
    put_raw_app(t, B, "twitter", &[OTHER_TWITTER_CONSUMER_KEY], Some(&a.other_twitter_secret), key, 1).await;
    put_raw_app(t, B, "linkedin", &[OTHER_LINKEDIN_CLIENT_ID], None, key, 1).await;
    put_raw_app(t, B, "apple", &[OTHER_APPLE_CLIENT_ID], None, key, 1).await;
    put_raw_app(t, B, "github", &[OTHER_GITHUB_CLIENT_ID], Some(&a.other_github_secret), key, 1).await;
}

/// A Syncano login body for `backend` with a fresh token of the app `ours` (the deployment's)
/// or the other one, for a new person.
fn token_body(t: &TestApp, backend: &str, ours: bool) -> Value {
    let pick = |mine: &'static str, other: &'static str| if ours { mine } else { other };
    let body = match backend {
        "facebook" => {
            let person = t.emulator.create_facebook_user("Face Book", None);
            json!({ "access_token": t.token(&person, pick(FACEBOOK_APP_ID, OTHER_FACEBOOK_APP_ID), 3600) })
        }
        "twitter" => {
            let user = t.emulator.create_twitter_user("Twit Ter", "twitter", None);
            let (token, secret) =
                t.emulator.issue_twitter_token(&user, pick(TWITTER_CONSUMER_KEY, OTHER_TWITTER_CONSUMER_KEY));
            t.remember(&token);
            t.remember(&secret);
            json!({ "access_token": format!("{token}:{secret}") })
        }
        "github" => {
            let user = t.emulator.create_github_user("octo", None, &[]);
            json!({ "access_token": t.emulator.issue_github_token(user, pick(GITHUB_CLIENT_ID, OTHER_GITHUB_CLIENT_ID)) })
        }
        "google-oauth2" | "linkedin" | "apple" => {
            let (provider, aud) = match backend {
                "google-oauth2" => (OidcProvider::Google, pick(GOOGLE_CLIENT_ID, OTHER_GOOGLE_CLIENT_ID)),
                "linkedin" => (OidcProvider::LinkedIn, pick(LINKEDIN_CLIENT_ID, OTHER_LINKEDIN_CLIENT_ID)),
                _ => (OidcProvider::Apple, pick(APPLE_CLIENT_ID, OTHER_APPLE_CLIENT_ID)),
            };
            let sub = t.emulator.create_oidc_user(provider, "Oid Cee", None, false);
            let nonce = (provider == OidcProvider::Apple).then_some("raw-nonce");
            let mut body = json!({ "access_token": t.emulator.issue_id_token(provider, &sub, aud, nonce) });
            if let Some(n) = nonce {
                body["nonce"] = json!(n);
            }
            body
        }
        _ => unreachable!("{backend}"),
    };
    if let Some(token) = body["access_token"].as_str() {
        t.remember(token);
    }
    body
}

pub const BACKENDS: [&str; 6] = ["facebook", "google-oauth2", "twitter", "linkedin", "apple", "github"];

/// The attack: a token issued for instance A's app (here the deployment's, which serves A) is
/// presented to instance B, which has its own app at that provider. B must refuse it as a bad
/// token (401, nothing written), for every provider; B's own app's tokens log in on B; A keeps
/// the deployment's app and refuses B's tokens.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_token_for_instance_a_app_is_refused_on_instance_b() {
    let key = new_key();
    let t = spawn_app_with(|v| {
        v.insert("INSTANCE_SECRETS_KEY".into(), key.clone());
        v.insert("LOGIN_FAILURES_PER_USER_MAX".into(), "1000".into());
        v.insert("LOGIN_FAILURES_MAX".into(), "1000".into());
    })
    .await;
    remember(&key);
    let b_key = t.open_instance(B).await;
    give_b_its_own_apps(&t, &key).await;
    // Every provider is tried before the verdict, so that a failure names all that let it in.
    let mut wrong = Vec::new();
    for backend in BACKENDS {
        let (status, body) = t.syncano_in(B, &b_key, backend, token_body(&t, backend, true)).await;
        t.remember(body["user_key"].as_str().unwrap_or_default());
        if (status, &body) != (401, &json!({"detail": "Invalid username or password."})) {
            wrong.push(format!("{backend}: A's token on B answered {status}"));
        }
        let (status, body) = t.syncano_in(B, &b_key, backend, token_body(&t, backend, false)).await;
        t.remember(body["user_key"].as_str().unwrap_or_default());
        if status != 200 {
            wrong.push(format!("{backend}: B's own app's token on B answered {status} {body}"));
        }
        let (status, body) = t.syncano_at(backend, token_body(&t, backend, true)).await;
        t.remember(body["user_key"].as_str().unwrap_or_default());
        if status != 200 {
            wrong.push(format!("{backend}: the deployment's token on A (no own app) answered {status} {body}"));
        }
        let (status, body) = t.syncano_at(backend, token_body(&t, backend, false)).await;
        t.remember(body["user_key"].as_str().unwrap_or_default());
        if status != 401 {
            wrong.push(format!("{backend}: B's app's token on A answered {status}"));
        }
    }
    assert!(wrong.is_empty(), "{wrong:#?}");
    t.assert_logs_clean();
}
