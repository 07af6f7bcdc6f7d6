//! Repeated rejected logins from one IP are slowed with 429 and `Retry-After`; a success from
//! another IP is never blocked by them.

use crate::helpers::*;

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_ip_with_too_many_rejected_logins_gets_429_and_others_do_not() {
    let t = spawn_app_with(|v| {
        v.insert("LOGIN_FAILURES_MAX".into(), "3".into());
    })
    .await;
    for _ in 0..3 {
        assert_eq!(t.syncano_login("EAAnotAToken").await.status().as_u16(), 401);
    }
    assert_eq!(t.count("FAIL#127.0.0.1#").await, 1, "one counter per IP and window");
    // Now even a valid token from this IP waits, and the provider is not asked.
    let (_, token) = t.facebook_user("Patient Cat", None);
    let asked = t.emulator.request_count();
    let resp = t.syncano_login(&token).await;
    assert_eq!(resp.status().as_u16(), 429);
    let wait: i64 = resp.headers()["retry-after"].to_str().expect("ascii").parse().expect("seconds");
    assert!((1..=300).contains(&wait), "{wait}");
    assert_eq!(json(resp).await.1["detail"], "Too many failed logins. Try again later.");
    assert_eq!(t.emulator.request_count(), asked);
    let (status, body) = json(t.rocketchat_login(&token).await).await;
    assert_eq!((status, body["error"].as_str()), (429, Some("error-too-many-requests")));

    // The same login from another address (the event samples come from 203.0.113.10) succeeds.
    let text = std::fs::read_to_string(
        local_stack::dynamodb_local::repo_root().join("events/facebook-login/200-success.json"),
    )
    .expect("sample");
    let req = lambda_http::request::from_str(&text).expect("event");
    assert_eq!(facebook_login::handler(&t.app, req).await.status().as_u16(), 200);
    t.assert_logs_clean();
}
