//! Deleting a user, in three idempotent steps that a retry (or a later call) can resume at any
//! point:
//!
//! 1. one `TransactWriteItems`: the user item becomes a tombstone (`deleted_at`,
//!    `deletion_reason`, `expires_at` for DynamoDB's TTL, its personal attributes removed), and
//!    every lookup that leads to the user goes: each identity (with its entry in its subject's
//!    list of instances), the username, the email index entry; the audit item is written. From
//!    here on no credential finds the user: every read of a user treats a tombstone as no user.
//! 2. every session (its item and its entry in the user's session list);
//! 3. the tombstone itself, with the user-key lookup.
//!
//! The user-key lookup stays until step 3 (with the tombstone's TTL): it names a tombstone, so
//! no key finds a user through it, but a user who deleted itself with its key (Syncano
//! `DELETE user/`) and was interrupted can present the same key again to finish.
//!
//! A tombstone that is never finished is removed by the table's TTL, and its user-key lookup
//! with it; by then every session of the user has expired too (the tombstone lives as long as a
//! session).

use std::collections::HashMap;
use std::time::Duration;

use aws_sdk_dynamodb::types::{AttributeValue, TransactWriteItem, Update};

use super::error::{build_err, classify, transaction_cancelled};
use super::items::{get_n, n, s, user_from_item, USERNAME_HOLD_SECS};
use super::revocations::{PendingRevocation, RevocationPlan};
use super::user_keys::user_key_of;
use super::{keys, StoreError, UserStore};
use crate::domain::instance::InstanceName;
use crate::domain::records::{DeletionReason, Session};
use crate::domain::secret::Secret;
use crate::domain::tokens::UserKeys;

/// What step 1 found.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Tombstoned {
    /// No such user (never was, or its deletion finished).
    NoSuchUser,
    /// The user is a tombstone now (made by this call or an earlier one): steps 2 and 3 remain.
    Yes,
}

/// What step 1's read found ([`UserStore::prepare_tombstone`]).
pub enum Step1 {
    /// No such user (never was, or its deletion finished).
    NoSuchUser,
    /// An earlier call made the tombstone.
    AlreadyTombstone,
    /// A live user: the transaction that makes it a tombstone.
    Ready(TombstoneStep),
}

/// Step 1's transaction, conditional on the user as it was read, and the pending revocations it
/// records.
pub struct TombstoneStep {
    items: Vec<TransactWriteItem>,
    pending: Vec<PendingRevocation>,
}

/// The user item's count of links and unlinks (absent: none since it was created, or a user
/// older than the attribute): step 1's condition compares it.
pub(super) const IDENTITIES_VERSION: &str = "identities_version";

// Read by every lookup of a user (`items.rs`, below the store's steps).
pub(super) use super::items::is_tombstone;

/// The email index key a user's address would have (as `authoritative_email` folds it).
fn email_key(email: &str) -> Option<String> {
    let email = email.trim();
    (email.is_ascii() && email.contains('@')).then(|| email.to_ascii_lowercase())
}

impl UserStore {
    /// Step 1 of a deletion: the tombstone, every lookup of the user gone and the audit item, in
    /// one transaction conditional on the user being live and its identities being those read.
    /// `expires_at` is the tombstone's TTL, `audit_expires_at` the audit item's (epoch seconds).
    pub async fn tombstone_user(
        &self,
        instance: &InstanceName,
        user_id: u64,
        keys: &UserKeys,
        reason: DeletionReason,
        expires_at: i64,
        audit_expires_at: i64,
    ) -> Result<Tombstoned, StoreError> {
        let plan = RevocationPlan::default();
        let step1 = self.tombstone_user_revoking(instance, user_id, keys, reason, expires_at, audit_expires_at, &plan);
        Ok(step1.await?.0)
    }

    /// [`UserStore::tombstone_user`], also recording in the same transaction the pending
    /// revocations `plan` asks for (read from the identity items before they go); returns them
    /// (none when an earlier call made the tombstone: `revocation-retry` finds those).
    #[allow(clippy::too_many_arguments)]
    pub async fn tombstone_user_revoking(
        &self,
        instance: &InstanceName,
        user_id: u64,
        keys: &UserKeys,
        reason: DeletionReason,
        expires_at: i64,
        audit_expires_at: i64,
        plan: &RevocationPlan,
    ) -> Result<(Tombstoned, Vec<PendingRevocation>), StoreError> {
        for _ in 0..3 {
            let step = self.prepare_tombstone(instance, user_id, keys, reason, expires_at, audit_expires_at, plan);
            let step = match step.await? {
                Step1::NoSuchUser => return Ok((Tombstoned::NoSuchUser, Vec::new())),
                Step1::AlreadyTombstone => return Ok((Tombstoned::Yes, Vec::new())),
                Step1::Ready(step) => step,
            };
            match self.commit_tombstone(step).await? {
                Some(pending) => return Ok((Tombstoned::Yes, pending)),
                // Another deletion, a key reset, a link or an unlink won the race: read again.
                None => tokio::time::sleep(Duration::from_millis(20)).await,
            }
        }
        Err(StoreError::Contention)
    }

    /// Step 1's read: the user as it is now, and the transaction that would make it a tombstone
    /// (conditional on what was read). Public so that a test can change the user between this
    /// read and [`UserStore::commit_tombstone`].
    #[allow(clippy::too_many_arguments)]
    pub async fn prepare_tombstone(
        &self,
        instance: &InstanceName,
        user_id: u64,
        keys: &UserKeys,
        reason: DeletionReason,
        expires_at: i64,
        audit_expires_at: i64,
        plan: &RevocationPlan,
    ) -> Result<Step1, StoreError> {
        let Some(item) = self.get_user_item(instance, user_id).await? else {
            return Ok(Step1::NoSuchUser);
        };
        if is_tombstone(&item) {
            return Ok(Step1::AlreadyTombstone);
        }
        let user = user_from_item(instance, &item)?;
        let identities = match item.get("identities") {
            Some(AttributeValue::Ss(ids)) => ids.clone(),
            _ => return Err(StoreError::Corrupt("identities")),
        };
        let now = crate::domain::clock::now_micros();
        // The user-key lookup stays (with the tombstone's TTL) for step 3, which finds it by
        // the pk the tombstone records. A key made with a retired secret cannot be derived:
        // nor can it be presented, and its lookup names a user that no longer reads as one.
        let mut ukey_lookup = None;
        if let Ok(key) = user_key_of(keys, &user) {
            let lookup = keys::syncano_user_key(instance, &key);
            let entry = self.get(lookup.clone(), true).await?;
            if entry.is_some_and(|e| get_n::<u64>(&e, "user_id").ok() == Some(user_id)) {
                ukey_lookup = Some(lookup);
            }
        }
        let ukey_pk = ukey_lookup.as_ref().and_then(|l| l.get("pk")).cloned().unwrap_or_else(|| s(""));
        // The identities are those read: every link and unlink bumps `identities_version`, so a
        // version compares what a count cannot (an unlink and a link keep the count). A user
        // never linked nor unlinked since it was created (and every user older than the
        // attribute) has none: then the condition is that it still has none.
        let (version_condition, version) = match item.get(IDENTITIES_VERSION) {
            None => ("attribute_not_exists(identities_version)", None),
            Some(_) => ("identities_version = :version", Some(n(get_n::<u64>(&item, IDENTITIES_VERSION)?))),
        };
        let mut values = HashMap::from([
            (":now".to_string(), n(now)),
            (":why".to_string(), s(reason.as_str())),
            (":exp".to_string(), n(expires_at)),
            (":ukey".to_string(), ukey_pk),
        ]);
        if let Some(version) = version {
            values.insert(":version".to_string(), version);
        }
        let tombstone = Update::builder()
            .table_name(&self.table)
            .set_key(Some(keys::user(instance, user_id)))
            .update_expression(
                "SET deleted_at = :now, deletion_reason = :why, expires_at = :exp, ukey_pk = :ukey \
                 REMOVE #name, email, avatar_url, username, identities, key_salt",
            )
            // Live, and no identity linked or unlinked since it was read.
            .condition_expression(format!(
                "attribute_exists(pk) AND attribute_not_exists(deleted_at) AND {version_condition}"
            ))
            .expression_attribute_names("#name", "name")
            .set_expression_attribute_values(Some(values))
            .build()
            .map_err(build_err)?;
        let mut items = vec![TransactWriteItem::builder().update(tombstone).build()];
        let mut pending = Vec::new();
        for id in &identities {
            let (provider, subject) = id.split_once('#').ok_or(StoreError::Corrupt("identities"))?;
            if let Some(p) = self.planned_revocation(instance, provider, subject, plan).await? {
                items.push(self.transact_put_revocation(&p)?);
                pending.push(p);
            }
            items.push(self.transact_delete(keys::identity(instance, provider, subject))?);
            items.push(self.transact_delete_subject(provider, subject, instance)?);
        }
        // The username stays held (no user) for USERNAME_HOLD_SECS before anyone may take it.
        let mut held = keys::username(instance, &user.username);
        let held_until = now / 1_000_000 + USERNAME_HOLD_SECS;
        held.insert("held_until".into(), n(held_until));
        held.insert("expires_at".into(), n(held_until));
        items.push(self.transact_put(held)?);
        if let Some(lookup) = ukey_lookup {
            let expire = Update::builder()
                .table_name(&self.table)
                .set_key(Some(lookup))
                .update_expression("SET expires_at = :exp")
                .condition_expression("user_id = :uid")
                .expression_attribute_values(":exp", n(expires_at))
                .expression_attribute_values(":uid", n(user_id))
                .build()
                .map_err(build_err)?;
            items.push(TransactWriteItem::builder().update(expire).build());
        }
        if let Some(email) = user.email.as_deref().and_then(email_key) {
            let entry = self.get(keys::email(instance, &email), true).await?;
            if entry.is_some_and(|e| get_n::<u64>(&e, "user_id").ok() == Some(user_id)) {
                let delete = aws_sdk_dynamodb::types::Delete::builder()
                    .table_name(&self.table)
                    .set_key(Some(keys::email(instance, &email)))
                    .condition_expression("user_id = :uid")
                    .expression_attribute_values(":uid", n(user_id))
                    .build()
                    .map_err(build_err)?;
                items.push(TransactWriteItem::builder().delete(delete).build());
            }
        }
        let mut audit = keys::deletion_audit(instance, user_id, now);
        audit.extend([
            ("instance".to_string(), s(instance.as_str())),
            ("user_id".to_string(), n(user_id)),
            ("deleted_at".to_string(), n(now)),
            ("reason".to_string(), s(reason.as_str())),
            ("expires_at".to_string(), n(audit_expires_at)),
        ]);
        items.push(self.transact_put_new(audit)?);
        Ok(Step1::Ready(TombstoneStep { items, pending }))
    }

    /// Step 1's write: the transaction [`UserStore::prepare_tombstone`] built. `None`: the user
    /// changed since it was read (nothing was written; read again).
    pub async fn commit_tombstone(&self, step: TombstoneStep) -> Result<Option<Vec<PendingRevocation>>, StoreError> {
        match self.client.transact_write_items().set_transact_items(Some(step.items)).send().await {
            Ok(_) => Ok(Some(step.pending)),
            Err(e) if transaction_cancelled(&e) => Ok(None),
            Err(e) => Err(classify("TransactWriteItems", e)),
        }
    }

    /// Step 2: every session of the user (each item with its list entry); how many.
    pub async fn delete_user_sessions(&self, instance: &InstanceName, user_id: u64) -> Result<usize, StoreError> {
        let hashes = self.user_sessions(instance, user_id).await?;
        for token_hash in &hashes {
            let session = Session {
                instance: instance.clone(),
                user_id,
                rc_id: String::new(),
                expires_at: 0,
                token_hash: token_hash.clone(),
            };
            self.delete_session(&session).await?;
        }
        Ok(hashes.len())
    }

    /// Step 3: the tombstone and the user-key lookup it records, in one transaction (never a
    /// live user: the delete is conditional on the tombstone).
    pub async fn remove_tombstone(&self, instance: &InstanceName, user_id: u64) -> Result<(), StoreError> {
        let Some(item) = self.get_user_item(instance, user_id).await? else { return Ok(()) };
        if !is_tombstone(&item) {
            return Err(StoreError::Corrupt("a live user where its tombstone was"));
        }
        let delete = aws_sdk_dynamodb::types::Delete::builder()
            .table_name(&self.table)
            .set_key(Some(keys::user(instance, user_id)))
            .condition_expression("attribute_not_exists(pk) OR attribute_exists(deleted_at)")
            .build()
            .map_err(build_err)?;
        let mut items = vec![TransactWriteItem::builder().delete(delete).build()];
        match item.get("ukey_pk") {
            Some(AttributeValue::S(pk)) if !pk.is_empty() => {
                items.push(self.transact_delete(keys::by_pk(pk, "UKEY"))?);
            }
            _ => {}
        }
        match self.client.transact_write_items().set_transact_items(Some(items)).send().await {
            Ok(_) => Ok(()),
            Err(e) if transaction_cancelled(&e) => Err(StoreError::Corrupt("a live user where its tombstone was")),
            Err(e) => Err(classify("TransactWriteItems", e)),
        }
    }

    /// The id of the user a Syncano user key's lookup names, live or being deleted (a
    /// tombstone): only for finishing a deletion with the key that began it.
    pub async fn user_key_holder(&self, instance: &InstanceName, key: &Secret) -> Result<Option<u64>, StoreError> {
        let item = self.get(keys::syncano_user_key(instance, key), true).await?;
        item.map(|i| get_n::<u64>(&i, "user_id")).transpose()
    }

    /// Whether the user item is a tombstone (a deletion began and has not finished).
    pub async fn is_deleting(&self, instance: &InstanceName, user_id: u64) -> Result<bool, StoreError> {
        Ok(self.get_user_item(instance, user_id).await?.is_some_and(|i| is_tombstone(&i)))
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::store::items::Item;

    #[test]
    fn email_keys_fold_as_linking_does() {
        assert_eq!(email_key(" Ann@Example.COM ").as_deref(), Some("ann@example.com"));
        assert_eq!(email_key("no-at-sign"), None);
        assert_eq!(email_key("änn@example.com"), None);
    }

    #[test]
    fn only_items_with_deleted_at_are_tombstones() {
        let mut item = Item::new();
        assert!(!is_tombstone(&item));
        item.insert("deleted_at".into(), n(1));
        assert!(is_tombstone(&item));
    }
}
