//! Hostile input, replayed in process: 100,000 malformed requests made from the `events/`
//! samples (bodies cut, garbled, retyped, blown up, sent form-encoded or as base64 garbage;
//! headers dropped, duplicated, filled with junk; path parameters and source IPs invented)
//! through every function's handler. None may panic, none may answer 5xx, and every refusal is
//! a 4xx with its dialect's error body.

use std::collections::BTreeMap;
use std::panic::AssertUnwindSafe;

use futures::FutureExt;
use local_stack::dynamodb_local::repo_root;
use rand::rngs::StdRng;
use rand::{Rng, SeedableRng};
use serde_json::{json, Value};

use crate::helpers::*;

const REQUESTS: usize = 100_000;
const SEED: u64 = 20_261_123;

/// Every sample of the route functions (the authorizer takes another event type).
fn samples() -> Vec<(String, Value)> {
    let mut out = Vec::new();
    for function in local_stack::gateway::function_packages() {
        let dir = repo_root().join("events").join(function);
        let mut files: Vec<_> = std::fs::read_dir(&dir).expect("events dir").flatten().map(|e| e.path()).collect();
        files.sort();
        for f in files {
            let event = serde_json::from_str(&std::fs::read_to_string(&f).expect("sample")).expect("json");
            out.push((function.to_string(), event));
        }
    }
    out
}

fn junk(rng: &mut StdRng, max: usize) -> String {
    const ALPHABET: &[&str] = &[
        "a", "Z", "0", "{", "}", "[", "]", "\"", ":", ",", "\\", "%", "&", "=", "+", " ", "\n", "é", "💥", "\u{0}",
        "null",
    ];
    (0..rng.random_range(0..=max)).map(|_| ALPHABET[rng.random_range(0..ALPHABET.len())]).collect()
}

/// Junk a header value can carry (visible ASCII and spaces: anything else never reaches a
/// function, API Gateway refuses it).
fn header_junk(rng: &mut StdRng, max: usize) -> String {
    (0..rng.random_range(0..=max)).map(|_| char::from(rng.random_range(b' '..=b'~'))).collect()
}

fn junk_value(rng: &mut StdRng) -> Value {
    match rng.random_range(0..8) {
        0 => Value::Null,
        1 => json!(rng.random::<bool>()),
        2 => json!(rng.random::<i64>()),
        3 => json!(rng.random::<f64>() * 1e300),
        4 => json!([junk(rng, 8), 1, null]),
        5 => json!({ "nested": junk(rng, 8) }),
        6 => json!("x".repeat(rng.random_range(0..70_000))),
        _ => json!(junk(rng, 64)),
    }
}

/// One malformed variant of `event`.
fn mutate(rng: &mut StdRng, mut event: Value) -> Value {
    for _ in 0..rng.random_range(1..=3) {
        match rng.random_range(0..12) {
            // The body: garbage, cut short, a field retyped, a field added or dropped.
            0 => event["body"] = json!(junk(rng, 200)),
            1 => {
                let body = event["body"].as_str().unwrap_or_default().to_string();
                let cut = rng.random_range(0..=body.len());
                event["body"] = json!(body.get(..cut).unwrap_or_default());
            }
            2 | 3 => {
                let mut body: Value = serde_json::from_str(event["body"].as_str().unwrap_or("{}")).unwrap_or(json!({}));
                if let Some(obj) = body.as_object_mut() {
                    let keys: Vec<String> = obj.keys().cloned().collect();
                    if !keys.is_empty() && rng.random::<bool>() {
                        let k = &keys[rng.random_range(0..keys.len())];
                        if rng.random::<bool>() {
                            obj.insert(k.clone(), junk_value(rng));
                        } else {
                            obj.remove(k);
                        }
                    } else {
                        obj.insert(junk(rng, 12), junk_value(rng));
                    }
                } else {
                    body = junk_value(rng);
                }
                event["body"] = json!(body.to_string());
            }
            4 => {
                event["body"] = json!(format!("{}={}&{}", junk(rng, 10), junk(rng, 30), junk(rng, 10)));
                event["headers"]["content-type"] = json!("application/x-www-form-urlencoded");
            }
            5 => {
                let bytes: Vec<u8> = (0..rng.random_range(0..300)).map(|_| rng.random()).collect();
                use base64::Engine;
                event["body"] = json!(base64::engine::general_purpose::STANDARD.encode(bytes));
                event["isBase64Encoded"] = json!(true);
            }
            // Headers: junk values, dropped, unknown.
            6 => {
                let name = ["x-api-key", "x-user-key", "x-auth-token", "x-user-id", "content-type", "content-length"]
                    [rng.random_range(0..6)];
                event["headers"][name] = json!(header_junk(rng, 80));
            }
            7 => {
                if let Some(h) = event["headers"].as_object_mut() {
                    let keys: Vec<String> = h.keys().cloned().collect();
                    if !keys.is_empty() {
                        h.remove(&keys[rng.random_range(0..keys.len())]);
                    }
                }
            }
            8 => {
                let name: String =
                    (0..rng.random_range(1..12)).map(|_| char::from(rng.random_range(b'a'..=b'z'))).collect();
                event["headers"][format!("x-{name}")] = json!(header_junk(rng, 40));
            }
            // Path parameters and the caller's address.
            9 => {
                let name = ["instance", "id"][rng.random_range(0..2)];
                event["pathParameters"][name] = json!(junk(rng, 40));
            }
            10 => event["requestContext"]["http"]["sourceIp"] = json!(header_junk(rng, 70)),
            _ => event["headers"]["content-type"] = json!(header_junk(rng, 30)),
        }
    }
    // API Gateway base64-encodes a binary body itself: whatever the body became, it is valid base64.
    if event["isBase64Encoded"] == json!(true) {
        use base64::Engine;
        let engine = base64::engine::general_purpose::STANDARD;
        let body = event["body"].as_str().unwrap_or_default().to_string();
        if engine.decode(&body).is_err() {
            event["body"] = json!(engine.encode(body));
        }
    }
    event
}

/// Whether `body` is the error body of `function`'s dialect.
fn dialect_error(function: &str, body: &Value) -> bool {
    // The avatar route answers an image or a 304; its refusals are Rocket.Chat's.
    // `users.deleteOwnAccount`'s own refusals are Rocket.Chat's `failure()`: `success` and `error`.
    if function == "delete-own-account" && body["success"] == false && body["error"].is_string() {
        return body.get("status").is_none() || body["message"].is_string();
    }
    // The provider callbacks belong to no dialect: `{"error": code, "message": text}`.
    if matches!(
        function,
        "apple-notifications" | "facebook-data-deletion" | "facebook-deletion-status" | "facebook-deauthorize"
    ) {
        return body["error"].is_string()
            && body["message"].is_string()
            && body.as_object().is_some_and(|o| o.len() == 2);
    }
    if matches!(function, "login" | "me" | "logout" | "remove-other-tokens" | "avatar" | "delete-own-account") {
        body["success"] == false
            && body["status"] == "error"
            && body["error"].is_string()
            && body["message"].is_string()
    } else {
        body["detail"].is_string()
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_hundred_thousand_malformed_requests_give_no_panic_and_no_5xx() {
    let t = spawn_app_with(|v| {
        v.insert("LOGIN_FAILURES_MAX".into(), "1000000".into());
        v.insert("LOGIN_FAILURES_PER_USER_MAX".into(), "1000000".into());
        slow_machine(v);
    })
    .await;
    let handlers = local_stack::function_handlers(t.app.clone());
    let samples = samples();
    let mut rng = StdRng::seed_from_u64(SEED);
    let mut outcomes: BTreeMap<String, usize> = BTreeMap::new();
    let mut failures = Vec::new();
    let mut handled = 0;
    while handled < REQUESTS {
        let batch: Vec<(String, Value)> = (0..64.min(REQUESTS - handled))
            .map(|_| {
                let (function, event) = &samples[rng.random_range(0..samples.len())];
                (function.clone(), mutate(&mut rng, event.clone()))
            })
            .collect();
        let runs = batch.into_iter().map(|(function, event)| {
            let handler = handlers[&function].clone();
            async move {
                // An event API Gateway could not have sent is refused by the runtime, before us.
                let text = event.to_string();
                let Ok(Ok(req)) = std::panic::catch_unwind(|| lambda_http::request::from_str(&text)) else {
                    return (function, None, event);
                };
                let result = AssertUnwindSafe(handler(req)).catch_unwind().await;
                (function, Some(result.map(|resp| (resp.status().as_u16(), resp.body().to_vec()))), event)
            }
        });
        for (function, result, event) in futures::future::join_all(runs).await {
            handled += usize::from(result.is_some());
            let outcome = match result {
                None => "not an API Gateway event (not counted)".to_string(),
                Some(Err(_)) => {
                    failures.push(format!("{function}: PANIC on {event}"));
                    "panic".to_string()
                }
                Some(Ok((status, body))) => {
                    let body: Value = serde_json::from_slice(&body).unwrap_or_default();
                    if (status >= 500 || (status >= 400 && !dialect_error(&function, &body))) && failures.len() < 5 {
                        failures.push(format!("{function}: {status} {body} on {event}"));
                    }
                    status.to_string()
                }
            };
            *outcomes.entry(outcome).or_default() += 1;
        }
    }
    eprintln!("replay: {handled} malformed requests through the handlers, outcomes {outcomes:?}");
    assert!(failures.is_empty(), "{} bad outcomes, e.g.:\n{}", failures.len(), failures.join("\n"));
    assert!(!outcomes.keys().any(|k| k.starts_with('5')), "{outcomes:?}");
    let counted: usize =
        outcomes.iter().filter(|(k, _)| k.starts_with(|c: char| c.is_ascii_digit())).map(|(_, n)| n).sum();
    assert_eq!(counted, REQUESTS);
}
