//! The payload format 2.0 event API Gateway sends a function, built from an HTTP request.

use std::collections::HashMap;
use std::net::IpAddr;
use std::time::{SystemTime, UNIX_EPOCH};

use axum::http::{header, request::Parts, HeaderMap, HeaderName, HeaderValue};
use base64::Engine as _;
use lambda_http::aws_lambda_events::apigw::{
    ApiGatewayV2httpRequest, ApiGatewayV2httpRequestContext, ApiGatewayV2httpRequestContextHttpDescription,
};
use lambda_http::aws_lambda_events::query_map::QueryMap;

/// Account id put in the request context (the one `sam local` uses).
const ACCOUNT_ID: &str = "123456789012";
/// API id put in the request context.
const API_ID: &str = "local";

/// The payload format 2.0 event API Gateway would send for this request.
pub(super) fn build_event(
    route_key: &str,
    parts: &Parts,
    body: &[u8],
    path_parameters: HashMap<String, String>,
    client: IpAddr,
    request_id: &str,
    now: SystemTime,
) -> ApiGatewayV2httpRequest {
    let raw_path = percent_decode(parts.uri.path());
    let raw_query = parts.uri.query().unwrap_or_default().to_owned();
    let (headers, cookies) = event_headers(&parts.headers, client, now);
    let host = parts.headers.get(header::HOST).and_then(|h| h.to_str().ok());
    let domain_name = host
        .and_then(|h| h.parse::<axum::http::uri::Authority>().ok())
        .map_or_else(|| "127.0.0.1".to_owned(), |a| a.host().to_owned());
    let (time, time_epoch) = request_time(now);

    let mut http = ApiGatewayV2httpRequestContextHttpDescription::default();
    http.method = parts.method.clone();
    http.path = Some(raw_path.clone());
    http.protocol = Some(format!("{:?}", parts.version));
    http.source_ip = Some(client.to_string());
    http.user_agent = Some(
        parts
            .headers
            .get(header::USER_AGENT)
            .map(|v| String::from_utf8_lossy(v.as_bytes()).into_owned())
            .unwrap_or_default(),
    );

    let mut context = ApiGatewayV2httpRequestContext::default();
    context.route_key = Some(route_key.to_owned());
    context.account_id = Some(ACCOUNT_ID.to_owned());
    context.stage = Some("$default".to_owned());
    context.request_id = Some(request_id.to_owned());
    context.apiid = Some(API_ID.to_owned());
    context.domain_prefix = Some(domain_name.split('.').next().unwrap_or_default().to_owned());
    context.domain_name = Some(domain_name);
    context.time = Some(time);
    context.time_epoch = time_epoch;
    context.http = http;

    let mut event = ApiGatewayV2httpRequest::default();
    event.version = Some("2.0".to_owned());
    event.route_key = Some(route_key.to_owned());
    event.raw_path = Some(raw_path);
    event.query_string_parameters = raw_query.parse::<QueryMap>().unwrap_or_default();
    event.raw_query_string = Some(raw_query);
    event.cookies = (!cookies.is_empty()).then_some(cookies);
    event.headers = headers;
    event.path_parameters = path_parameters;
    event.request_context = context;
    if !body.is_empty() {
        match std::str::from_utf8(body) {
            Ok(text) => event.body = Some(text.to_owned()),
            Err(_) => {
                event.body = Some(base64::engine::general_purpose::STANDARD.encode(body));
                event.is_base64_encoded = true;
            }
        }
    }
    event
}

/// Request headers as API Gateway forwards them: names lower-case, repeated headers joined with
/// commas, `Cookie` moved to `cookies`, and the `X-Forwarded-*` / `X-Amzn-Trace-Id` it adds.
fn event_headers(headers: &HeaderMap, client: IpAddr, now: SystemTime) -> (HeaderMap, Vec<String>) {
    let mut out = HeaderMap::with_capacity(headers.keys_len() + 4);
    let mut cookies = Vec::new();
    for name in headers.keys() {
        if name == header::COOKIE {
            for value in headers.get_all(name) {
                cookies.extend(
                    String::from_utf8_lossy(value.as_bytes())
                        .split(';')
                        .map(str::trim)
                        .filter(|c| !c.is_empty())
                        .map(str::to_owned),
                );
            }
            continue;
        }
        let joined = headers.get_all(name).iter().map(HeaderValue::as_bytes).collect::<Vec<_>>().join(&b","[..]);
        if let Ok(value) = HeaderValue::from_bytes(&joined) {
            out.insert(name.clone(), value);
        }
    }

    let forwarded_for = match headers.get("x-forwarded-for").and_then(|v| v.to_str().ok()) {
        Some(previous) => format!("{previous}, {client}"),
        None => client.to_string(),
    };
    let port = headers
        .get(header::HOST)
        .and_then(|h| h.to_str().ok())
        .and_then(|h| h.parse::<axum::http::uri::Authority>().ok())
        .and_then(|a| a.port_u16())
        .unwrap_or(80);
    let epoch = now.duration_since(UNIX_EPOCH).map_or(0, |d| d.as_secs());
    let trace_id = format!("Root=1-{epoch:08x}-{}", hex::encode(rand::random::<[u8; 12]>()));
    for (name, value) in [
        ("x-forwarded-for", forwarded_for),
        ("x-forwarded-port", port.to_string()),
        ("x-forwarded-proto", "http".to_owned()),
        ("x-amzn-trace-id", trace_id),
    ] {
        if let Ok(value) = HeaderValue::from_str(&value) {
            out.insert(HeaderName::from_static(name), value);
        }
    }
    (out, cookies)
}

/// A random request id in UUID v4 form.
pub(super) fn request_id() -> String {
    let mut b: [u8; 16] = rand::random();
    b[6] = (b[6] & 0x0f) | 0x40;
    b[8] = (b[8] & 0x3f) | 0x80;
    let h = hex::encode(b);
    format!("{}-{}-{}-{}-{}", &h[0..8], &h[8..12], &h[12..16], &h[16..20], &h[20..32])
}

/// `requestContext.time` (`12/Mar/2020:19:03:58 +0000`) and `timeEpoch` (milliseconds).
pub(super) fn request_time(now: SystemTime) -> (String, i64) {
    const MONTHS: [&str; 12] = ["Jan", "Feb", "Mar", "Apr", "May", "Jun", "Jul", "Aug", "Sep", "Oct", "Nov", "Dec"];
    let since = now.duration_since(UNIX_EPOCH).unwrap_or_default();
    let secs = since.as_secs();
    let (year, month, day) = shared::domain::clock::civil_from_days((secs / 86_400) as i64);
    let rem = secs % 86_400;
    let time = format!(
        "{day:02}/{}/{year}:{:02}:{:02}:{:02} +0000",
        MONTHS[(month - 1) as usize],
        rem / 3600,
        rem % 3600 / 60,
        rem % 60
    );
    (time, i64::try_from(since.as_millis()).unwrap_or(i64::MAX))
}

/// Decodes `%XX` escapes as API Gateway HTTP APIs do for the path and path parameters; invalid
/// escapes stay as they are, invalid UTF-8 becomes U+FFFD.
pub(super) fn percent_decode(s: &str) -> String {
    let bytes = s.as_bytes();
    let mut out = Vec::with_capacity(bytes.len());
    let mut i = 0;
    while i < bytes.len() {
        let hex = |b: u8| (b as char).to_digit(16).map(|d| d as u8);
        match (bytes[i], bytes.get(i + 1).copied().and_then(hex), bytes.get(i + 2).copied().and_then(hex)) {
            (b'%', Some(hi), Some(lo)) => {
                out.push(hi << 4 | lo);
                i += 3;
            }
            (b, _, _) => {
                out.push(b);
                i += 1;
            }
        }
    }
    String::from_utf8_lossy(&out).into_owned()
}
