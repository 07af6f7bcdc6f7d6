//! The gateway against echo handlers: routing, events, limits, authorizers.

use std::net::{IpAddr, Ipv4Addr};
use std::time::{SystemTime, UNIX_EPOCH};

use super::event::{build_event, percent_decode, request_time};
use super::*;
use crate::template::AuthorizerDef;
use axum::body::Body;
use axum::http::{HeaderMap, HeaderValue, Method, Request, StatusCode};
use lambda_http::RequestExt;
use serde_json::{json, Value};
use tower::ServiceExt;

fn route(method: &str, path: &str, package: &str) -> Route {
    Route {
        method: method.into(),
        path: path.into(),
        function_logical_id: format!("{package}-fn"),
        package: package.into(),
        authorizer: None,
    }
}

/// A handler that answers with JSON describing the request it was given.
fn echo(name: &'static str) -> Handler {
    handler_fn(move |req: lambda_http::Request| async move {
        let path_parameters: HashMap<String, String> =
            req.path_parameters().iter().map(|(k, v)| (k.to_owned(), v.to_owned())).collect();
        let mut query: HashMap<String, Vec<String>> = HashMap::new();
        for (k, v) in req.query_string_parameters().iter() {
            query.entry(k.to_owned()).or_default().push(v.to_owned());
        }
        let headers: HashMap<String, String> = req
            .headers()
            .iter()
            .map(|(k, v)| (k.to_string(), String::from_utf8_lossy(v.as_bytes()).into_owned()))
            .collect();
        let (body_kind, body) = match req.body() {
            lambda_http::Body::Empty => ("empty", String::new()),
            lambda_http::Body::Text(t) => ("text", t.clone()),
            lambda_http::Body::Binary(b) => ("binary", hex::encode(b)),
            _ => ("other", String::new()),
        };
        let context = match req.request_context() {
            lambda_http::request::RequestContext::ApiGatewayV2(c) => serde_json::to_value(c).unwrap_or_default(),
            _ => Value::Null,
        };
        let reply = json!({
            "function": name,
            "method": req.method().as_str(),
            "uri": req.uri().to_string(),
            "raw_path": req.raw_http_path(),
            "path_parameters": path_parameters,
            "query": query,
            "headers": headers,
            "body_kind": body_kind,
            "body": body,
            "context": context,
        });
        lambda_http::Response::builder()
            .status(201)
            .header("content-type", "application/json")
            .header("x-echo", "1")
            .body(lambda_http::Body::from(reply.to_string()))
            .expect("valid response")
    })
}

fn handlers() -> HashMap<String, Handler> {
    HashMap::from([
        ("facebook-login".to_owned(), echo("facebook-login")),
        ("login".to_owned(), echo("login")),
        ("files".to_owned(), echo("files")),
    ])
}

fn gateway() -> Router {
    router(
        vec![
            route("POST", "/v1.1/instances/{instance}/user/auth/facebook/", "facebook-login"),
            route("POST", "/api/v1/login", "login"),
            route("GET", "/files/{path+}", "files"),
            route("GET", "/files/readme", "login"),
        ],
        handlers(),
    )
    .expect("router builds")
}

async fn send(router: Router, request: Request<Body>) -> (StatusCode, HeaderMap, Vec<u8>) {
    let response = router.oneshot(request).await.expect("infallible");
    let status = response.status();
    let headers = response.headers().clone();
    let body = axum::body::to_bytes(response.into_body(), usize::MAX).await.expect("body");
    (status, headers, body.to_vec())
}

async fn send_json(router: Router, request: Request<Body>) -> (StatusCode, Value) {
    let (status, _, body) = send(router, request).await;
    (status, serde_json::from_slice(&body).expect("JSON response"))
}

fn post(uri: &str, body: impl Into<Body>) -> Request<Body> {
    Request::builder()
        .method(Method::POST)
        .uri(uri)
        .header("host", "127.0.0.1:3000")
        .body(body.into())
        .expect("request")
}

#[tokio::test]
async fn delivers_path_parameters_query_headers_and_text_body() {
    let request = Request::builder()
        .method(Method::POST)
        .uri("/v1.1/instances/my%20demo/user/auth/facebook/?b=2&a=1&a=3&empty=")
        .header("host", "127.0.0.1:3000")
        .header("X-API-KEY", "secret-key")
        .header("content-type", "application/json")
        .header("x-multi", "one")
        .header("x-multi", "two")
        .header("cookie", "a=1; b=2")
        .header("user-agent", "curl/8.0")
        .body(Body::from(r#"{"access_token":"t"}"#))
        .expect("request");
    let (status, echo) = send_json(gateway(), request).await;

    assert_eq!(status, StatusCode::CREATED);
    assert_eq!(echo["function"], "facebook-login");
    assert_eq!(echo["method"], "POST");
    assert_eq!(echo["path_parameters"], json!({ "instance": "my demo" }));
    assert_eq!(echo["query"], json!({ "a": ["1", "3"], "b": ["2"], "empty": [""] }));
    assert_eq!(echo["headers"]["x-api-key"], "secret-key");
    assert_eq!(echo["headers"]["x-multi"], "one,two");
    assert_eq!(echo["headers"]["cookie"], "a=1; b=2");
    assert_eq!(echo["headers"]["x-forwarded-proto"], "http");
    assert_eq!(echo["headers"]["x-forwarded-port"], "3000");
    assert_eq!(echo["headers"]["x-forwarded-for"], "127.0.0.1");
    assert_eq!(echo["body_kind"], "text");
    assert_eq!(echo["body"], r#"{"access_token":"t"}"#);
    assert_eq!(echo["raw_path"], "/v1.1/instances/my demo/user/auth/facebook/");
    assert!(
        echo["uri"].as_str().is_some_and(
            |u| u.starts_with("http://127.0.0.1:3000/v1.1/instances/") && u.ends_with("?b=2&a=1&a=3&empty=")
        ),
        "{}",
        echo["uri"]
    );

    let context = &echo["context"];
    assert_eq!(context["routeKey"], "POST /v1.1/instances/{instance}/user/auth/facebook/");
    assert_eq!(context["stage"], "$default");
    assert_eq!(context["domainName"], "127.0.0.1");
    assert_eq!(context["http"]["method"], "POST");
    assert_eq!(context["http"]["sourceIp"], "127.0.0.1");
    assert_eq!(context["http"]["userAgent"], "curl/8.0");
    assert_eq!(context["http"]["protocol"], "HTTP/1.1");
    assert_eq!(context["requestId"].as_str().map(str::len), Some(36));
    assert!(context["timeEpoch"].as_i64().is_some_and(|t| t > 1_600_000_000_000));
}

#[tokio::test]
async fn binary_body_arrives_base64_decoded_and_response_passes_through() {
    let bytes = vec![0xff, 0x00, 0xfe, 0x80];
    let (status, headers, body) = send(gateway(), post("/api/v1/login", bytes.clone())).await;
    assert_eq!(status, StatusCode::CREATED);
    assert_eq!(headers["x-echo"], "1");
    assert_eq!(headers["content-type"], "application/json");
    assert!(headers.contains_key("apigw-requestid"));
    let echo: Value = serde_json::from_slice(&body).expect("JSON");
    assert_eq!(echo["function"], "login");
    assert_eq!(echo["body_kind"], "binary");
    assert_eq!(echo["body"], hex::encode(&bytes));
}

#[test]
fn event_marks_non_utf8_bodies_base64_and_omits_empty_ones() {
    let parts = post("/api/v1/login", Body::empty()).into_parts().0;
    let event = |body: &[u8]| {
        let event = build_event(
            "POST /api/v1/login",
            &parts,
            body,
            HashMap::new(),
            IpAddr::V4(Ipv4Addr::LOCALHOST),
            "id",
            SystemTime::now(),
        );
        serde_json::to_value(event).expect("serializes")
    };
    let binary = event(&[0xff, 0x01]);
    assert_eq!(binary["isBase64Encoded"], true);
    assert_eq!(binary["body"], "/wE=");
    assert_eq!(binary["version"], "2.0");
    assert_eq!(binary["routeKey"], "POST /api/v1/login");
    assert_eq!(binary["rawQueryString"], "");

    let text = event("héllo".as_bytes());
    assert_eq!(text["isBase64Encoded"], false);
    assert_eq!(text["body"], "héllo");

    let empty = event(b"");
    assert!(empty.get("body").is_none(), "{empty}");
}

#[tokio::test]
async fn unknown_paths_and_wrong_methods_are_api_gateway_404s() {
    for request in [
        post("/nope", Body::empty()),
        // The trailing slash is part of the route.
        post("/v1.1/instances/demo/user/auth/facebook", Body::empty()),
        post("/api/v1/login/", Body::empty()),
        // `{instance}` does not match an empty segment.
        post("/v1.1/instances//user/auth/facebook/", Body::empty()),
        Request::builder().method(Method::GET).uri("/api/v1/login").body(Body::empty()).expect("request"),
    ] {
        let uri = request.uri().clone();
        let (status, body) = send_json(gateway(), request).await;
        assert_eq!(status, StatusCode::NOT_FOUND, "{uri}");
        assert_eq!(body, json!({ "message": "Not Found" }), "{uri}");
    }
}

#[tokio::test]
async fn encoded_reserved_characters_reach_path_parameters_decoded() {
    let (status, echo) = send_json(gateway(), post("/v1.1/instances/a%23b%3Fc%25/user/auth/facebook/?x=1", "{}")).await;
    assert_eq!(status, StatusCode::CREATED, "{echo}");
    assert_eq!(echo["path_parameters"], json!({ "instance": "a#b?c%" }));
    assert_eq!(echo["query"], json!({ "x": ["1"] }));
}

#[tokio::test]
async fn greedy_variables_and_specificity() {
    let get = |uri: &str| Request::builder().uri(uri).body(Body::empty()).expect("request");
    let (_, echo) = send_json(gateway(), get("/files/a/b%2Fc")).await;
    assert_eq!(echo["function"], "files");
    assert_eq!(echo["path_parameters"], json!({ "path": "a/b/c" }));

    let (_, echo) = send_json(gateway(), get("/files/readme")).await;
    assert_eq!(echo["function"], "login", "a literal route beats a greedy one");

    let (status, _) = send_json(gateway(), get("/files/")).await;
    assert_eq!(status, StatusCode::NOT_FOUND, "greedy needs a non-empty rest");
}

#[tokio::test]
async fn default_route_and_any_method() {
    let router = router(
        vec![
            route("ANY", "$default", "login"),
            route("ANY", "/things/{id}", "files"),
            route("DELETE", "/things/{id}", "facebook-login"),
        ],
        handlers(),
    )
    .expect("router builds");
    let request =
        |method: Method, uri: &str| Request::builder().method(method).uri(uri).body(Body::empty()).expect("request");

    let (_, echo) = send_json(router.clone(), request(Method::PUT, "/things/7")).await;
    assert_eq!(echo["function"], "files");
    let (_, echo) = send_json(router.clone(), request(Method::DELETE, "/things/7")).await;
    assert_eq!(echo["function"], "facebook-login", "an exact method beats ANY");
    let (_, echo) = send_json(router, request(Method::GET, "/anything/else")).await;
    assert_eq!(echo["function"], "login");
    assert_eq!(echo["context"]["routeKey"], "$default");
}

/// API Gateway's order (http-api-develop-routes: the most specific match, an exact method
/// before `ANY`): the Syncano fallback's `ANY .../{backend}/` gets only what the login
/// routes do not take, and `ANY` on a served path only the other methods.
#[tokio::test]
async fn literal_paths_and_exact_methods_beat_a_fallback_any() {
    let router = router(
        vec![
            route("ANY", "/i/{instance}/user/auth/{backend}/", "files"),
            route("POST", "/i/{instance}/user/auth/facebook/", "facebook-login"),
            route("GET", "/i/{instance}/user/", "login"),
            route("ANY", "/i/{instance}/user/", "files"),
        ],
        handlers(),
    )
    .expect("router builds");
    let request =
        |method: Method, uri: &str| Request::builder().method(method).uri(uri).body(Body::empty()).expect("request");
    for (method, uri, function, route_key) in [
        (Method::POST, "/i/d/user/auth/facebook/", "facebook-login", "POST /i/{instance}/user/auth/facebook/"),
        (Method::GET, "/i/d/user/auth/facebook/", "files", "ANY /i/{instance}/user/auth/{backend}/"),
        (Method::POST, "/i/d/user/auth/myspace/", "files", "ANY /i/{instance}/user/auth/{backend}/"),
        (Method::GET, "/i/d/user/", "login", "GET /i/{instance}/user/"),
        (Method::DELETE, "/i/d/user/", "files", "ANY /i/{instance}/user/"),
    ] {
        let (_, echo) = send_json(router.clone(), request(method.clone(), uri)).await;
        assert_eq!(
            (echo["function"].as_str(), echo["context"]["routeKey"].as_str()),
            (Some(function), Some(route_key)),
            "{method} {uri}"
        );
    }
    let (_, echo) = send_json(router.clone(), request(Method::POST, "/i/d/user/auth/myspace/")).await;
    assert_eq!(echo["path_parameters"], json!({ "instance": "d", "backend": "myspace" }));
    let (status, _) = send_json(router, request(Method::POST, "/i/d/user/auth/")).await;
    assert_eq!(status, StatusCode::NOT_FOUND);
}

#[tokio::test]
async fn payloads_over_10_mb_are_rejected() {
    let big = vec![b'a'; MAX_PAYLOAD_BYTES + 1];
    let (status, body) = send_json(gateway(), post("/api/v1/login", big)).await;
    assert_eq!(status, StatusCode::PAYLOAD_TOO_LARGE);
    assert_eq!(body, json!({ "message": "Request Entity Too Large" }));

    // Without Content-Length (streamed) the limit still holds.
    let chunks = futures::stream::iter(
        (0..11).map(|_| Ok::<_, std::io::Error>(axum::body::Bytes::from(vec![b'a'; 1024 * 1024]))),
    );
    let (status, _) = send_json(gateway(), post("/api/v1/login", Body::from_stream(chunks))).await;
    assert_eq!(status, StatusCode::PAYLOAD_TOO_LARGE);

    let (status, _) = send_json(gateway(), post("/api/v1/login", vec![b'a'; MAX_PAYLOAD_BYTES])).await;
    assert_eq!(status, StatusCode::CREATED);
}

#[tokio::test]
async fn a_panicking_function_is_a_500() {
    let panics = handler_fn(|_req| async { panic!("function crashed") });
    let router = router(vec![route("POST", "/api/v1/login", "login")], HashMap::from([("login".to_owned(), panics)]))
        .expect("router builds");
    let (status, body) = send_json(router, post("/api/v1/login", "{}")).await;
    assert_eq!(status, StatusCode::INTERNAL_SERVER_ERROR);
    assert_eq!(body, json!({ "message": "Internal Server Error" }));
}

#[tokio::test]
async fn a_header_the_event_cannot_carry_is_a_400_on_authorizer_routes_too() {
    let allow: Authorizer = Arc::new(|_event| Box::pin(async { Ok(json!({ "isAuthorized": true, "context": {} })) }));
    let mut me = route("GET", "/api/v1/me", "login");
    me.authorizer = Some("Session".to_owned());
    let def = AuthorizerDef {
        identity_headers: vec!["x-auth-token".to_owned()],
        identity_context: Vec::new(),
        package: "session-authorizer".to_owned(),
        cache_secs: 0,
    };
    let authorizers = Authorizers::new(
        HashMap::from([("Session".to_owned(), def)]),
        HashMap::from([("session-authorizer".to_owned(), allow)]),
    );
    let router = router_with_authorizers(vec![me], handlers(), authorizers).expect("router builds");
    let request = |other: &[u8]| {
        Request::builder()
            .uri("/api/v1/me")
            .header("x-auth-token", "t")
            .header("x-other", HeaderValue::from_bytes(other).expect("obs-text is a valid header value"))
            .body(Body::empty())
            .expect("request")
    };

    let (status, echo) = send_json(router.clone(), request(b"fine")).await;
    assert_eq!(status, StatusCode::CREATED, "{echo}");
    // Not UTF-8: the payload 2.0 event (JSON) cannot carry it, with or without an authorizer.
    let (status, body) = send_json(router, request(b"\xff")).await;
    assert_eq!((status, body), (StatusCode::BAD_REQUEST, json!({ "message": "Bad Request" })));
}

#[tokio::test]
async fn serves_over_a_socket_with_the_client_address() {
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.expect("bind");
    let addr = listener.local_addr().expect("addr");
    let (stop, stopped) = tokio::sync::oneshot::channel::<()>();
    let server = tokio::spawn(serve(listener, gateway(), async {
        let _ = stopped.await;
    }));

    let response = reqwest::Client::new()
        .post(format!("http://{addr}/v1.1/instances/demo/user/auth/facebook/"))
        .header("x-api-key", "k")
        .body("{}")
        .send()
        .await
        .expect("request");
    assert_eq!(response.status().as_u16(), 201);
    let echo: Value = response.json().await.expect("JSON");
    assert_eq!(echo["path_parameters"]["instance"], "demo");
    assert_eq!(echo["context"]["http"]["sourceIp"], "127.0.0.1");
    assert_eq!(echo["headers"]["x-forwarded-port"], addr.port().to_string());

    let _ = stop.send(());
    server.await.expect("server task").expect("server");
}

#[test]
fn router_rejects_missing_handlers_bad_paths_and_duplicates() {
    let err = router(vec![route("POST", "/x", "nobody")], handlers()).expect_err("missing handler");
    assert!(matches!(&err, GatewayError::MissingHandler { package, .. } if package == "nobody"), "{err}");

    for path in ["no-slash", "/a/{proxy+}/b", "/a/x{id}", "/a//b", "/{}"] {
        let err = router(vec![route("GET", path, "login")], handlers()).expect_err(path);
        assert!(matches!(err, GatewayError::InvalidPath { .. }), "{path}: {err}");
    }

    let err = router(vec![route("GET", "/a/{x}", "login"), route("GET", "/a/{x}", "files")], handlers())
        .expect_err("duplicate");
    assert!(matches!(err, GatewayError::DuplicateRoute { .. }), "{err}");
}

#[test]
fn formats_request_time_like_api_gateway() {
    let (time, epoch) = request_time(UNIX_EPOCH + std::time::Duration::from_millis(1_584_039_838_390));
    assert_eq!(time, "12/Mar/2020:19:03:58 +0000");
    assert_eq!(epoch, 1_584_039_838_390);
    assert_eq!(request_time(UNIX_EPOCH).0, "01/Jan/1970:00:00:00 +0000");
    assert_eq!(request_time(UNIX_EPOCH + std::time::Duration::from_secs(951_782_400)).0, "29/Feb/2000:00:00:00 +0000");
}

#[test]
fn percent_decoding() {
    assert_eq!(percent_decode("a%20b%2Fc"), "a b/c");
    assert_eq!(percent_decode("100%"), "100%");
    assert_eq!(percent_decode("%zz%C3%A9"), "%zzé");
}
