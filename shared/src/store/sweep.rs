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

use super::items::{n, s, Item};
use crate::domain::tokens;

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
