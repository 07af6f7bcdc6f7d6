//! Deleting an account, dialect-free: the store's three steps ([`crate::store`]'s `deletion`)
//! run to the end, resumed wherever an earlier attempt stopped (a crash, a DynamoDB fault).
//! Rocket.Chat's `users.deleteOwnAccount` and Syncano's `DELETE users/{id}/` and `DELETE user/`
//! are these.

use crate::domain::clock;
use crate::domain::identity::Provider;
use crate::domain::instance::InstanceName;
use crate::domain::records::DeletionReason;
use crate::domain::secret::Secret;
use crate::domain::tokens;
use crate::store::{Finished, PendingRevocation, RevocationPlan, Tombstoned, Unlinked};
use crate::usecases::app::App;
use crate::usecases::error::UseCaseError;
use crate::usecases::revocation::revocation_expiry;

fn secs(d: std::time::Duration) -> i64 {
    i64::try_from(d.as_secs()).unwrap_or(i64::MAX)
}

/// What became of a provider identity its provider told us to forget.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Forgotten {
    /// No user holds it (never did, or an earlier delivery already forgot it).
    NoSuchIdentity,
    /// The identity is gone and every session of its user ended; the user keeps its other
    /// identities (and its Syncano key).
    IdentityRemoved { user_id: u64 },
    /// It was the user's only identity: the whole account is deleted.
    AccountDeleted { user_id: u64 },
}

impl App {
    /// The instances a provider's callback about `provider`/`subject` acts in (issues 28, 31).
    /// A callback signed for `named`'s own app (it has one at `provider`) acts on `named` alone:
    /// its subjects are that app's. Otherwise it is the deployment's app, shared by every
    /// instance without its own, so the person it names is the same person wherever that
    /// identity exists there: `named` (the instance of the callback's URL) first, then every
    /// other instance listed for the subject (one `Query`) that has no app of its own at
    /// `provider`. `named` is always included, so identities made before the list (until
    /// `admin backfill-subjects`) are acted on there as before.
    pub async fn callback_instances(
        &self,
        named: &InstanceName,
        provider: Provider,
        subject: &str,
    ) -> Result<Vec<InstanceName>, UseCaseError> {
        let mut instances = vec![named.clone()];
        if self.providers_for(named).await?.has_own(provider) {
            return Ok(instances);
        }
        for instance in self.store.instances_of_subject(provider.as_str(), subject).await? {
            if !instances.contains(&instance) && !self.providers_for(&instance).await?.has_own(provider) {
                instances.push(instance);
            }
        }
        Ok(instances)
    }

    /// A provider says the person behind `provider`/`subject` withdrew from our app or deleted
    /// their account (Apple's notifications, Facebook's data deletion callback): the identity
    /// goes and the user's sessions end; a user left with no identity is deleted, since nobody
    /// could ever sign in as it again. Idempotent: a redelivery finds nothing to do (or finishes
    /// a deletion the first delivery began).
    pub async fn forget_identity(
        &self,
        instance: &InstanceName,
        provider: Provider,
        subject: &str,
        reason: DeletionReason,
    ) -> Result<Forgotten, UseCaseError> {
        let Some(user) = self.store.find_by_identity(instance, provider.as_str(), subject, true).await? else {
            return Ok(Forgotten::NoSuchIdentity);
        };
        let user_id = user.user_id;
        match self.store.unlink_identity(instance, user_id, provider.as_str(), subject).await? {
            Unlinked::Removed => {
                let sessions = self.store.delete_user_sessions(instance, user_id).await?;
                tracing::info!(instance = %instance, user_id, provider = provider.as_str(), sessions, "identity removed");
                Ok(Forgotten::IdentityRemoved { user_id })
            }
            Unlinked::NotLinked => Ok(Forgotten::NoSuchIdentity),
            Unlinked::OnlyIdentity | Unlinked::Deleting => {
                match self.delete_account(instance, user_id, reason).await? {
                    true => Ok(Forgotten::AccountDeleted { user_id }),
                    false => Ok(Forgotten::NoSuchIdentity),
                }
            }
        }
    }

    /// Ends every session of the user behind `provider`/`subject` (Facebook's deauthorize
    /// callback); how many, or `None` if no user holds that identity.
    pub async fn end_identity_sessions(
        &self,
        instance: &InstanceName,
        provider: Provider,
        subject: &str,
    ) -> Result<Option<usize>, UseCaseError> {
        let Some(user) = self.store.find_by_identity(instance, provider.as_str(), subject, true).await? else {
            return Ok(None);
        };
        Ok(Some(self.store.delete_user_sessions(instance, user.user_id).await?))
    }

    /// Deletes the user `user_id` of `instance` and everything that leads to it, or finishes a
    /// deletion an earlier call began. `false`: there is no such user (nor a deletion of it in
    /// progress).
    pub async fn delete_account(
        &self,
        instance: &InstanceName,
        user_id: u64,
        reason: DeletionReason,
    ) -> Result<bool, UseCaseError> {
        let plan = self.revocation_plan(instance, reason, clock::now_secs()).await?;
        let Some(pending) = self.delete_account_steps(instance, user_id, reason, &plan).await? else {
            return Ok(false);
        };
        // The deletion is done whatever the providers answer: a failure stays pending for
        // `revocation-retry` (crate::usecases::revocation).
        if !pending.is_empty() {
            self.revoke_pending(&pending, self.config.provider_timeout).await;
        }
        Ok(true)
    }

    /// [`App::delete_account`]'s writes: the deletion, its revocations recorded (`REVOKE#`) but
    /// not sent; `None`: no such user (nor a deletion of it in progress). `plan` says which
    /// providers a new tombstone records to revoke at; an existing tombstone's record wins.
    async fn delete_account_steps(
        &self,
        instance: &InstanceName,
        user_id: u64,
        reason: DeletionReason,
        plan: &RevocationPlan,
    ) -> Result<Option<Vec<PendingRevocation>>, UseCaseError> {
        let now = plan.now;
        let tombstone_expires = now.saturating_add(secs(self.config.session_ttl));
        let audit_expires = now.saturating_add(secs(self.config.audit_retention));
        let step1 = self.store.tombstone_user_revoking(
            instance,
            user_id,
            &self.user_keys,
            reason,
            tombstone_expires,
            audit_expires,
            plan,
        );
        let (tombstoned, pending) = step1.await?;
        if tombstoned == Tombstoned::NoSuchUser {
            return Ok(None);
        }
        let sessions = self.store.delete_user_sessions(instance, user_id).await?;
        self.store.remove_tombstone(instance, user_id).await?;
        tracing::info!(instance = %instance, user_id, reason = reason.as_str(), sessions, "account deleted");
        Ok(Some(pending))
    }

    /// The sweeper's one entry point for an unfinished change it found due (issue 33): a
    /// deletion's tombstone is finished here, revoking at the providers its tombstone recorded
    /// when the deletion was decided; the revocations are recorded (`REVOKE#`) and left to
    /// `revocation-retry`, which holds the providers' secrets: the sweeper calls no provider,
    /// reads no secret and no instance's provider apps (its policy allows none of them). A
    /// tombstone older than that record is finished with its reason's plan (read here: the
    /// sweeper is refused it and leaves the item to a retry of the deletion). Every other item
    /// goes to the store's finisher ([`crate::store::UserStore::finish_pending`]).
    pub async fn finish_pending(&self, pk: &str, sk: &str) -> Result<Finished, UseCaseError> {
        if let Some((instance, user_id)) = crate::store::user_of_pk(pk).filter(|_| sk == "USER") {
            if let Some((reason, recorded)) = self.store.tombstone_reason(&instance, user_id).await? {
                let now = clock::now_secs();
                let plan = match recorded {
                    Some(providers) => RevocationPlan { providers, now, expires_at: revocation_expiry(now) },
                    None => self.revocation_plan(&instance, reason, now).await?,
                };
                self.delete_account_steps(&instance, user_id, reason, &plan).await?;
                return Ok(Finished::Done);
            }
        }
        Ok(self.store.finish_pending(pk, sk).await?)
    }

    /// `POST /api/v1/users.deleteOwnAccount`: the session's user deletes itself. Once the
    /// session is checked, `confirm` checks the request's confirmation against the user's
    /// username (Rocket.Chat: its SHA-256). A session whose user is already a tombstone finishes
    /// that deletion: it was confirmed then.
    pub async fn delete_own_account(
        &self,
        token: &Secret,
        user_id: &str,
        confirm: impl FnOnce(&str) -> Result<(), UseCaseError>,
    ) -> Result<(), UseCaseError> {
        let session = self.session(token, user_id).await?;
        match self.store.get_user(&session.instance, session.user_id).await? {
            Some(user) => confirm(&user.username)?,
            None if self.store.is_deleting(&session.instance, session.user_id).await? => {}
            None => return Err(UseCaseError::NotLoggedIn),
        }
        match self.delete_account(&session.instance, session.user_id, DeletionReason::User).await? {
            true => Ok(()),
            false => Err(UseCaseError::NotLoggedIn),
        }
    }
}

/// Rocket.Chat's confirmation for a user without a password: `SHA256(username)` (lowercase
/// hex), compared with the trimmed `password` (`deleteUserOwnAccount.ts`).
pub fn username_confirms(username: &str, password: &str) -> bool {
    let expected = tokens::sha256_hex(username);
    let given = password.trim().as_bytes();
    given.len() == expected.len() && given.iter().zip(expected.as_bytes()).fold(0u8, |acc, (a, b)| acc | (a ^ b)) == 0
}

#[cfg(test)]
mod tests {
    use super::username_confirms;

    #[test]
    fn the_confirmation_is_the_sha256_hex_of_the_username_trimmed() {
        // sha256("rocket.cat")
        let hash = crate::domain::tokens::sha256_hex("rocket.cat");
        assert!(username_confirms("rocket.cat", &hash));
        assert!(username_confirms("rocket.cat", &format!("  {hash}\n")));
        assert!(!username_confirms("rocket.cat", &hash.to_uppercase()));
        assert!(!username_confirms("rocket.cat", "rocket.cat"));
        assert!(!username_confirms("rocket.cat", ""));
        assert!(!username_confirms("rocket.cat", &hash[1..]));
    }
}
