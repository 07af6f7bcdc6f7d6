//! Replay records of the providers' callbacks (issue 28): one item per callback received, by a
//! name the callback itself carries, written with a conditional put before the callback acts and
//! marked `done` once it has. A repeat of a done callback does nothing; one whose first delivery
//! stopped half-way (DynamoDB or a bug) is acted on again, to finish it. Every record expires
//! (`expires_at`, DynamoDB's TTL) once the callback itself would be refused anyway.
//!
//! - Apple's notifications: `APPLENOTE#{sha256(jti)}` (or, without a `jti`, of the signed
//!   payload), until the token's `exp` plus the leeway.
//! - Facebook's deauthorize requests: `FBDEAUTH#{sha256(signature)}`, until the request is too
//!   old (`issued_at` plus a day). Its data deletion requests have their own records
//!   ([`super::facebook_deletions`]).
//!
//! Neither holds personal data: only the hash, `expires_at` and `done` (and the sweep index's
//! keys).
//!
//! Expiry without TTL (issue 33): a record that has expired (`expires_at <= now`) guards nothing
//! any more, whether or not the sweeper or TTL has removed it yet: its callback is refused by its
//! own time limit before it is claimed (Facebook's `issued_at` older than a day, Apple's token
//! past its `exp` and the leeway), and the record expires no earlier than that limit. So a claim
//! takes over an expired record as if it were absent (the put's condition says so), and the
//! record is written with the sweep index's keys ([`sweep::expiring`]).

use aws_sdk_dynamodb::types::AttributeValue;

use super::error::classify;
use super::items::{n, Item};
use super::sweep;
use super::{keys, StoreError, UserStore};

/// Which callback a record is of, by its name (a SHA-256 in hex).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum CallbackRecord<'a> {
    /// An Apple server-to-server notification.
    AppleNotification(&'a str),
    /// A Facebook deauthorize request.
    FacebookDeauthorization(&'a str),
}

impl CallbackRecord<'_> {
    fn key(self) -> Item {
        match self {
            CallbackRecord::AppleNotification(id) => keys::apple_notification(id),
            CallbackRecord::FacebookDeauthorization(id) => keys::facebook_deauthorization(id),
        }
    }
}

/// What [`UserStore::claim_callback`] found.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum CallbackClaim {
    /// Never received before: recorded now; act, then [`UserStore::finish_callback`].
    New,
    /// Received before, and an earlier delivery did not finish acting on it: act again.
    Unfinished,
    /// Received and acted on before: a repeat, nothing to do.
    Done,
}

impl UserStore {
    /// Records `record` (until `expires_at`, epoch seconds) unless it is recorded already: one
    /// conditional `PutItem`, and on a repeat one consistent `GetItem`.
    pub async fn claim_callback(
        &self,
        record: CallbackRecord<'_>,
        expires_at: i64,
    ) -> Result<CallbackClaim, StoreError> {
        let mut item = record.key();
        sweep::expiring(&mut item, expires_at);
        let now = crate::domain::clock::now_secs();
        let put = self
            .client
            .put_item()
            .table_name(&self.table)
            .set_item(Some(item))
            .condition_expression("attribute_not_exists(pk) OR expires_at <= :now")
            .expression_attribute_values(":now", n(now));
        match put.send().await {
            Ok(_) => Ok(CallbackClaim::New),
            Err(e) if e.as_service_error().is_some_and(|se| se.is_conditional_check_failed_exception()) => {
                match self.get(record.key(), true).await? {
                    // Expired between the put and this read: refused by its own time limit.
                    Some(item) if sweep::expired(&item, now) => Err(StoreError::Contention),
                    Some(item) if matches!(item.get("done"), Some(AttributeValue::Bool(true))) => {
                        Ok(CallbackClaim::Done)
                    }
                    Some(_) => Ok(CallbackClaim::Unfinished),
                    // Removed in between (expired, then TTL): it will be refused as expired.
                    None => Err(StoreError::Contention),
                }
            }
            Err(e) => Err(classify("PutItem", e)),
        }
    }

    /// Marks `record` done (one `UpdateItem`): its repeats do nothing from now on.
    pub async fn finish_callback(&self, record: CallbackRecord<'_>) -> Result<(), StoreError> {
        self.update_if(
            record.key(),
            "SET done = :done",
            "attribute_exists(pk)",
            &[(":done", AttributeValue::Bool(true))],
        )
        .await
        .map(|_| ())
    }
}
