//! Issue 33, "prove it here": three local regions over one table behind the MRSC proxy
//! (`regions.rs`, `local_stack::mrsc_proxy`).
//!
//! First the proxy itself (it refuses transactions and TTL as an MRSC table does, conflicts two
//! regions' writes of one item, cuts a killed region), and `ReplicatedWriteConflictException`
//! through the functions' own DynamoDB client (retried; past the retries 503 in the dialect's
//! body, nothing written). Then the tests on the store without transactions: one user
//! from simultaneous first logins over three regions, logouts and deletions refused at once
//! elsewhere, a deletion racing a login, a mixed workload with a region killed mid-flight.

use std::collections::{HashMap, HashSet};
use std::time::Duration;

use aws_sdk_dynamodb::config::retry::RetryConfig;
use aws_sdk_dynamodb::error::ProvideErrorMetadata;
use aws_sdk_dynamodb::types::{AttributeValue, Put, TransactWriteItem};
use local_stack::mrsc_proxy::{MrscSettings, REPLICATED_WRITE_CONFLICT_MESSAGE, TRANSACTIONS_REFUSED, TTL_REFUSED};
use serde_json::{json, Value};

use crate::helpers::{logs, remember, Item, ADMIN_API_KEY, INSTANCE};
use crate::regions::{spawn_regions, spawn_regions_with, Regions};

/// A client of region `i`'s DynamoDB endpoint that does not retry (to see each answer).
fn raw_client(r: &Regions, i: usize) -> aws_sdk_dynamodb::Client {
    let endpoint = r.proxy.endpoint(&r.region(i).name);
    let base = local_stack::dynamodb_local::client(&endpoint);
    aws_sdk_dynamodb::Client::from_conf(base.config().to_builder().retry_config(RetryConfig::disabled()).build())
}

fn s(v: &str) -> AttributeValue {
    AttributeValue::S(v.to_string())
}

fn test_item(pk: &str) -> HashMap<String, AttributeValue> {
    HashMap::from([("pk".to_string(), s(pk)), ("sk".to_string(), s("TEST"))])
}

fn settings(write_ms: u64) -> MrscSettings {
    MrscSettings { write_delay: Duration::from_millis(write_ms), consistent_read_delay: Duration::from_millis(5) }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_mrsc_table_refuses_transactions_and_ttl() {
    let r = spawn_regions_with(1, settings(5), |_| {}).await;
    let client = raw_client(&r, 0);
    let put = Put::builder().table_name(&r.table).set_item(Some(test_item("TEST#tx"))).build().expect("put");
    let err = client
        .transact_write_items()
        .transact_items(TransactWriteItem::builder().put(put).build())
        .send()
        .await
        .expect_err("TransactWriteItems refused");
    assert_eq!((err.code(), err.message()), (Some("ValidationException"), Some(TRANSACTIONS_REFUSED)));
    let get = aws_sdk_dynamodb::types::Get::builder()
        .table_name(&r.table)
        .set_key(Some(test_item("TEST#tx")))
        .build()
        .expect("get");
    let err = client
        .transact_get_items()
        .transact_items(aws_sdk_dynamodb::types::TransactGetItem::builder().get(get).build())
        .send()
        .await
        .expect_err("TransactGetItems refused");
    assert_eq!((err.code(), err.message()), (Some("ValidationException"), Some(TRANSACTIONS_REFUSED)));
    assert_eq!(r.count("TEST#").await, 0, "nothing of the transaction written");

    let ttl = client.describe_time_to_live().table_name(&r.table).send().await.expect("DescribeTimeToLive");
    let status = ttl.time_to_live_description().and_then(|d| d.time_to_live_status()).map(|s| s.as_str().to_string());
    assert_eq!(status.as_deref(), Some("DISABLED"));
    let spec = aws_sdk_dynamodb::types::TimeToLiveSpecification::builder()
        .enabled(true)
        .attribute_name("expires_at")
        .build()
        .expect("spec");
    let err = client
        .update_time_to_live()
        .table_name(&r.table)
        .time_to_live_specification(spec)
        .send()
        .await
        .expect_err("UpdateTimeToLive refused");
    assert_eq!((err.code(), err.message()), (Some("ValidationException"), Some(TTL_REFUSED)));
    // And the table itself was made without TTL (an MRSC table has none).
    let direct = r.dynamo.describe_time_to_live().table_name(&r.table).send().await.expect("describe");
    let direct =
        direct.time_to_live_description().and_then(|d| d.time_to_live_status()).map(|s| s.as_str().to_string());
    assert_eq!(direct.as_deref(), Some("DISABLED"));
    assert_eq!(r.proxy.counts("us-east-1").refused, 3);
}

/// Two regions writing one item within the replication delay: the later write fails with
/// `ReplicatedWriteConflictException` (400, AWS's type and message) and is not carried out; the
/// same region twice, or another item, does not conflict; reads and writes are counted.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn two_regions_writing_one_item_within_the_window_conflict() {
    let r = spawn_regions_with(2, settings(400), |_| {}).await;
    let (a, b) = (raw_client(&r, 0), raw_client(&r, 1));
    let put = |client: &aws_sdk_dynamodb::Client, pk: &str, who: &str| {
        let mut item = test_item(pk);
        item.insert("who".into(), s(who));
        client.put_item().table_name(&r.table).set_item(Some(item)).send()
    };
    let first = tokio::spawn(put(&a, "TEST#one", "east-1"));
    tokio::time::sleep(Duration::from_millis(100)).await;
    let (other_item, same_region, conflicting) =
        tokio::join!(put(&b, "TEST#two", "east-2"), put(&a, "TEST#one", "east-1 again"), put(&b, "TEST#one", "east-2"));
    first.await.expect("task").expect("the first write");
    other_item.expect("another item: no conflict");
    same_region.expect("the same region: no conflict");
    let err = conflicting.expect_err("another region's write of the same item in flight");
    assert_eq!(err.code(), Some("ReplicatedWriteConflictException"));
    assert_eq!(err.message(), Some(REPLICATED_WRITE_CONFLICT_MESSAGE));
    let raw = err.raw_response().expect("an HTTP answer");
    assert_eq!(raw.status().as_u16(), 400);
    let body: Value = serde_json::from_slice(raw.body().bytes().expect("body")).expect("JSON");
    assert_eq!(body["__type"], "com.amazonaws.dynamodb.v20120810#ReplicatedWriteConflictException");
    // The conflicting write was not carried out.
    let got = r
        .dynamo
        .get_item()
        .table_name(&r.table)
        .set_key(Some(test_item("TEST#one")))
        .consistent_read(true)
        .send()
        .await
        .expect("get");
    let who = got.item().and_then(|i| i.get("who")).and_then(|v| v.as_s().ok()).cloned().unwrap_or_default();
    assert!(who.starts_with("east-1"), "region 1's writes were carried out, not region 2's: {who}");
    // After the window, the other region writes it.
    put(&b, "TEST#one", "east-2 later").await.expect("no write in flight: no conflict");
    b.get_item()
        .table_name(&r.table)
        .set_key(Some(test_item("TEST#one")))
        .consistent_read(true)
        .send()
        .await
        .expect("read");
    b.get_item().table_name(&r.table).set_key(Some(test_item("TEST#one"))).send().await.expect("local read");
    let (east1, east2) = (r.proxy.counts("us-east-1"), r.proxy.counts("us-east-2"));
    assert_eq!((east1.writes, east1.conflicts, east1.consistent_reads), (2, 0, 0));
    assert_eq!(
        (east2.writes, east2.conflicts, east2.consistent_reads),
        (3, 1, 1),
        "the eventually consistent read is local"
    );
}

/// Killing a region: its DynamoDB request in flight is cut (no answer), its endpoint then refuses
/// connections, its gateway's request in flight gets no answer and its gateway refuses
/// connections; the other regions go on.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn killing_a_region_cuts_its_requests_and_leaves_the_others() {
    let r = spawn_regions_with(2, settings(1500), |_| {}).await;
    let (a, b) = (raw_client(&r, 0), raw_client(&r, 1));
    let in_flight = tokio::spawn(a.put_item().table_name(&r.table).set_item(Some(test_item("TEST#cut"))).send());
    // A first login in region 0: its first write (the user id block) waits in the proxy.
    let (_, token) = r.facebook_user("Cut Off");
    let login = {
        let url = format!("{}/v1.1/instances/{INSTANCE}/user/auth/facebook/", r.region(0).base);
        r.http.post(url).header("x-api-key", &r.api_key).json(&json!({ "access_token": token })).send()
    };
    let login = tokio::spawn(login);
    tokio::time::sleep(Duration::from_millis(400)).await;
    r.kill(0);
    let err = in_flight.await.expect("task").expect_err("cut");
    assert!(err.as_service_error().is_none(), "no answer from DynamoDB, a broken connection: {err:?}");
    assert!(login.await.expect("task").is_err(), "the gateway's request in flight gets no answer");
    let err = a.get_item().table_name(&r.table).set_key(Some(test_item("TEST#cut"))).send().await.expect_err("gone");
    assert!(matches!(err, aws_sdk_dynamodb::error::SdkError::DispatchFailure(_)), "connection refused: {err:?}");
    assert_eq!(r.syncano_login(0, &token).await.0, 0, "the region's gateway refuses connections");
    // The other region goes on.
    b.put_item().table_name(&r.table).set_item(Some(test_item("TEST#other"))).send().await.expect("region 1 writes");
    assert_eq!(r.user_key_status(1, &"0".repeat(40)).await, 403, "region 1's gateway answers");
}

/// A conflict the SDK's retries outlast: the functions' own client (the store's) retries
/// `ReplicatedWriteConflictException` with backoff and the write succeeds; each conflict is
/// counted in an EMF line (`ReplicatedWriteConflicts`).
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_replicated_write_conflict_is_retried_and_counted() {
    let r = spawn_regions_with(1, settings(5), |_| {}).await;
    let store = &r.region(0).app.store;
    let counter = format!("FAIL#conflict-{}#1", r.table);
    let before = conflict_emf_lines();
    r.proxy.conflict(Some("us-east-1"), 2);
    let count = store.count_failure(&counter, 1, i64::MAX / 2).await.expect("retried past two conflicts");
    assert_eq!(count, 1, "written once");
    let counts = r.proxy.counts("us-east-1");
    assert_eq!((counts.writes, counts.conflicts), (3, 2), "two conflicts, then the write");
    assert!(conflict_emf_lines() >= before + 2, "each conflict counted in the metrics");
}

/// The EMF lines of conflicts in the logs so far (every test's).
fn conflict_emf_lines() -> usize {
    logs()
        .lines()
        .filter_map(|l| serde_json::from_str::<Value>(l).ok())
        .filter(|l| l["ReplicatedWriteConflicts"] == 1)
        .filter(|l| shared::usecases::metrics::check_emf(l).is_ok())
        .count()
}

/// The whole table, in an order that compares.
async fn table(r: &Regions) -> Vec<String> {
    let mut items: Vec<String> = r
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

/// A conflict that outlasts the retries: a first login in either dialect answers 503 with
/// `Retry-After` and the dialect's body, and writes nothing (its first write, the user id block,
/// was refused every time).
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_permanent_conflict_answers_503_in_the_dialect_and_writes_nothing() {
    let r = spawn_regions_with(2, settings(5), |_| {}).await;
    let (_, token) = r.facebook_user("Always Conflicting");
    let before = table(&r).await;
    r.proxy.conflict(Some("us-east-1"), u32::MAX);
    for (dialect, url, request) in [
        (
            "syncano",
            format!("{}/v1.1/instances/{INSTANCE}/user/auth/facebook/", r.region(0).base),
            json!({ "access_token": token }),
        ),
        (
            "rocketchat",
            format!("{}/api/v1/login", r.region(0).base),
            json!({ "serviceName": "facebook", "accessToken": token, "secret": "client-secret", "expiresIn": 3600 }),
        ),
    ] {
        let resp = r.http.post(url).header("x-api-key", &r.api_key).json(&request).send().await.expect("answer");
        let status = resp.status().as_u16();
        let request_id = resp.headers()["apigw-requestid"].to_str().expect("ascii").to_string();
        let retry_after: Option<u64> =
            resp.headers().get("retry-after").and_then(|v| v.to_str().ok()).and_then(|v| v.parse().ok());
        let body: Value = resp.json().await.expect("JSON");
        assert_eq!(status, 503, "{dialect}: {body}");
        assert!(retry_after.is_some_and(|s| (2..=5).contains(&s)), "{dialect}: Retry-After {retry_after:?}");
        let want = if dialect == "syncano" {
            json!({ "detail": "Service temporarily unavailable. Try again later." })
        } else {
            json!({
                "success": false,
                "status": "error",
                "error": "error-service-unavailable",
                "message": "Service temporarily unavailable. Try again later."
            })
        };
        assert_eq!(body, want, "{dialect}");
        let lines = crate::helpers::request_lines(&request_id);
        assert_eq!(lines.len(), 1, "{dialect}: one request line: {lines:?}");
        assert_eq!(lines[0]["Outcome"], "store_throttled", "{dialect}: {}", lines[0]);
    }
    let counts = r.proxy.counts("us-east-1");
    assert!(counts.conflicts >= 6, "every attempt of both logins conflicted: {counts:?}");
    assert_eq!(table(&r).await, before, "nothing written");
}

// ---- The tests: they need the store without transactions. ----

/// A Syncano login's (id, user key), or the failure.
async fn syncano_user(r: &Regions, i: usize, token: &str) -> Result<(u64, String), (u16, Value)> {
    let (status, body) = r.syncano_login(i, token).await;
    match (status, body["id"].as_u64(), body["user_key"].as_str()) {
        (200, Some(id), Some(key)) => {
            remember(key);
            Ok((id, key.to_string()))
        }
        _ => Err((status, body)),
    }
}

/// A Rocket.Chat login's (authToken, userId), or the failure.
async fn rc_session(r: &Regions, i: usize, token: &str) -> Result<(String, String), (u16, Value)> {
    let (status, body) = r.rocketchat_login(i, token).await;
    match (status, body["data"]["authToken"].as_str(), body["data"]["userId"].as_str()) {
        (200, Some(auth), Some(id)) => {
            remember(auth);
            Ok((auth.to_string(), id.to_string()))
        }
        _ => Err((status, body)),
    }
}

fn pk(item: &Item) -> String {
    item.get("pk").and_then(|v| v.as_s().ok()).cloned().unwrap_or_default()
}

/// The items under exactly `key` (a `pk`).
fn under<'a>(items: &'a [Item], key: &str) -> Vec<&'a Item> {
    items.iter().filter(|i| pk(i) == key).collect()
}

/// The items whose `pk` starts with `prefix`.
fn with_prefix<'a>(items: &'a [Item], prefix: &str) -> Vec<&'a Item> {
    items.iter().filter(|i| pk(i).starts_with(prefix)).collect()
}

/// One person, `n` simultaneous first logins spread over three regions (both dialects): every
/// one answers the same user, and the table holds one user, one username, one user key, one
/// identity, and nothing left pending.
async fn one_user_from_simultaneous_first_logins(r: &Regions, n: usize) {
    let (person, _) = r.facebook_user("Everywhere At Once");
    let tokens: Vec<String> = (0..n).map(|_| r.token(&person)).collect();
    // Each dialect names the user its own way (Syncano's id, Rocket.Chat's `_id`): one of each.
    let logins = tokens.iter().enumerate().map(|(k, token)| async move {
        let region = k % 3;
        if k % 2 == 0 {
            syncano_user(r, region, token).await.map(|(id, _)| format!("syncano {id}"))
        } else {
            rc_session(r, region, token).await.map(|(_, id)| format!("rocket.chat {id}"))
        }
    });
    let answers = futures::future::join_all(logins).await;
    let ids: HashSet<String> = answers.iter().filter_map(|a| a.as_ref().ok().cloned()).collect();
    let failed: Vec<_> = answers.iter().filter_map(|a| a.as_ref().err()).collect();
    // A login may answer 503 after the retries (a conflict or a fault): then nothing of it was
    // made that another login did not finish.
    let not_503: Vec<_> = failed.iter().filter(|(status, _)| *status != 503).take(3).collect();
    assert!(not_503.is_empty(), "only 503s may fail ({} failed), e.g. {not_503:?}", failed.len());
    assert_eq!(ids.len(), 2, "one user for one person, as each dialect names it: {ids:?}");
    let items = r.scan().await;
    assert_eq!(with_prefix(&items, &format!("USER#{INSTANCE}#")).len(), 1, "one user item");
    assert_eq!(with_prefix(&items, &format!("UNAME#{INSTANCE}#")).len(), 1, "one username");
    assert_eq!(with_prefix(&items, &format!("UKEY#{INSTANCE}#")).len(), 1, "one user key");
    assert_eq!(with_prefix(&items, &format!("IDENT#{INSTANCE}#")).len(), 1, "one identity");
    let pending: Vec<_> = items.iter().filter(|i| i.contains_key("pending")).map(pk).collect();
    assert!(pending.is_empty(), "a change left unfinished: {pending:?}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_hundred_first_logins_of_one_person_over_three_regions_make_one_user() {
    let r = spawn_regions_with(3, MrscSettings::default(), crate::helpers::slow_machine).await;
    one_user_from_simultaneous_first_logins(&r, 100).await;
    let conflicts: u64 = r.proxy.all_counts().iter().map(|(_, c)| c.conflicts).sum();
    eprintln!("conflicts over three regions: {conflicts}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_hundred_first_logins_of_one_person_with_random_write_conflicts_make_one_user() {
    let r = spawn_regions_with(3, MrscSettings::default(), crate::helpers::slow_machine).await;
    r.proxy.random_conflicts(0.2);
    one_user_from_simultaneous_first_logins(&r, 100).await;
}

/// The forced conflict through a whole login: retried, and the login succeeds.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_first_login_outlasts_a_forced_conflict() {
    let r = spawn_regions_with(1, settings(5), |_| {}).await;
    let (_, token) = r.facebook_user("Conflicted Once");
    r.proxy.conflict(Some("us-east-1"), 2);
    let (id, key) = syncano_user(&r, 0, &token).await.expect("retried past the conflicts");
    assert_eq!(r.user_key_status(0, &key).await, 200, "user {id}");
    assert_eq!(r.proxy.counts("us-east-1").conflicts, 2);
}

/// A logout answered in one region: the session is refused at once in the others.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_logout_in_one_region_is_refused_at_once_in_the_others() {
    let r = spawn_regions(3).await;
    let (_, token) = r.facebook_user("Logs Out East");
    let (auth, id) = rc_session(&r, 0, &token).await.expect("login");
    for i in 0..3 {
        assert_eq!(r.me_status(i, &auth, &id).await, 200, "region {i} before the logout");
    }
    assert_eq!(r.logout(1, &auth, &id).await.0, 200);
    for i in 0..3 {
        assert_eq!(r.me_status(i, &auth, &id).await, 401, "region {i} right after the logout");
    }
}

/// A deletion answered in one region: every credential is refused at once in the others, and
/// the person's next login anywhere is a new user.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_deletion_in_one_region_is_refused_at_once_in_the_others() {
    let r = spawn_regions(3).await;
    let (person, token) = r.facebook_user("Deleted In West");
    let (id, key) = syncano_user(&r, 0, &token).await.expect("login");
    let (auth, rc_id) = rc_session(&r, 1, &token).await.expect("session");
    let url = format!("{}/v1.1/instances/{INSTANCE}/users/{id}/", r.region(2).base);
    let (status, _) = r.send(r.http.delete(url).header("x-api-key", ADMIN_API_KEY)).await;
    assert_eq!(status, 204);
    for i in 0..3 {
        assert_eq!(r.user_key_status(i, &key).await, 403, "the user key in region {i}");
        assert_eq!(r.me_status(i, &auth, &rc_id).await, 401, "the session in region {i}");
    }
    // The deletion withdrew the app's permissions at Facebook: the person grants them again.
    let (again, _) = syncano_user(&r, 1, &r.token(&person)).await.expect("a new sign-up");
    assert_ne!(again, id, "a new user");
}

/// A deletion in one region racing a login of the same user in another: whatever the order,
/// once the deletion answered no credential works, and the table holds either nothing of the
/// user or one whole new user (never the deleted user's items half removed).
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_deletion_racing_a_login_in_another_region() {
    let r = spawn_regions(3).await;
    for round in 0..5 {
        let (_, token) = r.facebook_user(&format!("Racer {round}"));
        let (id, key) = syncano_user(&r, 0, &token).await.expect("login");
        let url = format!("{}/v1.1/instances/{INSTANCE}/users/{id}/", r.region(1).base);
        let delete = r.send(r.http.delete(url).header("x-api-key", ADMIN_API_KEY));
        let (deleted, login) = tokio::join!(delete, syncano_user(&r, 2, &token));
        assert_eq!(deleted.0, 204, "round {round}: {deleted:?}");
        for i in 0..3 {
            assert_eq!(r.user_key_status(i, &key).await, 403, "round {round}: the old key in region {i}");
        }
        if let Ok((new_id, new_key)) = login {
            // The login came before the deletion (its key is dead) or after it (a new user).
            let status = r.user_key_status(0, &new_key).await;
            assert!(new_id != id && status == 200 || new_id == id && status == 403, "round {round}: {new_id} {status}");
        }
        let items = r.scan().await;
        let old = under(&items, &format!("USER#{INSTANCE}#{id}"));
        assert!(
            old.iter().all(|i| i.contains_key("pending")),
            "round {round}: the deleted user is gone or a pending tombstone: {old:?}"
        );
    }
}

/// What a mixed workload's answers say the table must hold at the end.
#[derive(Default, Debug)]
struct Expected {
    /// Users whose deletion answered 204.
    deleted: HashSet<u64>,
    /// Users some login answered (and no deletion removed).
    users: HashSet<u64>,
    /// Sessions whose logout answered 200.
    logged_out: Vec<(String, String)>,
    /// Sessions a login answered and nothing logged out.
    sessions: Vec<(String, String)>,
}

/// Both dialects, first and returning logins, logouts, key resets and deletions over three
/// regions, one region killed mid-flight: at the end (after the sweeper or the next requests
/// finish what the killed region left), nothing answered is lost and nothing is duplicated,
/// checked against the whole table.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_mixed_workload_with_a_region_killed_mid_flight_loses_and_duplicates_nothing() {
    let r = spawn_regions_with(3, MrscSettings::default(), crate::helpers::slow_machine).await;
    let people: Vec<(String, String)> = (0..12).map(|k| r.facebook_user(&format!("Mixed {k}"))).collect();
    let expected = std::sync::Mutex::new(Expected::default());
    let work = people.iter().enumerate().map(|(k, (person, _))| {
        let expected = &expected;
        let r = &r;
        async move {
            let region = k % 3;
            for step in 0..4 {
                let token = r.token(person);
                match (k + step) % 4 {
                    0 => {
                        if let Ok((id, _)) = syncano_user(r, region, &token).await {
                            expected.lock().expect("lock").users.insert(id);
                        }
                    }
                    1 => {
                        if let Ok(session) = rc_session(r, (region + 1) % 3, &token).await {
                            expected.lock().expect("lock").sessions.push(session);
                        }
                    }
                    2 => {
                        let Ok(session) = rc_session(r, region, &token).await else { continue };
                        if r.logout((region + 2) % 3, &session.0, &session.1).await.0 == 200 {
                            expected.lock().expect("lock").logged_out.push(session);
                        }
                    }
                    _ => {
                        let Ok((id, _)) = syncano_user(r, region, &token).await else { continue };
                        if k % 3 == 0 {
                            let url =
                                format!("{}/v1.1/instances/{INSTANCE}/users/{id}/", r.region((region + 1) % 3).base);
                            if r.send(r.http.delete(url).header("x-api-key", ADMIN_API_KEY)).await.0 == 204 {
                                let mut e = expected.lock().expect("lock");
                                e.deleted.insert(id);
                                e.users.remove(&id);
                            }
                        } else {
                            let url =
                                format!("{}/v1.1/instances/{INSTANCE}/users/{id}/reset_key/", r.region(region).base);
                            r.send(r.http.post(url).header("x-api-key", ADMIN_API_KEY)).await;
                        }
                    }
                }
            }
        }
    });
    let killer = async {
        tokio::time::sleep(Duration::from_millis(300)).await;
        r.kill(2);
    };
    tokio::join!(futures::future::join_all(work), killer);
    // What the killed region left unfinished is finished by the sweeper (its entry point, as a
    // live region's sweeper calls it once the grace is over) and by the next request that finds
    // it: every person logs in once more in a live region.
    for item in r.scan().await.iter().filter(|i| i.contains_key("pending")) {
        let sk = item.get("sk").and_then(|v| v.as_s().ok()).cloned().unwrap_or_default();
        r.region(0).app.finish_pending(&pk(item), &sk).await.expect("finished by the sweeper's entry point");
    }
    for (person, _) in &people {
        let token = r.token(person);
        if let Ok((id, _)) = syncano_user(&r, 0, &token).await {
            expected.lock().expect("lock").users.insert(id);
        }
    }
    let expected = expected.into_inner().expect("lock");
    let items = r.scan().await;
    for id in &expected.deleted {
        let user = under(&items, &format!("USER#{INSTANCE}#{id}"));
        assert!(user.iter().all(|i| i.contains_key("pending")), "deleted user {id} still there: {user:?}");
    }
    for (auth, rc_id) in &expected.logged_out {
        assert_eq!(r.me_status(0, auth, rc_id).await, 401, "a logged-out session works");
    }
    let users = with_prefix(&items, &format!("USER#{INSTANCE}#"));
    let live: Vec<_> =
        users.iter().filter(|i| i.get("sk").and_then(|v| v.as_s().ok()).is_some_and(|sk| sk == "USER")).collect();
    assert_eq!(live.len(), people.len(), "one live user per person, none duplicated");
    let identities = with_prefix(&items, &format!("IDENT#{INSTANCE}#"));
    assert_eq!(identities.len(), people.len(), "one identity per person");
    let pending: Vec<_> = items.iter().filter(|i| i.contains_key("pending")).map(pk).collect();
    assert!(pending.is_empty(), "left unfinished after the next logins: {pending:?}");
}
