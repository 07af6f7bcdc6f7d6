//! The one entry point the sweeper calls to finish an unfinished multi-step change (issue 33):
//! an item it found due in the sweep index ([`super::sweep`]) marked [`super::sweep::PENDING`].
//! A `match` on the key's prefix sends it to the finisher of its kind; a kind not handled here
//! answers [`Finished::Unknown`].
//!
//! A deletion's tombstone (`USER#…` with `deleted_at`) is not finished here: its revocations at
//! the providers are the use-case's, so the sweeper calls `App::finish_pending`
//! (`crate::usecases::accounts`), which finishes deletions itself and hands every other item to
//! this function.

use super::deletion::is_tombstone;
use super::items::get_opt_s;
use super::linking::UNLINKING;
use super::{keys, StoreError, UserStore};
use crate::domain::instance::InstanceName;

pub use super::sweep::Finished;

/// `USER#{instance}#{user id}` → its instance and user id.
pub(crate) fn user_of_pk(pk: &str) -> Option<(InstanceName, u64)> {
    let (instance, id) = pk.strip_prefix("USER#")?.rsplit_once('#')?;
    Some((InstanceName::parse(instance)?, id.parse().ok()?))
}

impl UserStore {
    /// Finishes the change the item `pk`/`sk` records as pending, whatever step it stopped at.
    pub async fn finish_pending(&self, pk: &str, sk: &str) -> Result<Finished, StoreError> {
        match (pk.split('#').next().unwrap_or_default(), sk) {
            // An unlink that took the identity off the user's list (store-delete).
            ("USER", "USER") => {
                let Some((instance, user_id)) = user_of_pk(pk) else { return Ok(Finished::Unknown) };
                let Some(item) = self.get(keys::user(&instance, user_id), true).await? else {
                    return Ok(Finished::NotPending);
                };
                if is_tombstone(&item) {
                    // A deletion: `App::finish_pending` finishes it (with its revocations).
                    return Ok(Finished::Unknown);
                }
                match get_opt_s(&item, UNLINKING) {
                    Some(id) => {
                        self.finish_unlink(&instance, user_id, &id).await?;
                        Ok(Finished::Done)
                    }
                    None => Ok(Finished::NotPending),
                }
            }
            // A link by email that wrote its identity (linking.rs), else a first login (first_login.rs).
            ("IDENT", "IDENT") => match self.finish_pending_link(pk).await? {
                true => Ok(Finished::Done),
                false => self.finish_pending_identity(pk).await,
            },
            // A key reset's new user-key lookup (user_keys.rs).
            ("UKEY", "UKEY") => self.finish_pending_key_reset(pk).await,
            _ => Ok(Finished::Unknown),
        }
    }
}
