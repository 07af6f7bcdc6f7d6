//! Deleting a user, without transactions (issue 33): single-item conditional writes, in an order
//! where the first write decides and every later one is idempotent, so that a retry, the next
//! request that finds the tombstone, or the sweeper ([`super::pending`]) can resume at any point:
//!
//! 1. the user item becomes a tombstone (`deleted_at`, `deletion_reason`, `expires_at`, its
//!    personal attributes removed), conditional on the user being live with the identities, the
//!    key generation and the email read. It keeps what the later steps need (the deletion's
//!    plan: `del_identities`, `del_username`, `del_email`, `ukey_pk`, `audit_expires_at`) and
//!    is marked pending for the sweeper ([`super::sweep::pending`]). From here on no credential
//!    finds the user: every read of a user treats a tombstone as no user, and every session and
//!    user key is checked against the user item with a consistent read.
//! 2. the pending revocations (read from the identity items, before they go; created only if
//!    absent, so a resumed step never resets one already tried);
//! 3. each identity (conditional on naming this user) with its entry in its subject's list, the
//!    username (held, expiring), the email index entry (conditional on naming this user), the
//!    audit item (created only if absent: its key is the tombstone's `deleted_at`, so one audit
//!    item per deletion however many attempts it takes);
//! 4. every session (its item and its entry in the user's session list);
//! 5. the user-key lookup (conditional on naming this user), then the tombstone itself.
//!
//! The user-key lookup stays until step 5: it names a tombstone, so no key finds a user through
//! it, but a user who deleted itself with its key (Syncano `DELETE user/`) and was interrupted
//! can present the same key again to finish.
//!
//! A tombstone that nobody finishes is due in the sweep index [`super::sweep::PENDING_GRACE_SECS`]
//! after step 1; the sweeper finishes it through `App::finish_pending` (the deletion's
//! revocations are the use-case's). On a single-region table, TTL on `expires_at` stays a second
//! line.

use std::collections::HashMap;
use std::time::Duration;

use aws_sdk_dynamodb::types::AttributeValue;

use super::error::classify;
use super::items::{get_n, get_opt_s, n, s, user_from_item, Item, USERNAME_HOLD_SECS};
use super::revocations::{PendingRevocation, RevocationPlan};
use super::user_keys::user_key_of;
use super::{keys, sweep, StoreError, UserStore};
use crate::domain::identity::Provider;
use crate::domain::instance::InstanceName;
use crate::domain::records::{DeletionReason, Session};
use crate::domain::secret::Secret;
use crate::domain::tokens::UserKeys;

/// What step 1 found.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Tombstoned {
    /// No such user (never was, or its deletion finished).
    NoSuchUser,
    /// The user is a tombstone now (made by this call or an earlier one): the later steps remain
    /// or are done.
    Yes,
}

/// What step 1's read found ([`UserStore::prepare_tombstone`]).
pub enum Step1 {
    /// No such user (never was, or its deletion finished).
    NoSuchUser,
    /// An earlier call made the tombstone.
    AlreadyTombstone,
    /// A live user: the write that makes it a tombstone.
    Ready(TombstoneStep),
}

/// Step 1's write, conditional on the user as it was read.
pub struct TombstoneStep {
    instance: InstanceName,
    user_id: u64,
    update: String,
    condition: String,
    values: HashMap<String, AttributeValue>,
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
    /// Steps 1 to 3 of a deletion: the tombstone, then the pending revocations `plan` asks for
    /// and every lookup of the user gone with the audit item written. The tombstone's
    /// `expires_at` is `expires_at`, the audit item's `audit_expires_at` (epoch seconds).
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
        let steps = self.tombstone_user_revoking(instance, user_id, keys, reason, expires_at, audit_expires_at, &plan);
        Ok(steps.await?.0)
    }

    /// [`UserStore::tombstone_user`], also recording the pending revocations `plan` asks for
    /// (read from the identity items before they go); returns those this call found to do (an
    /// earlier attempt's that were already tried stay as they are, for `revocation-retry`).
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
        let mut decided = false;
        for _ in 0..3 {
            let step = self.prepare_tombstone(instance, user_id, keys, reason, expires_at, audit_expires_at, plan);
            let step = match step.await? {
                Step1::NoSuchUser => return Ok((Tombstoned::NoSuchUser, Vec::new())),
                Step1::AlreadyTombstone => {
                    decided = true;
                    break;
                }
                Step1::Ready(step) => step,
            };
            if self.commit_tombstone(step).await?.is_some() {
                decided = true;
                break;
            }
            // Another deletion, a key reset, a link or an unlink won the race: read again.
            tokio::time::sleep(Duration::from_millis(20)).await;
        }
        if !decided {
            return Err(StoreError::Contention);
        }
        match self.release_user(instance, user_id, plan).await? {
            Some(pending) => Ok((Tombstoned::Yes, pending)),
            // Finished meanwhile by another attempt (a retry, the sweeper).
            None => Ok((Tombstoned::Yes, Vec::new())),
        }
    }

    /// Step 1's read: the user as it is now, and the write that would make it a tombstone
    /// (conditional on what was read). Public so that a test can change the user between this
    /// read and [`UserStore::commit_tombstone`]. The tombstone records `plan`'s providers
    /// (`del_revoke`): the revocations are decided with the deletion, and whoever finishes it
    /// (a retry, the sweeper, which may not read the instance's provider apps) follows them.
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
        // The user-key lookup the tombstone records for step 5. A key made with a retired secret
        // cannot be derived: nor can it be presented, and its lookup names a user that no longer
        // reads as one (the condition on the key generation below keeps a reset out).
        let ukey_pk = match user_key_of(keys, &user) {
            Ok(key) => keys::syncano_user_key(instance, &key).get("pk").cloned().unwrap_or_else(|| s("")),
            Err(_) => s(""),
        };
        // The identities are those read: every link and unlink bumps `identities_version`, so a
        // version compares what a count cannot (an unlink and a link keep the count). A user
        // never linked nor unlinked since it was created (and every user older than the
        // attribute) has none: then the condition is that it still has none.
        let (version_condition, version) = match item.get(IDENTITIES_VERSION) {
            None => ("attribute_not_exists(identities_version)", None),
            Some(_) => ("identities_version = :version", Some(n(get_n::<u64>(&item, IDENTITIES_VERSION)?))),
        };
        let (email_condition, email) = match &user.email {
            None => ("attribute_not_exists(email)", None),
            Some(e) => ("email = :email", Some(e.clone())),
        };
        let pk = keys::user(instance, user_id).get("pk").and_then(|v| v.as_s().ok()).cloned().unwrap_or_default();
        let start = now / 1_000_000;
        let (due_set, due_values) = sweep::due_update(&pk, "USER", start + sweep::PENDING_GRACE_SECS);
        let mut values = HashMap::from([
            (":now".to_string(), n(now)),
            (":why".to_string(), s(reason.as_str())),
            (":exp".to_string(), n(expires_at)),
            (":audit_exp".to_string(), n(audit_expires_at)),
            (":ukey".to_string(), ukey_pk),
            (":ids".to_string(), AttributeValue::Ss(identities)),
            (":uname".to_string(), s(&user.username)),
            (":gen".to_string(), n(user.key_generation)),
            (":pending".to_string(), n(start)),
            (":revoke".to_string(), s(plan.providers.join(","))),
        ]);
        values.extend(due_values);
        if let Some(version) = version {
            values.insert(":version".to_string(), version);
        }
        let mut update = format!(
            "SET deleted_at = :now, deletion_reason = :why, expires_at = :exp, audit_expires_at = :audit_exp, \
             ukey_pk = :ukey, del_identities = :ids, del_username = :uname, {DEL_REVOKE} = :revoke, \
             {} = :pending, {due_set}",
            sweep::PENDING
        );
        if let Some(email) = email {
            values.insert(":email".to_string(), s(&email));
            if let Some(folded) = email_key(&email) {
                values.insert(":del_email".to_string(), s(folded));
                update.push_str(", del_email = :del_email");
            }
        }
        update.push_str(" REMOVE #name, email, avatar_url, username, identities, key_salt");
        // Live, with the identities, key and email read.
        let condition = format!(
            "attribute_exists(pk) AND attribute_not_exists(deleted_at) AND key_generation = :gen AND \
             {version_condition} AND {email_condition}"
        );
        Ok(Step1::Ready(TombstoneStep { instance: instance.clone(), user_id, update, condition, values }))
    }

    /// Step 1's write: the tombstone [`UserStore::prepare_tombstone`] built; it decides the
    /// deletion. `None`: the user changed since it was read (nothing was written; read again).
    /// `Some` (no revocations: step 2 records them) once the user is a tombstone.
    pub async fn commit_tombstone(&self, step: TombstoneStep) -> Result<Option<Vec<PendingRevocation>>, StoreError> {
        let result = self
            .client
            .update_item()
            .table_name(&self.table)
            .set_key(Some(keys::user(&step.instance, step.user_id)))
            .update_expression(step.update)
            .condition_expression(step.condition)
            .expression_attribute_names("#name", "name")
            .set_expression_attribute_values(Some(step.values))
            .send()
            .await;
        match result {
            Ok(_) => Ok(Some(Vec::new())),
            Err(e) if super::error::is_condition_failed(&e) => Ok(None),
            Err(e) => Err(classify("UpdateItem", e)),
        }
    }

    /// Steps 2 and 3 of the deletion the tombstone of `user_id` records: its pending revocations
    /// (for the providers the tombstone recorded; `plan`'s for a tombstone older than that
    /// record), then each identity with its subject entry, the username (held), the
    /// email entry and the audit item. Each write is idempotent; run again, it does what is left.
    /// `None`: there is no tombstone (no such user, or the deletion finished). Returns the
    /// revocations to try now: those recorded for identities still present.
    pub async fn release_user(
        &self,
        instance: &InstanceName,
        user_id: u64,
        plan: &RevocationPlan,
    ) -> Result<Option<Vec<PendingRevocation>>, StoreError> {
        let Some(item) = self.get_user_item(instance, user_id).await? else { return Ok(None) };
        if !is_tombstone(&item) {
            return Err(StoreError::Corrupt("a live user where its tombstone was"));
        }
        let identities = match item.get("del_identities") {
            Some(AttributeValue::Ss(ids)) => ids.clone(),
            // A tombstone made before the plan was recorded: its lookups went with it.
            _ => Vec::new(),
        };
        let mut identities = identities;
        // An unlink that stopped after taking the identity off the list: that identity too.
        if let Some(unlinking) = get_opt_s(&item, super::linking::UNLINKING) {
            identities.push(unlinking);
        }
        let mut subjects = Vec::new();
        for id in &identities {
            subjects.push(id.split_once('#').ok_or(StoreError::Corrupt("del_identities"))?);
        }
        let mine = [(":uid", n(user_id))];
        let recorded = recorded_revocations(&item).map(|providers| RevocationPlan { providers, ..plan.clone() });
        let plan = recorded.as_ref().unwrap_or(plan);
        // Step 2: before the identities (and the sealed tokens they hold) go.
        let mut pending = Vec::new();
        for (provider, subject) in &subjects {
            if let Some(p) = self.planned_revocation(instance, user_id, provider, subject, plan).await? {
                self.put_revocation_once(&p).await?;
                pending.push(p);
            }
        }
        // Step 3. An identity a new login made since (another user's) stays, with its entry.
        for (provider, subject) in &subjects {
            let identity = keys::identity(instance, provider, subject);
            if self.delete_where(identity, Some("attribute_not_exists(pk) OR user_id = :uid"), &mine).await? {
                self.delete_where(keys::subject_instance(provider, subject, instance), None, &[]).await?;
            }
        }
        if let Some(username) = get_opt_s(&item, "del_username") {
            // Held (no user) for USERNAME_HOLD_SECS before anyone may take it; the sweeper
            // removes it then.
            let mut held = keys::username(instance, &username);
            let held_until = get_n::<i64>(&item, "deleted_at")? / 1_000_000 + USERNAME_HOLD_SECS;
            held.insert("held_until".into(), n(held_until));
            sweep::expiring(&mut held, held_until);
            let condition = "attribute_not_exists(pk) OR user_id = :uid OR attribute_exists(held_until)";
            self.put_where(held, condition, &mine).await?;
        }
        if let Some(email) = get_opt_s(&item, "del_email") {
            self.delete_where(keys::email(instance, &email), Some("user_id = :uid"), &mine).await?;
        }
        // A tombstone made before the plan was recorded wrote its audit item with it.
        if item.contains_key("audit_expires_at") {
            let deleted_at: i64 = get_n(&item, "deleted_at")?;
            let mut audit = keys::deletion_audit(instance, user_id, deleted_at);
            audit.extend([
                ("instance".to_string(), s(instance.as_str())),
                ("user_id".to_string(), n(user_id)),
                ("deleted_at".to_string(), n(deleted_at)),
                ("reason".to_string(), s(get_opt_s(&item, "deletion_reason").unwrap_or_default())),
            ]);
            sweep::expiring(&mut audit, get_n(&item, "audit_expires_at")?);
            self.put_where(audit, "attribute_not_exists(pk)", &[]).await?;
        }
        Ok(Some(pending))
    }

    /// Step 4: every session of the user (each item with its list entry); how many.
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

    /// Step 5: the user-key lookup the tombstone records (conditional on naming this user),
    /// then the tombstone (conditional on being one: never a live user).
    pub async fn remove_tombstone(&self, instance: &InstanceName, user_id: u64) -> Result<(), StoreError> {
        let Some(item) = self.get_user_item(instance, user_id).await? else { return Ok(()) };
        if !is_tombstone(&item) {
            return Err(StoreError::Corrupt("a live user where its tombstone was"));
        }
        let mine = [(":uid", n(user_id))];
        if let Some(pk) = get_opt_s(&item, "ukey_pk").filter(|pk| !pk.is_empty()) {
            self.delete_where(keys::by_pk(&pk, "UKEY"), Some("user_id = :uid"), &mine).await?;
        }
        let condition = Some("attribute_not_exists(pk) OR attribute_exists(deleted_at)");
        match self.delete_where(keys::user(instance, user_id), condition, &[]).await? {
            true => Ok(()),
            false => Err(StoreError::Corrupt("a live user where its tombstone was")),
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

    /// The reason a tombstone of `user_id` records, if the user item is one (the sweeper's
    /// finisher resumes the deletion with it).
    pub async fn tombstone_reason(
        &self,
        instance: &InstanceName,
        user_id: u64,
    ) -> Result<Option<(DeletionReason, Option<Vec<&'static str>>)>, StoreError> {
        let Some(item) = self.get_user_item(instance, user_id).await? else { return Ok(None) };
        if !is_tombstone(&item) {
            return Ok(None);
        }
        let revoke = recorded_revocations(&item);
        let reason = match get_opt_s(&item, "deletion_reason").as_deref() {
            Some("user") => DeletionReason::User,
            Some("apple") => DeletionReason::Apple,
            Some("facebook") => DeletionReason::Facebook,
            // An admin's (or unknown): every revocation the instance's plan has.
            _ => DeletionReason::Admin,
        };
        Ok(Some((reason, revoke)))
    }
}

/// The attribute of a tombstone naming the providers its deletion revokes at (comma-separated,
/// as [`RevocationPlan::providers`] named them when the tombstone was written).
const DEL_REVOKE: &str = "del_revoke";

/// The providers a tombstone recorded for its revocations; `None` for a tombstone written before
/// they were recorded. Only the providers revocation knows: a name it does not is left out.
fn recorded_revocations(item: &Item) -> Option<Vec<&'static str>> {
    let recorded = get_opt_s(item, DEL_REVOKE)?;
    let known = [Provider::Apple.as_str(), Provider::Facebook.as_str()];
    Some(recorded.split(',').filter_map(|p| known.into_iter().find(|k| *k == p)).collect())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn email_keys_fold_as_linking_does() {
        assert_eq!(email_key(" Ann@Example.COM ").as_deref(), Some("ann@example.com"));
        assert_eq!(email_key("no-at-sign"), None);
        assert_eq!(email_key("änn@example.com"), None);
    }

    #[test]
    fn only_items_with_deleted_at_are_tombstones() {
        let mut item = super::super::items::Item::new();
        assert!(!is_tombstone(&item));
        item.insert("deleted_at".into(), n(1));
        assert!(is_tombstone(&item));
    }
}
