//! Issue 28, point 2: one client must not be able to throttle everybody. API Gateway's route
//! throttle is one token bucket per route shared by every caller (the local gateway emulates it
//! from the template's `DefaultRouteSettings` / `RouteSettings`), so the template's limits are
//! capacity ceilings far above the expected peak; a per-client limit is the optional front's
//! (CloudFront + WAF, not emulated here: docs/security.md, "Flood protection").

use std::net::{IpAddr, Ipv4Addr};
use std::sync::Arc;
use std::time::Duration;

use local_stack::dynamodb_local::repo_root;
use local_stack::Template;

use crate::helpers::*;

/// A client of its own loopback address (the gateway's `sourceIp`).
fn client_from(last: u8) -> reqwest::Client {
    reqwest::Client::builder().local_address(IpAddr::V4(Ipv4Addr::new(127, 0, 0, last))).build().expect("client")
}

/// `app` served by a gateway of the template with `parameters` overridden (as `sam deploy
/// --parameter-overrides` would); its base URL.
async fn serve_with_parameters(app: Arc<shared::App>, parameters: &[(&str, &str)]) -> String {
    let mut template = Template::load(repo_root().join("template.yaml")).expect("template.yaml");
    for (name, value) in parameters {
        template.set_parameter(name, value);
    }
    let gateway = local_stack::gateway::for_template(&template, app).expect("gateway");
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.expect("bind");
    let base = format!("http://{}", listener.local_addr().expect("addr"));
    tokio::spawn(local_stack::gateway::serve(listener, gateway, std::future::pending()));
    base
}

/// API Gateway's own 429, as opposed to the failure limiter's (which is in the dialect's shape).
fn gateway_429(answer: &(u16, serde_json::Value)) -> bool {
    *answer == (429, serde_json::json!({ "message": "Too Many Requests" }))
}

/// Client A (127.0.0.2) sends 30 Rocket.Chat logins a second for two seconds, paced, each
/// without a token (the function answers 401 and the failure limiter counts nothing: only the
/// route's bucket sees them); from 1.5 s on, client B (127.0.0.3) logs in with a good token
/// `tries` times, 50 ms apart. A's answers, and B's.
async fn flood_then_login(
    t: &TestApp,
    base: &str,
    tries: usize,
) -> (Vec<(u16, serde_json::Value)>, Vec<(u16, serde_json::Value)>) {
    let url = format!("{base}/api/v1/login");
    let (_, token) = t.facebook_user("Bystander Bee", None);
    let start = tokio::time::Instant::now();
    let attacker = client_from(2);
    let flood: Vec<_> = (0..60u64)
        .map(|i| {
            let (attacker, url) = (attacker.clone(), url.clone());
            tokio::spawn(async move {
                tokio::time::sleep_until(start + Duration::from_millis(i * 1000 / 30)).await;
                let body = serde_json::json!({ "serviceName": "facebook" });
                json(attacker.post(&url).json(&body).send().await.expect("request")).await
            })
        })
        .collect();
    let bystander = client_from(3);
    let mut logins = Vec::new();
    for i in 0..tries {
        tokio::time::sleep_until(start + Duration::from_millis(1500 + 50 * i as u64)).await;
        let body = serde_json::json!({ "serviceName": "facebook", "accessToken": token, "secret": "client-secret",
            "expiresIn": 3600 });
        logins.push(json(bystander.post(&url).json(&body).send().await.expect("request")).await);
    }
    let mut answers = Vec::new();
    for request in flood {
        answers.push(request.await.expect("flood request"));
    }
    (answers, logins)
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn one_clients_flood_does_not_deny_another_clients_login() {
    // The gateway every test runs through: the template's own limits.
    let t = spawn_app_with(slow_machine).await;
    let (flood, logins) = flood_then_login(&t, &t.base, 1).await;
    assert_eq!(logins[0].0, 200, "the bystander's login was refused: {}", logins[0].1);
    let throttled = flood.iter().filter(|a| gateway_429(a)).count();
    assert_eq!(throttled, 0, "the route's ceiling throttled {throttled} of 60 requests in 2 s");
    // Nor did the failure limiter: a login without a token is refused (401) without counting.
    assert!(flood.iter().all(|(status, _)| *status == 401), "{flood:?}");
    t.assert_logs_clean();
}

/// The review's attack under the limits the template had (login routes 10 rps, burst 20): the
/// shared bucket runs dry and everybody's login is 429 before the function runs.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn under_the_old_login_limits_one_clients_flood_denied_everybody() {
    let t = spawn_app_with(slow_machine).await;
    let old = [("LoginThrottlingRateLimit", "10"), ("LoginThrottlingBurstLimit", "20")];
    let base = serve_with_parameters(t.app.clone(), &old).await;
    let (flood, logins) = flood_then_login(&t, &base, 5).await;
    // 20 in the burst, then 10 a second for the rest: at least 20 of the 60 are refused.
    let throttled = flood.iter().filter(|a| gateway_429(a)).count();
    assert!(throttled >= 20, "{throttled} of 60 throttled");
    // The bystander competes with 30 requests a second for 10 tokens a second.
    assert!(logins.iter().any(gateway_429), "{logins:?}");
}

/// Over a route's throttle API Gateway answers 429 `{"message":"Too Many Requests"}` itself; the
/// other routes have buckets of their own.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_route_over_its_throttle_gets_api_gateways_429() {
    let t = spawn_app().await;
    let low = [("LoginThrottlingRateLimit", "1"), ("LoginThrottlingBurstLimit", "2")];
    let base = serve_with_parameters(t.app.clone(), &low).await;
    let http = reqwest::Client::new();
    let login = |path: &str| http.post(format!("{base}{path}")).json(&serde_json::json!({})).send();
    let mut answers = Vec::new();
    for _ in 0..3 {
        answers.push(login("/api/v1/login").await.expect("request"));
    }
    let last = answers.pop().expect("three");
    assert!(answers.iter().all(|r| r.status() != 429));
    assert!(last.headers().contains_key("apigw-requestid"));
    assert_eq!(json(last).await, (429, serde_json::json!({ "message": "Too Many Requests" })));
    // Another login route's bucket is its own; a route on the default settings is not touched.
    let other = login("/v1.1/instances/x/user/auth/facebook/").await.expect("request");
    assert_ne!(other.status(), 429);
    let me = http.get(format!("{base}/api/v1/me")).send().await.expect("request");
    assert_ne!(me.status(), 429);
}

// The optional front (CloudFront + WAF before the API). The local gateway stands for API Gateway
// only: a test plays CloudFront by sending the headers it adds (the origin secret and
// `CloudFront-Viewer-Address`); the WAF's per-IP rule is not emulated (its template is checked
// in template.rs).

/// An origin secret of the tests.
const ORIGIN_SECRET: &str = "test-origin-secret-0123456789abcdef";

fn with_front(vars: &mut std::collections::HashMap<String, String>) {
    vars.insert("ORIGIN_SECRET".into(), ORIGIN_SECRET.into());
    vars.insert("LOGIN_FAILURES_MAX".into(), "3".into());
}

/// A Rocket.Chat login with `token`, with these extra headers.
async fn rc_login_with(t: &TestApp, token: &str, headers: &[(&str, &str)]) -> (u16, serde_json::Value) {
    let body = serde_json::json!({ "serviceName": "facebook", "accessToken": token, "secret": "client-secret",
        "expiresIn": 3600 });
    let mut request = t.http.post(format!("{}/api/v1/login", t.base)).json(&body);
    for (name, value) in headers {
        request = request.header(*name, *value);
    }
    json(request.send().await.expect("request")).await
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn with_the_front_a_request_without_its_origin_secret_is_refused() {
    let t = spawn_app_with(with_front).await;
    let (_, token) = t.facebook_user("Direct Dora", None);
    let forbidden_rc = serde_json::json!({ "success": false, "error": "unauthorized" });
    // Straight to the API (around the WAF): no origin header, or a wrong one.
    for headers in [&[][..], &[("x-origin-verify", "not-the-secret")][..], &[("x-origin-verify", "")][..]] {
        assert_eq!(rc_login_with(&t, &token, headers).await, (403, forbidden_rc.clone()), "{headers:?}");
    }
    let syncano = t
        .http
        .post(t.syncano_url(INSTANCE))
        .header("x-api-key", &t.api_key)
        .json(&serde_json::json!({ "access_token": token }))
        .send()
        .await
        .expect("request");
    let detail = serde_json::json!({ "detail": "You do not have permission to perform this action." });
    assert_eq!(json(syncano).await, (403, detail));
    let callback = t.http.post(format!("{}/callbacks/facebook/{INSTANCE}/deauthorize", t.base)).send().await;
    assert_eq!(json(callback.expect("request")).await, (403, serde_json::json!({ "message": "Forbidden" })));
    // An app's own route: its authorizer denies, so API Gateway answers 403.
    let own = t.http.get(format!("{}{ROCKETCHAT_ONLY}", t.base)).header("x-auth-token", "t").header("x-user-id", "u");
    assert_eq!(json(own.send().await.expect("request")).await.0, 403);
    // Nothing was asked of the provider, nothing written.
    assert_eq!(t.emulator.request_count(), 0);
    assert_eq!(t.count("USER#").await + t.count("FAIL#").await, 0);

    // Through the front (CloudFront adds the secret): served.
    let (status, body) = rc_login_with(&t, &token, &[("x-origin-verify", ORIGIN_SECRET)]).await;
    assert_eq!(status, 200, "{body}");
    t.remember(ORIGIN_SECRET);
    t.assert_logs_clean();
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn with_the_front_the_limiter_counts_by_the_viewer_address() {
    let t = spawn_app_with(with_front).await;
    let secret = ("x-origin-verify", ORIGIN_SECRET);
    // One viewer (all through the same edge, 127.0.0.1 here) fails three times...
    for port in ["1111", "2222", "3333"] {
        let viewer = format!("198.51.100.7:{port}");
        let (status, _) = rc_login_with(&t, "EAAnotAToken", &[secret, ("cloudfront-viewer-address", &viewer)]).await;
        assert_eq!(status, 401);
    }
    assert_eq!(t.count("FAIL#198.51.100.7#").await, 1);
    assert_eq!(t.count("FAIL#127.0.0.1#").await, 0, "the edge's address is not the client");
    // ... and is slowed; another viewer behind the same edge is not, IPv6 ones neither.
    let (_, token) = t.facebook_user("Viewer Vic", None);
    let (status, body) = rc_login_with(&t, &token, &[secret, ("cloudfront-viewer-address", "198.51.100.7:4444")]).await;
    assert_eq!((status, body["error"].as_str()), (429, Some("error-too-many-requests")));
    for viewer in ["198.51.100.8:4444", "2001:db8:85a3::8a2e:370:7334:443"] {
        let (status, body) = rc_login_with(&t, &token, &[secret, ("cloudfront-viewer-address", viewer)]).await;
        assert_eq!(status, 200, "{viewer}: {body}");
    }
    t.remember(ORIGIN_SECRET);
    t.assert_logs_clean();
}

/// Without the front, `CloudFront-Viewer-Address` is a header anyone can send: it must not move
/// the limiter's key (it does not today, and must not once the front exists).
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn without_the_front_a_forged_viewer_address_is_ignored() {
    let t = spawn_app_with(|v| {
        v.insert("LOGIN_FAILURES_MAX".into(), "3".into());
    })
    .await;
    for i in 0..3 {
        let forged = format!("198.51.100.{i}:443");
        let headers = [("cloudfront-viewer-address", forged.as_str()), ("x-origin-verify", ORIGIN_SECRET)];
        assert_eq!(rc_login_with(&t, "EAAnotAToken", &headers).await.0, 401);
    }
    assert_eq!(t.count("FAIL#127.0.0.1#").await, 1, "counted under the source IP");
    assert_eq!(t.count("FAIL#198.51.100.").await, 0, "nothing under the forged addresses");
    let (_, token) = t.facebook_user("Forger Fay", None);
    let fresh = [("cloudfront-viewer-address", "203.0.113.99:443")];
    let (status, body) = rc_login_with(&t, &token, &fresh).await;
    assert_eq!((status, body["error"].as_str()), (429, Some("error-too-many-requests")));
    t.assert_logs_clean();
}
