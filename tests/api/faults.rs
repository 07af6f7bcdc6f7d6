//! DynamoDB failing under a login (through the fault proxy in front of DynamoDB Local): retried
//! with the SDK's backoff where that is safe, then 503 with `Retry-After`; afterwards the table
//! holds either the whole user or nothing of it.

use local_stack::counting_proxy::DynamoFault;

use crate::helpers::*;

/// The items a Syncano first login writes: [users, identities, usernames, user keys].
async fn user_items(t: &TestApp) -> [usize; 4] {
    [t.count("USER#").await, t.count("IDENT#").await, t.count("UNAME#").await, t.count("UKEY#").await]
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_dynamodb_that_keeps_failing_gives_503_with_retry_after_and_writes_nothing() {
    let (t, proxy) = spawn_app_behind_proxy().await;
    for (fault, op) in [
        (DynamoFault::Throttled, None),
        (DynamoFault::ServerError, None),
        // Issue 33: a first login's writes are single-item; the first of them decides.
        (DynamoFault::Throttled, Some("PutItem")),
        (DynamoFault::ServerError, Some("PutItem")),
    ] {
        let (_, token) = t.facebook_user("Unlucky Person", None);
        proxy.take();
        proxy.fail(fault, op, u32::MAX);
        let (status, body) = t.syncano_at("facebook", serde_json::json!({ "access_token": token })).await;
        proxy.heal();
        assert_eq!(status, 503, "{fault:?} on {op:?}: {body}");
        assert_eq!(body["detail"], "Service temporarily unavailable. Try again later.");
        let calls = proxy.take();
        // The SDK's standard retry: 3 attempts of the failing operation before giving up.
        let failing = calls.iter().filter(|c| op.is_none_or(|o| c.operation == o)).count();
        assert!(failing >= 3, "{fault:?}: {:?}", calls.iter().map(|c| &c.operation).collect::<Vec<_>>());
        assert_eq!(user_items(&t).await, [0, 0, 0, 0], "{fault:?} on {op:?} left part of a user");
    }
    // Rocket.Chat says it in its own words, with Retry-After too.
    let (_, token) = t.facebook_user("Unlucky Rocket", None);
    proxy.fail(DynamoFault::Throttled, None, u32::MAX);
    let resp = t.rocketchat_login(&token).await;
    proxy.heal();
    assert_eq!(resp.status().as_u16(), 503);
    assert!(resp.headers().get("retry-after").is_some());
    assert_eq!(json(resp).await.1["status"], "error");
    assert_eq!(user_items(&t).await, [0, 0, 0, 0]);
    t.assert_logs_clean();
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_passing_fault_is_retried_and_the_login_succeeds_once() {
    let (t, proxy) = spawn_app_behind_proxy().await;
    for (fault, op) in [
        (DynamoFault::Throttled, None),
        (DynamoFault::ServerError, Some("PutItem")),
        (DynamoFault::ResetAfterForwarding, Some("PutItem")),
        (DynamoFault::ResetAfterForwarding, Some("UpdateItem")),
    ] {
        let before = user_items(&t).await;
        let (_, token) = t.facebook_user("Lucky Person", None);
        proxy.fail(fault, op, 1);
        let (status, body) = t.syncano_at("facebook", serde_json::json!({ "access_token": token })).await;
        proxy.heal();
        assert_eq!(status, 200, "{fault:?} on {op:?}: {body}");
        t.remember(body["user_key"].as_str().unwrap_or_default());
        let after = user_items(&t).await;
        let made: Vec<usize> = after.iter().zip(before).map(|(a, b)| a - b).collect();
        assert_eq!(made, [1, 1, 1, 1], "{fault:?}: exactly one whole user");
        // The same login again is the same user.
        let (status, again) = t.syncano_at("facebook", serde_json::json!({ "access_token": token })).await;
        assert_eq!((status, &again["id"]), (200, &body["id"]), "{fault:?}");
    }
    t.assert_logs_clean();
}

/// A session write that reached DynamoDB but whose answer was lost: the SDK sends it again, the
/// second `attribute_not_exists` fails on the item the first one wrote, and that is our own write,
/// not a conflict. The client gets its session, and the session works.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_session_write_retried_after_a_lost_answer_still_logs_in() {
    let (t, proxy) = spawn_app_behind_proxy().await;
    let (_, token) = t.facebook_user("Lost Answer", None);
    // The first login creates the user (its first put, the identity's, is the one whose answer is
    // lost; then username, user, user-key lookup, subject entry, session and its list entry); the
    // second is a returning login whose only writes are the session's two puts.
    for (round, writes) in [("first", 8), ("returning", 3)] {
        proxy.take();
        proxy.fail(DynamoFault::ResetAfterForwarding, Some("PutItem"), 1);
        let (status, body) = json(t.rocketchat_login(&token).await).await;
        proxy.heal();
        assert_eq!(status, 200, "{round}: {body}");
        let puts = proxy.take().iter().filter(|c| c.operation == "PutItem").count();
        assert_eq!(puts, writes, "{round}: the lost write, its retry (and the session's write)");
        let auth = body["data"]["authToken"].as_str().unwrap_or_default().to_string();
        let user_id = body["data"]["userId"].as_str().unwrap_or_default().to_string();
        t.remember(&auth);
        let (status, me) = json(t.me(&auth, &user_id).await).await;
        assert_eq!((status, &me["_id"]), (200, &body["data"]["userId"]), "{round}: {me}");
    }
    assert_eq!(user_items(&t).await, [1, 1, 1, 1]);
    t.assert_logs_clean();
}
