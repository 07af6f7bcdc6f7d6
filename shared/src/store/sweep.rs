//! The sweep index: how the sweeper finds, without a `Scan` and without a hot key, the items it
//! must act on: expired items (a multi-Region strongly consistent table has no TTL) and the
//! unfinished steps of a multi-step change (a table without transactions changes one item at a
//! time, and a process may stop between two of them).
//!
//! An item that needs the sweeper some day carries two attributes, the keys of the sparse global
//! secondary index [`SWEEP_INDEX`] (`KEYS_ONLY`):
//! - [`SWEEP_PK`] = `SWEEP#{due hour}#{shard}`: the hour (epoch seconds / [`SWEEP_BUCKET_SECS`])
//!   the item is due in, and a shard (0..[`SWEEP_SHARDS`]) from the SHA-256 of its key, so that
//!   the items due in one hour spread over [`SWEEP_SHARDS`] index partitions;
//! - [`SWEEP_AT`] = when it is due (epoch seconds): its `expires_at`, or for a pending change
//!   the moment after which the sweeper may finish it ([`PENDING_GRACE_SECS`] after it began).
//!
//! Items without them are not in the index (it is sparse), and an item leaves it when they are
//! removed ([`CLEAR_DUE`]). The sweeper queries, for each hour up to now, each shard with
//! `sweep_at <= now`, reads each item found (consistently) and acts on what it finds then: the
//! index is eventually consistent and only says where to look.
//!
//! Touched how often: an index write per write of an item that carries the attributes (a session,
//! a failure counter, a pending change and its completion); each index partition takes the items
//! due in one hour that hash to its shard. With 64 shards, 64,000 such writes a second before
//! one index partition reaches 1,000 writes a second.

// Used by the writers of expiring items and of multi-step changes as they move off transactions
// (issue 33); until each has moved, some of these have no caller.
#![allow(dead_code)]

use aws_sdk_dynamodb::types::AttributeValue;

use super::error::classify;
use super::items::{n, s, Item};
use super::{keys, StoreError, UserStore};
use crate::domain::tokens;

/// What finishing a pending change did (`UserStore::finish_pending`, `App::finish_pending`).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Finished {
    /// The change it began is finished now.
    Done,
    /// Nothing to finish (gone, or finished by someone else meanwhile).
    NotPending,
    /// Not a kind this store finishes (or one only the use-case can: a deletion).
    Unknown,
}

/// The global secondary index's name (`template.yaml`).
pub const SWEEP_INDEX: &str = "sweep";
/// The index's partition key attribute.
pub const SWEEP_PK: &str = "sweep_pk";
/// The index's sort key attribute: when the item is due (epoch seconds).
pub const SWEEP_AT: &str = "sweep_at";
/// The index partitions of one hour.
pub const SWEEP_SHARDS: u32 = 64;
/// One bucket of the index: an hour.
pub const SWEEP_BUCKET_SECS: i64 = 3600;
/// How long a change may stay pending before the sweeper finishes it: the request that began it
/// (or the next one to find it) normally finishes it well before.
pub const PENDING_GRACE_SECS: i64 = 60;
/// The attribute that marks a change as pending (the epoch seconds it began).
pub const PENDING: &str = "pending";
/// `REMOVE` these to take an item out of the index.
pub const CLEAR_DUE: &str = "sweep_pk, sweep_at";

/// The bucket (hour index) of a due time.
pub fn bucket_of(due: i64) -> i64 {
    due.div_euclid(SWEEP_BUCKET_SECS)
}

/// The index partition key of the item `pk`/`sk` due at `due`.
pub fn sweep_key(pk: &str, sk: &str, due: i64) -> String {
    let digest = tokens::sha256_hex(&format!("{pk}\u{0}{sk}"));
    let shard = u32::from_str_radix(&digest[..8], 16).unwrap_or(0) % SWEEP_SHARDS;
    format!("SWEEP#{}#{shard}", bucket_of(due))
}

/// Every index partition key of one bucket, for the sweeper.
pub fn bucket_keys(bucket: i64) -> impl Iterator<Item = String> {
    (0..SWEEP_SHARDS).map(move |shard| format!("SWEEP#{bucket}#{shard}"))
}

fn key_of(item: &Item) -> (String, String) {
    let get = |name: &str| match item.get(name) {
        Some(AttributeValue::S(v)) => v.clone(),
        _ => String::new(),
    };
    (get("pk"), get("sk"))
}

/// Puts `item` (which holds its `pk` and `sk`) in the index, due at `due`.
pub(super) fn mark_due(item: &mut Item, due: i64) {
    let (pk, sk) = key_of(item);
    item.insert(SWEEP_PK.into(), s(sweep_key(&pk, &sk, due)));
    item.insert(SWEEP_AT.into(), n(due));
}

/// An item that expires at `expires_at` (epoch seconds): its `expires_at` (read by every reader,
/// and by DynamoDB's TTL where the table has one) and its place in the index.
pub(super) fn expiring(item: &mut Item, expires_at: i64) {
    item.insert("expires_at".into(), n(expires_at));
    mark_due(item, expires_at);
}

/// An item that begins a multi-step change at `now`: marked [`PENDING`] and due for the sweeper
/// [`PENDING_GRACE_SECS`] later. The step that finishes the change removes both
/// (`REMOVE pending, sweep_pk, sweep_at`, or sets a new due time for its expiry).
pub(super) fn pending(item: &mut Item, now: i64) {
    item.insert(PENDING.into(), n(now));
    mark_due(item, now + PENDING_GRACE_SECS);
}

/// For an `UpdateItem` of `pk`/`sk`: the `SET` clause (`sweep_pk = :sweep_pk, sweep_at =
/// :sweep_at`) that puts it in the index, due at `due`, and its values.
pub(super) fn due_update(pk: &str, sk: &str, due: i64) -> (&'static str, [(String, AttributeValue); 2]) {
    (
        "sweep_pk = :sweep_pk, sweep_at = :sweep_at",
        [(":sweep_pk".to_string(), s(sweep_key(pk, sk, due))), (":sweep_at".to_string(), n(due))],
    )
}

/// The sweeper's cursor: one item (`SWEEPER`/`CURSOR`), read and written once per run.
pub const CURSOR_PK: &str = "SWEEPER";
const CURSOR_SK: &str = "CURSOR";

/// Where the sweeper goes on from: the bucket (due hour) and the shard in it.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct SweepCursor {
    pub bucket: i64,
    pub shard: u32,
}

/// One page of the index: the keys of the items found due, and where the next page starts.
#[derive(Debug, Default)]
pub struct DuePage {
    pub keys: Vec<(String, String)>,
    pub next: Option<Item>,
}

/// What the sweeper did with one item the index said was due, as it found the item then.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Swept {
    /// Expired: deleted (conditional on its `expires_at` unchanged).
    Deleted,
    /// Pending: finished by its change's finisher.
    Finished,
    /// Gone already, no longer due (its due time moved: the index lags the table), or changed
    /// between the read and the write: nothing to do.
    Nothing,
    /// Left in the table for a later run: not expired yet (its due time put right), a pending
    /// change of a kind without a finisher (due again in an hour), or taken out of the index
    /// (neither pending nor expiring).
    Left,
    /// Pending past its grace: for its change's finisher, then [`UserStore::after_finish`].
    /// `began`: when the change began (its `pending` mark, epoch seconds), if readable.
    Pending { due: i64, began: Option<i64> },
}

fn opt_n(item: &Item, name: &str) -> Option<i64> {
    match item.get(name) {
        Some(AttributeValue::N(v)) => v.parse().ok(),
        _ => None,
    }
}

/// Whether an item read has expired by its own `expires_at` (an item without one never does).
/// Every reader of an expiring item refuses it so: a table without TTL (multi-Region strong
/// consistency) keeps expired items until the sweeper comes, and TTL, where it runs, takes up to
/// days.
pub(super) fn expired(item: &Item, now: i64) -> bool {
    opt_n(item, "expires_at").is_some_and(|at| at <= now)
}

impl UserStore {
    /// The sweeper's cursor (one consistent `GetItem`), if it has run before.
    pub async fn sweep_cursor(&self) -> Result<Option<SweepCursor>, StoreError> {
        let Some(item) = self.get(keys::by_pk(CURSOR_PK, CURSOR_SK), true).await? else { return Ok(None) };
        let (Some(bucket), Some(shard)) = (opt_n(&item, "bucket"), opt_n(&item, "shard")) else {
            return Err(StoreError::Corrupt("sweep cursor"));
        };
        Ok(Some(SweepCursor { bucket, shard: u32::try_from(shard).unwrap_or(0) % SWEEP_SHARDS }))
    }

    /// Records the sweeper's cursor (one `PutItem`, once per run).
    pub async fn save_sweep_cursor(&self, cursor: &SweepCursor, now: i64) -> Result<(), StoreError> {
        let mut item = keys::by_pk(CURSOR_PK, CURSOR_SK);
        item.insert("bucket".into(), n(cursor.bucket));
        item.insert("shard".into(), n(cursor.shard));
        item.insert("ran_at".into(), n(now));
        self.client
            .put_item()
            .table_name(&self.table)
            .set_item(Some(item))
            .send()
            .await
            .map_err(|e| classify("PutItem", e))?;
        Ok(())
    }

    /// One page (at most `limit` keys) of the items of `bucket`'s `shard` due by `now`, from
    /// `start` (a `Query` of the index: eventually consistent, as a global secondary index is).
    pub async fn due_page(
        &self,
        bucket: i64,
        shard: u32,
        now: i64,
        limit: i32,
        start: Option<Item>,
    ) -> Result<DuePage, StoreError> {
        let out = self
            .client
            .query()
            .table_name(&self.table)
            .index_name(SWEEP_INDEX)
            .key_condition_expression("sweep_pk = :sweep_pk AND sweep_at <= :now")
            .expression_attribute_values(":sweep_pk", s(format!("SWEEP#{bucket}#{shard}")))
            .expression_attribute_values(":now", n(now))
            .limit(limit.max(1))
            .set_exclusive_start_key(start)
            .send()
            .await
            .map_err(|e| classify("Query", e))?;
        let keys = out
            .items
            .unwrap_or_default()
            .iter()
            .map(key_of)
            .filter(|(pk, sk)| !pk.is_empty() && !sk.is_empty())
            .collect();
        Ok(DuePage { keys, next: out.last_evaluated_key })
    }

    /// Acts on the item `pk`/`sk` the index found due, as a consistent read finds it now:
    /// pending → its finisher; expired → deleted if its `expires_at` is still the one read;
    /// anything else is put back in the index where it belongs.
    pub async fn sweep_item(&self, pk: &str, sk: &str, now: i64) -> Result<Swept, StoreError> {
        let Some(item) = self.get(keys::by_pk(pk, sk), true).await? else { return Ok(Swept::Nothing) };
        let Some(due) = opt_n(&item, SWEEP_AT) else { return Ok(Swept::Nothing) };
        if due > now {
            return Ok(Swept::Nothing);
        }
        if item.contains_key(PENDING) {
            // Its change's finisher is the caller's (a deletion's revocations are the use-case's:
            // `App::finish_pending`), then [`UserStore::after_finish`].
            return Ok(Swept::Pending { due, began: opt_n(&item, PENDING) });
        }
        match opt_n(&item, "expires_at") {
            Some(expires_at) if expires_at <= now => self.delete_expired(pk, sk, expires_at).await,
            // Its expiry moved later and its due time did not follow: due then.
            Some(expires_at) => self.move_due(pk, sk, due, expires_at).await,
            None => {
                let cleared = self
                    .update_if(
                        keys::by_pk(pk, sk),
                        &format!("REMOVE {CLEAR_DUE}"),
                        "sweep_at = :due AND attribute_not_exists(pending)",
                        &[(":due", n(due))],
                    )
                    .await?;
                Ok(if cleared { Swept::Left } else { Swept::Nothing })
            }
        }
    }

    async fn delete_expired(&self, pk: &str, sk: &str, expires_at: i64) -> Result<Swept, StoreError> {
        let result = self
            .client
            .delete_item()
            .table_name(&self.table)
            .set_key(Some(keys::by_pk(pk, sk)))
            .condition_expression("expires_at = :exp AND attribute_not_exists(pending)")
            .expression_attribute_values(":exp", n(expires_at))
            .send()
            .await;
        match result {
            Ok(_) => Ok(Swept::Deleted),
            // Renewed or made pending since the read: no longer this run's to delete.
            Err(e) if e.as_service_error().is_some_and(|se| se.is_conditional_check_failed_exception()) => {
                Ok(Swept::Nothing)
            }
            Err(e) => Err(classify("DeleteItem", e)),
        }
    }

    /// What became of a pending item (`due` as [`Swept::Pending`] said) once its finisher ran.
    pub async fn after_finish(
        &self,
        pk: &str,
        sk: &str,
        due: i64,
        now: i64,
        finished: Finished,
    ) -> Result<Swept, StoreError> {
        match finished {
            Finished::Done => Ok(Swept::Finished),
            Finished::NotPending => Ok(Swept::Nothing),
            // Due again in an hour (the index only says where to look: a run that passes this
            // hour's bucket still finds it in a later one).
            Finished::Unknown => self.move_due(pk, sk, due, now + SWEEP_BUCKET_SECS).await,
        }
    }

    /// Moves the item's due time from `from` to `to` (if no one moved it meanwhile).
    async fn move_due(&self, pk: &str, sk: &str, from: i64, to: i64) -> Result<Swept, StoreError> {
        let (set, values) = due_update(pk, sk, to);
        let mut all: Vec<(&str, AttributeValue)> = values.iter().map(|(k, v)| (k.as_str(), v.clone())).collect();
        all.push((":from", n(from)));
        let moved = self.update_if(keys::by_pk(pk, sk), &format!("SET {set}"), "sweep_at = :from", &all).await?;
        Ok(if moved { Swept::Left } else { Swept::Nothing })
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::collections::HashMap;

    #[test]
    fn an_item_lands_in_one_shard_of_its_due_hour() {
        let key = sweep_key("SESSION#ab", "SESSION", 7_200 + 59);
        assert!(key.starts_with("SWEEP#2#"), "{key}");
        let shard: u32 = key.rsplit('#').next().and_then(|v| v.parse().ok()).unwrap_or(u32::MAX);
        assert!(shard < SWEEP_SHARDS);
        assert_eq!(key, sweep_key("SESSION#ab", "SESSION", 7_200), "same hour, same key");
        assert!(bucket_keys(2).any(|k| k == key));
        assert_eq!(bucket_keys(2).count(), SWEEP_SHARDS as usize);
    }

    #[test]
    fn keys_spread_over_the_shards() {
        let shards: std::collections::HashSet<String> =
            (0..2_000).map(|i| sweep_key(&format!("SESSION#{i}"), "SESSION", 0)).collect();
        assert_eq!(shards.len(), SWEEP_SHARDS as usize);
    }

    #[test]
    fn expiring_and_pending_items_carry_the_index_keys() {
        let mut item: Item = HashMap::from([("pk".into(), s("IDENT#x")), ("sk".into(), s("IDENT"))]);
        pending(&mut item, 1_000);
        assert_eq!(item.get(SWEEP_AT), Some(&n(1_000 + PENDING_GRACE_SECS)));
        assert_eq!(item.get(PENDING), Some(&n(1_000)));
        expiring(&mut item, 5_000);
        assert_eq!(item.get("expires_at"), Some(&n(5_000)));
        assert_eq!(item.get(SWEEP_PK), Some(&s(sweep_key("IDENT#x", "IDENT", 5_000))));
        let (set, values) = due_update("IDENT#x", "IDENT", 5_000);
        assert!(set.contains(":sweep_pk"));
        assert_eq!(values[0].1, s(sweep_key("IDENT#x", "IDENT", 5_000)));
    }
}
