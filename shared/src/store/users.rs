//! Users found: by a provider identity ([`UserStore::find_by_identity`], and when that identity
//! was made, [`UserStore::identity_since`]) or by Syncano id ([`UserStore::get_user`]). Making
//! a user is a first login's ([`super::first_login`]): an identity found still `pending` is
//! finished there ([`UserStore::user_of_identity`]) before its user is answered, so no lookup
//! answers with a user whose items are not all written.

use super::deletion::is_tombstone;
use super::items::{get_n, user_from_item, Item};
use super::{keys, StoreError, UserStore};
use crate::domain::instance::InstanceName;
use crate::domain::records::UserRecord;

impl UserStore {
    /// The user behind a provider identity, if this identity has logged in before.
    pub async fn find_by_identity(
        &self,
        instance: &InstanceName,
        provider: &str,
        subject: &str,
        consistent: bool,
    ) -> Result<Option<UserRecord>, StoreError> {
        let Some(item) = self.get(keys::identity(instance, provider, subject), consistent).await? else {
            return Ok(None);
        };
        Box::pin(self.user_of_identity(instance, provider, subject, item)).await.map(Some)
    }

    /// When the identity `provider`/`subject` was made here (microseconds since the epoch), if
    /// it exists: its `linked_at`, or for items written before that was recorded, its user's
    /// `created_at` (no later than the identity: a linked identity joined an older user). One
    /// consistent `GetItem`.
    pub async fn identity_since(
        &self,
        instance: &InstanceName,
        provider: &str,
        subject: &str,
    ) -> Result<Option<i64>, StoreError> {
        let Some(item) = self.get(keys::identity(instance, provider, subject), true).await? else { return Ok(None) };
        let since =
            if item.contains_key("linked_at") { get_n(&item, "linked_at")? } else { get_n(&item, "created_at")? };
        Ok(Some(since))
    }

    /// A live user by its Syncano id (consistent read): the tombstone of a deletion in progress
    /// is no user.
    pub async fn get_user(&self, instance: &InstanceName, user_id: u64) -> Result<Option<UserRecord>, StoreError> {
        self.get_user_item(instance, user_id)
            .await?
            .filter(|item| !is_tombstone(item))
            .map(|item| user_from_item(instance, &item))
            .transpose()
    }

    pub(super) async fn get_user_item(
        &self,
        instance: &InstanceName,
        user_id: u64,
    ) -> Result<Option<Item>, StoreError> {
        self.get(keys::user(instance, user_id), true).await
    }
}
