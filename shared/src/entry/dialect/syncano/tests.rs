//! The request reading and error mapping of the Syncano dialect, without a network.

use super::*;
use crate::domain::secret::Secret;
use crate::entry::http::MAX_BODY_BYTES;
use crate::providers::Credentials;
use crate::usecases::error::UseCaseError;
use lambda_http::http::HeaderValue;
use lambda_http::http::Request as HttpRequest;
use lambda_http::RequestExt;
use std::collections::HashMap;

fn request_to(uri: &str, ct: Option<&str>, key: Option<&str>, body: &str) -> Request {
    let mut b = HttpRequest::builder().method("POST").uri(uri);
    if let Some(ct) = ct {
        b = b.header("content-type", ct);
    }
    if let Some(k) = key {
        b = b.header("x-api-key", k);
    }
    let req = b.body(Body::Text(body.into())).expect("request");
    let query: HashMap<String, Vec<String>> = req
        .uri()
        .query()
        .map(|q| serde_urlencoded::from_str::<Vec<(String, String)>>(q).expect("query"))
        .map_or_else(HashMap::new, |pairs| {
            let mut m: HashMap<String, Vec<String>> = HashMap::new();
            for (k, v) in pairs {
                m.entry(k).or_default().push(v);
            }
            m
        });
    req.with_path_parameters(HashMap::from([("instance".to_string(), "demo".to_string())]))
        .with_query_string_parameters(query)
}

fn request(ct: Option<&str>, key: Option<&str>, body: &str) -> Request {
    request_to("/v1.1/instances/demo/user/auth/facebook/", ct, key, body)
}

fn creds(req: &Request, provider: Provider) -> Result<Credentials, SyncanoError> {
    parse_login(req, provider).expect("parsed").credentials
}

fn token(req: &Request) -> Option<String> {
    creds(req, Provider::Facebook).ok()?.access_token.map(|t| t.expose().to_string())
}

fn key(req: &Request) -> Option<String> {
    parse_login(req, Provider::Facebook).expect("parsed").api_key.map(|k| k.expose().to_string())
}

#[test]
fn json_form_multipart_and_text_plain_bodies_are_read() {
    let r =
        parse_login(&request(Some("application/json"), Some("k"), r#"{"access_token":"EAAB"}"#), Provider::Facebook)
            .expect("ok");
    assert_eq!(r.instance.as_str(), "demo");
    assert_eq!(
        token(&request(Some("application/json"), Some("k"), r#"{"access_token":"EAAB"}"#)).as_deref(),
        Some("EAAB")
    );
    let form = request(Some("application/x-www-form-urlencoded; charset=utf-8"), Some("k"), "access_token=EAAC&x=1");
    assert_eq!(token(&form).as_deref(), Some("EAAC"));
    // PreflightParser: text/plain is JSON (a CORS "simple request").
    assert_eq!(token(&request(Some("text/plain"), Some("k"), r#"{"access_token":"EAAD"}"#)).as_deref(), Some("EAAD"));
    let multipart = "--XyZ\r\nContent-Disposition: form-data; name=\"access_token\"\r\n\r\nEAAE\r\n--XyZ--\r\n";
    assert_eq!(
        token(&request(Some("multipart/form-data; boundary=XyZ"), Some("k"), multipart)).as_deref(),
        Some("EAAE")
    );
    // DRF's CharField: numbers become strings, whitespace is trimmed.
    assert_eq!(token(&request(Some("application/json"), Some("k"), r#"{"access_token":42}"#)).as_deref(), Some("42"));
    assert_eq!(
        token(&request(Some("application/json"), Some("k"), r#"{"access_token":" EAAF "}"#)).as_deref(),
        Some("EAAF")
    );
}

#[test]
fn tokens_are_read_the_way_each_backend_sends_them() {
    let body = |t: &str| format!(r#"{{"access_token":"{t}","nonce":"n0nce","name":"Ann Apple"}}"#);
    let c = creds(&request(Some("application/json"), Some("k"), &body("tok:sec")), Provider::Twitter).expect("ok");
    assert_eq!(
        (c.access_token.as_ref().map(Secret::expose), c.token_secret.as_ref().map(Secret::expose)),
        (Some("tok"), Some("sec"))
    );
    let jwt = "eyJhbGciOiJSUzI1NiIsImtpZCI6ImsifQ.e30.c2ln";
    let c = creds(&request(Some("application/json"), Some("k"), &body(jwt)), Provider::Apple).expect("ok");
    assert_eq!(c.id_token.as_ref().map(Secret::expose), Some(jwt));
    assert!(c.access_token.is_none());
    assert_eq!((c.nonce.as_ref().map(Secret::expose), c.name.as_deref()), (Some("n0nce"), Some("Ann Apple")));
    let c = creds(&request(Some("application/json"), Some("k"), &body("ya29.abc")), Provider::Google).expect("ok");
    assert_eq!(c.access_token.as_ref().map(Secret::expose), Some("ya29.abc"));
}

/// `apps/admins/serializers.py` (`SocialAuthSerializer`) and `apps/users/v1/views.py`:
/// an invalid serializer is 401 "Invalid authorization token.".
#[test]
fn a_missing_blank_or_non_string_token_is_invalid_credentials() {
    for body in [
        "{}",
        r#"{"token":"x"}"#,
        r#"{"access_token":""}"#,
        r#"{"access_token":"  "}"#,
        r#"{"access_token":null}"#,
        r#"{"access_token":true}"#,
        r#"{"access_token":["a"]}"#,
        "[1]",
    ] {
        let err = creds(&request(Some("application/json"), Some("k"), body), Provider::Facebook).expect_err(body);
        assert_eq!(error_status(&err), (StatusCode::UNAUTHORIZED, "Invalid authorization token.".into()), "{body}");
    }
    // No Content-Type: DRF reads no data at all.
    let err = creds(&request(None, Some("k"), r#"{"access_token":"EAAB"}"#), Provider::Facebook).expect_err("none");
    assert!(matches!(err, SyncanoError::MalformedCredentials));
}

#[test]
fn unreadable_bodies_are_400_or_415() {
    let bad = |req: Request| match creds(&req, Provider::Facebook) {
        Err(e) => error_status(&e),
        Ok(_) => panic!("accepted"),
    };
    let (status, detail) = bad(request(Some("application/json"), Some("k"), "{nope"));
    assert_eq!(status, StatusCode::BAD_REQUEST);
    assert!(detail.starts_with("JSON parse error - "), "{detail}");
    assert_eq!(
        bad(request(Some("application/xml"), Some("k"), "<x/>")),
        (StatusCode::UNSUPPORTED_MEDIA_TYPE, "Unsupported media type \"application/xml\" in request.".into())
    );
    let huge = format!(r#"{{"access_token":"{}"}}"#, "a".repeat(MAX_BODY_BYTES));
    assert_eq!(bad(request(Some("application/json"), Some("k"), &huge)).0, StatusCode::BAD_REQUEST);
    assert_eq!(bad(request(Some("multipart/form-data"), Some("k"), "x")).0, StatusCode::BAD_REQUEST);
}

/// `apps/core/authentication.py` (`ApiKeyAuthentication.get_api_key`): header, query,
/// `Authorization`, body, in that order.
#[test]
fn api_keys_are_read_where_the_platform_reads_them() {
    let json = Some("application/json");
    let uri = |q: &str| format!("/v1.1/instances/demo/user/auth/facebook/?{q}");
    assert_eq!(key(&request(json, Some("h"), "{}")).as_deref(), Some("h"));
    assert_eq!(key(&request_to(&uri("api_key=q"), json, None, "{}")).as_deref(), Some("q"));
    assert_eq!(key(&request_to(&uri("apikey=q2"), json, None, "{}")).as_deref(), Some("q2"));
    assert_eq!(key(&request_to(&uri("api_key=q&apikey=q2"), json, Some("h"), "{}")).as_deref(), Some("h"));
    assert_eq!(key(&request_to(&uri("api_key="), json, None, r#"{"_api_key":"b"}"#)).as_deref(), Some("b"));
    assert_eq!(key(&request(Some("application/x-www-form-urlencoded"), None, "_api_key=f")).as_deref(), Some("f"));
    let auth = |value: &str| {
        let mut req = request(json, None, r#"{"_api_key":"b"}"#);
        req.headers_mut().insert("authorization", HeaderValue::from_str(value).expect("header"));
        key(&req)
    };
    assert_eq!(auth("ApiKey a1").as_deref(), Some("a1"));
    assert_eq!(auth("Token a2").as_deref(), Some("a2"));
    // Not `<word> <key>`: the body is next.
    assert_eq!(auth("Bearer a b").as_deref(), Some("b"));
    assert_eq!(auth("a3").as_deref(), Some("b"));
    assert_eq!(key(&request(json, None, r#"{"access_token":"t"}"#)), None);
    // A key in a body that cannot be read: the body's error.
    let err = parse_login(&request(json, None, "{nope"), Provider::Facebook).expect_err("bad body");
    assert_eq!(error_status(&err).0, StatusCode::BAD_REQUEST);
    // With the key elsewhere, the body's error waits for the key check.
    assert!(parse_login(&request(json, Some("h"), "{nope"), Provider::Facebook).is_ok());
}

#[test]
fn user_keys_are_read_where_the_platform_reads_them() {
    let json = Some("application/json");
    let uk = |req: &Request| user_key(req, &request_data(req)).expect("ok").map(|k| k.expose().to_string());
    let mut req = request(json, None, "{}");
    req.headers_mut().insert("x-user-key", HeaderValue::from_static("hu"));
    assert_eq!(uk(&req).as_deref(), Some("hu"));
    let q = |query: &str| request_to(&format!("/v1.1/instances/demo/user/?{query}"), json, None, "{}");
    assert_eq!(uk(&q("user_key=qu")).as_deref(), Some("qu"));
    assert_eq!(uk(&q("userkey=qu2")).as_deref(), Some("qu2"));
    assert_eq!(uk(&request(json, None, r#"{"_user_key":"bu"}"#)).as_deref(), Some("bu"));
    assert_eq!(uk(&request(json, None, "{}")), None);
}

#[test]
fn missing_api_key_is_refused_before_the_body_is_read() {
    let login = parse_login(&request(Some("application/json"), None, "garbage"), Provider::Facebook);
    // The body was needed to look for `_api_key`: its error answers.
    assert_eq!(error_status(&login.expect_err("bad body")).0, StatusCode::BAD_REQUEST);
    let login = parse_login(&request(None, None, "garbage"), Provider::Facebook).expect("no data, no key");
    assert!(login.api_key.is_none());
    assert_eq!(
        error_status(&SyncanoError::MissingApiKey),
        (StatusCode::FORBIDDEN, "You do not have permission to perform this action.".into())
    );
}

#[test]
fn unprintable_tokens_are_rejected_without_the_provider() {
    let err = creds(&request(Some("application/json"), Some("k"), r#"{"access_token":"a\nb"}"#), Provider::Facebook)
        .expect_err("bad");
    assert_eq!(error_status(&err).0, StatusCode::UNAUTHORIZED);
}

#[test]
fn allowed_methods_come_from_the_route_list() {
    assert_eq!(allowed_methods(SOCIAL_AUTH_PATH), ["POST"]);
    assert_eq!(allowed_methods(USER_PATH), ["GET", "DELETE"]);
    assert_eq!(allowed_methods(USER_DETAIL_PATH), ["DELETE"]);
    assert_eq!(allowed_methods(RESET_KEY_PATH), ["POST"]);
    for route in FALLBACK_ROUTES {
        assert!(!allowed_methods(route.trim_start_matches("ANY ")).is_empty(), "{route}");
    }
    assert_eq!(
        error_status(&SyncanoError::MethodNotAllowed("GET".into())),
        (StatusCode::METHOD_NOT_ALLOWED, "Method \"GET\" not allowed.".into())
    );
}

#[test]
fn internal_details_never_reach_the_body() {
    for e in [
        SyncanoError::Login(UseCaseError::Internal("secret table name".into())),
        SyncanoError::Login(UseCaseError::ProviderUnavailable("graph said x".into())),
        SyncanoError::Login(UseCaseError::TokenRejected("code 190".into())),
        SyncanoError::Login(UseCaseError::StoreUnavailable("throttled".into())),
    ] {
        let (_, detail) = error_status(&e);
        assert!(
            !detail.contains("secret")
                && !detail.contains("graph")
                && !detail.contains("190")
                && !detail.contains("throttled")
        );
    }
    assert_eq!(
        error_status(&SyncanoError::Login(UseCaseError::TokenRejected(String::new()))),
        (StatusCode::UNAUTHORIZED, "Invalid username or password.".into())
    );
}

/// The deletions' refusals, in the platform's words (`UserViewSet.destroy`, `HasUser`).
#[test]
fn deletion_refusals_map_to_the_platform_answers() {
    let no_permission = "You do not have permission to perform this action.".to_string();
    assert_eq!(error_status(&SyncanoError::PermissionDenied), (StatusCode::FORBIDDEN, no_permission.clone()));
    assert_eq!(error_status(&SyncanoError::InvalidUserKey), (StatusCode::FORBIDDEN, no_permission));
    assert_eq!(error_status(&SyncanoError::UserNotFound), (StatusCode::NOT_FOUND, "Not found.".into()));
    let not_confirmed = SyncanoError::Login(UseCaseError::DeletionNotConfirmed);
    assert_eq!(error_status(&not_confirmed).0, StatusCode::BAD_REQUEST);
}
