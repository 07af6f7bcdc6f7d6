//! Entry points for the fuzz targets in `fuzz/` (built only with the `fuzzing` feature): every
//! piece of code that reads untrusted bytes before a network call, each with the invariants it
//! must keep. A broken invariant panics, which is what the fuzzer reports.
//!
//! - [`api_gateway_event`]: an API Gateway HTTP API event (JSON) as Lambda hands it over, with
//!   its headers, path parameters and source IP, through both dialects' request parsing.
//! - [`login_body`]: a login body under a chosen media type, straight into both dialects.
//! - [`jwt`]: an ID token, before and through verification against a fixed key set.
//! - [`provider_answer`]: a provider's (or a man in the middle's) answer to every request we send.
//! - [`signed_request`]: a Facebook callback's form, or a `signed_request` payload we sign, through
//!   the form's reading, the verification and the `issued_at` window.
//! - [`apple_notification`]: an Apple notification's body, or the claims of a verified one.
//! - [`account_body`]: the body (and keys) of the Syncano and Rocket.Chat account routes.
//!
//! Every rejection must be a 4xx carrying its dialect's error body; a token nobody signed must
//! never verify.

use std::collections::HashMap;
use std::sync::{Arc, OnceLock};
use std::time::Duration;

use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use base64::Engine;
use jsonwebtoken::DecodingKey;
use lambda_http::http::{self, StatusCode};
use lambda_http::{Body, Request, RequestExt, Response};
use serde_json::Value;

use crate::domain::identity::{Provider, VerifiedIdentity};
use crate::domain::instance::InstanceName;
use crate::domain::secret::Secret;
use crate::entry::dialect::{rocketchat, syncano};
use crate::entry::http::RequestLog;
use crate::providers::jwks::JwksCache;
use crate::providers::oidc::{self, IdTokenRules, NonceRule, Profile};
use crate::providers::{facebook, github, google, jwks, linkedin, parse_json, twitter, ProviderError};
use crate::usecases::error::UseCaseError;
use crate::usecases::limiter;

/// An API Gateway HTTP API (payload 2.0) event. Bytes that are not such an event never reach a
/// handler (the runtime refuses them), so they are not ours to judge.
pub fn api_gateway_event(data: &[u8]) {
    let Ok(text) = std::str::from_utf8(data) else { return };
    let Some(req) = lambda_http_request(text) else { return };
    request(&req);
}

/// The request lambda_http makes of an event, or `None` where it refuses or panics. lambda_http
/// 1.3 builds the URI with `Url::parse(..).unwrap()`, so a `host` header or path that is not a
/// valid URL part panics inside lambda_http (found by this target). That is before our handler:
/// lambda_runtime's panic layer turns it into an invocation error, and behind API Gateway it
/// cannot happen (the Host header is what routed the request to the API); the local gateway
/// answers it with 400. libFuzzer's panic hook aborts, so it is set aside around the call.
fn lambda_http_request(text: &str) -> Option<Request> {
    let hook = std::panic::take_hook();
    std::panic::set_hook(Box::new(|_| {}));
    let converted = std::panic::catch_unwind(|| lambda_http::request::from_str(text));
    std::panic::set_hook(hook);
    converted.ok()?.ok()
}

/// A login body sent with media type `kind % 4` (none, JSON, form, other) to both dialects.
pub fn login_body(kind: u8, body: &[u8]) {
    let mut b = http::Request::builder().method("POST").uri("/login").header("x-api-key", "fuzz-key");
    match kind % 4 {
        0 => {}
        1 => b = b.header("content-type", "application/json; charset=utf-8"),
        2 => b = b.header("content-type", "application/x-www-form-urlencoded"),
        _ => b = b.header("content-type", "text/plain"),
    }
    let Ok(req) = b.body(Body::from(body.to_vec())) else { return };
    let params: HashMap<String, String> = HashMap::from([("instance".to_string(), "demo".to_string())]);
    request(&req.with_path_parameters(params));
}

/// The app secret the fuzzed `signed_request`s are verified with.
const FUZZ_APP_SECRET: &[u8] = b"fuzz-app-secret";

/// A POST under media type `kind % 5` (none, JSON, form, text, multipart) with `body`, the
/// instance `demo` and user id `1` as path parameters; the API key and user key headers when
/// `kind`'s bits 3 and 4 say so.
fn post(kind: u8, body: &[u8]) -> Option<Request> {
    let mut b = http::Request::builder().method("POST").uri("/fuzz");
    match kind % 5 {
        0 => {}
        1 => b = b.header("content-type", "application/json"),
        2 => b = b.header("content-type", "application/x-www-form-urlencoded"),
        3 => b = b.header("content-type", "text/plain"),
        _ => b = b.header("content-type", "multipart/form-data; boundary=fuzz"),
    }
    if kind & 0x08 != 0 {
        b = b.header("x-api-key", "fuzz-key");
    }
    if kind & 0x10 != 0 {
        b = b.header("x-user-key", "fuzz-user-key");
    }
    let req = b.body(Body::from(body.to_vec())).ok()?;
    let params: HashMap<String, String> =
        HashMap::from([("instance".to_string(), "demo".to_string()), ("id".to_string(), "1".to_string())]);
    Some(req.with_path_parameters(params))
}

/// A refusal of Facebook's or Apple's callbacks: a 4xx with JSON `{"error", "message"}`.
fn callback_refusal(resp: &Response<Body>, e: &dyn std::fmt::Display) {
    assert_client_error(resp, e);
    let body = body_json(resp);
    assert!(body["error"].is_string() && body["message"].is_string(), "{body}");
}

/// A Facebook callback's input: `data[0] == 0` takes the rest as the callback's form body;
/// otherwise the rest is a payload (JSON, or anything) that we sign with the app secret, so the
/// fuzzer reaches the claims checks behind the HMAC. Every refusal is a 4xx callback refusal; a
/// verified request names an app-scoped user id, and never carries a login's claims.
pub fn signed_request(data: &[u8]) {
    use crate::entry::facebook_callbacks::{error_response, signed_request_of};
    use crate::usecases::facebook_callbacks::{self as fb, signed_request as sr};
    let Some((&mode, rest)) = data.split_first() else { return };
    let text = if mode == 0 {
        let Some(req) = post(2, rest) else { return };
        match signed_request_of(&req) {
            Ok(text) => text.expose().to_string(),
            Err(e) => return callback_refusal(&error_response(&e), &e),
        }
    } else {
        use hmac::Mac;
        let payload = URL_SAFE_NO_PAD.encode(rest);
        let Ok(mut mac) = hmac::Hmac::<sha2::Sha256>::new_from_slice(FUZZ_APP_SECRET) else { return };
        mac.update(payload.as_bytes());
        format!("{}.{payload}", URL_SAFE_NO_PAD.encode(mac.finalize().into_bytes()))
    };
    match sr::verify(&text, FUZZ_APP_SECRET) {
        Ok(request) => {
            let id = &request.user_id;
            assert!(!id.is_empty() && id.len() <= 64 && id.bytes().all(|b| b.is_ascii_alphanumeric()), "{id:?}");
            assert!(request.fingerprint.len() == 64 && request.fingerprint.bytes().all(|b| b.is_ascii_hexdigit()));
            // Never a login's signed_request.
            let claims =
                text.split_once('.').and_then(|(_, p)| URL_SAFE_NO_PAD.decode(p.trim().trim_end_matches('=')).ok());
            if let Some(Ok(Value::Object(claims))) = claims.map(|c| serde_json::from_slice::<Value>(&c)) {
                assert!(!sr::LOGIN_CLAIMS.iter().any(|c| claims.contains_key(*c)), "a login signed_request passed");
            }
            let now = crate::domain::clock::now_secs();
            match fb::issued_within_window(request.issued_at, now) {
                Ok(at) => assert!(at >= now - fb::MAX_REQUEST_AGE_SECS && at <= now + fb::MAX_FUTURE_SECS, "{at}"),
                Err(e) => callback_refusal(&error_response(&e), &e),
            }
        }
        Err(e) => {
            let e = fb::CallbackError::from(e);
            callback_refusal(&error_response(&e), &e);
        }
    }
}

/// An Apple notification: `data[0] == 0` takes the rest as the callback's body, read and then
/// verified against the fixture key set (nobody here holds its private key, so nothing may
/// verify); otherwise the rest is the claims of a notification as if verified, read as the
/// callback reads them. Every refusal is a 4xx callback refusal.
pub fn apple_notification(data: &[u8]) {
    use crate::entry::apple_notifications as apple;
    use crate::providers::apple_notification::read_claims;
    use crate::usecases::apple_notifications::NotificationError;
    let Some((&mode, rest)) = data.split_first() else { return };
    if mode == 0 {
        let Some(req) = post(1, rest) else { return };
        match apple::payload(&req) {
            Ok(payload) => {
                let (rt, cache, rules) = verifier();
                let verified = rt.block_on(oidc::verify_signed(cache, rules, &payload, &["exp", "iss", "aud", "iat"]));
                assert!(verified.is_err(), "a notification nobody signed verified");
            }
            Err(e) => callback_refusal(&apple::error_response(&e), &e),
        }
        return;
    }
    let Ok(claims) = serde_json::from_slice::<Value>(rest) else { return };
    match read_claims(claims, "fuzz-payload") {
        Ok(n) => {
            let sub = &n.event.subject;
            assert!(!sub.is_empty() && sub.len() <= 255 && sub.chars().all(|c| c.is_ascii_graphic()), "{sub:?}");
            assert!(n.record_id.len() == 64 && n.record_id.bytes().all(|b| b.is_ascii_hexdigit()));
            let _ = n.event_secs();
        }
        Err(e) => {
            let e = NotificationError::from(e);
            callback_refusal(&apple::error_response(&e), &e);
        }
    }
}

/// The body (under media type `kind`, with or without the key headers, see [`post`]) of the
/// account routes: Syncano's user-key routes (`GET`/`DELETE` `user/`) and admin routes
/// (`reset_key`, `DELETE users/{id}/`), and Rocket.Chat's `users.deleteOwnAccount` password.
/// Every refusal is a 4xx in its dialect's error body.
pub fn account_body(kind: u8, body: &[u8]) {
    let Some(req) = post(kind, body) else { return };
    let _ = RequestLog::start(&req, "fuzz");
    match syncano::user_key_parts(&req) {
        Ok(parts) => {
            assert_eq!(parts.instance, "demo");
            if let Err(e) = parts.user_key {
                syncano_rejection(&e);
            }
        }
        Err(e) => syncano_rejection(&e),
    }
    if let Err(e) = syncano::admin_request(&req) {
        syncano_rejection(&e);
    }
    match rocketchat::delete_password(&req) {
        Ok(password) => assert!(!password.is_empty(), "an empty password confirmed"),
        Err(e) => {
            let resp = rocketchat::response::delete_error_response(&e);
            assert_client_error(&resp, &e);
            let body = body_json(&resp);
            assert!(body["success"] == false && body["error"].is_string(), "{body}");
        }
    }
}

/// Everything a handler reads from a request before it calls DynamoDB or a provider.
fn request(req: &Request) {
    let _ = RequestLog::start(req, "fuzz");
    let _ = crate::entry::http::source_ip(req);
    for provider in Provider::ALL {
        match syncano::parse_login(req, provider) {
            Ok(login) => {
                let _ = InstanceName::parse(&login.instance.to_lowercase());
                match &login.credentials {
                    Ok(c) => {
                        let _ = limiter::FailureKeys::new(
                            "203.0.113.1",
                            c.claimed_subject(provider).as_deref().map(|s| (provider, s)),
                        );
                    }
                    Err(e) => syncano_rejection(e),
                }
            }
            Err(e) => syncano_rejection(&e),
        }
    }
    match rocketchat::parse(req) {
        Ok(rocketchat::Login::OAuth(login)) => {
            let claimed = login.credentials.claimed_subject(login.provider);
            let _ = limiter::FailureKeys::new("203.0.113.1", claimed.as_deref().map(|s| (login.provider, s)));
        }
        Ok(rocketchat::Login::Resume(_)) => {}
        Err(e) => rocketchat_rejection(&e),
    }
    if let Err(e) = rocketchat::auth_headers(req) {
        rocketchat_rejection(&e);
    }
    if let Some(id) = req.path_parameters_ref().and_then(|p| p.first("id")) {
        let _ = syncano::account::parse_user_id(id);
    }
}

fn body_json(resp: &Response<Body>) -> Value {
    serde_json::from_slice(resp.body().as_ref()).unwrap_or_else(|e| panic!("error body is not JSON: {e}"))
}

fn assert_client_error(resp: &Response<Body>, e: &dyn std::fmt::Display) {
    assert!(resp.status().is_client_error(), "a parse failure answered {}: {e}", resp.status());
    assert_eq!(resp.headers().get("content-type").and_then(|v| v.to_str().ok()), Some("application/json"), "{e}");
}

fn syncano_rejection(e: &syncano::SyncanoError) {
    let resp = syncano::error_response(e);
    assert_client_error(&resp, e);
    let body = body_json(&resp);
    assert!(body["detail"].is_string() && body.as_object().is_some_and(|o| o.len() == 1), "{body}");
}

fn rocketchat_rejection(e: &UseCaseError) {
    let resp = rocketchat::error_response(e);
    assert_client_error(&resp, e);
    let body = body_json(&resp);
    assert!(body["status"] == "error" && body["message"].is_string(), "{body}");
}

/// The verifier's key set: the emulator's first fixture key, under kid `k1`, cached for a day
/// (so no fetch is ever attempted), and a current-thread runtime to drive it.
///
/// The `expect`s are the harness's own set-up, never input: the JWK is a committed fixture
/// embedded at compile time (its unit-tested twin signs the emulator's tokens), and building a
/// current-thread runtime only fails if the process cannot get a timer. A failure there stops
/// the fuzzer at its first input, which is what should happen to a broken harness.
fn verifier() -> &'static (tokio::runtime::Runtime, JwksCache, IdTokenRules) {
    static V: OnceLock<(tokio::runtime::Runtime, JwksCache, IdTokenRules)> = OnceLock::new();
    V.get_or_init(|| {
        let jwk: Value = serde_json::from_str(include_str!("../../../tools/emulator/keys/key-1.jwk.json"))
            .expect("the emulator's fixture JWK");
        let key = DecodingKey::from_rsa_components(jwk["n"].as_str().expect("n"), jwk["e"].as_str().expect("e"))
            .expect("an RSA key");
        let keys = HashMap::from([("k1".to_string(), Arc::new(key))]);
        let cache = JwksCache::preloaded(keys, Duration::from_secs(86_400));
        let rules = IdTokenRules {
            issuers: &["https://accounts.google.com"],
            audiences: vec!["fuzz-client".into()],
            nonce: NonceRule::Sha256OfRaw,
        };
        let rt = tokio::runtime::Builder::new_current_thread().enable_time().build().expect("a runtime");
        (rt, cache, rules)
    })
}

/// An ID token: `data[0] == 0` takes the rest as the token text; otherwise the rest is split at
/// 0xFF bytes into header JSON, payload JSON and signature, each base64url-encoded, so the
/// fuzzer reaches the claims checks. Nobody holds the fixture's private key here, so no token may
/// verify.
pub fn jwt(data: &[u8]) {
    let Some((&mode, rest)) = data.split_first() else { return };
    let token = if mode == 0 {
        String::from_utf8_lossy(rest).into_owned()
    } else {
        let mut parts = rest.splitn(3, |&b| b == 0xFF);
        let mut next = || URL_SAFE_NO_PAD.encode(parts.next().unwrap_or_default());
        format!("{}.{}.{}", next(), next(), next())
    };
    if let Some(sub) = oidc::unverified_subject(&token) {
        assert!(!sub.is_empty() && sub.len() <= 255 && sub.chars().all(|c| c.is_ascii_graphic()), "{sub:?}");
    }
    let creds = crate::providers::Credentials::from_single_token(Provider::Apple, Secret::new(token.clone()));
    let _ = creds.claimed_subject(Provider::Apple);
    let (rt, cache, rules) = verifier();
    let nonce = Secret::new("fuzz-nonce");
    let verified = rt.block_on(oidc::verify::<Profile>(cache, rules, &Secret::new(token), Some(&nonce)));
    assert!(verified.is_err(), "a token nobody signed verified");
}

/// A provider's answer: `data[0]` picks the request it answers, `data[1..3]` the status, the
/// rest is the body. Every answer must become an identity or a classified failure.
pub fn provider_answer(data: &[u8]) {
    let [which, s1, s2, body @ ..] = data else { return };
    let status = StatusCode::from_u16(100 + u16::from_be_bytes([*s1, *s2]) % 500).unwrap_or(StatusCode::OK);
    let outcome: Result<Option<VerifiedIdentity>, ProviderError> = match which % 10 {
        0 => facebook::identity_from_me(body).map(Some),
        1 => Err(facebook::classify_error(status, body)),
        2 => twitter::identity_from_v1(body).map(Some),
        3 => twitter::identity_from_v2(body).map(Some),
        4 => Err(if which & 0x80 == 0 {
            twitter::classify_v1_error(status, body)
        } else {
            twitter::classify_v2_error(status, body)
        }),
        5 => github::check_answer(status, body, "fuzz-client").map(|_| None),
        6 => github::emails_answer(status, body).map(|_| None),
        7 => parse_json::<google::TokenInfo>(body, "tokeninfo").map(|_| None),
        8 => parse_json::<linkedin::Introspection>(body, "introspection")
            .and(parse_json::<Profile>(body, "userinfo"))
            .map(|p| Some(p.into_identity(Provider::LinkedIn, "sub".into()))),
        _ => jwks::keys_from_body(body, &crate::providers::discovery::ASYMMETRIC).map(|_| None),
    };
    match outcome {
        Ok(Some(id)) => assert!(!id.subject.is_empty(), "an identity without a subject"),
        Ok(None) => {}
        Err(e) => {
            // Every provider failure is a 4xx or 5xx of the dialects, never a success.
            let status = syncano::error_response(&syncano::SyncanoError::from(e)).status();
            assert!(status.is_client_error() || status.is_server_error(), "{status}");
        }
    }
}

/// Each entry point once over a few inputs (`cargo test -p shared --features fuzzing fuzzing`),
/// so a broken harness shows before a fuzz run.
#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn with_mode(mode: u8, rest: &[u8]) -> Vec<u8> {
        [&[mode][..], rest].concat()
    }

    #[test]
    fn signed_requests_are_read_or_refused() {
        let now = crate::domain::clock::now_secs();
        let payload = |extra: Value| {
            let mut p = json!({ "algorithm": "HMAC-SHA256", "issued_at": now, "user_id": "10158123456789012" });
            if let (Some(p), Value::Object(extra)) = (p.as_object_mut(), extra) {
                p.extend(extra);
            }
            with_mode(1, p.to_string().as_bytes())
        };
        for input in [
            payload(json!({})),
            payload(json!({ "code": "AQD" })),
            payload(json!({ "oauth_token": "EAAB" })),
            payload(json!({ "issued_at": now + 10 * 365 * 86_400 })),
            payload(json!({ "issued_at": null })),
            payload(json!({ "user_id": "a/b" })),
            with_mode(1, b"not json"),
            with_mode(0, b"signed_request=abc.def"),
            with_mode(0, b"signed_request=a&signed_request=b"),
            with_mode(0, b"%%%"),
            vec![],
        ] {
            signed_request(&input);
        }
    }

    #[test]
    fn apple_notifications_are_read_or_refused() {
        let event = json!({ "type": "account-delete", "sub": "001.abc.0433", "event_time": 1_608_693_364_100i64 });
        let claims = |jti: Value| json!({ "events": event.to_string(), "jti": jti, "exp": 2, "iat": 1 }).to_string();
        for input in [
            with_mode(1, claims(json!("a-jti")).as_bytes()),
            with_mode(1, claims(json!(7)).as_bytes()),
            with_mode(1, br#"{"events": "{}", "exp": 1, "iat": 1}"#),
            with_mode(1, br#"{"events": 5}"#),
            with_mode(0, br#"{"payload": "eyJhbGciOiJSUzI1NiIsImtpZCI6ImsxIn0.e30.c2ln"}"#),
            with_mode(0, br#"{"payload": 5}"#),
            with_mode(0, b"[]"),
        ] {
            apple_notification(&input);
        }
    }

    #[test]
    fn account_bodies_are_read_or_refused() {
        for body in [
            &br#"{"password": "0000", "confirmRelinquish": false}"#[..],
            br#"{"password": 0}"#,
            br#"{"_api_key": 5, "_user_key": "k"}"#,
            b"_api_key=k&_user_key=u",
            b"--fuzz\r\nContent-Disposition: form-data; name=\"_api_key\"\r\n\r\nk\r\n--fuzz--\r\n",
            b"{",
            b"",
        ] {
            for kind in 0..32 {
                account_body(kind, body);
            }
        }
    }

    #[test]
    fn the_older_entry_points_run_too() {
        login_body(1, br#"{"access_token": "x"}"#);
        jwt(&with_mode(0, b"a.b.c"));
        provider_answer(&[0, 0, 100, b'{', b'}']);
        api_gateway_event(b"{}");
    }
}
