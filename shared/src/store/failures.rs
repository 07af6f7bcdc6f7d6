//! The login limiter's shared counters: one item per counter and window, expiring with it.
//! Written (`UpdateItem ADD`) only on a rejected login; read only inside the `BatchGetItem` of the
//! identity a login looks up anyway ([`UserStore::find_by_identity_counting`]), so a successful
//! login makes no request for them.

use aws_sdk_dynamodb::types::ReturnValue;

use super::error::classify;
use super::items::{get_n, get_opt_s, n, Item};
use super::{keys, StoreError, UserStore};
use crate::domain::instance::InstanceName;
use crate::domain::records::UserRecord;

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

    /// [`UserStore::find_by_identity`] (eventually consistent, as a login reads it) and, in the
    /// same `BatchGetItem`, the limiter's `counters` in `window`: the user, and each counter's
    /// failures so far (0 for one never written), in the order given.
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
        // A first login left pending is finished before its user is answered (users.rs).
        let user = match user {
            Some(item) => Some(Box::pin(self.user_of_identity(instance, provider, subject, item.clone())).await?),
            None => None,
        };
        let mut counts = Vec::with_capacity(counter_keys.len());
        for key in &counter_keys {
            counts.push(match found.iter().find(|i| pk(i) == Some(pk_of(key))) {
                Some(item) => get_n(item, "failures")?,
                None => 0,
            });
        }
        Ok((user, counts))
    }
}
