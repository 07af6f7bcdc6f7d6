//! Issue 30, "API key checks without a read per request": each execution environment keeps the
//! answers of the API key check and the instance's settings for `API_KEY_CACHE_SECS` (negative
//! answers `API_KEY_NEGATIVE_CACHE_SECS`), so an app's traffic does not funnel through its
//! instance's partition (`INST#{instance}`); and what that costs: how long a revoked key, a new
//! key and a changed sign-up policy take to be seen (docs/security.md, "API key cache").

use serde_json::json;

use crate::helpers::*;

fn instance_reads(calls: &[local_stack::counting_proxy::DynamoCall]) -> Vec<String> {
    let pk = format!("INST#{INSTANCE}");
    calls.iter().filter(|c| c.keys.iter().any(|k| k.pk == pk)).map(|c| c.operation.clone()).collect()
}

/// The hot key of issue 30: every Syncano request read `INST#{instance}` (its instance item and
/// the API key item, one consistent BatchGetItem), and every first login the instance item again
/// for the sign-up policy. After one check, an environment reads that partition no more within
/// the cache time: returning and first logins of both dialects, `GET user/`.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_environment_reads_the_instance_partition_once_per_cache_period() {
    let (t, proxy) = spawn_app_behind_proxy().await;
    let (_, token) = t.facebook_user("Warm Person", None);
    let (status, body) = t.syncano_at("facebook", json!({ "access_token": token })).await;
    assert_eq!(status, 200, "{body}");
    t.remember(body["user_key"].as_str().unwrap_or_default());
    proxy.take();

    for _ in 0..3 {
        let (status, _) = t.syncano_at("facebook", json!({ "access_token": token })).await;
        assert_eq!(status, 200);
    }
    assert_eq!(t.user_key_status(body["user_key"].as_str().unwrap_or_default()).await, 200);
    for name in ["First Syncano", "Second Syncano"] {
        let (_, token) = t.facebook_user(name, None);
        let (status, body) = t.syncano_at("facebook", json!({ "access_token": token })).await;
        assert_eq!(status, 200, "{body}");
        t.remember(body["user_key"].as_str().unwrap_or_default());
    }
    let (_, token) = t.facebook_user("First Rocket", None);
    let (status, body) = json(t.rocketchat_login(&token).await).await;
    assert_eq!(status, 200, "{body}");
    t.remember(body["data"]["authToken"].as_str().unwrap_or_default());

    let calls = proxy.take();
    assert_eq!(instance_reads(&calls), Vec::<String>::new(), "the instance's partition was read again");
    t.assert_logs_clean();
}
