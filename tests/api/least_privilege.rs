//! Issue 28 ("Also": least privilege in the table). The attack: a compromised public function
//! (a login, which anyone on the Internet can reach) uses its own role to write what only the
//! operator writes, an `ignore_acl` API key in the instance's partition (`INST#{instance}` /
//! `APIKEY#{hash}`), or moves the instance item's fields. Each function's role is its policy in
//! `template.yaml`, enforced here as IAM does (`local_stack::iam`): acting with a function's
//! credentials through the enforcing proxy, every such write must be `AccessDeniedException`.
//!
//! That the policies are also enough for what each function does is every other test: each runs
//! its functions through the same enforcing proxy, and a test whose functions were refused
//! anything fails (`TestApp`'s drop).

use aws_sdk_dynamodb::error::ProvideErrorMetadata;
use aws_sdk_dynamodb::types::{AttributeValue, Put, TransactWriteItem};
use serde_json::json;

use crate::helpers::*;

/// Beside the logins (which anyone can call without a credential), the callbacks and the
/// scheduled retry: none of them may write the instance's partition.
const CALLBACK_FUNCTIONS: [&str; 4] = [
    "AppleNotificationsFunction",
    "FacebookDataDeletionFunction",
    "FacebookDeauthorizeFunction",
    "RevocationRetryFunction",
];

/// A forged admin key of the demo instance: what the attacker wants.
const FORGED_KEY: &str = "forged-admin-key-0123456789abcdef0123456789abcdef";

fn s(v: &str) -> AttributeValue {
    AttributeValue::S(v.to_string())
}

fn forged_key_item() -> Item {
    Item::from([
        ("pk".to_string(), s(&format!("INST#{INSTANCE}"))),
        ("sk".to_string(), s(&format!("APIKEY#{}", shared::domain::tokens::sha256_hex(FORGED_KEY)))),
        ("key_id".to_string(), s("forged")),
        ("ignore_acl".to_string(), AttributeValue::Bool(true)),
        ("allow_user_create".to_string(), AttributeValue::Bool(true)),
        ("created_at".to_string(), AttributeValue::N("1".into())),
    ])
}

fn instance_item_key() -> Item {
    Item::from([("pk".to_string(), s(&format!("INST#{INSTANCE}"))), ("sk".to_string(), s("INSTANCE"))])
}

fn assert_denied<E: ProvideErrorMetadata + std::fmt::Debug, R: std::fmt::Debug>(
    function: &str,
    what: &str,
    result: Result<R, E>,
) {
    match result {
        Err(e) => assert_eq!(e.code(), Some("AccessDeniedException"), "{function}: {what}: {e:?}"),
        Ok(out) => panic!("{function}: {what} was allowed: {out:?}"),
    }
}

#[tokio::test]
async fn no_public_function_can_write_the_instance_partition() {
    let t = spawn_app().await;
    let proxy = enforcing_proxy().await;
    let operator = local_stack::dynamodb_local::client(proxy.endpoint());
    let instance_item = || async {
        let read = t.dynamo.get_item().table_name(&t.table).set_key(Some(instance_item_key())).consistent_read(true);
        read.send().await.expect("instance item").item
    };
    let before = instance_item().await;

    for function in crate::template::LOGIN_FUNCTIONS.into_iter().chain(CALLBACK_FUNCTIONS) {
        let role = local_stack::iam::client_as(&operator, function);
        let put = role.put_item().table_name(&t.table).set_item(Some(forged_key_item())).send().await;
        assert_denied(function, "PutItem of an ignore_acl API key", put);
        let put = Put::builder().table_name(&t.table).set_item(Some(forged_key_item())).build().expect("put");
        let tx = role.transact_write_items().transact_items(TransactWriteItem::builder().put(put).build()).send().await;
        assert_denied(function, "the same key in a transaction", tx);
        let add = role
            .update_item()
            .table_name(&t.table)
            .set_key(Some(instance_item_key()))
            .update_expression("ADD next_user_id :one")
            .expression_attribute_values(":one", AttributeValue::N("1".into()))
            .send()
            .await;
        assert_denied(function, "ADD next_user_id on the instance item", add);
        let open = role
            .update_item()
            .table_name(&t.table)
            .set_key(Some(instance_item_key()))
            .update_expression("SET sign_up = :open")
            .expression_attribute_values(":open", s("open"))
            .send()
            .await;
        assert_denied(function, "opening the instance's sign-up", open);
    }

    // Nothing was written: the instance item is as it was, and the forged key opens nothing.
    let after = instance_item().await;
    assert_eq!(before, after, "the instance item changed");
    let forged = t
        .http
        .get(format!("{}/v1.1/instances/{INSTANCE}/users/1/", t.base))
        .header("x-api-key", FORGED_KEY)
        .send()
        .await
        .expect("request");
    assert_eq!(forged.status().as_u16(), 403, "the forged key was stored");
    // The refusal is DynamoDB's, as AWS answers it.
    let denied = proxy.denials();
    assert!(!denied.is_empty());
    let body = denied[0].body(&t.table);
    assert_eq!(body["__type"], json!("com.amazon.coral.service#AccessDeniedException"));
    assert!(body["Message"].as_str().is_some_and(|m| m.contains("is not authorized to perform: dynamodb:PutItem")));
}

fn counter_key() -> Item {
    Item::from([("pk".to_string(), s(&format!("USERIDS#{INSTANCE}"))), ("sk".to_string(), s("USERIDS"))])
}

/// A deployment made before the counter had its own item keeps it on the instance item: the
/// first allocation creates the counter item above it (with room for the ids the previous
/// version of the functions may still take during the rollout), race-safe, with no operator step.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_counter_on_the_instance_item_moves_to_its_own_item_without_an_operator() {
    let t = spawn_app().await;
    t.dynamo.delete_item().table_name(&t.table).set_key(Some(counter_key())).send().await.expect("delete");
    t.dynamo
        .update_item()
        .table_name(&t.table)
        .set_key(Some(instance_item_key()))
        .update_expression("SET next_user_id = :n")
        .expression_attribute_values(":n", AttributeValue::N("41".into()))
        .send()
        .await
        .expect("old counter");
    // An environment of the new version, started after the deployment (the test's own one
    // already holds a block of the demo user's counter, which this test replaced).
    let base = crate::user_ids::environment(&t).await;
    let logins = (0..6).map(|i| {
        let (_, token) = t.facebook_user(&format!("Migrated Cat {i}"), None);
        let (t, base) = (&t, &base);
        async move { crate::user_ids::syncano_at_base(t, base, &token).await }
    });
    let mut ids: Vec<u64> = futures::future::join_all(logins)
        .await
        .into_iter()
        .map(|(status, body)| {
            assert_eq!(status, 200, "{body}");
            t.remember(body["user_key"].as_str().unwrap_or_default());
            body["id"].as_u64().expect("id")
        })
        .collect();
    ids.sort_unstable();
    ids.dedup();
    assert_eq!(ids.len(), 6, "an id was handed out twice: {ids:?}");
    assert!(ids[0] > 41 + 1000, "the new counter starts above the old one and its rollout gap: {ids:?}");
    let counter = t.dynamo.get_item().table_name(&t.table).set_key(Some(counter_key())).consistent_read(true);
    let counter = counter.send().await.expect("get").item.expect("the counter item");
    // One block reserved for all six (this environment's, `USER_ID_BLOCK`), from above the gap.
    let block: u64 = t.app.config.user_id_block;
    assert_eq!(ids, (42 + 1000..42 + 1000 + 6).collect::<Vec<_>>(), "the first ids of one block, in order");
    assert_eq!(counter.get("next_user_id"), Some(&AttributeValue::N((41 + 1000 + block).to_string())));
}
