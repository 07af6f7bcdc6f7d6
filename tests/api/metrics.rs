//! The login metrics: every login's request line is CloudWatch Embedded Metric Format (checked
//! by `shared::usecases::metrics::check_emf`, the specification's rules), counting the login by provider,
//! dialect and outcome, its latency, and whether it was the user's first; other requests'
//! lines carry no metrics.

use local_stack::counting_proxy::DynamoFault;
use serde_json::Value;

use crate::helpers::*;

/// The request line of `resp`'s request (by API Gateway's request id), and the response's
/// status and body.
async fn line_of(resp: reqwest::Response) -> (Value, u16, Value) {
    let request_id = resp.headers()["apigw-requestid"].to_str().expect("ascii").to_string();
    let (status, body) = json(resp).await;
    for secret in [&body["user_key"], &body["data"]["authToken"]] {
        remember(secret.as_str().unwrap_or_default());
    }
    let lines = request_lines(&request_id);
    assert_eq!(lines.len(), 1, "one line per request: {lines:?}");
    (lines.into_iter().next().unwrap_or_default(), status, body)
}

/// The line's (Provider, Dialect, Outcome) and its metrics, once the line is checked as EMF.
fn login_metrics(line: &Value) -> ((&str, &str, &str), [f64; 4]) {
    let values = shared::usecases::metrics::check_emf(line).unwrap_or_else(|e| panic!("not EMF ({e}): {line}"));
    let value = |name: &str| values.iter().find(|(n, _)| n == name).map_or(f64::NAN, |(_, v)| *v);
    let dims = |name: &str| line[name].as_str().unwrap_or_default();
    assert_eq!(
        line["_aws"]["CloudWatchMetrics"][0]["Namespace"],
        shared::usecases::metrics::DEFAULT_NAMESPACE,
        "{line}"
    );
    let latency = value("LoginLatency");
    assert!(latency >= 0.0 && latency == line["latency_ms"].as_f64().unwrap_or_default(), "{line}");
    (
        (dims("Provider"), dims("Dialect"), dims("Outcome")),
        [value("Logins"), value("FirstLogins"), value("ReturningLogins"), line["status"].as_f64().unwrap_or_default()],
    )
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn each_login_line_counts_its_provider_dialect_outcome_and_first_or_returning() {
    let t = spawn_app().await;
    let (_, token) = t.facebook_user("Metered Person", None);

    let (line, ..) = line_of(t.syncano_login(&token).await).await;
    assert_eq!(login_metrics(&line), (("facebook", "syncano", "success"), [1.0, 1.0, 0.0, 200.0]), "first");
    let (line, ..) = line_of(t.syncano_login(&token).await).await;
    assert_eq!(login_metrics(&line), (("facebook", "syncano", "success"), [1.0, 0.0, 1.0, 200.0]), "returning");

    let (first, ..) = line_of(t.rocketchat_login(&token).await).await;
    let (again, _, body) = line_of(t.rocketchat_login(&token).await).await;
    assert_eq!(login_metrics(&again), (("facebook", "rocketchat", "success"), [1.0, 0.0, 1.0, 200.0]));
    assert_eq!(login_metrics(&first).0, ("facebook", "rocketchat", "success"));

    let (other_app, _) = t.facebook_user("Elsewhere Person", None);
    let other_app = t.token(&other_app, OTHER_APP_ID, 3600);
    let (line, ..) = line_of(t.syncano_login(&other_app).await).await;
    assert_eq!(login_metrics(&line), (("facebook", "syncano", "rejected"), [1.0, 0.0, 0.0, 401.0]));

    // A body naming no provider is a rejected login of an unknown provider.
    let resp = t.http.post(format!("{}/api/v1/login", t.base)).json(&serde_json::json!({"user": "x"})).send().await;
    let (line, status, _) = line_of(resp.expect("request")).await;
    assert_eq!(login_metrics(&line).0, ("unknown", "rocketchat", "rejected"), "{status}");

    t.emulator.set_fault(emulator::Fault::Status500);
    let (line, ..) = line_of(t.syncano_login(&token).await).await;
    let (line_rc, ..) = line_of(t.rocketchat_login(&token).await).await;
    t.emulator.set_fault(emulator::Fault::None);
    assert_eq!(login_metrics(&line), (("facebook", "syncano", "provider_unavailable"), [1.0, 0.0, 0.0, 502.0]));
    assert_eq!(login_metrics(&line_rc).0, ("facebook", "rocketchat", "provider_unavailable"));

    // A session's requests, a resume included, are not logins: no metrics on their lines.
    let (user_id, auth) = (body["data"]["userId"].as_str().unwrap_or_default(), body["data"]["authToken"].as_str());
    let (line, status, _) = line_of(t.me(auth.unwrap_or_default(), user_id).await).await;
    assert_eq!(status, 200);
    assert!(line.get("_aws").is_none() && line.get("Logins").is_none(), "{line}");
    let resume = serde_json::json!({ "resume": auth });
    let (line, status, _) =
        line_of(t.http.post(format!("{}/api/v1/login", t.base)).json(&resume).send().await.expect("request")).await;
    assert_eq!(status, 200);
    assert!(line.get("_aws").is_none(), "{line}");
    t.assert_logs_clean();
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn throttled_and_store_unavailable_logins_are_counted_as_such() {
    let t = spawn_app_with(|v| {
        v.insert("LOGIN_FAILURES_MAX".into(), "2".into());
    })
    .await;
    let (other_app, _) = t.facebook_user("Knocking Person", None);
    let other_app = t.token(&other_app, OTHER_APP_ID, 3600);
    let mut outcomes = Vec::new();
    for _ in 0..3 {
        let (line, ..) = line_of(t.syncano_login(&other_app).await).await;
        let ((_, _, outcome), [.., status]) = login_metrics(&line);
        outcomes.push((outcome.to_owned(), status));
    }
    assert_eq!(outcomes.last(), Some(&("throttled".to_owned(), 429.0)), "{outcomes:?}");

    let (t, proxy) = spawn_app_behind_proxy().await;
    let (_, token) = t.facebook_user("Unlucky Metered", None);
    proxy.fail(DynamoFault::ServerError, None, u32::MAX);
    let (line, ..) = line_of(t.syncano_login(&token).await).await;
    proxy.heal();
    assert_eq!(login_metrics(&line), (("facebook", "syncano", "store_unavailable"), [1.0, 0.0, 0.0, 503.0]));
    t.assert_logs_clean();
}
