//! Account linking by verified email (opt-in per instance): a first login whose provider is
//! authoritative for its email joins the user that already holds that email. And the reverse: a
//! provider identity taken off its user when the provider tells us to forget it.

use std::time::Duration;

use aws_sdk_dynamodb::types::{AttributeValue, TransactWriteItem};

use super::deletion::is_tombstone;
use super::error::{build_err, classify, transaction_cancelled};
use super::items::{get_n, n, s, user_attributes};
use super::{keys, StoreError, UserStore};
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

impl UserStore {
    /// Takes the identity `provider#subject` off the user `user_id`: one transaction deletes the
    /// identity item and removes it from the user's list, conditional on the list it read. A
    /// user's only identity is never removed (a user nobody can sign in as would be left).
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
            let remove = aws_sdk_dynamodb::types::Update::builder()
                .table_name(&self.table)
                .set_key(Some(keys::user(instance, user_id)))
                // The version tells a deletion that read the user before this that it changed.
                .update_expression("DELETE identities :id ADD identities_version :bump")
                .condition_expression(
                    "attribute_not_exists(deleted_at) AND contains(identities, :one) AND size(identities) = :count",
                )
                .expression_attribute_values(":id", AttributeValue::Ss(vec![id.clone()]))
                .expression_attribute_values(":one", s(&id))
                .expression_attribute_values(":count", n(identities.len()))
                .expression_attribute_values(":bump", n(1))
                .build()
                .map_err(build_err)?;
            let result = self
                .client
                .transact_write_items()
                .transact_items(self.transact_delete(keys::identity(instance, provider, subject))?)
                .transact_items(TransactWriteItem::builder().update(remove).build())
                .transact_items(self.transact_delete_subject(provider, subject, instance)?)
                .send()
                .await;
            match result {
                Ok(_) => return Ok(Unlinked::Removed),
                // An identity was linked or removed meanwhile, or a deletion began: read again.
                Err(e) if transaction_cancelled(&e) => tokio::time::sleep(Duration::from_millis(20)).await,
                Err(e) => return Err(classify("TransactWriteItems", e)),
            }
        }
        Err(StoreError::Contention)
    }

    /// Links `identity` to the user that holds `email` as verified, if there is one: one
    /// transaction puts the identity (with the user's snapshot) and adds it to the user,
    /// conditional on the user's key generation it read. `None`: no such user.
    pub(super) async fn link_by_email(
        &self,
        instance: &InstanceName,
        identity: &VerifiedIdentity,
        email: &str,
    ) -> Result<Option<UserRecord>, StoreError> {
        let provider = identity.provider.as_str();
        for _ in 0..3 {
            let item = self.get(keys::email(instance, email), true).await?;
            // Only an index entry written by an authoritative provider links (entries written
            // before the authority rules existed carry no `authoritative` flag, and never do).
            let Some(holder) = item.filter(|i| matches!(i.get("authoritative"), Some(AttributeValue::Bool(true))))
            else {
                return Ok(None);
            };
            let Some(user) = self.get_user(instance, get_n(&holder, "user_id")?).await? else { return Ok(None) };
            let mut identity_item = keys::identity(instance, provider, &identity.subject);
            identity_item.extend(user_attributes(&user));
            // When this identity joined the user, for callbacks dated before it.
            identity_item.insert("linked_at".into(), n(crate::domain::clock::now_micros()));
            let add = aws_sdk_dynamodb::types::Update::builder()
                .table_name(&self.table)
                .set_key(Some(keys::user(instance, user.user_id)))
                .update_expression("ADD identities :id, identities_version :bump")
                // Not a user being deleted (its identities are deleted from the list it read).
                .condition_expression("key_generation = :gen AND attribute_not_exists(deleted_at)")
                .expression_attribute_values(
                    ":id",
                    AttributeValue::Ss(vec![format!("{provider}#{}", identity.subject)]),
                )
                .expression_attribute_values(":gen", n(user.key_generation))
                .expression_attribute_values(":bump", n(1))
                .build()
                .map_err(build_err)?;
            let result = self
                .client
                .transact_write_items()
                .transact_items(self.transact_put_new(identity_item)?)
                .transact_items(TransactWriteItem::builder().update(add).build())
                .transact_items(self.transact_put_subject(provider, &identity.subject, instance)?)
                .send()
                .await;
            match result {
                Ok(_) => return Ok(Some(user)),
                Err(e) if transaction_cancelled(&e) => {
                    // This identity was created meanwhile, or the user's key was reset: look again.
                    if let Some(u) = self.find_by_identity(instance, provider, &identity.subject, true).await? {
                        return Ok(Some(u));
                    }
                    tokio::time::sleep(Duration::from_millis(20)).await;
                }
                Err(e) => return Err(classify("TransactWriteItems", e)),
            }
        }
        Err(StoreError::Contention)
    }
}
