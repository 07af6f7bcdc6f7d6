//! Issue 30, "User ids without a hot counter": each execution environment (an `App`) reserves a
//! block of Syncano user ids with one `ADD` on the instance's counter item and hands them out
//! from memory. Many environments on one table, each behind a gateway of its own, and many
//! simultaneous first logins: every id distinct, exactly one user per person, every id a safe
//! JavaScript integer (below 2^53).

use std::collections::{HashMap, HashSet};

use aws_sdk_dynamodb::types::AttributeValue;
use serde_json::json;

use crate::helpers::*;

/// 2^53: JavaScript reads a larger integer inexactly, so no id may be this or above.
const JS_SAFE_LIMIT: u64 = 1 << 53;

fn counter_key() -> Item {
    Item::from([
        ("pk".to_string(), AttributeValue::S(format!("USERIDS#{INSTANCE}"))),
        ("sk".to_string(), AttributeValue::S("USERIDS".into())),
    ])
}

/// The instance's counter: the last id any environment reserved.
async fn counter(t: &TestApp) -> u64 {
    let get = t.dynamo.get_item().table_name(&t.table).set_key(Some(counter_key())).consistent_read(true);
    let item = get.send().await.expect("get").item.expect("the counter item");
    item.get("next_user_id").and_then(|v| v.as_n().ok()).and_then(|n| n.parse().ok()).expect("next_user_id")
}

async fn set_counter(t: &TestApp, value: u64) {
    let mut item = counter_key();
    item.insert("next_user_id".into(), AttributeValue::N(value.to_string()));
    t.dynamo.put_item().table_name(&t.table).set_item(Some(item)).send().await.expect("put the counter");
}

/// Another execution environment: its own `App` (its own memory, so its own blocks) on the
/// test's table, from the same settings, signing as the functions do, behind a gateway of its own.
pub(crate) async fn environment(t: &TestApp) -> String {
    t.new_environment_gateway().await
}

/// A Syncano first (or returning) login through the gateway at `base`: (status, body).
pub(crate) async fn syncano_at_base(t: &TestApp, base: &str, token: &str) -> (u16, serde_json::Value) {
    let resp = t
        .http
        .post(format!("{base}/v1.1/instances/{INSTANCE}/user/auth/facebook/"))
        .header("x-api-key", &t.api_key)
        .json(&json!({ "access_token": token }))
        .send()
        .await
        .expect("request");
    json(resp).await
}

async fn rocketchat_at_base(t: &TestApp, base: &str, token: &str) -> (u16, serde_json::Value) {
    let resp = t
        .http
        .post(format!("{base}/api/v1/login"))
        .json(&json!({ "serviceName": "facebook", "accessToken": token, "secret": "client-secret", "expiresIn": 3600 }))
        .send()
        .await
        .expect("request");
    json(resp).await
}

/// The Syncano id of the user behind `token`'s person: a (returning) Syncano login.
async fn id_of(t: &TestApp, token: &str) -> u64 {
    let (status, body) = json(t.syncano_login(token).await).await;
    assert_eq!(status, 200, "{body}");
    t.remember(body["user_key"].as_str().unwrap_or_default());
    body["id"].as_u64().expect("id")
}

/// 8 environments, 40 distinct people signing up at once (Syncano and Rocket.Chat, spread over
/// the environments) and 5 people each racing their first login in 4 environments at once: every
/// login answers 200, every person is exactly one user, no id is handed out twice, and every id
/// is a positive integer below 2^53. Blocks of 4 ids, so that the environments keep reserving
/// blocks from the one counter while they race.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn ids_stay_unique_across_many_environments_and_simultaneous_first_logins() {
    let t = spawn_app_with(|v| {
        slow_machine(v);
        v.insert("USER_ID_BLOCK".into(), "4".into());
    })
    .await;
    let mut bases = Vec::new();
    for _ in 0..8 {
        bases.push(environment(&t).await);
    }
    let users_before = t.count("USER#").await;

    let mut logins = Vec::new();
    let mut people = Vec::new();
    for i in 0..40 {
        let (person, token) = t.facebook_user(&format!("Block Cat {i}"), None);
        people.push((person.clone(), token.clone()));
        logins.push((person, token, bases[i % 8].clone(), i % 2 == 0));
    }
    for i in 0..5 {
        let (person, token) = t.facebook_user(&format!("Racing Cat {i}"), None);
        people.push((person.clone(), token.clone()));
        for e in 0..4 {
            logins.push((person.clone(), token.clone(), bases[(i + 2 * e) % 8].clone(), e % 2 == 0));
        }
    }
    let answers = futures::future::join_all(logins.iter().map(|(person, token, base, syncano)| {
        let t = &t;
        async move {
            if *syncano {
                let (status, body) = syncano_at_base(t, base, token).await;
                t.remember(body["user_key"].as_str().unwrap_or_default());
                (person.clone(), status, body["id"].as_u64(), body)
            } else {
                let (status, body) = rocketchat_at_base(t, base, token).await;
                t.remember(body["data"]["authToken"].as_str().unwrap_or_default());
                (person.clone(), status, None, body)
            }
        }
    }))
    .await;

    let mut answered: HashMap<String, HashSet<u64>> = HashMap::new();
    for (person, status, id, body) in answers {
        assert_eq!(status, 200, "{body}");
        if let Some(id) = id {
            answered.entry(person).or_default().insert(id);
        }
    }
    let mut ids = HashSet::new();
    for (person, token) in &people {
        let id = id_of(&t, token).await;
        assert!(id > 0 && id < JS_SAFE_LIMIT, "id {id} is not a safe JavaScript integer");
        assert!(ids.insert(id), "id {id} was handed out twice");
        if let Some(seen) = answered.get(person) {
            assert_eq!(seen, &HashSet::from([id]), "one person, one user: every login answered its id");
        }
    }
    assert_eq!(t.count("USER#").await, users_before + people.len(), "exactly one user per person");
    assert!(counter(&t).await >= ids.iter().copied().max().unwrap_or_default(), "the counter is above every id");
    t.assert_logs_clean();
}

/// An environment moves the counter once per block, not once per sign-up: 8 environments, each
/// taking 3 first logins one after the other with blocks of 5, reserve one block each (the
/// counter goes up by 8 × 5), and each hands out consecutive increasing ids from its block.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_environment_moves_the_counter_once_per_block() {
    let t = spawn_app_with(|v| {
        slow_machine(v);
        v.insert("USER_ID_BLOCK".into(), "5".into());
    })
    .await;
    let before = counter(&t).await;
    let mut bases = Vec::new();
    for _ in 0..8 {
        bases.push(environment(&t).await);
    }
    let mut people = Vec::new();
    for e in 0..8 {
        let mut tokens = Vec::new();
        for i in 0..3 {
            tokens.push(t.facebook_user(&format!("Env {e} Cat {i}"), None).1);
        }
        people.push(tokens);
    }
    let per_environment = futures::future::join_all(bases.iter().zip(&people).map(|(base, tokens)| {
        let t = &t;
        async move {
            let mut ids = Vec::new();
            for token in tokens {
                let (status, body) = syncano_at_base(t, base, token).await;
                assert_eq!(status, 200, "{body}");
                t.remember(body["user_key"].as_str().unwrap_or_default());
                ids.push(body["id"].as_u64().expect("id"));
            }
            ids
        }
    }))
    .await;
    let mut all = HashSet::new();
    for ids in &per_environment {
        assert!(
            ids.windows(2).all(|w| w[1] == w[0] + 1),
            "one environment's ids come from its block in order: {ids:?}"
        );
        assert!(ids.iter().all(|id| all.insert(*id)), "an id was handed out twice: {per_environment:?}");
    }
    assert_eq!(counter(&t).await, before + 8 * 5, "one ADD of a block per environment: {per_environment:?}");
    t.assert_logs_clean();
}

/// No id at or above 2^53 is ever handed out: the block that reaches it is cut at 2^53 − 1, and
/// once the counter is past it, a first login is refused (500) and writes no user.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn no_id_at_or_above_two_to_the_53_is_handed_out() {
    let t = spawn_app_with(|v| {
        v.insert("USER_ID_BLOCK".into(), "3".into());
    })
    .await;
    set_counter(&t, JS_SAFE_LIMIT - 3).await;
    let base = environment(&t).await;
    let mut ids = Vec::new();
    for i in 0..2 {
        let (_, token) = t.facebook_user(&format!("Last Cat {i}"), None);
        let (status, body) = syncano_at_base(&t, &base, &token).await;
        assert_eq!(status, 200, "{body}");
        t.remember(body["user_key"].as_str().unwrap_or_default());
        ids.push(body["id"].as_u64().expect("id"));
    }
    assert_eq!(ids, vec![JS_SAFE_LIMIT - 2, JS_SAFE_LIMIT - 1]);
    let written = t.login_writes().await;
    let (_, token) = t.facebook_user("One Cat Too Many", None);
    let (status, body) = syncano_at_base(&t, &base, &token).await;
    assert_eq!(status, 500, "{body}");
    assert_eq!(t.login_writes().await, written, "no user, identity or username was written");
    t.assert_logs_clean();
}
