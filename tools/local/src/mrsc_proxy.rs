//! A proxy that makes one DynamoDB Local behave as a global table with multi-Region strong
//! consistency (MRSC) seen from several regions: one listening port per region (each region's
//! functions use their own endpoint, so the proxy knows the region of every request), and what
//! AWS documents of MRSC tables:
//!
//! - **No transactions**: `TransactWriteItems` and `TransactGetItems` are refused. AWS's
//!   documentation says MRSC tables do not support transactions but does not give the error's
//!   exact type or message; the proxy answers HTTP 400 `ValidationException` with
//!   [`TRANSACTIONS_REFUSED`] (our choice, documented in docs/testing.md).
//! - **No TTL**: `DescribeTimeToLive` answers `DISABLED`; `UpdateTimeToLive` is refused (400
//!   `ValidationException`, [`TTL_REFUSED`]; same caveat).
//! - **Synchronous replication**: every write (`PutItem`, `UpdateItem`, `DeleteItem`,
//!   `BatchWriteItem`) waits [`MrscSettings::write_delay`] before it is carried out (the write is
//!   replicated to another region before it succeeds), and every strongly consistent read waits
//!   [`MrscSettings::consistent_read_delay`] (it asks another region for the latest version: one
//!   cross-region round trip). Eventually consistent reads are local and not delayed.
//! - **Conflicts**: a write that touches an item (table, `pk`, `sk`) that a write from ANOTHER
//!   region is still replicating (received, not yet answered) fails with HTTP 400
//!   `ReplicatedWriteConflictException` and is not carried out; writes of one region to one item
//!   do not conflict (DynamoDB serializes them). Tests can also force conflicts ([`MrscProxy::conflict`],
//!   [`MrscProxy::random_conflicts`]).
//! - **A region's outage**: [`MrscProxy::kill`] takes a region's port away mid-request: requests in
//!   flight get a dropped connection (whether DynamoDB carried them out depends on how far they
//!   got), later ones connection refused.
//!
//! Per region it counts writes, strongly consistent reads (cross-region round trips), conflicts
//! and refused requests ([`RegionCounts`]).

use std::sync::{Arc, Mutex};
use std::time::Duration;

use axum::body::Bytes;
use axum::extract::State;
use axum::http::{HeaderMap, Method, StatusCode, Uri};
use axum::response::Response;
use serde_json::Value;

use crate::dynamodb_request::{self, DynamoRequest, Upstream};
use crate::killable::KillableServer;

/// `ReplicatedWriteConflictException`'s `__type` in DynamoDB's JSON protocol.
pub const REPLICATED_WRITE_CONFLICT: &str = "com.amazonaws.dynamodb.v20120810#ReplicatedWriteConflictException";
/// Its message: the exception's documented description (the API reference).
pub const REPLICATED_WRITE_CONFLICT_MESSAGE: &str =
    "The request was rejected because one or more items in the request are being modified by a request in another Region.";
/// `ValidationException`'s `__type`.
pub const VALIDATION: &str = "com.amazonaws.dynamodb.v20120810#ValidationException";
/// The message of a refused transaction (not documented by AWS: see the module's documentation).
pub const TRANSACTIONS_REFUSED: &str =
    "Transactions are not supported on global tables configured for multi-Region strong consistency";
/// The message of a refused `UpdateTimeToLive` (not documented by AWS either).
pub const TTL_REFUSED: &str =
    "Time to Live is not supported on global tables configured for multi-Region strong consistency";

/// What the proxy models of the cross-region replication.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct MrscSettings {
    /// Added to every write: its synchronous replication (and the window in which another
    /// region's write of the same item conflicts).
    pub write_delay: Duration,
    /// Added to every strongly consistent read: one cross-region round trip.
    pub consistent_read_delay: Duration,
}

impl Default for MrscSettings {
    /// 15 ms each: about the round trip between two regions of one region set (us-east-1 and
    /// us-east-2).
    fn default() -> Self {
        MrscSettings { write_delay: Duration::from_millis(15), consistent_read_delay: Duration::from_millis(15) }
    }
}

/// What one region asked of the table.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct RegionCounts {
    /// Write requests received (each a replicated write; a conflict or refusal included).
    pub writes: u64,
    /// Strongly consistent reads: each one cross-region round trip.
    pub consistent_reads: u64,
    /// Writes answered `ReplicatedWriteConflictException`.
    pub conflicts: u64,
    /// Requests refused as MRSC refuses them (transactions, `UpdateTimeToLive`).
    pub refused: u64,
}

impl RegionCounts {
    /// What was counted after `before` (an earlier reading of the same region).
    pub fn since(self, before: RegionCounts) -> RegionCounts {
        RegionCounts {
            writes: self.writes - before.writes,
            consistent_reads: self.consistent_reads - before.consistent_reads,
            conflicts: self.conflicts - before.conflicts,
            refused: self.refused - before.refused,
        }
    }
}

/// One item: table, `pk`, `sk` (as their JSON attribute values).
type ItemKey = (String, String, String);

struct InFlight {
    id: u64,
    region: usize,
    items: Vec<ItemKey>,
}

struct Shared {
    upstream: Upstream,
    settings: MrscSettings,
    in_flight: Mutex<(u64, Vec<InFlight>)>,
    counts: Mutex<Vec<RegionCounts>>,
    /// Forced conflicts: (region, or any when `None`; how many writes left).
    forced: Mutex<Vec<(Option<usize>, u32)>>,
    /// The chance of any write failing with a conflict (0 = never).
    random: Mutex<f64>,
}

struct Region {
    name: String,
    server: KillableServer,
}

/// The proxy: [`MrscProxy::start`] it with the region names, give each region's functions
/// [`MrscProxy::endpoint`] of their region.
pub struct MrscProxy {
    shared: Arc<Shared>,
    regions: Vec<Region>,
}

impl MrscProxy {
    /// One port per region of `regions`, forwarding to `upstream` (DynamoDB Local, or a counting
    /// proxy before it).
    pub async fn start(upstream: &str, regions: &[&str], settings: MrscSettings) -> std::io::Result<MrscProxy> {
        let shared = Arc::new(Shared {
            upstream: Upstream::new(upstream),
            settings,
            in_flight: Mutex::new((0, Vec::new())),
            counts: Mutex::new(vec![RegionCounts::default(); regions.len()]),
            forced: Mutex::new(Vec::new()),
            random: Mutex::new(0.0),
        });
        let mut started = Vec::new();
        for (index, name) in regions.iter().enumerate() {
            let router = axum::Router::new().fallback(forward).with_state((shared.clone(), index));
            started.push(Region { name: (*name).to_string(), server: KillableServer::start(router).await? });
        }
        Ok(MrscProxy { shared, regions: started })
    }

    /// The region names, in order.
    pub fn regions(&self) -> Vec<String> {
        self.regions.iter().map(|r| r.name.clone()).collect()
    }

    fn index(&self, region: &str) -> usize {
        self.regions.iter().position(|r| r.name == region).unwrap_or_else(|| panic!("no region {region}"))
    }

    /// The DynamoDB endpoint of `region`'s functions.
    pub fn endpoint(&self, region: &str) -> String {
        self.regions[self.index(region)].server.base()
    }

    /// Takes `region` away: its port refuses connections, its requests in flight are cut.
    pub fn kill(&self, region: &str) {
        self.regions[self.index(region)].server.kill();
    }

    /// What `region` asked so far.
    pub fn counts(&self, region: &str) -> RegionCounts {
        lock(&self.shared.counts)[self.index(region)]
    }

    /// Every region's counts, in order.
    pub fn all_counts(&self) -> Vec<(String, RegionCounts)> {
        let counts = lock(&self.shared.counts).clone();
        self.regions.iter().map(|r| r.name.clone()).zip(counts).collect()
    }

    /// The next `times` writes from `region` (any region when `None`) fail with
    /// `ReplicatedWriteConflictException`, as if another region were writing their items.
    pub fn conflict(&self, region: Option<&str>, times: u32) {
        let region = region.map(|r| self.index(r));
        lock(&self.shared.forced).push((region, times));
    }

    /// From now on every write fails with `ReplicatedWriteConflictException` with chance
    /// `probability` (0 stops it).
    pub fn random_conflicts(&self, probability: f64) {
        *lock(&self.shared.random) = probability;
    }

    /// No more forced or random conflicts.
    pub fn heal(&self) {
        lock(&self.shared.forced).clear();
        *lock(&self.shared.random) = 0.0;
    }
}

fn lock<T>(m: &Mutex<T>) -> std::sync::MutexGuard<'_, T> {
    m.lock().unwrap_or_else(|e| e.into_inner())
}

/// DynamoDB's JSON error answer.
fn dynamo_error(r#type: &str, message: &str) -> Response {
    dynamodb_request::answer(StatusCode::BAD_REQUEST, &serde_json::json!({ "__type": r#type, "message": message }))
}

/// What the proxy does with a request.
#[derive(Debug, PartialEq, Eq)]
enum Kind {
    /// A write of these items.
    Write(Vec<ItemKey>),
    /// A strongly consistent read.
    ConsistentRead,
    /// Refused as MRSC refuses it.
    Refused(&'static str),
    /// `DescribeTimeToLive`: answered here.
    DescribeTtl,
    /// Anything else: forwarded at once.
    Local,
}

fn item_key(table: &str, key: &Value) -> ItemKey {
    (table.to_string(), key["pk"].to_string(), key["sk"].to_string())
}

fn classify(operation: &str, json: &Value) -> Kind {
    let table = json["TableName"].as_str().unwrap_or_default();
    match operation {
        "TransactWriteItems" | "TransactGetItems" => Kind::Refused(TRANSACTIONS_REFUSED),
        "UpdateTimeToLive" => Kind::Refused(TTL_REFUSED),
        "DescribeTimeToLive" => Kind::DescribeTtl,
        "PutItem" => Kind::Write(vec![item_key(table, &json["Item"])]),
        "UpdateItem" | "DeleteItem" => Kind::Write(vec![item_key(table, &json["Key"])]),
        "BatchWriteItem" => {
            let mut items = Vec::new();
            for (table, requests) in json["RequestItems"].as_object().into_iter().flatten() {
                for r in requests.as_array().into_iter().flatten() {
                    if r["PutRequest"].is_object() {
                        items.push(item_key(table, &r["PutRequest"]["Item"]));
                    } else {
                        items.push(item_key(table, &r["DeleteRequest"]["Key"]));
                    }
                }
            }
            Kind::Write(items)
        }
        "GetItem" | "Query" | "Scan" if json["ConsistentRead"].as_bool() == Some(true) => Kind::ConsistentRead,
        "BatchGetItem"
            if json["RequestItems"]
                .as_object()
                .is_some_and(|t| t.values().any(|t| t["ConsistentRead"].as_bool() == Some(true))) =>
        {
            Kind::ConsistentRead
        }
        _ => Kind::Local,
    }
}

impl Shared {
    fn count(&self, region: usize, f: impl FnOnce(&mut RegionCounts)) {
        if let Some(c) = lock(&self.counts).get_mut(region) {
            f(c);
        }
    }

    /// Whether a forced or random conflict hits this write of `region`.
    fn forced_conflict(&self, region: usize) -> bool {
        let mut forced = lock(&self.forced);
        if let Some(f) = forced.iter_mut().find(|(r, times)| *times > 0 && r.is_none_or(|r| r == region)) {
            f.1 -= 1;
            return true;
        }
        drop(forced);
        let p = *lock(&self.random);
        p > 0.0 && rand::random::<f64>() < p
    }

    /// Registers the write unless another region's write of one of its items is in flight.
    fn begin_write(&self, region: usize, items: Vec<ItemKey>) -> Option<u64> {
        let mut guard = lock(&self.in_flight);
        let (next, writes) = &mut *guard;
        let conflict = writes.iter().any(|w| w.region != region && w.items.iter().any(|i| items.contains(i)));
        if conflict {
            return None;
        }
        *next += 1;
        writes.push(InFlight { id: *next, region, items });
        Some(*next)
    }

    fn end_write(&self, id: u64) {
        lock(&self.in_flight).1.retain(|w| w.id != id);
    }
}

/// Ends a write's window when its request ends, however it ends (a cut connection included).
struct WriteWindow<'a> {
    shared: &'a Shared,
    id: u64,
}

impl Drop for WriteWindow<'_> {
    fn drop(&mut self) {
        self.shared.end_write(self.id);
    }
}

async fn forward(
    State((s, region)): State<(Arc<Shared>, usize)>,
    method: Method,
    uri: Uri,
    headers: HeaderMap,
    body: Bytes,
) -> Response {
    let request = DynamoRequest::read(&headers, &body);
    let _window;
    match classify(&request.operation, &request.json) {
        Kind::Refused(message) => {
            s.count(region, |c| c.refused += 1);
            return dynamo_error(VALIDATION, message);
        }
        Kind::DescribeTtl => {
            let disabled = serde_json::json!({ "TimeToLiveDescription": { "TimeToLiveStatus": "DISABLED" } });
            return dynamodb_request::answer(StatusCode::OK, &disabled);
        }
        Kind::ConsistentRead => {
            s.count(region, |c| c.consistent_reads += 1);
            tokio::time::sleep(s.settings.consistent_read_delay).await;
        }
        Kind::Write(items) => {
            s.count(region, |c| c.writes += 1);
            let id = if s.forced_conflict(region) { None } else { s.begin_write(region, items) };
            let Some(id) = id else {
                s.count(region, |c| c.conflicts += 1);
                return dynamo_error(REPLICATED_WRITE_CONFLICT, REPLICATED_WRITE_CONFLICT_MESSAGE);
            };
            _window = WriteWindow { shared: &s, id };
            tokio::time::sleep(s.settings.write_delay).await;
        }
        Kind::Local => {}
    }
    match s.upstream.send(method, &uri, &headers, body).await {
        Ok(upstreamed) => upstreamed.into_response(),
        Err(failed) => failed,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn writes_reads_and_refusals_are_told_apart() {
        let put = serde_json::json!({"TableName": "t", "Item": {"pk": {"S": "A"}, "sk": {"S": "B"}, "x": {"N": "1"}}});
        assert_eq!(
            classify("PutItem", &put),
            Kind::Write(vec![("t".into(), r#"{"S":"A"}"#.into(), r#"{"S":"B"}"#.into())])
        );
        let batch = serde_json::json!({"RequestItems": {"t": [
            {"PutRequest": {"Item": {"pk": {"S": "A"}, "sk": {"S": "B"}}}},
            {"DeleteRequest": {"Key": {"pk": {"S": "C"}, "sk": {"S": "D"}}}}
        ]}});
        let Kind::Write(items) = classify("BatchWriteItem", &batch) else { panic!("a write") };
        assert_eq!(items.len(), 2);
        assert_eq!(classify("GetItem", &serde_json::json!({"ConsistentRead": true})), Kind::ConsistentRead);
        assert_eq!(classify("GetItem", &serde_json::json!({})), Kind::Local);
        assert_eq!(
            classify("BatchGetItem", &serde_json::json!({"RequestItems": {"t": {"ConsistentRead": true}}})),
            Kind::ConsistentRead
        );
        assert_eq!(classify("TransactWriteItems", &Value::Null), Kind::Refused(TRANSACTIONS_REFUSED));
        assert_eq!(classify("TransactGetItems", &Value::Null), Kind::Refused(TRANSACTIONS_REFUSED));
        assert_eq!(classify("UpdateTimeToLive", &Value::Null), Kind::Refused(TTL_REFUSED));
    }

    #[test]
    fn only_another_regions_write_of_the_same_item_conflicts() {
        let shared = Shared {
            upstream: Upstream::new(""),
            settings: MrscSettings::default(),
            in_flight: Mutex::new((0, Vec::new())),
            counts: Mutex::new(vec![RegionCounts::default(); 2]),
            forced: Mutex::new(Vec::new()),
            random: Mutex::new(0.0),
        };
        let a = ("t".to_string(), "A".to_string(), "S".to_string());
        let b = ("t".to_string(), "B".to_string(), "S".to_string());
        let first = shared.begin_write(0, vec![a.clone()]).expect("first write");
        assert!(shared.begin_write(0, vec![a.clone()]).is_some(), "same region: queued, not a conflict");
        assert!(shared.begin_write(1, vec![b.clone()]).is_some(), "another item");
        assert!(shared.begin_write(1, vec![a.clone(), b]).is_none(), "another region, same item");
        shared.end_write(first);
        let mut guard = lock(&shared.in_flight);
        guard.1.retain(|w| w.region != 0);
        drop(guard);
        assert!(shared.begin_write(1, vec![a]).is_some(), "the window ended");
    }
}
