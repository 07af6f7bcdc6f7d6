//! What the local stack's DynamoDB proxies ([`crate::counting_proxy`], [`crate::mrsc_proxy`]) read
//! of a request in DynamoDB's JSON protocol and how they answer and pass it on: the operation
//! `X-Amz-Target` names, the body as DynamoDB reads it and the table it names, DynamoDB's JSON
//! answers, and the request forwarded unchanged to the next hop (DynamoDB Local, or another proxy
//! before it).

use axum::body::{Body, Bytes};
use axum::http::{HeaderMap, HeaderValue, Method, StatusCode, Uri};
use axum::response::Response;
use serde_json::Value;

/// The content type of DynamoDB's JSON protocol.
const AMZ_JSON: &str = "application/x-amz-json-1.0";

/// A DynamoDB request as the proxies read it.
#[derive(Debug, Clone, PartialEq)]
pub(crate) struct DynamoRequest {
    /// The operation (`X-Amz-Target: DynamoDB_20120810.PutItem` → `PutItem`); empty without the
    /// header (the functions' `GET /` preconnect).
    pub(crate) operation: String,
    /// The body as DynamoDB reads it (JSON; anything else reads as no member at all).
    pub(crate) json: Value,
}

impl DynamoRequest {
    pub(crate) fn read(headers: &HeaderMap, body: &[u8]) -> DynamoRequest {
        let target = headers.get("x-amz-target").and_then(|v| v.to_str().ok()).unwrap_or("");
        let operation = target.rsplit('.').next().unwrap_or("").to_string();
        DynamoRequest { operation, json: serde_json::from_slice(body).unwrap_or_default() }
    }

    /// The table it names: `TableName`, else the first table of `RequestItems` (batches), else
    /// empty.
    pub(crate) fn table(&self) -> String {
        self.json["TableName"]
            .as_str()
            .map(str::to_owned)
            .or_else(|| self.json["RequestItems"].as_object().and_then(|t| t.keys().next().cloned()))
            .unwrap_or_default()
    }
}

/// A DynamoDB JSON answer: `body` with `status`.
pub(crate) fn answer(status: StatusCode, body: &Value) -> Response {
    let mut resp = Response::new(Body::from(body.to_string()));
    *resp.status_mut() = status;
    resp.headers_mut().insert("content-type", HeaderValue::from_static(AMZ_JSON));
    resp
}

/// The next hop a proxy forwards to.
#[derive(Clone)]
pub(crate) struct Upstream {
    base: String,
    http: reqwest::Client,
}

/// What the next hop answered, read whole.
pub(crate) struct Upstreamed {
    pub(crate) status: StatusCode,
    headers: HeaderMap,
    body: Bytes,
}

impl Upstream {
    /// Forwards to `base` (e.g. `http://127.0.0.1:8000`).
    pub(crate) fn new(base: &str) -> Upstream {
        Upstream { base: base.trim_end_matches('/').to_string(), http: reqwest::Client::new() }
    }

    /// Sends the request as received (its method, path, query, headers but `Host` and
    /// `Content-Length`, and body) and reads the whole answer; `Err`: the 502 to answer when
    /// the next hop could not be reached or its answer broke off.
    pub(crate) async fn send(
        &self,
        method: Method,
        uri: &Uri,
        headers: &HeaderMap,
        body: Bytes,
    ) -> Result<Upstreamed, Response> {
        let path = uri.path_and_query().map_or("/", |p| p.as_str());
        let mut req = self.http.request(method, format!("{}{path}", self.base)).body(body);
        for (name, value) in headers.iter().filter(|(n, _)| *n != "host" && *n != "content-length") {
            req = req.header(name, value);
        }
        let failed = |e: reqwest::Error| {
            let mut resp = Response::new(Body::from(e.to_string()));
            *resp.status_mut() = StatusCode::BAD_GATEWAY;
            resp
        };
        let upstream = req.send().await.map_err(failed)?;
        let status = upstream.status();
        let headers = upstream.headers().clone();
        let body = upstream.bytes().await.map_err(failed)?;
        Ok(Upstreamed { status, headers, body })
    }
}

impl Upstreamed {
    /// The answer passed on as received (but `Content-Length` and `Transfer-Encoding`, which
    /// the proxy's server sets again).
    pub(crate) fn into_response(self) -> Response {
        let mut resp = Response::new(Body::from(self.body));
        *resp.status_mut() = self.status;
        for (name, value) in self.headers.iter().filter(|(n, _)| *n != "content-length" && *n != "transfer-encoding") {
            resp.headers_mut().insert(name, value.clone());
        }
        resp
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_operation_body_and_table_are_read_as_dynamodb_reads_them() {
        let mut h = HeaderMap::new();
        h.insert("x-amz-target", "DynamoDB_20120810.PutItem".parse().expect("header"));
        let put = DynamoRequest::read(&h, br#"{"TableName":"t","Item":{}}"#);
        assert_eq!((put.operation.as_str(), put.table()), ("PutItem", "t".to_string()));
        let batch = DynamoRequest::read(&h, br#"{"RequestItems":{"b":[]}}"#);
        assert_eq!(batch.table(), "b");
        let garbage = DynamoRequest::read(&HeaderMap::new(), b"not json");
        assert_eq!(
            (garbage.operation.as_str(), garbage.json.clone(), garbage.table()),
            ("", Value::Null, String::new())
        );
    }
}
