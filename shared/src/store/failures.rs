//! The login limiter's shared counters: one item per counter and window, expiring with it.
//! Written (`UpdateItem ADD`) only on a rejected login; read only inside the `BatchGetItem` of the
//! identity a login looks up anyway ([`UserStore::find_by_identity_counting`]), so a successful
//! login makes no request for them.
//!
//! Expiry without TTL (issue 33): a counter carries `expires_at` (its window's end and a minute)
//! and the sweep index's keys, set by the update that creates it (`if_not_exists`: the later
//! updates of the window change neither, so the index is written once per counter); a reader
//! counts an expired counter as 0, whether or not the sweeper or TTL has removed it yet.

use aws_sdk_dynamodb::types::ReturnValue;

use super::error::classify;
use super::items::{get_n, get_opt_s, n, Item};
use super::sweep;
use super::{keys, StoreError, UserStore};
use crate::domain::instance::InstanceName;
use crate::domain::records::UserRecord;

impl UserStore {
    /// Adds one rejected login under the limiter's counter `counter` (an IP, or an IP and a provider
    /// user) in window `window` (expiring at `expires_at`); returns the window's count so far.
    pub async fn count_failure(&self, counter: &str, window: i64, expires_at: i64) -> Result<u64, StoreError> {
        let key = keys::failure_counter(counter, window);
        let (pk, sk) = (get_opt_s(&key, "pk").unwrap_or_default(), get_opt_s(&key, "sk").unwrap_or_default());
        let (_, [(_, sweep_pk), (_, sweep_at)]) = sweep::due_update(&pk, &sk, expires_at);
        let out = self
            .client
            .update_item()
            .table_name(&self.table)
            .set_key(Some(key))
            .update_expression(
                "ADD failures :one SET expires_at = if_not_exists(expires_at, :exp), \
                 sweep_pk = if_not_exists(sweep_pk, :sweep_pk), sweep_at = if_not_exists(sweep_at, :sweep_at)",
            )
            .expression_attribute_values(":one", n(1))
            .expression_attribute_values(":exp", n(expires_at))
            .expression_attribute_values(":sweep_pk", sweep_pk)
            .expression_attribute_values(":sweep_at", sweep_at)
            .return_values(ReturnValue::UpdatedNew)
            .send()
            .await
            .map_err(|e| classify("UpdateItem", e))?;
        out.attributes.as_ref().ok_or(StoreError::Corrupt("failures")).and_then(|a| get_n(a, "failures"))
    }

    /// [`UserStore::find_by_identity`] (eventually consistent, as a login reads it) and, in the
    /// same `BatchGetItem`, the limiter's `counters` in `window`: the user, and each counter's
    /// failures so far (0 for one never written, or expired), in the order given.
    pub async fn find_by_identity_counting(
        &self,
        instance: &InstanceName,
        provider: &str,
        subject: &str,
        window: i64,
        counters: &[&str],
    ) -> Result<(Option<UserRecord>, Vec<u64>), StoreError> {
        let identity = keys::identity(instance, provider, subject);
        let counter_keys: Vec<Item> = counters.iter().map(|c| keys::failure_counter(c, window)).collect();
        let wanted = std::iter::once(identity.clone()).chain(counter_keys.iter().cloned()).collect();
        let found = self.batch_get(wanted, None, false).await?;
        let pk = |i: &Item| get_opt_s(i, "pk");
        let pk_of = |k: &Item| pk(k).unwrap_or_default();
        let user = found.iter().find(|i| pk(i) == Some(pk_of(&identity)));
        // A first login left pending is finished before its user is answered (first_login.rs).
        let user = match user {
            Some(item) => Some(Box::pin(self.user_of_identity(instance, provider, subject, item.clone())).await?),
            None => None,
        };
        let mut counts = Vec::with_capacity(counter_keys.len());
        let now = crate::domain::clock::now_secs();
        for key in &counter_keys {
            counts.push(match found.iter().find(|i| pk(i) == Some(pk_of(key))) {
                Some(item) if sweep::expired(item, now) => 0,
                Some(item) => get_n(item, "failures")?,
                None => 0,
            });
        }
        Ok((user, counts))
    }
}
