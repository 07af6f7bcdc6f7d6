//! DynamoDB throttling one partition (issue 30, "when DynamoDB throttles anyway"): a hot key
//! (the instance's, a user's) throttled past the SDK's own retries answers 503 with a spread
//! `Retry-After` in each dialect's body, writes nothing (no part of a user, no failure counter,
//! no session), and the login line counts it as `store_throttled`. A transaction DynamoDB
//! cancelled for throttling is no lost race: it is answered at once, never read again as one.

use local_stack::counting_proxy::{CountingProxy, DynamoFault};
use serde_json::{json, Value};

use crate::helpers::*;

/// Enough throttled answers to outlast the SDK's retries of every request of a login.
const EVERY_TIME: u32 = u32::MAX;

#[derive(Clone, Copy, Debug)]
enum Dialect {
    Syncano,
    RocketChat,
}

/// What a login answered, and its request line.
struct Answer {
    status: u16,
    retry_after: Option<String>,
    body: Value,
    line: Value,
}

async fn login(t: &TestApp, dialect: Dialect, token: &str) -> Answer {
    login_at(t, &t.base, dialect, token).await
}

/// [`login`] through the gateway at `base` (another execution environment on the same table).
async fn login_at(t: &TestApp, base: &str, dialect: Dialect, token: &str) -> Answer {
    let request = match dialect {
        Dialect::Syncano => t
            .http
            .post(format!("{base}/v1.1/instances/{INSTANCE}/user/auth/facebook/"))
            .header("x-api-key", &t.api_key)
            .json(&json!({ "access_token": token })),
        Dialect::RocketChat => t.http.post(format!("{base}/api/v1/login")).json(&json!({
            "serviceName": "facebook", "accessToken": token, "secret": "client-secret", "expiresIn": 3600
        })),
    };
    let resp = request.send().await.expect("request");
    let request_id = resp.headers()["apigw-requestid"].to_str().expect("ascii").to_string();
    let retry_after = resp.headers().get("retry-after").map(|v| v.to_str().unwrap_or_default().to_string());
    let (status, body) = json(resp).await;
    for secret in [&body["user_key"], &body["data"]["authToken"]] {
        t.remember(secret.as_str().unwrap_or_default());
    }
    let lines = request_lines(&request_id);
    assert_eq!(lines.len(), 1, "one line per request: {lines:?}");
    Answer { status, retry_after, body, line: lines.into_iter().next().unwrap_or_default() }
}

/// The whole table, in an order that compares.
async fn table(t: &TestApp) -> Vec<String> {
    let mut items: Vec<String> = t
        .scan()
        .await
        .into_iter()
        .map(|item| {
            let mut attrs: Vec<String> = item.iter().map(|(k, v)| format!("{k}={v:?}")).collect();
            attrs.sort();
            attrs.join(" ")
        })
        .collect();
    items.sort();
    items
}

/// The items that differ between two [`table`]s, but for the instance's user id counter: an id the
/// login took before its transaction was refused is a gap (docs/key-design.md), not part of a user.
fn changed(before: &[String], after: &[String]) -> Vec<String> {
    let counter = format!("pk=S(\"USERIDS#{INSTANCE}\")");
    let only = |a: &[String], b: &[String]| -> Vec<String> {
        a.iter().filter(|i| !b.contains(i) && !i.contains(&counter)).cloned().collect()
    };
    [only(before, after), only(after, before)].concat()
}

/// `Retry-After` of a throttled answer: whole seconds, spread so that the clients a hot
/// partition refused together do not come back together, and short enough for a person.
fn assert_throttled_retry_after(what: &str, retry_after: Option<&str>) {
    let secs: u64 = retry_after
        .unwrap_or_else(|| panic!("{what}: no Retry-After"))
        .parse()
        .unwrap_or_else(|e| panic!("{what}: Retry-After {retry_after:?}: {e}"));
    assert!((2..=5).contains(&secs), "{what}: Retry-After {secs}");
}

/// The dialect's own 503 body.
fn assert_unavailable_body(what: &str, dialect: Dialect, body: &Value) {
    let want = match dialect {
        Dialect::Syncano => json!({ "detail": "Service temporarily unavailable. Try again later." }),
        Dialect::RocketChat => json!({
            "success": false,
            "status": "error",
            "error": "error-service-unavailable",
            "message": "Service temporarily unavailable. Try again later."
        }),
    };
    assert_eq!(body, &want, "{what}");
}

/// A login of `token` through `dialect` while `pk` is throttled on every request: 503, the
/// throttled `Retry-After`, the dialect's body, `store_throttled` in its line, and not one item
/// of the table changed.
async fn assert_throttled_login(t: &TestApp, proxy: &CountingProxy, pk: &str, dialect: Dialect, token: &str) {
    assert_throttled_login_at(t, &t.base, proxy, pk, dialect, token).await;
}

/// [`assert_throttled_login`] through the gateway at `base`.
async fn assert_throttled_login_at(
    t: &TestApp,
    base: &str,
    proxy: &CountingProxy,
    pk: &str,
    dialect: Dialect,
    token: &str,
) {
    let what = format!("{dialect:?} login with {pk} throttled");
    let before = table(t).await;
    proxy.take();
    proxy.fail_partition(DynamoFault::Throttled, pk, EVERY_TIME);
    let answer = login_at(t, base, dialect, token).await;
    proxy.heal();
    let calls = proxy.take();
    assert!(calls.iter().any(|c| c.keys.iter().any(|k| k.pk == pk)), "{what}: the login never asked for {pk}");
    assert_eq!(answer.status, 503, "{what}: {}", answer.body);
    assert_throttled_retry_after(&what, answer.retry_after.as_deref());
    assert_unavailable_body(&what, dialect, &answer.body);
    assert_eq!(answer.line["Outcome"], "store_throttled", "{what}: {}", answer.line);
    assert_eq!(answer.line["status"], 503, "{what}: {}", answer.line);
    assert_eq!(table(t).await, before, "{what}: the table changed");
}

/// Another execution environment of the same functions on `t`'s table (and DynamoDB endpoint):
/// its own `App`, with nothing in memory yet. Its gateway's base URL.
async fn another_environment(t: &TestApp) -> String {
    t.new_environment_gateway().await
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_throttled_instance_key_answers_503_with_retry_after_in_both_dialects_and_writes_nothing() {
    let (t, proxy) = spawn_app_behind_proxy().await;
    let instance_pk = format!("INST#{INSTANCE}");
    // Before any request of this environment has succeeded, so that none of its answers about the
    // instance is kept in memory (issue 30 keeps API key checks): each login asks the partition.
    // A Syncano first login (the API key) and a Rocket.Chat one (the sign-up policy).
    let (_, newcomer_syncano) = t.facebook_user("Hot Instance Syncano", None);
    let (_, newcomer_rocketchat) = t.facebook_user("Hot Instance Rocket", None);
    let logins = [(Dialect::Syncano, newcomer_syncano.as_str()), (Dialect::RocketChat, newcomer_rocketchat.as_str())];
    for (dialect, token) in logins {
        assert_throttled_login(&t, &proxy, &instance_pk, dialect, token).await;
    }
    // Healed, each signs up whole.
    for (dialect, token) in logins {
        let answer = login(&t, dialect, token).await;
        assert_eq!(answer.status, 200, "{dialect:?} after the throttle: {}", answer.body);
    }
    assert_eq!(t.login_writes().await[..3], [2, 2, 2], "two whole users");
    // A Syncano returning login (the API key), in a new environment (nothing in memory).
    let fresh = another_environment(&t).await;
    assert_throttled_login_at(&t, &fresh, &proxy, &instance_pk, Dialect::Syncano, &newcomer_syncano).await;
    assert_eq!(login_at(&t, &fresh, Dialect::Syncano, &newcomer_syncano).await.status, 200, "healed");
    t.assert_logs_clean();
}

/// The authorizers answer a throttled store as an unavailable one: an error, which API Gateway
/// answers with its own 500 (and does not cache), never a 403 for a valid credential.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_authorizer_answers_a_throttled_store_with_api_gateways_500_never_403() {
    let (t, proxy) = spawn_app_behind_proxy().await;
    let (_, token) = t.facebook_user("Hot Authorized", None);
    let syncano = login(&t, Dialect::Syncano, &token).await;
    let user_key = syncano.body["user_key"].as_str().expect("user key").to_string();
    let user_pk = format!("USER#{INSTANCE}#{}", syncano.body["id"]);
    let syncano_route = format!("{}{}", t.base, syncano_only(INSTANCE));
    let rc_route = format!("{}{ROCKETCHAT_ONLY}", t.base);
    let sha = shared::domain::tokens::sha256_hex;
    // Each case with a credential not used before: API Gateway caches the allow that follows.
    let mut cases = vec![(
        t.http.get(&syncano_route).header("x-api-key", &t.api_key).header("x-user-key", &user_key),
        format!("UKEY#{INSTANCE}#{}", sha(&user_key)),
    )];
    for session_pk in [true, false] {
        let session = login(&t, Dialect::RocketChat, &token).await;
        let auth = session.body["data"]["authToken"].as_str().expect("authToken").to_string();
        let rc_id = session.body["data"]["userId"].as_str().expect("userId").to_string();
        let pk = if session_pk { format!("SESSION#{}", sha(&auth)) } else { user_pk.clone() };
        cases.push((t.http.get(&rc_route).header("x-auth-token", &auth).header("x-user-id", &rc_id), pk));
    }
    for (request, pk) in cases {
        proxy.take();
        proxy.fail_partition(DynamoFault::Throttled, &pk, EVERY_TIME);
        let again = request.try_clone().expect("no body");
        let (status, body) = json(request.send().await.expect("request")).await;
        proxy.heal();
        assert!(proxy.take().iter().any(|c| c.keys.iter().any(|k| k.pk == pk)), "never asked for {pk}");
        assert_eq!((status, body), (500, json!({ "message": "Internal Server Error" })), "{pk} throttled");
        // Not cached: healed, the same credential is let in.
        let (status, body) = json(again.send().await.expect("request")).await;
        assert_eq!(status, 200, "{pk} healed: {body}");
    }
    t.assert_logs_clean();
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_throttled_user_key_answers_503_with_retry_after_in_both_dialects_and_writes_nothing() {
    let (t, proxy) = spawn_app_behind_proxy().await;
    let mut throttled = Vec::new();
    for dialect in [Dialect::Syncano, Dialect::RocketChat] {
        let (person, token) = t.facebook_user(&format!("Hot User {dialect:?}"), None);
        let subject = t.emulator.app_scoped_user_id(&person, APP_ID);
        let identity_pk = format!("IDENT#{INSTANCE}#facebook#{subject}");
        // Their first login, then (once they exist) a returning one.
        assert_throttled_login(&t, &proxy, &identity_pk, dialect, &token).await;
        let first = login(&t, dialect, &token).await;
        assert_eq!(first.status, 200, "{dialect:?}: {}", first.body);
        assert_throttled_login(&t, &proxy, &identity_pk, dialect, &token).await;
        // The user's own item, which the returning login of each dialect reads or writes under.
        let user_id = match dialect {
            Dialect::Syncano => first.body["id"].as_u64().expect("id"),
            Dialect::RocketChat => login(&t, Dialect::Syncano, &token).await.body["id"].as_u64().expect("id"),
        };
        for pk in [format!("USER#{INSTANCE}#{user_id}"), format!("USESS#{INSTANCE}#{user_id}")] {
            proxy.take();
            assert_eq!(login(&t, dialect, &token).await.status, 200);
            if proxy.take().iter().any(|c| c.keys.iter().any(|k| k.pk == pk)) {
                assert_throttled_login(&t, &proxy, &pk, dialect, &token).await;
                throttled.push((dialect, pk.split('#').next().unwrap_or_default().to_string()));
            }
        }
    }
    // A Rocket.Chat login writes its session under the user's key (Syncano's reads only the
    // identity's, with the user's snapshot in it).
    assert!(throttled.iter().any(|(d, pk)| matches!(d, Dialect::RocketChat) && pk == "USESS"), "{throttled:?}");
    t.assert_logs_clean();
}

/// Issue 33: a first login's first write (the identity's put, which decides) throttled past the
/// SDK's retries: 503 at once, not read as a lost race, nothing written.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_first_login_whose_deciding_write_is_throttled_answers_503_and_writes_no_user() {
    let (t, proxy) = spawn_app_behind_proxy().await;
    for dialect in [Dialect::Syncano, Dialect::RocketChat] {
        let what = format!("{dialect:?} first login, its identity's put throttled");
        let (_, token) = t.facebook_user(&format!("Cancelled {dialect:?}"), None);
        let before = table(&t).await;
        proxy.take();
        proxy.fail(DynamoFault::Throttled, Some("PutItem"), EVERY_TIME);
        let answer = login(&t, dialect, &token).await;
        proxy.heal();
        let calls = proxy.take();
        let puts = calls.iter().filter(|c| c.operation == "PutItem").count();
        assert_eq!(answer.status, 503, "{what}: {}", answer.body);
        assert_throttled_retry_after(&what, answer.retry_after.as_deref());
        assert_unavailable_body(&what, dialect, &answer.body);
        assert_eq!(answer.line["Outcome"], "store_throttled", "{what}: {}", answer.line);
        // Answered after the SDK's own attempts: not read as a lost race and tried again.
        assert!((1..=3).contains(&puts), "{what}: {puts} puts");
        assert_eq!(changed(&before, &table(&t).await), Vec::<String>::new(), "{what}");
        assert_eq!(login(&t, dialect, &token).await.status, 200, "{what}: healed");
    }
    t.assert_logs_clean();
}

/// A key reset whose writes DynamoDB throttles (its new lookup's put, or the user's update that
/// decides) is no reset that lost a race: 503, nothing left written, the old key still the user's.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_key_reset_cancelled_for_throttling_is_no_lost_race() {
    let (t, proxy) = spawn_app_behind_proxy().await;
    let (_, token) = t.facebook_user("Reset Under Load", None);
    let first = login(&t, Dialect::Syncano, &token).await;
    assert_eq!(first.status, 200, "{}", first.body);
    let user_key = first.body["user_key"].as_str().unwrap_or_default().to_string();
    let reset = format!("{}/v1.1/instances/{INSTANCE}/users/{}/reset_key/", t.base, first.body["id"]);
    for op in ["PutItem", "UpdateItem"] {
        let before = table(&t).await;
        proxy.take();
        proxy.fail(DynamoFault::Throttled, Some(op), EVERY_TIME);
        let resp = t.http.post(&reset).header("x-api-key", ADMIN_API_KEY).send().await.expect("reset");
        proxy.heal();
        let retry_after = resp.headers().get("retry-after").map(|v| v.to_str().unwrap_or_default().to_string());
        let (status, body) = json(resp).await;
        let attempts = proxy.take().iter().filter(|c| c.operation == op).count();
        assert_eq!(status, 503, "{op}: {body}");
        assert_throttled_retry_after("reset_key", retry_after.as_deref());
        assert_unavailable_body("reset_key", Dialect::Syncano, &body);
        assert!((1..=3).contains(&attempts), "{op}: a throttled write is not retried as a race ({attempts})");
        assert_eq!(table(&t).await, before, "{op}: the table changed");
        assert_eq!(t.user_key_status(&user_key).await, 200, "{op}: the old key still works");
    }
    t.assert_logs_clean();
}

/// A deletion whose later writes DynamoDB throttles (past the SDK's retries) is unfinished, not
/// corrupt: 503 with `Retry-After`, and the same deletion again finishes it. (Issue 33: no
/// transaction any more; the tombstone is one `UpdateItem`, the identity's removal and every
/// later removal a `DeleteItem`.)
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_deletion_cancelled_for_throttling_is_unfinished_not_corrupt() {
    let (t, proxy) = spawn_app_behind_proxy().await;
    let (_, token) = t.facebook_user("Deleted Under Load", None);
    let user = login(&t, Dialect::Syncano, &token).await;
    assert_eq!(user.status, 200, "{}", user.body);
    let delete = || {
        t.http
            .delete(format!("{}/v1.1/instances/{INSTANCE}/users/{}/", t.base, user.body["id"]))
            .header("x-api-key", ADMIN_API_KEY)
    };
    // Step 1 (the tombstone) passes; every removal after it is throttled.
    proxy.fail(DynamoFault::Throttled, Some("DeleteItem"), EVERY_TIME);
    let resp = delete().send().await.expect("delete");
    proxy.heal();
    let retry_after = resp.headers().get("retry-after").map(|v| v.to_str().unwrap_or_default().to_string());
    let (status, body) = json(resp).await;
    assert_eq!(status, 503, "{body}");
    assert_throttled_retry_after("the deletion's removals", retry_after.as_deref());
    assert_unavailable_body("the deletion's removals", Dialect::Syncano, &body);
    let resp = delete().send().await.expect("delete again");
    assert_eq!(resp.status().as_u16(), 204, "the same deletion again finishes it");
    assert_eq!(t.login_writes().await[..3], [0, 0, 1], "no user, no identity, the username held");
    t.assert_logs_clean();
}
