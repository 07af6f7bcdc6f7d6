//! The request reading and error mapping of the Rocket.Chat dialect, without a network.

use super::*;
use crate::domain::secret::Secret;
use lambda_http::http::Request as HttpRequest;
use response::mongo_date;

fn request(body: &str) -> Request {
    HttpRequest::builder()
        .method("POST")
        .uri("/api/v1/login")
        .header("content-type", "application/json")
        .body(Body::Text(body.into()))
        .expect("request")
}

fn bad_request(body: &str) -> String {
    match parse_login(&request(body)) {
        Err(UseCaseError::BadRequest(m)) => m,
        other => panic!("expected 400 for {body}, got {other:?}"),
    }
}

#[test]
fn the_seed_body_parses_and_secret_is_ignored() {
    let r = parse_login(&request(r#"{"serviceName":"facebook","accessToken":"hash","secret":"hash","expiresIn":200}"#))
        .expect("ok");
    assert_eq!(r.provider, Provider::Facebook);
    assert_eq!(r.credentials.access_token.as_ref().map(Secret::expose), Some("hash"));
    assert_eq!(r.expires_in, Some(200));
}

#[test]
fn each_service_gets_its_credentials() {
    let r = parse_login(&request(
        r#"{"serviceName":"google","accessToken":"ya29.x","idToken":"eyJhbGciOiJSUzI1NiJ9.e30.c2ln","expiresIn":3599}"#,
    ))
    .expect("ok");
    assert!(r.credentials.id_token.is_some() && r.credentials.access_token.is_some());
    let r = parse_login(&request(r#"{"serviceName":"twitter","accessToken":"t","accessTokenSecret":"s","appId":"x","appSecret":"y","expiresIn":0}"#)).expect("ok");
    assert_eq!(r.credentials.token_secret.as_ref().map(Secret::expose), Some("s"));
    let r = parse_login(&request(r#"{"serviceName":"apple","identityToken":"eyJhbGciOiJSUzI1NiJ9.e30.c2ln","nonce":"n","fullName":{"givenName":"Ann","familyName":"Apple"}}"#)).expect("ok");
    assert_eq!((r.credentials.name.as_deref(), r.expires_in), (Some("Ann Apple"), None));
    assert!(r.credentials.id_token.is_some() && r.credentials.nonce.is_some());
}

fn unrecognized_body(body: &str) {
    match parse(&request(body)) {
        Err(UseCaseError::TokenRejected(m)) => assert_eq!(m, UNRECOGNIZED, "{body}"),
        other => panic!("expected Unrecognized for {body}, got {other:?}"),
    }
}

#[test]
fn invalid_params_name_the_field_and_are_401() {
    assert!(bad_request(r#"{"serviceName":"facebook","accessToken":"x","expiresIn":"200"}"#).contains("expiresIn"));
    assert!(bad_request(r#"{"serviceName":"facebook","accessToken":"x","expiresIn":1.5}"#).contains("expiresIn"));
    assert!(bad_request(r#"{"serviceName":"facebook","accessToken":"x"}"#).contains("expiresIn"));
    assert!(bad_request(r#"{"serviceName":"facebook","accessToken":7,"expiresIn":1}"#).contains("accessToken"));
    assert!(bad_request(r#"{"accessToken":"x","expiresIn":1}"#).contains("serviceName"));
    assert!(bad_request(r#"{"serviceName":"facebook","accessToken":"x","secret":1,"expiresIn":1}"#).contains("secret"));
    let (status, error, _) = error_parts(&UseCaseError::BadRequest("expiresIn must be an integer.".into()));
    assert_eq!((status, error), (StatusCode::UNAUTHORIZED, "error-invalid-params"));
}

#[test]
fn no_credentials_is_meteors_unrecognized_request() {
    for body in ["", "nope", "[]", "null", "{}", r#"{"serviceName":"facebook","expiresIn":1}"#, r#"{"resume":""}"#] {
        unrecognized_body(body);
    }
    let (status, error, message) = error_parts(&UseCaseError::TokenRejected(UNRECOGNIZED.into()));
    assert_eq!((status, error, message.as_str()), (StatusCode::UNAUTHORIZED, "Unauthorized", "Unauthorized"));
}

#[test]
fn unserved_services_are_401_naming_them() {
    let err =
        parse_login(&request(r#"{"serviceName":"myspace","accessToken":"x","expiresIn":1}"#)).expect_err("unserved");
    let (status, error, message) = error_parts(&err);
    assert_eq!((status, error), (StatusCode::UNAUTHORIZED, "error-invalid-service"));
    assert_eq!(message, "Unexpected AccessToken service myspace");
}

#[test]
fn rejected_tokens_are_rocketchats_401() {
    let (status, error, message) = error_parts(&UseCaseError::TokenRejected("code 190".into()));
    assert_eq!((status, error, message.as_str()), (StatusCode::UNAUTHORIZED, "Unauthorized", "Unauthorized"));
}

#[test]
fn dates_are_mongos_milliseconds() {
    assert_eq!(mongo_date(1_433_859_819_090_423), "2015-06-09T14:23:39.090Z");
    assert_eq!(mongo_date(1_433_859_819_000_000), "2015-06-09T14:23:39.000Z");
}

fn delete_request(content_type: Option<&str>, body: &str) -> Request {
    let mut b = lambda_http::http::Request::builder().method("POST").uri("/api/v1/users.deleteOwnAccount");
    if let Some(ct) = content_type {
        b = b.header("content-type", ct);
    }
    b.body(lambda_http::Body::Text(body.into())).expect("request")
}

/// `users.deleteOwnAccount` reads `password` as its route does: a missing or falsy one is
/// required; a body that is not a JSON object has no parameters.
#[test]
fn the_delete_password_is_read_as_the_route_reads_it() {
    let json = Some("application/json");
    assert_eq!(
        delete_password(&delete_request(json, r#"{"password":" abc ","confirmRelinquish":true}"#)).ok(),
        Some(" abc ".into())
    );
    for body in [
        r#"{}"#,
        r#"{"password":""}"#,
        r#"{"password":null}"#,
        r#"{"password":false}"#,
        r#"{"password":0}"#,
        "[1]",
        "{",
        "",
    ] {
        match delete_password(&delete_request(json, body)) {
            Err(UseCaseError::BadRequest(m)) => assert_eq!(m, "Body parameter \"password\" is required.", "{body}"),
            other => panic!("{body}: {other:?}"),
        }
    }
    assert!(matches!(
        delete_password(&delete_request(Some("text/plain"), r#"{"password":"abc"}"#)),
        Err(UseCaseError::BadRequest(_))
    ));
    match delete_password(&delete_request(json, r#"{"password":["abc"]}"#)) {
        Err(UseCaseError::BadRequest(m)) => assert_eq!(m, "Body parameter \"password\" must be a string."),
        other => panic!("{other:?}"),
    }
}

/// Its refusals are `failure()`s: 400 `{success, error[, errorType, details]}`; the rest as
/// every other route.
#[test]
fn delete_refusals_are_failures() {
    let body = |resp: lambda_http::Response<lambda_http::Body>| {
        let status = resp.status().as_u16();
        let v: serde_json::Value = match resp.body() {
            lambda_http::Body::Text(t) => serde_json::from_str(t).expect("json"),
            other => panic!("{other:?}"),
        };
        (status, v)
    };
    assert_eq!(
        body(delete_error_response(&UseCaseError::DeletionNotConfirmed)),
        (
            400,
            serde_json::json!({"success": false, "error": "Invalid username [error-invalid-username]",
                "errorType": "error-invalid-username", "details": {"method": "deleteUserOwnAccount"}})
        )
    );
    assert_eq!(
        body(delete_error_response(&UseCaseError::BadRequest("Body parameter \"password\" is required.".into()))),
        (400, serde_json::json!({"success": false, "error": "Body parameter \"password\" is required."}))
    );
    assert_eq!(body(delete_error_response(&UseCaseError::NotLoggedIn)).0, 401);
}
