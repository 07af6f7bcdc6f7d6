//! The login limiter's shared counters: one item per counter and window, expiring with it.
//! Written (`UpdateItem ADD`) only on a rejected login; read only inside the `BatchGetItem` of the
//! identity a login looks up anyway ([`UserStore::find_by_identity_counting`]), so a successful
//! login makes no request for them.

use std::collections::HashMap;
use std::time::Duration;

use aws_sdk_dynamodb::types::{KeysAndAttributes, ReturnValue};

use super::error::{build_err, classify};
use super::items::{get_n, get_opt_s, n, user_from_item, Item};
use super::{keys, StoreError, UserStore};
use crate::instance::InstanceName;
use crate::records::UserRecord;

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
        let mut builder = KeysAndAttributes::builder().keys(identity.clone()).consistent_read(false);
        for key in &counter_keys {
            builder = builder.keys(key.clone());
        }
        let mut request = HashMap::from([(self.table.clone(), builder.build().map_err(build_err)?)]);
        let mut found: Vec<Item> = Vec::new();
        // BatchGetItem may leave keys unprocessed under load: ask again for those, a few times.
        for attempt in 0..4u32 {
            let out = self
                .client
                .batch_get_item()
                .set_request_items(Some(request))
                .send()
                .await
                .map_err(|e| classify("BatchGetItem", e))?;
            if let Some(items) = out.responses.and_then(|mut r| r.remove(&self.table)) {
                found.extend(items);
            }
            match out.unprocessed_keys.filter(|u| !u.is_empty()) {
                None => break,
                Some(rest) if attempt < 3 => {
                    tokio::time::sleep(Duration::from_millis(20 << attempt)).await;
                    request = rest;
                }
                Some(_) => return Err(StoreError::Unavailable("BatchGetItem left keys unprocessed".into())),
            }
        }
        let pk = |i: &Item| get_opt_s(i, "pk");
        let pk_of = |k: &Item| pk(k).unwrap_or_default();
        let user = found.iter().find(|i| pk(i) == Some(pk_of(&identity)));
        let user = user.map(|item| user_from_item(instance, item)).transpose()?;
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
