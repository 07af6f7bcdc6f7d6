//! A counting proxy in front of DynamoDB Local: forwards every request unchanged and records the
//! operation (`X-Amz-Target`) and how many items it touched, so the benchmark and the
//! round-trip budget test can see exactly what a login asked of DynamoDB. Tests can also make it
//! fail requests the way DynamoDB fails them ([`DynamoFault`]).

use std::sync::{Arc, Mutex};

use axum::body::{Body, Bytes};
use axum::extract::State;
use axum::http::{HeaderMap, Method, StatusCode, Uri};
use axum::response::Response;
use tokio::net::TcpListener;

use crate::dynamodb_request::{self, DynamoRequest, Upstream};
use crate::iam::{Denied, Policies};
use crate::partition_keys::{self, KeyUse};

/// One request DynamoDB received.
#[derive(Debug, Clone, PartialEq)]
pub struct DynamoCall {
    /// `GetItem`, `PutItem`, `TransactWriteItems`, ...
    pub operation: String,
    /// Items in a transaction or batch; 1 otherwise.
    pub items: usize,
    /// A strongly consistent read.
    pub consistent: bool,
    /// The partition keys it touched, with the capacity it cost on each.
    pub keys: Vec<KeyUse>,
}

impl DynamoCall {
    /// On-demand request units, for items under 1 KB (writes) and 4 KB (reads), which is every
    /// item of this table: (read units, write units). Transactions cost double.
    pub fn request_units(&self) -> (f64, f64) {
        let read = if self.consistent { 1.0 } else { 0.5 };
        let items = self.items as f64;
        match self.operation.as_str() {
            "GetItem" | "Query" | "Scan" => (read, 0.0),
            "BatchGetItem" => (read * items, 0.0),
            "TransactGetItems" => (2.0 * items, 0.0),
            "PutItem" | "UpdateItem" | "DeleteItem" => (0.0, 1.0),
            "BatchWriteItem" => (0.0, items),
            "TransactWriteItems" => (0.0, 2.0 * items),
            _ => (0.0, 0.0),
        }
    }
}

/// How DynamoDB fails, as its API answers.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum DynamoFault {
    /// 400 `ProvisionedThroughputExceededException` (the SDK retries it).
    Throttled,
    /// 500 `InternalServerError`.
    ServerError,
    /// The request reaches DynamoDB (and is carried out), then the connection is dropped
    /// before the answer: the client cannot know whether it happened.
    ResetAfterForwarding,
    /// A transaction cancelled for another reason than a condition (`ThrottlingError` on
    /// every item).
    CancelledThrottled,
    /// Never answered, never forwarded: the process calling hangs there (until killed).
    HangBeforeForwarding,
    /// Forwarded (DynamoDB does the work), then never answered.
    HangAfterForwarding,
}

/// A fault for the next `times` requests whose operation is `operation` (any when `None`), once
/// `skip` of them have passed.
#[derive(Debug, Clone)]
struct FaultPlan {
    fault: DynamoFault,
    operation: Option<String>,
    /// Only requests touching this partition key (as a hot partition throttles only its own).
    partition: Option<String>,
    skip: u32,
    times: u32,
}

#[derive(Clone)]
struct Shared {
    upstream: Upstream,
    calls: Arc<Mutex<Vec<DynamoCall>>>,
    fault: Arc<Mutex<Option<FaultPlan>>>,
    /// Each function's IAM policy, enforced on the requests it signs ([`crate::iam`]).
    policies: Option<Arc<Policies>>,
    denials: Arc<Mutex<Vec<Denied>>>,
    /// Records calls and denials (a test's proxy); off for the long-running local stack.
    record: bool,
}

pub struct CountingProxy {
    endpoint: String,
    calls: Arc<Mutex<Vec<DynamoCall>>>,
    fault: Arc<Mutex<Option<FaultPlan>>>,
    denials: Arc<Mutex<Vec<Denied>>>,
}

impl CountingProxy {
    /// Serves on a free loopback port, forwarding to `upstream` (e.g. `http://127.0.0.1:8000`).
    pub async fn start(upstream: &str) -> std::io::Result<CountingProxy> {
        CountingProxy::start_with(upstream, None, true).await
    }

    /// [`CountingProxy::start`], refusing as IAM would what a function's policy does not allow
    /// (HTTP 400 `AccessDeniedException`, nothing forwarded): the principal is the SigV4
    /// access key id of each request ([`crate::iam`]).
    pub async fn start_enforcing(upstream: &str, policies: Arc<Policies>) -> std::io::Result<CountingProxy> {
        CountingProxy::start_with(upstream, Some(policies), true).await
    }

    /// [`CountingProxy::start_enforcing`] that keeps no record (the local stack, which runs
    /// for hours): refusals are only logged.
    pub async fn start_enforcing_unrecorded(upstream: &str, policies: Arc<Policies>) -> std::io::Result<CountingProxy> {
        CountingProxy::start_with(upstream, Some(policies), false).await
    }

    async fn start_with(
        upstream: &str,
        policies: Option<Arc<Policies>>,
        record: bool,
    ) -> std::io::Result<CountingProxy> {
        let calls = Arc::new(Mutex::new(Vec::new()));
        let fault = Arc::new(Mutex::new(None));
        let denials = Arc::new(Mutex::new(Vec::new()));
        let shared = Shared {
            upstream: Upstream::new(upstream),
            calls: calls.clone(),
            fault: fault.clone(),
            policies,
            denials: denials.clone(),
            record,
        };
        let listener = TcpListener::bind("127.0.0.1:0").await?;
        let endpoint = format!("http://{}", listener.local_addr()?);
        let app = axum::Router::new().fallback(forward).with_state(shared);
        tokio::spawn(async move { axum::serve(listener, app).await });
        Ok(CountingProxy { endpoint, calls, fault, denials })
    }

    /// The requests refused for their principal's policy so far.
    pub fn denials(&self) -> Vec<Denied> {
        lock(&self.denials).clone()
    }

    /// The log of refused requests itself (shared: it outlives this handle).
    pub fn denial_log(&self) -> Arc<Mutex<Vec<Denied>>> {
        self.denials.clone()
    }

    /// Fails the next `times` requests of `operation` (every operation when `None`) with `fault`.
    pub fn fail(&self, fault: DynamoFault, operation: Option<&str>, times: u32) {
        self.fail_after(0, fault, operation, times);
    }

    /// As [`CountingProxy::fail`], once `skip` requests of `operation` have passed unharmed.
    pub fn fail_after(&self, skip: u32, fault: DynamoFault, operation: Option<&str>, times: u32) {
        let operation = operation.map(str::to_string);
        *lock(&self.fault) = Some(FaultPlan { fault, operation, partition: None, skip, times });
    }

    /// Fails the next `times` requests that touch the partition key `pk` (any operation, any item
    /// of it in a batch or transaction) with `fault`: DynamoDB throttles one hot partition, not the
    /// table.
    pub fn fail_partition(&self, fault: DynamoFault, pk: &str, times: u32) {
        *lock(&self.fault) =
            Some(FaultPlan { fault, operation: None, partition: Some(pk.to_string()), skip: 0, times });
    }

    /// Requests of `operation` received so far (not reset by `take`'s reader).
    pub fn seen(&self, operation: &str) -> usize {
        lock(&self.calls).iter().filter(|c| c.operation == operation).count()
    }

    /// No more faults.
    pub fn heal(&self) {
        *lock(&self.fault) = None;
    }

    pub fn endpoint(&self) -> &str {
        &self.endpoint
    }

    /// The calls recorded since the last `take`.
    pub fn take(&self) -> Vec<DynamoCall> {
        std::mem::take(&mut *lock(&self.calls))
    }
}

fn lock<T>(m: &Mutex<T>) -> std::sync::MutexGuard<'_, T> {
    m.lock().unwrap_or_else(|e| e.into_inner())
}

/// The fault to apply to `call`, if one is planned for its operation or partition (and counts
/// it down).
fn next_fault(plan: &Mutex<Option<FaultPlan>>, call: &DynamoCall) -> Option<DynamoFault> {
    let mut plan = lock(plan);
    let p = plan.as_mut()?;
    if p.times == 0 || p.operation.as_deref().is_some_and(|op| op != call.operation) {
        return None;
    }
    if p.partition.as_deref().is_some_and(|pk| !call.keys.iter().any(|k| k.pk == pk)) {
        return None;
    }
    if p.skip > 0 {
        p.skip -= 1;
        return None;
    }
    p.times -= 1;
    Some(p.fault)
}

fn describe(request: &DynamoRequest) -> DynamoCall {
    let (operation, json) = (request.operation.clone(), &request.json);
    let items = match operation.as_str() {
        "TransactWriteItems" | "TransactGetItems" => json["TransactItems"].as_array().map_or(0, Vec::len),
        "BatchWriteItem" | "BatchGetItem" => json["RequestItems"]
            .as_object()
            .map_or(0, |tables| tables.values().map(|v| v.as_array().map_or(0, Vec::len)).sum()),
        _ => 1,
    };
    let keys = partition_keys::of_request(&operation, json);
    DynamoCall { operation, items, consistent: json["ConsistentRead"].as_bool().unwrap_or(false), keys }
}

async fn forward(State(s): State<Shared>, method: Method, uri: Uri, headers: HeaderMap, body: Bytes) -> Response {
    // Parsed once: for the record and for IAM's decision.
    let request = DynamoRequest::read(&headers, &body);
    let call = describe(&request);
    // IAM decides before DynamoDB sees the request; a refused request is neither carried out
    // nor billed.
    if let Some(policies) = &s.policies {
        let principal = headers
            .get("authorization")
            .and_then(|v| v.to_str().ok())
            .and_then(crate::iam::access_key_id)
            .unwrap_or_default();
        if let Err(denied) = policies.authorize(principal, &call.operation, &request.json) {
            let table = request.table();
            tracing::warn!(principal, action = %denied.access.action, keys = ?denied.access.leading_keys, "access denied by the function's policy");
            let answer = denied.body(&table);
            if s.record {
                lock(&s.denials).push(denied);
            }
            return dynamodb_request::answer(StatusCode::BAD_REQUEST, &answer);
        }
    }
    let fault = next_fault(&s.fault, &call);
    let items = call.items;
    // A request without an operation (the functions' `GET /` preconnect in init, see
    // shared/src/app.rs) is not a DynamoDB request: it reads nothing and is not billed.
    if !call.operation.is_empty() && s.record {
        lock(&s.calls).push(call);
    }
    match fault {
        Some(DynamoFault::Throttled) => {
            return dynamodb_request::answer(
                StatusCode::BAD_REQUEST,
                &serde_json::json!({
                    "__type": "com.amazonaws.dynamodb.v20120810#ProvisionedThroughputExceededException",
                    "message": "The level of configured provisioned throughput for the table was exceeded.",
                }),
            )
        }
        Some(DynamoFault::ServerError) => {
            return dynamodb_request::answer(
                StatusCode::INTERNAL_SERVER_ERROR,
                &serde_json::json!({
                    "__type": "com.amazonaws.dynamodb.v20120810#InternalServerError",
                    "message": "Internal server error",
                }),
            )
        }
        Some(DynamoFault::CancelledThrottled) => {
            let reasons: Vec<_> = (0..items.max(1))
                .map(|_| serde_json::json!({ "Code": "ThrottlingError", "Message": "Throughput exceeds the current capacity." }))
                .collect();
            return dynamodb_request::answer(
                StatusCode::BAD_REQUEST,
                &serde_json::json!({
                    "__type": "com.amazonaws.dynamodb.v20120810#TransactionCanceledException",
                    "message": "Transaction cancelled, please refer cancellation reasons for specific reasons",
                    "CancellationReasons": reasons,
                }),
            );
        }
        Some(DynamoFault::HangBeforeForwarding) => std::future::pending::<()>().await,
        Some(DynamoFault::ResetAfterForwarding | DynamoFault::HangAfterForwarding) | None => {}
    }
    let upstreamed = match s.upstream.send(method, &uri, &headers, body).await {
        Ok(upstreamed) => upstreamed,
        Err(failed) => return failed,
    };
    if fault == Some(DynamoFault::HangAfterForwarding) {
        std::future::pending::<()>().await;
    }
    if fault == Some(DynamoFault::ResetAfterForwarding) {
        // DynamoDB did the work; the answer is lost on the way (a body that breaks off).
        let broken = futures::stream::iter([
            Ok::<_, std::io::Error>(Bytes::from_static(b"{")),
            Err(std::io::Error::new(std::io::ErrorKind::ConnectionReset, "reset by the fault proxy")),
        ]);
        let mut resp = Response::new(Body::from_stream(broken));
        *resp.status_mut() = upstreamed.status;
        return resp;
    }
    upstreamed.into_response()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn units_follow_the_on_demand_price_rules() {
        let call =
            |op: &str, items, consistent| DynamoCall { operation: op.into(), items, consistent, keys: Vec::new() };
        assert_eq!(call("GetItem", 1, false).request_units(), (0.5, 0.0));
        assert_eq!(call("GetItem", 1, true).request_units(), (1.0, 0.0));
        assert_eq!(call("UpdateItem", 1, false).request_units(), (0.0, 1.0));
        assert_eq!(call("TransactWriteItems", 4, false).request_units(), (0.0, 8.0));
    }

    #[test]
    fn the_operation_and_items_are_read_from_the_request() {
        let mut h = HeaderMap::new();
        h.insert("x-amz-target", "DynamoDB_20120810.TransactWriteItems".parse().expect("header"));
        let c = describe(&DynamoRequest::read(&h, br#"{"TransactItems":[{},{},{}]}"#));
        assert_eq!((c.operation.as_str(), c.items), ("TransactWriteItems", 3));
        h.insert("x-amz-target", "DynamoDB_20120810.GetItem".parse().expect("header"));
        assert!(describe(&DynamoRequest::read(&h, br#"{"ConsistentRead":true}"#)).consistent);
    }

    #[test]
    fn a_partition_fault_hits_only_requests_touching_that_partition() {
        let mut h = HeaderMap::new();
        h.insert("x-amz-target", "DynamoDB_20120810.BatchGetItem".parse().expect("header"));
        let hot = describe(&DynamoRequest::read(
            &h,
            br#"{"RequestItems":{"t":{"Keys":[{"pk":{"S":"INST#demo"},"sk":{"S":"INSTANCE"}}]}}}"#,
        ));
        let cold = describe(&DynamoRequest::read(
            &h,
            br#"{"RequestItems":{"t":{"Keys":[{"pk":{"S":"USER#demo#1"},"sk":{"S":"USER"}}]}}}"#,
        ));
        let plan = Mutex::new(Some(FaultPlan {
            fault: DynamoFault::Throttled,
            operation: None,
            partition: Some("INST#demo".into()),
            skip: 0,
            times: 1,
        }));
        assert_eq!(next_fault(&plan, &cold), None);
        assert_eq!(next_fault(&plan, &hot), Some(DynamoFault::Throttled));
        assert_eq!(next_fault(&plan, &hot), None, "counted down");
    }
}
