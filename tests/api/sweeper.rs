//! Issue 33, expiry without TTL: a multi-Region strongly consistent table has no TTL, and
//! DynamoDB Local never runs TTL in time either. So (1) every reader refuses an expired item by
//! its own `expires_at`, with the item still in the table; (2) the `sweeper`, run as EventBridge
//! runs it (through the registry, as the function, its IAM policy enforced), deletes the expired
//! items the sweep index lists, leaves the ones not due yet, hands pending changes to
//! `finish_pending`, and stops at its budget, the next run going on from its cursor.

use std::time::Duration;

use aws_sdk_dynamodb::types::AttributeValue;
use shared::domain::clock;
use shared::store::sweep::{self, SWEEP_AT, SWEEP_PK};
use shared::store::{CallbackClaim, CallbackRecord};
use shared::usecases::sweeper::{SweepBudget, SweepReport};
use shared::InstanceName;

use crate::helpers::*;

fn s(v: &str) -> AttributeValue {
    AttributeValue::S(v.to_string())
}

fn n(v: i64) -> AttributeValue {
    AttributeValue::N(v.to_string())
}

/// An item `pk`/`sk` with `attributes`, expiring at `expires_at` and in the sweep index due then
/// (as `sweep::expiring` writes it).
fn expiring_item(pk: &str, sk: &str, expires_at: i64, attributes: &[(&str, AttributeValue)]) -> Item {
    let mut item = Item::from([
        ("pk".to_string(), s(pk)),
        ("sk".to_string(), s(sk)),
        ("expires_at".to_string(), n(expires_at)),
        (SWEEP_PK.to_string(), s(&sweep::sweep_key(pk, sk, expires_at))),
        (SWEEP_AT.to_string(), n(expires_at)),
    ]);
    item.extend(attributes.iter().map(|(k, v)| (k.to_string(), v.clone())));
    item
}

async fn put(t: &TestApp, item: Item) {
    t.dynamo.put_item().table_name(&t.table).set_item(Some(item)).send().await.expect("put");
}

async fn get(t: &TestApp, pk: &str, sk: &str) -> Option<Item> {
    let key = Item::from([("pk".to_string(), s(pk)), ("sk".to_string(), s(sk))]);
    t.dynamo.get_item().table_name(&t.table).set_key(Some(key)).consistent_read(true).send().await.expect("get").item
}

/// One run of the deployed function, as EventBridge runs it (its IAM policy enforced).
pub(crate) async fn run_sweeper(t: &TestApp) -> SweepReport {
    // An environment of its own, as the sweeper function has on AWS: nothing the login
    // functions' environments keep (their instances' provider apps, say) is in its memory.
    let functions = local_stack::gateway::scheduled_functions(std::sync::Arc::new(t.new_environment().await));
    let sweeper = functions.get("sweeper").expect("sweeper is scheduled");
    let answer = sweeper(crate::events::scheduled_event("sweeper")).await.expect("sweeper");
    serde_json::from_value(answer).expect("a sweep report")
}

/// A test app on a table without TTL, as a multi-Region strongly consistent table is: DynamoDB
/// Local runs TTL now and then, and would remove expired items before the readers or the
/// sweeper see them.
async fn spawn_app_without_ttl() -> TestApp {
    let t = spawn_app().await;
    let spec = aws_sdk_dynamodb::types::TimeToLiveSpecification::builder()
        .attribute_name("expires_at")
        .enabled(false)
        .build()
        .expect("spec");
    t.dynamo.update_time_to_live().table_name(&t.table).time_to_live_specification(spec).send().await.expect("no TTL");
    t
}

fn instance() -> InstanceName {
    InstanceName::parse(INSTANCE).expect("instance")
}

/// An expired failure counter (its window over, TTL not run) must not keep blocking: before,
/// the limiter counted it.
#[tokio::test]
async fn an_expired_failure_counter_counts_for_nothing() {
    let t = spawn_app_without_ttl().await;
    let window = 7;
    let now = clock::now_secs();
    put(&t, expiring_item(&format!("FAIL#ip:198.51.100.7#{window}"), "FAIL", now - 5, &[("failures", n(1_000))])).await;
    put(&t, expiring_item(&format!("FAIL#ip:198.51.100.8#{window}"), "FAIL", now + 600, &[("failures", n(3))])).await;
    let (_, counts) = t
        .app
        .store
        .find_by_identity_counting(&instance(), "facebook", "1", window, &["ip:198.51.100.7", "ip:198.51.100.8"])
        .await
        .expect("read");
    assert_eq!(counts, [0, 3], "an expired counter counts 0, a live one its failures");
}

/// A replay record that expired guards nothing (its callback is refused by its own time limit
/// first): a claim takes it over as new, instead of answering "done" from a stale record.
#[tokio::test]
async fn an_expired_callback_record_is_claimed_anew_and_marked_for_the_sweeper() {
    let t = spawn_app_without_ttl().await;
    let now = clock::now_secs();
    let id = "0f".repeat(32);
    put(&t, expiring_item(&format!("APPLENOTE#{id}"), "APPLENOTE", now - 5, &[("done", AttributeValue::Bool(true))]))
        .await;
    let claim = t.app.store.claim_callback(CallbackRecord::AppleNotification(&id), now + 300).await.expect("claim");
    assert_eq!(claim, CallbackClaim::New, "an expired record is no record");
    let item = get(&t, &format!("APPLENOTE#{id}"), "APPLENOTE").await.expect("recorded");
    assert_eq!(item.get("expires_at"), Some(&n(now + 300)));
    assert_eq!(item.get(SWEEP_AT), Some(&n(now + 300)), "in the sweep index, due when it expires");
    assert!(!item.contains_key("done"), "the new record is not done");
    // A live record still guards.
    let again = t.app.store.claim_callback(CallbackRecord::AppleNotification(&id), now + 300).await.expect("claim");
    assert_eq!(again, CallbackClaim::Unfinished);
}

/// A failure counter is written with the sweep index's keys, once (later updates of the window
/// leave them as they are).
#[tokio::test]
async fn a_failure_counter_is_marked_for_the_sweeper() {
    let t = spawn_app_without_ttl().await;
    let now = clock::now_secs();
    assert_eq!(t.app.store.count_failure("ip:203.0.113.9", 11, now + 60).await.expect("count"), 1);
    assert_eq!(t.app.store.count_failure("ip:203.0.113.9", 11, now + 999).await.expect("count"), 2);
    let item = get(&t, "FAIL#ip:203.0.113.9#11", "FAIL").await.expect("counter");
    assert_eq!(item.get(SWEEP_AT), Some(&n(now + 60)));
    assert_eq!(item.get(SWEEP_PK), Some(&s(&sweep::sweep_key("FAIL#ip:203.0.113.9#11", "FAIL", now + 60))));
}

/// A pending revocation kept past its `expires_at` is given up, not retried.
#[tokio::test]
async fn an_expired_pending_revocation_is_not_retried() {
    let t = spawn_app_without_ttl().await;
    let now = clock::now_secs();
    let revocation = |sub: &str, expires_at: i64| {
        expiring_item(
            "REVOKE#0",
            &format!("facebook#{INSTANCE}#{sub}"),
            expires_at,
            &[
                ("provider", s("facebook")),
                ("instance", s(INSTANCE)),
                ("subject", s(sub)),
                ("attempts", n(1)),
                ("next_attempt", n(now - 60)),
            ],
        )
    };
    put(&t, revocation("expired", now - 5)).await;
    put(&t, revocation("live", now + 3_600)).await;
    let due = t.app.store.due_revocations(now, 100).await.expect("due");
    let subjects: Vec<&str> = due.iter().map(|p| p.subject.as_str()).collect();
    assert_eq!(subjects, ["live"]);
}

/// One run removes what has expired (a session and its list entry, a counter, a callback
/// record, a username hold) and leaves what is not due; the readers refuse the expired items
/// before it runs.
#[tokio::test]
async fn one_sweeper_run_removes_the_expired_items_and_leaves_the_rest() {
    let t = spawn_app_without_ttl().await;
    let now = clock::now_secs();
    let token = "expired-session-token-0123456789";
    let hash = shared::domain::tokens::sha256_hex(token);
    let expired = [
        expiring_item(
            &format!("SESSION#{hash}"),
            "SESSION",
            now - 30,
            &[("instance", s(INSTANCE)), ("user_id", n(1)), ("rc_id", s("rc1"))],
        ),
        expiring_item(&format!("USESS#{INSTANCE}#1"), &format!("SESSION#{hash}"), now - 30, &[]),
        expiring_item("FAIL#ip:192.0.2.1#5", "FAIL", now - 1, &[("failures", n(9))]),
        expiring_item(&format!("FBDEAUTH#{}", "ab".repeat(32)), "FBDEAUTH", now - 1, &[]),
        expiring_item(&format!("UNAME#{INSTANCE}#gone"), "UNAME", now - 1, &[("held_until", n(now - 1))]),
    ];
    let live = [
        expiring_item("FAIL#ip:192.0.2.2#5", "FAIL", now + 120, &[("failures", n(1))]),
        expiring_item(&format!("SESSION#{}", "cd".repeat(32)), "SESSION", now + 3_600, &[("instance", s(INSTANCE))]),
    ];
    for item in expired.iter().chain(&live) {
        put(&t, item.clone()).await;
    }
    // Renewed without its due time following (due in the past, expiring in an hour): left, and
    // due again when it expires.
    let mut renewed = expiring_item("FAIL#ip:192.0.2.3#5", "FAIL", now - 10, &[("failures", n(1))]);
    renewed.insert("expires_at".into(), n(now + 3_600));
    put(&t, renewed).await;
    let session = t.app.store.find_session(&shared::Secret::new(token.to_string())).await.expect("read");
    assert!(session.is_none(), "an expired session is refused before the sweeper runs");

    let report = run_sweeper(&t).await;
    assert_eq!((report.swept, report.failed), (expired.len(), 0), "{report:?}");
    assert!(report.caught_up, "{report:?}");
    for item in &expired {
        let (AttributeValue::S(pk), AttributeValue::S(sk)) = (&item["pk"], &item["sk"]) else { panic!() };
        assert!(get(&t, pk, sk).await.is_none(), "{pk} {sk} was swept");
    }
    for item in &live {
        let (AttributeValue::S(pk), AttributeValue::S(sk)) = (&item["pk"], &item["sk"]) else { panic!() };
        assert!(get(&t, pk, sk).await.is_some(), "{pk} {sk} is not due and stays");
    }
    assert_eq!(report.left, 1, "the renewed item: {report:?}");
    let renewed = get(&t, "FAIL#ip:192.0.2.3#5", "FAIL").await.expect("a renewed item stays");
    assert_eq!(renewed.get(SWEEP_AT), Some(&n(now + 3_600)), "due again when it expires");
    let cursor = get(&t, sweep::CURSOR_PK, "CURSOR").await.expect("the cursor is recorded");
    assert!(cursor.contains_key("bucket"), "{cursor:?}");
    // The next run finds nothing more to do.
    let again = run_sweeper(&t).await;
    assert_eq!((again.swept, again.finished, again.left), (0, 0, 0), "{again:?}");
}

/// A run stops at its item budget and records where; the next runs go on from there until
/// every expired item is gone.
#[tokio::test]
async fn a_run_stops_at_its_budget_and_the_next_goes_on_from_the_cursor() {
    let t = spawn_app_without_ttl().await;
    let now = clock::now_secs();
    // All in one shard of one hour, so a run's budget cuts inside the shard.
    let mut keys = Vec::new();
    let mut i = 0;
    while keys.len() < 5 {
        let pk = format!("FAIL#ip:10.0.0.{i}#3");
        if sweep::sweep_key(&pk, "FAIL", now - 2).ends_with("#0") {
            keys.push(pk);
        }
        i += 1;
    }
    for pk in &keys {
        put(&t, expiring_item(pk, "FAIL", now - 2, &[("failures", n(1))])).await;
    }
    let budget = SweepBudget { page: 10, items: 2, time: Duration::from_secs(30) };
    let first = t.app.sweep_within(budget).await.expect("run 1");
    assert_eq!((first.swept, first.caught_up), (2, false), "{first:?}");
    let second = t.app.sweep_within(budget).await.expect("run 2");
    assert_eq!((second.swept, second.caught_up), (2, false), "{second:?}");
    let third = t.app.sweep_within(budget).await.expect("run 3");
    assert_eq!((third.swept, third.caught_up), (1, true), "{third:?}");
    for pk in &keys {
        assert!(get(&t, pk, "FAIL").await.is_none(), "{pk} swept");
    }
}

/// A pending item past its grace is handed to `UserStore::finish_pending`; a kind without a
/// finisher yet is left in the table, due again an hour later (so a later run finds it).
#[tokio::test]
async fn a_pending_item_is_handed_to_finish_pending_and_left_when_no_finisher_knows_it() {
    let t = spawn_app_without_ttl().await;
    let now = clock::now_secs();
    // A kind no finisher knows (a callback record is never pending; as one that was).
    let pk = "APPLENOTE#pending-1".to_string();
    let due = now - 1;
    let item = Item::from([
        ("pk".to_string(), s(&pk)),
        ("sk".to_string(), s("APPLENOTE")),
        ("pending".to_string(), n(due - sweep::PENDING_GRACE_SECS)),
        (SWEEP_PK.to_string(), s(&sweep::sweep_key(&pk, "APPLENOTE", due))),
        (SWEEP_AT.to_string(), n(due)),
    ]);
    put(&t, item).await;
    assert_eq!(
        t.app.store.finish_pending(&pk, "APPLENOTE").await.expect("finish"),
        shared::store::Finished::Unknown,
        "no finisher for this kind"
    );
    let report = run_sweeper(&t).await;
    assert_eq!((report.left, report.swept), (1, 0), "{report:?}");
    let after = get(&t, &pk, "APPLENOTE").await.expect("a pending item is never deleted");
    let AttributeValue::N(at) = &after[SWEEP_AT] else { panic!("{after:?}") };
    let at: i64 = at.parse().expect("n");
    assert!(at >= now + 3_600 - 5, "due again an hour later: {at} vs {now}");
    assert_eq!(after.get(SWEEP_PK), Some(&s(&sweep::sweep_key(&pk, "APPLENOTE", at))));
}

/// `StalePendingItems`: a pending change the sweeper finds more than an hour after it began
/// (its `pending` mark) is counted in the run's report and line, one just past its grace is
/// not; both are handled as before (left, due again an hour later: no finisher for the kind).
#[tokio::test]
async fn a_pending_change_found_an_hour_after_it_began_is_counted_stale() {
    let t = spawn_app_without_ttl().await;
    let now = clock::now_secs();
    let due = now - 1;
    for (pk, began) in [
        ("APPLENOTE#stale-1", now - shared::usecases::sweeper::STALE_PENDING_SECS - 5),
        ("APPLENOTE#fresh-1", due - sweep::PENDING_GRACE_SECS),
    ] {
        put(
            &t,
            Item::from([
                ("pk".to_string(), s(pk)),
                ("sk".to_string(), s("APPLENOTE")),
                ("pending".to_string(), n(began)),
                (SWEEP_PK.to_string(), s(&sweep::sweep_key(pk, "APPLENOTE", due))),
                (SWEEP_AT.to_string(), n(due)),
            ]),
        )
        .await;
    }
    let report = run_sweeper(&t).await;
    assert_eq!((report.stale_pending, report.left, report.swept), (1, 2, 0), "{report:?}");
    let line: serde_json::Value = serde_json::from_str(&report.emf(1)).expect("JSON");
    assert_eq!(line[shared::usecases::sweeper::STALE_PENDING_ITEMS], 1, "{line}");
    // Both are due again an hour later; the next run finds neither.
    let again = run_sweeper(&t).await;
    assert_eq!((again.stale_pending, again.left), (0, 0), "{again:?}");
}

/// Makes the item `pk`/`sk` due for the sweeper now (a pending change's grace cut short).
pub(crate) async fn make_due(t: &TestApp, pk: &str, sk: &str) {
    let due = clock::now_secs() - 1;
    t.dynamo
        .update_item()
        .table_name(&t.table)
        .key("pk", AttributeValue::S(pk.into()))
        .key("sk", AttributeValue::S(sk.into()))
        .update_expression("SET sweep_pk = :p, sweep_at = :a")
        .expression_attribute_values(":p", AttributeValue::S(sweep::sweep_key(pk, sk, due)))
        .expression_attribute_values(":a", AttributeValue::N(due.to_string()))
        .condition_expression("attribute_exists(pk)")
        .send()
        .await
        .expect("made due");
}
