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

/// `INSTANCE_SECRETS_KEY` as `vars` of a function: the current key (and version), maybe the
/// previous one.
fn key_vars(v: &mut std::collections::HashMap<String, String>, current: (&str, u32), previous: Option<(&str, u32)>) {
    v.insert("INSTANCE_SECRETS_KEY".into(), current.0.into());
    v.insert("INSTANCE_SECRETS_KEY_VERSION".into(), current.1.to_string());
    v.remove("INSTANCE_SECRETS_KEY_PREVIOUS");
    v.remove("INSTANCE_SECRETS_KEY_PREVIOUS_VERSION");
    if let Some((key, version)) = previous {
        v.insert("INSTANCE_SECRETS_KEY_PREVIOUS".into(), key.into());
        v.insert("INSTANCE_SECRETS_KEY_PREVIOUS_VERSION".into(), version.to_string());
    }
}

/// The functions again after a deployment that changed `vars` (a new execution environment on
/// the same table and emulator): their base URL.
async fn redeployed(t: &TestApp, change: impl FnOnce(&mut std::collections::HashMap<String, String>)) -> String {
    let mut vars = t.vars.clone();
    change(&mut vars);
    let mut app = shared::App::from_vars(&vars).await.expect("config");
    let client = local_stack::iam::with_function_credentials(app.store.client());
    app.store = shared::store::UserStore::new(client, t.table.clone()).with_user_id_block(app.config.user_id_block);
    serve_app(std::sync::Arc::new(app)).await
}

async fn login_on_b(t: &TestApp, base: &str, b_key: &str, backend: &str, body: Value) -> u16 {
    let resp = t
        .http
        .post(format!("{base}/v1.1/instances/{B}/user/auth/{backend}/"))
        .header("x-api-key", b_key)
        .json(&body)
        .send()
        .await
        .expect("request");
    let (status, body) = json(resp).await;
    t.remember(body["user_key"].as_str().unwrap_or_default());
    status
}

/// The raw item of B's own apps, as text.
async fn raw_b_item(t: &TestApp) -> String {
    let items = t.scan().await;
    let item = items
        .iter()
        .find(|i| matches!(i.get("pk"), Some(AttributeValue::S(pk)) if pk == &format!("INSTCONF#{B}")))
        .expect("B's item");
    format!("{item:?}")
}

/// The admin tool's way (`UserStore::put_instance_app`): secrets sealed in the raw item (their
/// bytes nowhere in it); a rotation of `INSTANCE_SECRETS_KEY` (new version, previous kept,
/// `reseal`, previous removed) loses no app; a deployment without the key serves none of B's
/// logins (fail closed), not the deployment's app in its place.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn instance_app_secrets_are_sealed_and_survive_a_key_rotation() {
    let (key1, key2) = (new_key(), new_key());
    remember(&key1);
    remember(&key2);
    let t = spawn_app_with(|v| key_vars(v, (&key1, 1), None)).await;
    let b_key = t.open_instance(B).await;
    let b = shared::InstanceName::parse(B).expect("name");
    let v1 = SealingKeys::new((1, SealingKey::from_base64(&key1).expect("key")), None);
    let a = &t.apps;
    for (provider, id, secret) in [
        (shared::Provider::Facebook, OTHER_FACEBOOK_APP_ID, &a.other_facebook_secret),
        (shared::Provider::GitHub, OTHER_GITHUB_CLIENT_ID, &a.other_github_secret),
        (shared::Provider::Twitter, OTHER_TWITTER_CONSUMER_KEY, &a.other_twitter_secret),
    ] {
        let app = shared::domain::instance_apps::OwnApp::new(provider, vec![id.into()], Some(Secret::new(secret)))
            .expect("app");
        t.app.store.put_instance_app(&b, &app, &v1).await.expect("put");
    }
    let raw = raw_b_item(&t).await;
    for secret in [&a.other_facebook_secret, &a.other_github_secret, &a.other_twitter_secret] {
        assert!(!raw.contains(secret.as_str()), "a secret in plain text in the item");
        let hex_half = &secret[..16];
        assert!(!raw.contains(hex_half), "part of a secret in the item");
    }
    assert_eq!(raw.matches("v2.1.").count(), 3, "{raw}");
    let ok = |base: String| {
        let t = &t;
        let b_key = b_key.clone();
        async move {
            for backend in ["facebook", "github", "twitter"] {
                let status = login_on_b(t, &base, &b_key, backend, token_body(t, backend, false)).await;
                assert_eq!(status, 200, "{backend} on {base}");
            }
        }
    };
    ok(t.base.clone()).await;

    // Rotation: version 2 current, version 1 previous; the sealed secrets still open.
    ok(redeployed(&t, |v| key_vars(v, (&key2, 2), Some((&key1, 1)))).await).await;
    let both = SealingKeys::new(
        (2, SealingKey::from_base64(&key2).expect("key")),
        Some((1, SealingKey::from_base64(&key1).expect("key"))),
    );
    assert_eq!(t.app.store.reseal_instance_apps(&b, &both).await.expect("reseal"), 3);
    let raw = raw_b_item(&t).await;
    assert_eq!((raw.matches("v2.2.").count(), raw.matches("v2.1.").count()), (3, 0), "{raw}");
    // The previous key removed: nothing lost.
    ok(redeployed(&t, |v| key_vars(v, (&key2, 2), None)).await).await;

    // A deployment with only the retired key (or none) cannot open B's secrets: B's logins at
    // those providers are refused, never verified with the deployment's app instead.
    for base in [
        redeployed(&t, |v| key_vars(v, (&key1, 1), None)).await,
        redeployed(&t, |v| {
            v.remove("INSTANCE_SECRETS_KEY");
        })
        .await,
    ] {
        let status = login_on_b(&t, &base, &b_key, "facebook", token_body(&t, "facebook", true)).await;
        assert_eq!(status, 500, "the deployment's token on B with B's secret sealed away");
    }
    t.assert_logs_clean();
}

/// An environment keeps an instance's apps for `API_KEY_CACHE_SECS`: a new app takes effect
/// after that, without a cold start, and no login in between reads the item again.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_new_instance_app_takes_effect_after_the_cache_time() {
    let key = new_key();
    remember(&key);
    let t = spawn_app_with(|v| {
        key_vars(v, (&key, 1), None);
        v.insert("API_KEY_CACHE_SECS".into(), "2".into());
    })
    .await;
    let b_key = t.open_instance(B).await;
    let b = shared::InstanceName::parse(B).expect("name");
    let status = login_on_b(&t, &t.base, &b_key, "google-oauth2", token_body(&t, "google-oauth2", true)).await;
    assert_eq!(status, 200, "B without its own app: the deployment's");
    let app =
        shared::domain::instance_apps::OwnApp::new(shared::Provider::Google, vec![OTHER_GOOGLE_CLIENT_ID.into()], None)
            .expect("app");
    let keys = SealingKeys::new((1, SealingKey::from_base64(&key).expect("key")), None);
    t.app.store.put_instance_app(&b, &app, &keys).await.expect("put");
    let status = login_on_b(&t, &t.base, &b_key, "google-oauth2", token_body(&t, "google-oauth2", true)).await;
    assert_eq!(status, 200, "within the cache time the environment still uses what it read");
    tokio::time::sleep(std::time::Duration::from_millis(2_300)).await;
    let status = login_on_b(&t, &t.base, &b_key, "google-oauth2", token_body(&t, "google-oauth2", true)).await;
    assert_eq!(status, 401, "after the cache time B's own app serves it");
    let status = login_on_b(&t, &t.base, &b_key, "google-oauth2", token_body(&t, "google-oauth2", false)).await;
    assert_eq!(status, 200);
    // B's own client ids are checked with the deployment's Google key set: one fetch in all.
    assert_eq!(t.emulator.jwks_fetches(OidcProvider::Google), 1, "an instance fetched Google's keys again");
}

/// A provider the deployment has no app at is served only where an instance has its own: there
/// through both APIs (Rocket.Chat's route logs into the default instance), elsewhere it stays
/// an unsupported backend.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_provider_only_an_instance_configures_is_served_there_alone() {
    let key = new_key();
    remember(&key);
    let t = spawn_app_with(|v| {
        key_vars(v, (&key, 1), None);
        v.remove("GITHUB_CLIENT_ID");
        v.remove("GITHUB_CLIENT_SECRET");
    })
    .await;
    let b_key = t.open_instance(B).await;
    let (status, body) = t.syncano_in(B, &b_key, "github", token_body(&t, "github", false)).await;
    assert_eq!((status, body), (400, json!({"detail": "Unsupported social backend."})), "before B has an app");
    put_raw_app(&t, B, "github", &[OTHER_GITHUB_CLIENT_ID], Some(&t.apps.other_github_secret), &key, 1).await;
    let b = redeployed(&t, |_| {}).await;
    assert_eq!(login_on_b(&t, &b, &b_key, "github", token_body(&t, "github", false)).await, 200);
    assert_eq!(login_on_b(&t, &b, &b_key, "github", token_body(&t, "github", true)).await, 401);
    let (status, body) = t.syncano_at("github", token_body(&t, "github", false)).await;
    assert_eq!((status, body), (400, json!({"detail": "Unsupported social backend."})), "A has none");
    // The default instance given its own app: Rocket.Chat's route serves it there.
    put_raw_app(&t, INSTANCE, "github", &[OTHER_GITHUB_CLIENT_ID], Some(&t.apps.other_github_secret), &key, 1).await;
    let a = redeployed(&t, |_| {}).await;
    let token = token_body(&t, "github", false)["access_token"].as_str().unwrap_or_default().to_string();
    let resp = t
        .http
        .post(format!("{a}/api/v1/login"))
        .json(&json!({"serviceName": "github", "accessToken": token, "expiresIn": 3600}))
        .send()
        .await
        .expect("request");
    let (status, body) = json(resp).await;
    assert_eq!(status, 200, "{body}");
    t.remember(body["data"]["authToken"].as_str().unwrap_or_default());
    t.assert_logs_clean();
}

/// Facebook's callbacks (`/callbacks/facebook/{instance}/...`) at an instance with its own
/// Facebook app are checked with that app's secret and act on that instance alone; the
/// deployment's app's callbacks are refused there. Before (issue 31), B's URL took the
/// deployment's signature and acted on every instance of the subject, and refused B's own.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn facebook_callbacks_of_an_instance_app_act_on_that_instance_alone() {
    let key = new_key();
    remember(&key);
    let t = spawn_app_with(|v| key_vars(v, (&key, 1), None)).await;
    let b_key = t.open_instance(B).await;
    put_raw_app(&t, B, "facebook", &[OTHER_FACEBOOK_APP_ID], Some(&t.apps.other_facebook_secret), &key, 1).await;
    let person = t.emulator.create_facebook_user("Two Apps", None);
    let (asid_a, asid_b) =
        (t.emulator.app_scoped_user_id(&person, APP_ID), t.emulator.app_scoped_user_id(&person, OTHER_APP_ID));
    let (status, a_user) = t.syncano_at("facebook", json!({ "access_token": t.token(&person, APP_ID, 3600) })).await;
    assert_eq!(status, 200, "{a_user}");
    let a_user_key = a_user["user_key"].as_str().unwrap_or_default().to_string();
    t.remember(&a_user_key);
    let body = json!({ "access_token": t.token(&person, OTHER_APP_ID, 3600) });
    let (status, b_user) = t.syncano_in(B, &b_key, "facebook", body).await;
    assert_eq!(status, 200, "{b_user}");
    let b_user_key = b_user["user_key"].as_str().unwrap_or_default().to_string();
    t.remember(&b_user_key);
    let post = |instance: &'static str, signed: String| {
        t.remember(&signed);
        let url = format!("{}/callbacks/facebook/{instance}/data-deletion", t.base);
        let body = format!("signed_request={signed}");
        let req = t.http.post(url).header("content-type", "application/x-www-form-urlencoded").body(body);
        async move { json(req.send().await.expect("request")).await }
    };

    // The deployment's signature at B's URL, about A's person: refused, nothing deleted.
    let (status, body) = post(B, t.emulator.facebook_signed_request(APP_ID, &asid_a, None)).await;
    assert_eq!(status, 401, "the deployment's callback at B: {body}");
    assert_eq!(t.user_key_status(&a_user_key).await, 200, "A's user kept");
    // B's own app's request at B's URL: B's user goes, A's stays.
    let (status, body) = post(B, t.emulator.facebook_signed_request(OTHER_APP_ID, &asid_b, None)).await;
    assert_eq!(status, 200, "B's own app's callback at B: {body}");
    assert_eq!(t.user_key_status_in(B, &b_key, &b_user_key).await, 403, "B's user deleted");
    assert_eq!(t.user_key_status(&a_user_key).await, 200, "A's user kept");
    // B's app's signature at A's URL (the deployment's app there): refused.
    let (status, _) = post(INSTANCE, t.emulator.facebook_signed_request(OTHER_APP_ID, &asid_a, None)).await;
    assert_eq!(status, 401);
    assert_eq!(t.user_key_status(&a_user_key).await, 200, "A's user kept");
    t.assert_logs_clean();
}

/// Apple's `sub` is the same for every app of one team: a person signed in to A (the
/// deployment's Apple app) and to B (its own) is one subject in both. A notification for B's
/// app acts on B alone; one for the deployment's app acts on the instances using it, not on B.
/// Before (issue 31), B's app's notifications were refused and the deployment's deleted B's
/// user too.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn apple_notifications_of_an_instance_app_act_on_that_instance_alone() {
    let key = new_key();
    remember(&key);
    let t = spawn_app_with(|v| key_vars(v, (&key, 1), None)).await;
    let b_key = t.open_instance(B).await;
    put_raw_app(&t, B, "apple", &[OTHER_APPLE_CLIENT_ID], None, &key, 1).await;
    let sub = t.emulator.create_oidc_user(OidcProvider::Apple, "Two Apps", None, false);
    let (t, sub) = (&t, &sub);
    let sign_in = |instance: &'static str, api_key: String, aud: &'static str| {
        let token = t.emulator.issue_id_token(OidcProvider::Apple, sub, aud, Some("n"));
        t.remember(&token);
        async move {
            let (status, body) =
                t.syncano_in(instance, &api_key, "apple", json!({"access_token": token, "nonce": "n"})).await;
            assert_eq!(status, 200, "{instance}: {body}");
            let user_key = body["user_key"].as_str().unwrap_or_default().to_string();
            t.remember(&user_key);
            user_key
        }
    };
    let notify = |instance: &'static str, aud: &'static str, sub: String| {
        let body = t.emulator.apple_notification(aud, "account-delete", &sub, None);
        let url = format!("{}/callbacks/apple/{instance}", t.base);
        let req = t.http.post(url).json(&body);
        async move { json(req.send().await.expect("request")).await }
    };

    let a_key = sign_in(INSTANCE, t.api_key.clone(), APPLE_CLIENT_ID).await;
    let b_user_key = sign_in(B, b_key.clone(), OTHER_APPLE_CLIENT_ID).await;
    // The deployment's app's notification at B's URL: not B's app, refused.
    let (status, body) = notify(B, APPLE_CLIENT_ID, sub.clone()).await;
    assert_eq!(status, 401, "the deployment's notification at B: {body}");
    // B's app's notification at B's URL: B's user goes, A's stays.
    let (status, body) = notify(B, OTHER_APPLE_CLIENT_ID, sub.clone()).await;
    assert_eq!(status, 200, "{body}");
    assert_eq!(t.user_key_status_in(B, &b_key, &b_user_key).await, 403, "B's user deleted");
    assert_eq!(t.user_key_status(&a_key).await, 200, "A's user kept");

    // The deployment's notification at A's URL acts on A, never on B's user of B's own app.
    let b_user_key = sign_in(B, b_key.clone(), OTHER_APPLE_CLIENT_ID).await;
    let (status, body) = notify(INSTANCE, APPLE_CLIENT_ID, sub.clone()).await;
    assert_eq!(status, 200, "{body}");
    assert_eq!(t.user_key_status(&a_key).await, 403, "A's user deleted");
    assert_eq!(t.user_key_status_in(B, &b_key, &b_user_key).await, 200, "B's user kept");
    t.assert_logs_clean();
}

/// Rocket.Chat's `/api/v1/login` logs into the default instance: given its own apps, the
/// deployment's tokens are refused there too (Rocket.Chat's `Unauthorized`), its own app's
/// tokens log in.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_default_instance_with_its_own_apps_refuses_other_apps_tokens_on_rocket_chat() {
    let key = new_key();
    remember(&key);
    let t = spawn_app_with(|v| {
        key_vars(v, (&key, 1), None);
        v.insert("LOGIN_FAILURES_PER_USER_MAX".into(), "1000".into());
    })
    .await;
    put_raw_app(&t, INSTANCE, "facebook", &[OTHER_FACEBOOK_APP_ID], Some(&t.apps.other_facebook_secret), &key, 1).await;
    put_raw_app(&t, INSTANCE, "google", &[OTHER_GOOGLE_CLIENT_ID], None, &key, 1).await;
    let rc = |body: Value| {
        let req = t.http.post(format!("{}/api/v1/login", t.base)).json(&body);
        async move { json(req.send().await.expect("request")).await }
    };
    let person = t.emulator.create_facebook_user("Rocket Person", None);
    let sub = t.emulator.create_oidc_user(OidcProvider::Google, "Rocket Person", None, false);
    for (ours, expected) in [(true, 401), (false, 200)] {
        let app_id = if ours { FACEBOOK_APP_ID } else { OTHER_FACEBOOK_APP_ID };
        let (status, body) = rc(json!({"serviceName": "facebook", "accessToken": t.token(&person, app_id, 3600),
                                      "secret": "s", "expiresIn": 3600}))
        .await;
        assert_eq!(status, expected, "facebook, deployment's app: {ours}: {body}");
        if ours {
            assert_eq!(body, rc_login_unauthorized());
        }
        t.remember(body["data"]["authToken"].as_str().unwrap_or_default());
        let aud = if ours { GOOGLE_CLIENT_ID } else { OTHER_GOOGLE_CLIENT_ID };
        let token = t.emulator.issue_id_token(OidcProvider::Google, &sub, aud, None);
        t.remember(&token);
        let (status, body) = rc(json!({"serviceName": "google", "idToken": token, "expiresIn": 3600})).await;
        assert_eq!(status, expected, "google, deployment's app: {ours}: {body}");
        t.remember(body["data"]["authToken"].as_str().unwrap_or_default());
    }
    t.assert_logs_clean();
}

/// Account deletion withdraws Facebook's permissions with the app the identity was made with:
/// B's own app for B's user (Graph refuses another app's token for B's app-scoped id). Before
/// (issue 31), the deployment's app asked, was refused, and the revocation stayed pending,
/// retried until it expired.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn deleting_a_user_of_an_instance_app_revokes_with_that_app() {
    let key = new_key();
    remember(&key);
    let t = spawn_app_with(|v| key_vars(v, (&key, 1), None)).await;
    let b_key = t.open_instance(B).await;
    put_raw_app(&t, B, "facebook", &[OTHER_FACEBOOK_APP_ID], Some(&t.apps.other_facebook_secret), &key, 1).await;
    let person = t.emulator.create_facebook_user("Own App Person", None);
    let token = t.token(&person, OTHER_APP_ID, 3600);
    let (status, user) = t.syncano_in(B, &b_key, "facebook", json!({ "access_token": token })).await;
    assert_eq!(status, 200, "{user}");
    let user_key = user["user_key"].as_str().unwrap_or_default().to_string();
    t.remember(&user_key);
    let resp = t
        .http
        .delete(format!("{}/v1.1/instances/{B}/user/", t.base))
        .header("x-api-key", &b_key)
        .header("x-user-key", &user_key)
        .send()
        .await
        .expect("request");
    assert_eq!(resp.status().as_u16(), 204);
    assert_eq!(t.emulator.revocation_stats(), (0, 0, 1), "DELETE /{{user-id}}/permissions with B's app");
    let pending: Vec<_> = t
        .scan()
        .await
        .into_iter()
        .filter(|i| i.get("pk").and_then(|v| v.as_s().ok()).is_some_and(|pk| pk.starts_with("REVOKE")))
        .collect();
    assert!(pending.is_empty(), "nothing left to retry: {pending:?}");
    // The person's token for B's app no longer works: the permissions are gone.
    let (status, _) = t.syncano_in(B, &b_key, "facebook", json!({ "access_token": token })).await;
    assert_eq!(status, 401);
}

/// Another Apple developer team's key, as an instance's own Apple app of that team has it.
const OTHER_APPLE_TEAM_ID: &str = "OTHERTEAM1";
const OTHER_APPLE_KEY_ID: &str = "OTHERKEY01";
const OTHER_APPLE_PRIVATE_KEY: &str = include_str!("../../tools/emulator/keys/apple-other-team.p8");
const OTHER_APPLE_PUBLIC_KEY: &str = include_str!("../../tools/emulator/keys/apple-other-team.pub.pem");

/// B's own Apple app with its own team key as the admin tool writes it: the ids, team id and key
/// id in the clear, the `.p8` sealed under `key` (`team_key`), bound to B, `apple` and the app's id.
async fn put_raw_apple_team_app(t: &TestApp, key: &str, pem: &str) {
    let keys = SealingKeys::new((1, SealingKey::from_base64(key).expect("key")), None);
    let aad = format!("INSTCONF#{B}#PROVIDER#apple#{OTHER_APPLE_CLIENT_ID}");
    let sealed = keys.seal(&Secret::new(pem), &aad).expect("seal");
    let app = std::collections::HashMap::from([
        ("ids".to_string(), AttributeValue::L(vec![AttributeValue::S(OTHER_APPLE_CLIENT_ID.into())])),
        ("team_id".to_string(), AttributeValue::S(OTHER_APPLE_TEAM_ID.into())),
        ("key_id".to_string(), AttributeValue::S(OTHER_APPLE_KEY_ID.into())),
        ("team_key".to_string(), AttributeValue::S(sealed)),
    ]);
    t.dynamo
        .update_item()
        .table_name(&t.table)
        .key("pk", AttributeValue::S(format!("INSTCONF#{B}")))
        .key("sk", AttributeValue::S("PROVIDERS".into()))
        .update_expression("SET #p = :app")
        .expression_attribute_names("#p", "apple")
        .expression_attribute_values(":app", AttributeValue::M(app))
        .send()
        .await
        .expect("update");
}

/// Attack/bug of issue 31: B's own Apple app belongs to another developer team ("OTHERTEAM1").
/// Its authorization code is exchanged at first login and its refresh token revoked at deletion
/// with B's team key (Apple takes a client secret for B's client id signed with B's team key
/// only). Before, both calls were signed with the deployment's team key: Apple refused them, no
/// refresh token was kept and nothing was revoked at deletion.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_instance_apple_app_of_another_team_exchanges_and_revokes_with_its_own_team_key() {
    let key = new_key();
    remember(&key);
    let t = spawn_app_with(|v| key_vars(v, (&key, 1), None)).await;
    let pem_body: String = OTHER_APPLE_PRIVATE_KEY.lines().filter(|l| !l.starts_with("-----")).collect();
    t.remember(&pem_body);
    t.emulator.add_apple_team(emulator::AppleTeam {
        team_id: OTHER_APPLE_TEAM_ID.into(),
        key_id: OTHER_APPLE_KEY_ID.into(),
        public_key_pem: OTHER_APPLE_PUBLIC_KEY.into(),
        client_ids: vec![OTHER_APPLE_CLIENT_ID.into()],
    });
    let b_key = t.open_instance(B).await;
    put_raw_apple_team_app(&t, &key, OTHER_APPLE_PRIVATE_KEY).await;

    let sub = t.emulator.create_oidc_user(OidcProvider::Apple, "Other Team", None, false);
    let token = t.emulator.issue_id_token(OidcProvider::Apple, &sub, OTHER_APPLE_CLIENT_ID, Some("n"));
    let code = t.emulator.apple_authorization_code(&sub, OTHER_APPLE_CLIENT_ID);
    t.remember(&token);
    t.remember(&code);
    let body = json!({ "access_token": token, "nonce": "n", "authorization_code": code });
    let (status, body) = t.syncano_in(B, &b_key, "apple", body).await;
    assert_eq!(status, 200, "{body}");
    let user_key = body["user_key"].as_str().expect("user_key").to_string();
    t.remember(&user_key);

    // Exchanged with B's team key: one refresh token at Apple, kept sealed on B's identity.
    let tokens = t.emulator.apple_refresh_tokens(&sub);
    assert_eq!(tokens.len(), 1, "the code was not exchanged with B's team key");
    let refresh = tokens[0].token.clone();
    t.remember(&refresh);
    let table = format!("{:?}", t.scan().await);
    assert!(!table.contains(&refresh), "the refresh token is stored in plain text");
    assert!(!table.contains(&pem_body), "B's team key is stored in plain text");
    let ident = format!("IDENT#{B}#apple#{sub}");
    let item = t.scan().await.into_iter().find(|i| i.get("pk").and_then(|v| v.as_s().ok()) == Some(&ident));
    let sealed = item.as_ref().and_then(|i| i.get("refresh_token")).and_then(|v| v.as_s().ok()).cloned();
    assert!(sealed.is_some(), "no sealed refresh token on B's identity: {item:?}");

    // Deleting the user revokes it at Apple, again signed with B's team key.
    let resp = t
        .http
        .delete(format!("{}/v1.1/instances/{B}/user/", t.base))
        .header("x-api-key", &b_key)
        .header("x-user-key", &user_key)
        .send()
        .await
        .expect("delete");
    assert_eq!(resp.status().as_u16(), 204);
    let revoked: Vec<(String, bool)> =
        t.emulator.apple_refresh_tokens(&sub).into_iter().map(|r| (r.token, r.revoked)).collect();
    assert_eq!(revoked, [(refresh, true)], "not revoked at Apple with B's team key");
    t.assert_logs_clean();
}

/// B's stored team key that is not a Sign in with Apple key (or does not open): B's Apple code
/// is not exchanged (fail closed, logged without the key), never with the deployment's key in
/// its place; the login itself goes on.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_instance_apple_team_key_that_is_not_a_p256_key_fails_closed() {
    let key = new_key();
    remember(&key);
    let t = spawn_app_with(|v| key_vars(v, (&key, 1), None)).await;
    // The deployment's team claims B's client id too: only B's own (broken) key may be used.
    t.emulator.add_apple_team(emulator::AppleTeam {
        team_id: APPLE_TEAM_ID.into(),
        key_id: APPLE_KEY_ID.into(),
        public_key_pem: APPLE_PUBLIC_KEY.into(),
        client_ids: vec![OTHER_APPLE_CLIENT_ID.into()],
    });
    let b_key = t.open_instance(B).await;
    let rsa = include_str!("../../tools/emulator/keys/key-1.pem");
    put_raw_apple_team_app(&t, &key, rsa).await;
    let sub = t.emulator.create_oidc_user(OidcProvider::Apple, "Bad Key", None, false);
    let token = t.emulator.issue_id_token(OidcProvider::Apple, &sub, OTHER_APPLE_CLIENT_ID, Some("n"));
    let code = t.emulator.apple_authorization_code(&sub, OTHER_APPLE_CLIENT_ID);
    t.remember(&token);
    t.remember(&code);
    let body = json!({ "access_token": token, "nonce": "n", "authorization_code": code });
    let (status, body) = t.syncano_in(B, &b_key, "apple", body).await;
    assert_eq!(status, 200, "{body}");
    t.remember(body["user_key"].as_str().unwrap_or_default());
    assert!(t.emulator.apple_refresh_tokens(&sub).is_empty(), "exchanged with another key than B's");
    t.assert_logs_clean();
}
