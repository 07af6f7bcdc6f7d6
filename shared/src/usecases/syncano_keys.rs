//! Syncano's own credentials as use-cases: an instance's API key checked, the user of a user
//! key, a key reset. The Syncano dialect (`entry::dialect::syncano::account`) runs its flows on
//! these, as the Rocket.Chat dialect runs on `sessions`; neither reaches into the store.

use crate::domain::instance::InstanceName;
use crate::domain::records::{InstanceAccess, UserRecord};
use crate::domain::secret::Secret;
use crate::usecases::app::App;
use crate::usecases::error::UseCaseError;

impl App {
    /// What `api_key` may do in `instance`, with the instance's sign-up policy (one read).
    pub async fn api_key_access(
        &self,
        instance: &InstanceName,
        api_key: &Secret,
    ) -> Result<InstanceAccess, UseCaseError> {
        Ok(self.store.check_api_key_access(instance, api_key).await?)
    }

    /// The user whose current key `user_key` is in `instance`, if any.
    pub async fn user_of_user_key(
        &self,
        instance: &InstanceName,
        user_key: &Secret,
    ) -> Result<Option<UserRecord>, UseCaseError> {
        Ok(self.store.find_by_user_key(instance, user_key).await?)
    }

    /// The user `user_id` of `instance` with a new key (the old one is refused from then on);
    /// `None` if there is no such user.
    pub async fn reset_user_key(
        &self,
        instance: &InstanceName,
        user_id: u64,
    ) -> Result<Option<UserRecord>, UseCaseError> {
        Ok(self.store.reset_user_key(instance, user_id, &self.user_keys).await?)
    }

    /// The id of the user `user_key` belongs to in `instance`, also while its deletion is under
    /// way (so the same key finishes a deletion it began).
    pub async fn user_key_holder(
        &self,
        instance: &InstanceName,
        user_key: &Secret,
    ) -> Result<Option<u64>, UseCaseError> {
        Ok(self.store.user_key_holder(instance, user_key).await?)
    }
}
