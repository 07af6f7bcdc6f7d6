//! Multi-Region strong consistency (issue 33): on a global table with MRSC, a write to an item
//! that another region is writing at the same moment fails with
//! `ReplicatedWriteConflictException` (HTTP 400, nothing written, safe to retry).
//!
//! - **Retried**: the SDK's standard retry strategy already retries it: the DynamoDB model marks
//!   the exception retryable, and every write operation's `ModeledAsRetryableClassifier` reads
//!   that (a unit test below holds it, `tests/api/multi_region.rs` proves it through the MRSC
//!   proxy). So the one place is the client's retry configuration ([`super::app`]): bounded
//!   attempts (3), exponential backoff with full jitter, and the client's retry token bucket.
//! - **Then 503**: past the retries the store classifies it as
//!   [`crate::store::StoreError::Throttled`] (nothing of the request was written; the caller may
//!   retry a little later), answered 503 with `Retry-After` in either dialect.
//! - **Counted**: [`ConflictCounter`], an interceptor of the DynamoDB client, writes one log line
//!   per conflict answer (retried or not) carrying the EMF metric
//!   [`REPLICATED_WRITE_CONFLICTS`], dimension `Operation` (docs/reliability.md).

use aws_sdk_dynamodb::config::interceptors::AfterDeserializationInterceptorContextRef;
use aws_sdk_dynamodb::config::{ConfigBag, Intercept, RuntimeComponents};
use aws_sdk_dynamodb::error::ProvideErrorMetadata;
use aws_sdk_dynamodb::operation::batch_write_item::BatchWriteItemError;
use aws_sdk_dynamodb::operation::delete_item::DeleteItemError;
use aws_sdk_dynamodb::operation::put_item::PutItemError;
use aws_sdk_dynamodb::operation::update_item::UpdateItemError;
use serde::Serialize;

/// The error code DynamoDB answers for a write conflicting with another region's.
pub const REPLICATED_WRITE_CONFLICT: &str = "ReplicatedWriteConflictException";

/// The metric: one per conflict answer DynamoDB gave (each attempt).
pub const REPLICATED_WRITE_CONFLICTS: &str = "ReplicatedWriteConflicts";

const PUT_ITEM: &str = "PutItem";
const UPDATE_ITEM: &str = "UpdateItem";
const DELETE_ITEM: &str = "DeleteItem";
const BATCH_WRITE_ITEM: &str = "BatchWriteItem";

/// Every value of the metric's `Operation` dimension: the write operations whose errors include
/// the conflict. `template.yaml`'s `ReplicatedWriteConflictsAlarm` sums exactly these
/// (`tests/api/template.rs` holds it), since an alarm cannot `SEARCH`.
pub const CONFLICT_OPERATIONS: [&str; 4] = [PUT_ITEM, UPDATE_ITEM, DELETE_ITEM, BATCH_WRITE_ITEM];

/// The operation a type-erased error belongs to, if it is a replicated write conflict (the four
/// operations whose errors include it).
fn conflicted_operation(err: &aws_sdk_dynamodb::config::interceptors::InterceptorContext) -> Option<&'static str> {
    let err = err.output_or_error()?.err()?.as_operation_error()?;
    let is_conflict = |code: Option<&str>| code == Some(REPLICATED_WRITE_CONFLICT);
    if let Some(e) = err.downcast_ref::<PutItemError>() {
        return is_conflict(e.code()).then_some(PUT_ITEM);
    }
    if let Some(e) = err.downcast_ref::<UpdateItemError>() {
        return is_conflict(e.code()).then_some(UPDATE_ITEM);
    }
    if let Some(e) = err.downcast_ref::<DeleteItemError>() {
        return is_conflict(e.code()).then_some(DELETE_ITEM);
    }
    if let Some(e) = err.downcast_ref::<BatchWriteItemError>() {
        return is_conflict(e.code()).then_some(BATCH_WRITE_ITEM);
    }
    None
}

/// The interceptor that counts conflicts (installed on every DynamoDB client the functions build).
#[derive(Debug, Default)]
pub struct ConflictCounter;

impl Intercept for ConflictCounter {
    fn name(&self) -> &'static str {
        "ReplicatedWriteConflictCounter"
    }

    fn read_after_deserialization(
        &self,
        context: &AfterDeserializationInterceptorContextRef<'_>,
        _runtime_components: &RuntimeComponents,
        _cfg: &mut ConfigBag,
    ) -> Result<(), aws_sdk_dynamodb::error::BoxError> {
        if let Some(operation) = conflicted_operation(context.inner()) {
            let emf = conflict_emf(operation, now_ms());
            tracing::warn!(operation, emf = emf.as_str(), "replicated write conflict");
        }
        Ok(())
    }
}

fn now_ms() -> u64 {
    u64::try_from(crate::domain::clock::now_micros() / 1000).unwrap_or_default()
}

/// The EMF members of a conflict's log line.
pub fn conflict_emf(operation: &str, timestamp_ms: u64) -> String {
    #[derive(Serialize)]
    struct Line<'a> {
        #[serde(rename = "_aws")]
        aws: serde_json::Value,
        #[serde(rename = "Operation")]
        operation: &'a str,
        #[serde(rename = "ReplicatedWriteConflicts")]
        conflicts: u8,
    }
    let aws = serde_json::json!({
        "Timestamp": timestamp_ms,
        "CloudWatchMetrics": [{
            "Namespace": crate::usecases::metrics::namespace(),
            "Dimensions": [["Operation"]],
            "Metrics": [{ "Name": REPLICATED_WRITE_CONFLICTS, "Unit": "Count" }],
        }],
    });
    serde_json::to_string(&Line { aws, operation, conflicts: 1 }).unwrap_or_default()
}

#[cfg(test)]
mod tests {
    use super::*;

    /// What the SDK's `ModeledAsRetryableClassifier` reads: a retryable error kind (a client
    /// error, so each retry costs the token bucket's retry cost). If a new SDK stopped modelling
    /// it as retryable, this fails and the client needs a classifier of its own.
    #[test]
    fn the_model_makes_a_conflict_retryable() {
        let conflict = aws_sdk_dynamodb::types::error::ReplicatedWriteConflictException::builder()
            .message("another region")
            .build();
        assert_eq!(format!("{:?}", conflict.retryable_error_kind()), "ClientError");
    }

    #[test]
    fn a_conflict_line_is_emf() {
        let line: serde_json::Value = serde_json::from_str(&conflict_emf("PutItem", 1)).expect("json");
        let values = crate::usecases::metrics::check_emf(&line).expect("EMF");
        assert_eq!(values, vec![(REPLICATED_WRITE_CONFLICTS.to_string(), 1.0)]);
        assert_eq!(line["Operation"], "PutItem");
    }
}
