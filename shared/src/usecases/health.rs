//! The region's health (issue 33, docs/multi-region.md): one strongly consistent `GetItem` of a
//! fixed key, [`HEALTH_PK`] / [`HEALTH_SK`], which no one writes (the item need not exist). It
//! succeeds when this function runs and this region's table (on an MRSC global table: its
//! replica, and the quorum a strongly consistent read needs, as every login's writes do)
//! answers. It reads nothing of anyone: the answer is the same for every caller.
//!
//! Load: Route 53's health checkers probe each region about every `RequestInterval` seconds
//! from each checker region (some 15): ~0.5 to 1.5 reads a second of one item, far under a
//! partition's 3,000 read units; no write.

use crate::usecases::error::UseCaseError;
use crate::App;

/// The partition key probed (never written; IAM grants only `GetItem` on it).
pub const HEALTH_PK: &str = "HEALTH#";
/// Its sort key.
pub const HEALTH_SK: &str = "HEALTH#";

/// What `GET /health` reports.
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize)]
pub struct Health {
    /// `ok`, or `unavailable`.
    pub status: &'static str,
    /// The AWS region of this function (its DynamoDB client's).
    pub region: String,
}

impl App {
    /// The probe: `Ok` when the table answered a strongly consistent read of the fixed key;
    /// any failure of the table (unreachable, throttled, refused) is `StoreUnavailable`, since
    /// every one of them stops this region's logins.
    pub async fn health(&self) -> (Health, Result<(), UseCaseError>) {
        let region = self.store.client().config().region().map(|r| r.to_string()).unwrap_or_default();
        let read = self
            .store
            .client()
            .get_item()
            .table_name(self.store.table())
            .key("pk", aws_sdk_dynamodb::types::AttributeValue::S(HEALTH_PK.into()))
            .key("sk", aws_sdk_dynamodb::types::AttributeValue::S(HEALTH_SK.into()))
            .consistent_read(true)
            .projection_expression("pk")
            .send()
            .await;
        match read {
            Ok(_) => (Health { status: "ok", region }, Ok(())),
            Err(e) => {
                let detail = format!("health GetItem: {}", aws_sdk_dynamodb::error::DisplayErrorContext(&e));
                (Health { status: "unavailable", region }, Err(UseCaseError::StoreUnavailable(detail)))
            }
        }
    }
}
