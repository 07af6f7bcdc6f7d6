//! Syncano's own credentials as use-cases: an instance's API key checked, the user of a user
//! key, a key reset. The Syncano dialect (`entry::dialect::syncano::account`) runs its flows on
//! these, as the Rocket.Chat dialect runs on `sessions`; neither reaches into the store.

use crate::domain::instance::InstanceName;
use crate::domain::records::{InstanceAccess, InstanceSettings, UserRecord};
use crate::domain::secret::Secret;
use crate::domain::tokens::sha256_hex;
use crate::providers::oidc::constant_time_eq;
use crate::usecases::app::App;
use crate::usecases::error::UseCaseError;

impl App {
    /// What `api_key` may do in `instance`, with the instance's sign-up policy: one read, or
    /// none while this environment keeps the answer ([`crate::usecases::access_cache`]).
    pub async fn api_key_access(
        &self,
        instance: &InstanceName,
        api_key: &Secret,
    ) -> Result<InstanceAccess, UseCaseError> {
        if let Some(access) = self.access_cache.access(instance, api_key) {
            return Ok(access);
        }
        let access = self.store.check_api_key_access(instance, api_key).await?;
        self.access_cache.remember_access(instance, api_key, &access);
        Ok(access)
    }

    /// What `instance` says of new users (its sign-up policy, linking by email), as this
    /// environment keeps it (a Syncano request's key check just read it) or one read;
    /// `UnknownInstance` if there is no such instance.
    pub async fn instance_settings(&self, instance: &InstanceName) -> Result<InstanceSettings, UseCaseError> {
        let settings = match self.access_cache.settings(instance) {
            Some(settings) => settings,
            None => {
                let settings = self.store.instance_settings(instance).await?;
                self.access_cache.remember_settings(instance, settings);
                settings
            }
        };
        settings.ok_or(UseCaseError::UnknownInstance)
    }

    /// The user whose current key `user_key` is in `instance`, if any.
    pub async fn user_of_user_key(
        &self,
        instance: &InstanceName,
        user_key: &Secret,
    ) -> Result<Option<UserRecord>, UseCaseError> {
        let Some(user) = self.store.find_by_user_key(instance, user_key).await? else { return Ok(None) };
        // The lookup only finds the user: the key must be the user's current one. A key reset
        // stopped between its steps (issue 33: no transaction) can leave the old key's lookup for
        // a while; it opens nothing. (A user whose key was made with a secret this deployment no
        // longer has: its key cannot be derived to compare, and the lookup decides, as before.)
        match crate::store::user_key_of(&self.user_keys, &user) {
            Ok(current) => {
                let (presented, current) = (sha256_hex(user_key.expose()), sha256_hex(current.expose()));
                Ok(constant_time_eq(presented.as_bytes(), current.as_bytes()).then_some(user))
            }
            Err(_) => Ok(Some(user)),
        }
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
