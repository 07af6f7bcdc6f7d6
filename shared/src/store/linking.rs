//! Account linking by verified email (opt-in per instance): a first login whose provider is
//! authoritative for its email joins the user that already holds that email. And the reverse: a
//! provider identity taken off its user when the provider tells us to forget it.
//!
//! Without transactions (issue 33), each is a few single-item conditional writes:
//! - **link**: (1) the identity, created only if absent, with the user's snapshot, marked pending
//!   with the user it joins (`pending_link`): this decides which user the identity is; (2) the
//!   identity added to the user's list, conditional on the user being live with the key
//!   generation the snapshot holds (a deletion that read the list before this is refused by the
//!   version this bumps; a tombstone refuses this, and then the identity is deleted again);
//!   (3) the subject's list entry; (4) the identity's pending mark removed. Whoever finds the
//!   identity pending (the sweeper, through [`UserStore::finish_link`]) finishes (2)–(4), or
//!   deletes the identity if its user went meanwhile.
//! - **unlink**: (1) the user's list (conditional on the list read), recording the identity in
//!   `unlinking` and marking the user pending: this decides; (2) the identity (conditional on
//!   naming the user) and its subject entry; (3) the mark removed. A deletion that finds
//!   `unlinking` on the user deletes that identity too; the sweeper finishes the rest
//!   ([`UserStore::finish_unlink`]).

use std::time::Duration;

use aws_sdk_dynamodb::types::AttributeValue;

use super::error::classify;
use super::items::is_tombstone;
use super::items::{get_n, get_opt_s, n, s, user_attributes, user_from_item, Item};
use super::{keys, sweep, StoreError, UserStore};
use crate::domain::identity::VerifiedIdentity;
use crate::domain::instance::InstanceName;
use crate::domain::records::UserRecord;

/// What [`UserStore::unlink_identity`] did.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Unlinked {
    /// The identity is gone; the user keeps its other identities.
    Removed,
    /// The identity is the user's only one: nothing was changed (delete the user instead).
    OnlyIdentity,
    /// The user does not hold this identity (any more).
    NotLinked,
    /// The user is a tombstone: a deletion began and has not finished.
    Deleting,
}

/// A link whose identity item is written (step 1): [`UserStore::begin_link`] made it,
/// [`UserStore::complete_link`] finishes it.
pub struct PendingLink {
    instance: InstanceName,
    provider: String,
    subject: String,
    user: UserRecord,
}

/// The attribute of a pending link's identity item: the user it joins.
pub(super) const PENDING_LINK: &str = "pending_link";
/// The attribute of a user item whose unlink is under way: the identity (`provider#subject`).
pub(super) const UNLINKING: &str = "unlinking";

/// The `SET` of a pending mark on `pk`/`sk` (with [`sweep::due_update`]'s values), begun `now`.
fn pending_set(pk: &str, sk: &str, now: i64) -> (String, Vec<(String, AttributeValue)>) {
    let (due, values) = sweep::due_update(pk, sk, now + sweep::PENDING_GRACE_SECS);
    let mut values = values.to_vec();
    values.push((":pending".to_string(), n(now)));
    (format!("{} = :pending, {due}", sweep::PENDING), values)
}

fn pk_of(key: &Item) -> String {
    key.get("pk").and_then(|v| v.as_s().ok()).cloned().unwrap_or_default()
}

impl UserStore {
    /// Takes the identity `provider#subject` off the user `user_id`: the user's list first
    /// (conditional on the list read: it decides), then the identity item and its subject entry.
    /// A user's only identity is never removed (a user nobody can sign in as would be left).
    pub async fn unlink_identity(
        &self,
        instance: &InstanceName,
        user_id: u64,
        provider: &str,
        subject: &str,
    ) -> Result<Unlinked, StoreError> {
        let id = format!("{provider}#{subject}");
        for _ in 0..3 {
            let Some(item) = self.get_user_item(instance, user_id).await? else { return Ok(Unlinked::NotLinked) };
            if is_tombstone(&item) {
                return Ok(Unlinked::Deleting);
            }
            // An earlier unlink stopped half-way: finish it first (one at a time per user).
            if let Some(other) = get_opt_s(&item, UNLINKING) {
                self.finish_unlink(instance, user_id, &other).await?;
                if other == id {
                    return Ok(Unlinked::Removed);
                }
                continue;
            }
            let identities = match item.get("identities") {
                Some(AttributeValue::Ss(ids)) => ids.clone(),
                _ => return Err(StoreError::Corrupt("identities")),
            };
            if !identities.contains(&id) {
                return Ok(Unlinked::NotLinked);
            }
            if identities.len() == 1 {
                return Ok(Unlinked::OnlyIdentity);
            }
            let user_key = keys::user(instance, user_id);
            let (pending, pending_values) = pending_set(&pk_of(&user_key), "USER", crate::domain::clock::now_secs());
            let remove = self
                .client
                .update_item()
                .table_name(&self.table)
                .set_key(Some(user_key))
                // The version tells a deletion that read the user before this that it changed.
                .update_expression(format!(
                    "DELETE identities :id ADD identities_version :bump SET {UNLINKING} = :one, {pending}"
                ))
                .condition_expression(
                    "attribute_not_exists(deleted_at) AND attribute_not_exists(unlinking) AND contains(identities, :one) \
                     AND size(identities) = :count",
                )
                .set_expression_attribute_values(Some(
                    [
                        (":id".to_string(), AttributeValue::Ss(vec![id.clone()])),
                        (":one".to_string(), s(&id)),
                        (":count".to_string(), n(identities.len())),
                        (":bump".to_string(), n(1)),
                    ]
                    .into_iter()
                    .chain(pending_values)
                    .collect(),
                ))
                .send()
                .await;
            match remove {
                Ok(_) => {
                    self.finish_unlink(instance, user_id, &id).await?;
                    return Ok(Unlinked::Removed);
                }
                // An identity was linked or removed meanwhile, or a deletion began: read again.
                Err(e) if super::error::is_condition_failed(&e) => tokio::time::sleep(Duration::from_millis(20)).await,
                Err(e) => return Err(classify("UpdateItem", e)),
            }
        }
        Err(StoreError::Contention)
    }

    /// Steps 2 and 3 of the unlink of `id` (`provider#subject`) from `user_id` (its list no
    /// longer has it): the identity (if it still names the user) with its subject entry, then
    /// the user's mark. Idempotent.
    pub(super) async fn finish_unlink(
        &self,
        instance: &InstanceName,
        user_id: u64,
        id: &str,
    ) -> Result<(), StoreError> {
        let (provider, subject) = id.split_once('#').ok_or(StoreError::Corrupt(UNLINKING))?;
        let mine = [(":uid", n(user_id))];
        let identity = keys::identity(instance, provider, subject);
        if self.delete_where(identity, Some("attribute_not_exists(pk) OR user_id = :uid"), &mine).await? {
            self.delete_where(keys::subject_instance(provider, subject, instance), None, &[]).await?;
        }
        self.update_if(
            keys::user(instance, user_id),
            &format!("REMOVE {UNLINKING}, {}, {}", sweep::PENDING, sweep::CLEAR_DUE),
            "unlinking = :id",
            &[(":id", s(id))],
        )
        .await?;
        Ok(())
    }

    /// Links `identity` to the user that holds `email` as verified, if there is one
    /// ([`UserStore::begin_link`], then [`UserStore::complete_link`]). `None`: no such user, or
    /// it was being deleted (the identity is not left behind).
    pub(super) async fn link_by_email(
        &self,
        instance: &InstanceName,
        identity: &VerifiedIdentity,
        email: &str,
    ) -> Result<Option<UserRecord>, StoreError> {
        for _ in 0..3 {
            let link = match self.begin_link(instance, identity, email).await? {
                Linking::NoUser => return Ok(None),
                Linking::Exists(user) => return Ok(Some(user)),
                Linking::Pending(link) => link,
            };
            match self.complete_link(&link).await? {
                LinkOutcome::Linked(user) => return Ok(Some(*user)),
                LinkOutcome::UserGone => return Ok(None),
                // The user's key was reset since its snapshot was read: again.
                LinkOutcome::Stale => tokio::time::sleep(Duration::from_millis(20)).await,
            }
        }
        Err(StoreError::Contention)
    }

    /// Step 1 of a link: the identity item (created only if absent), with the snapshot of the
    /// user holding `email`, pending. Public so that a test can run a deletion between the steps.
    pub async fn begin_link(
        &self,
        instance: &InstanceName,
        identity: &VerifiedIdentity,
        email: &str,
    ) -> Result<Linking, StoreError> {
        let provider = identity.provider.as_str();
        let item = self.get(keys::email(instance, email), true).await?;
        // Only an index entry written by an authoritative provider links (entries written
        // before the authority rules existed carry no `authoritative` flag, and never do).
        let Some(holder) = item.filter(|i| matches!(i.get("authoritative"), Some(AttributeValue::Bool(true)))) else {
            return Ok(Linking::NoUser);
        };
        let Some(user) = self.get_user(instance, get_n(&holder, "user_id")?).await? else {
            return Ok(Linking::NoUser);
        };
        let mut identity_item = keys::identity(instance, provider, &identity.subject);
        identity_item.extend(user_attributes(&user));
        // When this identity joined the user, for callbacks dated before it.
        identity_item.insert("linked_at".into(), n(crate::domain::clock::now_micros()));
        identity_item.insert(PENDING_LINK.into(), n(user.user_id));
        sweep::pending(&mut identity_item, crate::domain::clock::now_secs());
        if !self.put_where(identity_item, "attribute_not_exists(pk)", &[]).await? {
            // This identity was created meanwhile (a concurrent login of the same person).
            return match self.find_by_identity(instance, provider, &identity.subject, true).await? {
                Some(u) => Ok(Linking::Exists(u)),
                None => Err(StoreError::Contention),
            };
        }
        let link = PendingLink {
            instance: instance.clone(),
            provider: provider.to_string(),
            subject: identity.subject.clone(),
            user,
        };
        Ok(Linking::Pending(link))
    }

    /// Steps 2 to 4 of a link begun by [`UserStore::begin_link`]: the identity joins the user's
    /// list (or, if the user went or its key changed, the identity is deleted again), its
    /// subject entry, its pending mark removed. Idempotent.
    pub async fn complete_link(&self, link: &PendingLink) -> Result<LinkOutcome, StoreError> {
        let (instance, provider, subject) = (&link.instance, link.provider.as_str(), link.subject.as_str());
        let id = format!("{provider}#{subject}");
        let user_id = link.user.user_id;
        let add = self
            .client
            .update_item()
            .table_name(&self.table)
            .set_key(Some(keys::user(instance, user_id)))
            .update_expression("ADD identities :id, identities_version :bump")
            // Not a user being deleted (its identities are deleted from the list it read), and
            // the key the snapshot holds.
            .condition_expression("key_generation = :gen AND attribute_not_exists(deleted_at)")
            .expression_attribute_values(":id", AttributeValue::Ss(vec![id.clone()]))
            .expression_attribute_values(":gen", n(link.user.key_generation))
            .expression_attribute_values(":bump", n(1))
            .send()
            .await;
        match add {
            Ok(_) => {}
            Err(e) if super::error::is_condition_failed(&e) => {
                let user = self.get_user(instance, user_id).await?;
                // Not linked: the identity goes again (only the one this link made).
                let identity = keys::identity(instance, provider, subject);
                self.delete_where(identity, Some("pending_link = :uid"), &[(":uid", n(user_id))]).await?;
                return Ok(match user {
                    Some(_) => LinkOutcome::Stale,
                    None => LinkOutcome::UserGone,
                });
            }
            Err(e) => return Err(classify("UpdateItem", e)),
        }
        let mut entry = keys::subject_instance(provider, subject, instance);
        entry.insert("instance".into(), s(instance.as_str()));
        let put = self.client.put_item().table_name(&self.table).set_item(Some(entry)).send().await;
        put.map_err(|e| classify("PutItem", e))?;
        self.update_if(
            keys::identity(instance, provider, subject),
            &format!("REMOVE {PENDING_LINK}, {}, {}", sweep::PENDING, sweep::CLEAR_DUE),
            "pending_link = :uid",
            &[(":uid", n(user_id))],
        )
        .await?;
        Ok(LinkOutcome::Linked(Box::new(link.user.clone())))
    }

    /// Finishes the link the identity `pk` (an `IDENT#` key) records as pending, if it does:
    /// `false` if it is not a pending link. For the sweeper ([`UserStore::finish_pending`]).
    pub(super) async fn finish_pending_link(&self, pk: &str) -> Result<bool, StoreError> {
        let Some(item) = self.get(keys::by_pk(pk, "IDENT"), true).await? else { return Ok(false) };
        if !item.contains_key(PENDING_LINK) {
            return Ok(false);
        }
        let Some(rest) = pk.strip_prefix("IDENT#") else { return Ok(false) };
        let mut parts = rest.splitn(3, '#');
        let (Some(instance), Some(provider), Some(subject)) = (parts.next(), parts.next(), parts.next()) else {
            return Err(StoreError::Corrupt("identity key"));
        };
        let instance = InstanceName::parse(instance).ok_or(StoreError::Corrupt("identity key"))?;
        let user = user_from_item(&instance, &item)?;
        let link = PendingLink { instance, provider: provider.to_string(), subject: subject.to_string(), user };
        // A stale snapshot: the identity went again; the person's next login links afresh.
        self.complete_link(&link).await?;
        Ok(true)
    }
}

/// What [`UserStore::begin_link`] found.
pub enum Linking {
    /// No user holds the email (as authoritative).
    NoUser,
    /// The identity exists already (another login of the person made it): its user.
    Exists(UserRecord),
    /// The identity is written and pending.
    Pending(PendingLink),
}

/// What [`UserStore::complete_link`] did.
pub enum LinkOutcome {
    /// The identity is the user's.
    Linked(Box<UserRecord>),
    /// The user was deleted (or is being deleted) meanwhile: the identity is gone again.
    UserGone,
    /// The user's key changed since its snapshot was read: the identity is gone again.
    Stale,
}
