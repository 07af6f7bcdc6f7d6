//! The login limiter's shared counters: one item per counter and window, expiring with it.

use aws_sdk_dynamodb::types::ReturnValue;

use super::error::classify;
use super::items::{get_n, n};
use super::{keys, StoreError, UserStore};

impl UserStore {
    /// Adds one rejected login under the limiter's counter `counter` (an IP, or an IP and a provider
    /// user) in window `window` (expiring at `expires_at`); returns the window's count so far.
    pub async fn count_failure(&self, counter: &str, window: i64, expires_at: i64) -> Result<u64, StoreError> {
        let out = self
            .client
            .update_item()
            .table_name(&self.table)
            .set_key(Some(keys::failure_counter(counter, window)))
            .update_expression("ADD failures :one SET expires_at = if_not_exists(expires_at, :exp)")
            .expression_attribute_values(":one", n(1))
            .expression_attribute_values(":exp", n(expires_at))
            .return_values(ReturnValue::UpdatedNew)
            .send()
            .await
            .map_err(|e| classify("UpdateItem", e))?;
        out.attributes.as_ref().ok_or(StoreError::Corrupt("failures")).and_then(|a| get_n(a, "failures"))
    }
}
