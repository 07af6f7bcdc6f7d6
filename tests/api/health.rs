//! `GET /health` (issue 33), Route 53's probe of a region, through the local gateway: 200 with
//! the region when the function and the table answer one strongly consistent read of the fixed
//! probe key (and nothing else: no write, no other key, within the function's IAM policy), 503
//! when the table does not; never cached, and the same answer for anyone.

use local_stack::counting_proxy::DynamoFault;

use crate::helpers::*;

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn health_is_one_consistent_read_of_the_probe_key_and_503_when_the_table_fails() {
    let (t, proxy) = spawn_app_behind_proxy().await;
    let region = t.app.store.client().config().region().map(|r| r.to_string()).expect("a region");

    let resp = t.http.get(format!("{}/health", t.base)).send().await.expect("GET /health");
    assert_eq!(resp.headers().get("cache-control").and_then(|v| v.to_str().ok()), Some("no-store"));
    let (status, body) = json(resp).await;
    assert_eq!((status, body), (200, serde_json::json!({"status": "ok", "region": region})));
    let calls = proxy.take();
    assert_eq!(calls.len(), 1, "{calls:?}");
    assert_eq!((calls[0].operation.as_str(), calls[0].consistent), ("GetItem", true), "{calls:?}");
    let keys: Vec<_> = calls[0].keys.iter().map(|k| k.pk.as_str()).collect();
    assert_eq!(keys, [shared::usecases::health::HEALTH_PK]);
    assert_eq!(t.count("HEALTH#").await, 0, "the probe writes nothing");

    // The table failing (each kind): 503, the region, nothing of the error.
    for fault in [DynamoFault::ServerError, DynamoFault::Throttled] {
        proxy.fail(fault, Some("GetItem"), u32::MAX);
        let (status, body) = json(t.http.get(format!("{}/health", t.base)).send().await.expect("GET")).await;
        proxy.heal();
        assert_eq!((status, body), (503, serde_json::json!({"status": "unavailable", "region": region})), "{fault:?}");
    }
    // And back.
    let (status, _) = json(t.http.get(format!("{}/health", t.base)).send().await.expect("GET")).await;
    assert_eq!(status, 200);
    t.assert_logs_clean();
}
