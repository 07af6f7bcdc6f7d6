//! Facebook's data deletion requests: the status of each (`FBDEL#{code}`, what the person's
//! confirmation code leads to) and the request that made it (`FBREQ#{sha256(signature)}`, which
//! names the code, so that a redelivery of the same `signed_request` gets the same code). Neither
//! holds personal data: no Facebook user id, no user id; both expire (`expires_at`).

use aws_sdk_dynamodb::types::AttributeValue;

use super::error::classify;
use super::items::{get_n, get_opt_s, get_s, n, s, Item};
use super::{keys, sweep, StoreError, UserStore};
use crate::domain::instance::InstanceName;

/// A data deletion request's status.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct FacebookDeletion {
    /// The confirmation code Facebook shows the person.
    pub code: String,
    pub instance: String,
    /// What the deletion did (`account-deleted`, `identity-removed`, `nothing-to-do`), once
    /// done; `None` while it is under way (or an attempt stopped before recording it).
    pub outcome: Option<String>,
    /// Microseconds since the epoch.
    pub requested_at: i64,
    pub completed_at: Option<i64>,
    /// What it deleted over every instance, once done (`None` for requests completed before
    /// it was counted).
    pub counts: Option<DeletionCounts>,
}

/// What a data deletion request deleted, over every instance where the person had signed in.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct DeletionCounts {
    /// Accounts deleted (the Facebook identity was their only one).
    pub accounts_deleted: u64,
    /// Accounts that kept another identity and lost only Facebook's.
    pub identities_removed: u64,
}

/// What [`UserStore::claim_facebook_deletion`] found.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Claim {
    /// This request is new: its status item is written, under way.
    New(FacebookDeletion),
    /// This request was received before: its status (under way or done).
    Existing(FacebookDeletion),
}

fn deletion_from_item(item: &Item) -> Result<FacebookDeletion, StoreError> {
    Ok(FacebookDeletion {
        code: get_s(item, "code")?.to_string(),
        instance: get_s(item, "instance")?.to_string(),
        outcome: get_opt_s(item, "outcome"),
        requested_at: get_n(item, "requested_at")?,
        completed_at: if item.contains_key("completed_at") { Some(get_n(item, "completed_at")?) } else { None },
        counts: match item.contains_key("accounts_deleted") {
            true => Some(DeletionCounts {
                accounts_deleted: get_n(item, "accounts_deleted")?,
                identities_removed: get_n(item, "identities_removed")?,
            }),
            false => None,
        },
    })
}

impl UserStore {
    /// Records a data deletion request of `instance`, named by `fingerprint` (SHA-256 of its
    /// signature), under the new confirmation `code`. Two single-item writes (issue 33): the
    /// request item, created only if absent, decides which code the request has (it also holds
    /// the status's instance and time, so that anyone can write the status); then the status
    /// item (under way), created only if absent. If the same request was received before (a
    /// redelivery, possibly concurrent), its code's status is read, and written first if the
    /// request that won stopped (or has not yet come) that far: every delivery answers one code.
    pub async fn claim_facebook_deletion(
        &self,
        instance: &InstanceName,
        fingerprint: &str,
        code: &str,
        requested_at_micros: i64,
        expires_at: i64,
    ) -> Result<Claim, StoreError> {
        let mut request = keys::facebook_deletion_request(fingerprint);
        request.extend([
            ("code".to_string(), s(code)),
            ("instance".to_string(), s(instance.as_str())),
            ("requested_at".to_string(), n(requested_at_micros)),
        ]);
        sweep::expiring(&mut request, expires_at);
        if self.put_where(request, "attribute_not_exists(pk)", &[]).await? {
            let deletion = self.put_facebook_status(code, instance.as_str(), requested_at_micros, expires_at).await?;
            return Ok(Claim::New(deletion));
        }
        let item = self.get(keys::facebook_deletion_request(fingerprint), true).await?;
        let Some(item) = item else { return Err(StoreError::Contention) };
        let code = get_s(&item, "code")?;
        if let Some(existing) = self.facebook_deletion(code).await? {
            return Ok(Claim::Existing(existing));
        }
        // The winner has not written the status (yet, or ever): as it would have.
        let (winner_instance, requested_at) = match get_opt_s(&item, "instance") {
            Some(i) => (i, get_n(&item, "requested_at")?),
            // A request item written before issue 33 always came with its status (one transaction).
            None => return Err(StoreError::Corrupt("facebook deletion request without status")),
        };
        let expires: i64 = get_n(&item, "expires_at")?;
        let deletion = self.put_facebook_status(code, &winner_instance, requested_at, expires).await?;
        Ok(Claim::Existing(deletion))
    }

    /// The status item of `code`, under way, created only if absent; the status as stored.
    async fn put_facebook_status(
        &self,
        code: &str,
        instance: &str,
        requested_at_micros: i64,
        expires_at: i64,
    ) -> Result<FacebookDeletion, StoreError> {
        let mut status = keys::facebook_deletion(code);
        status.extend([
            ("code".to_string(), s(code)),
            ("instance".to_string(), s(instance)),
            ("requested_at".to_string(), n(requested_at_micros)),
        ]);
        sweep::expiring(&mut status, expires_at);
        let deletion = deletion_from_item(&status)?;
        if self.put_where(status, "attribute_not_exists(pk)", &[]).await? {
            return Ok(deletion);
        }
        // Written by another delivery meanwhile (maybe completed since): as it is.
        Ok(self.facebook_deletion(code).await?.unwrap_or(deletion))
    }

    /// Records what the deletion `code` did, unless an earlier attempt already did: the first
    /// recorded outcome stays. Answers the status as recorded.
    pub async fn complete_facebook_deletion(
        &self,
        code: &str,
        outcome: &str,
        counts: DeletionCounts,
        completed_at_micros: i64,
    ) -> Result<FacebookDeletion, StoreError> {
        let result = self
            .client
            .update_item()
            .table_name(&self.table)
            .set_key(Some(keys::facebook_deletion(code)))
            .update_expression(
                "SET outcome = :outcome, completed_at = :at, accounts_deleted = :accounts, identities_removed = :ids",
            )
            .condition_expression("attribute_exists(pk) AND attribute_not_exists(outcome)")
            .expression_attribute_values(":outcome", s(outcome))
            .expression_attribute_values(":at", n(completed_at_micros))
            .expression_attribute_values(":accounts", n(counts.accounts_deleted))
            .expression_attribute_values(":ids", n(counts.identities_removed))
            .return_values(aws_sdk_dynamodb::types::ReturnValue::AllNew)
            .send()
            .await;
        match result {
            Ok(out) => deletion_from_item(&out.attributes.unwrap_or_default()),
            Err(e) if e.as_service_error().is_some_and(|se| se.is_conditional_check_failed_exception()) => {
                self.facebook_deletion(code).await?.ok_or(StoreError::Corrupt("facebook deletion status"))
            }
            Err(e) => Err(classify("UpdateItem", e)),
        }
    }

    /// Removes the user's `avatar_url` (from the user item and every identity's snapshot of it)
    /// if `is_forgotten_providers` says it is the picture of a provider whose data is being
    /// forgotten (a user made by a Facebook sign-in keeps Facebook's picture URL, which names the
    /// person's app-scoped id). `true` if one was removed.
    pub async fn forget_avatar(
        &self,
        instance: &InstanceName,
        user_id: u64,
        is_forgotten_providers: impl Fn(&str) -> bool,
    ) -> Result<bool, StoreError> {
        let Some(item) = self.get_user_item(instance, user_id).await? else { return Ok(false) };
        let Some(url) = get_opt_s(&item, "avatar_url").filter(|u| is_forgotten_providers(u)) else { return Ok(false) };
        let identities = match item.get("identities") {
            Some(AttributeValue::Ss(ids)) => ids.clone(),
            _ => Vec::new(),
        };
        for id in identities {
            let Some((provider, subject)) = id.split_once('#') else { continue };
            // An identity deleted meanwhile has nothing to remove.
            self.update_if(
                keys::identity(instance, provider, subject),
                "REMOVE avatar_url",
                "attribute_exists(pk)",
                &[],
            )
            .await?;
        }
        self.update_if(keys::user(instance, user_id), "REMOVE avatar_url", "avatar_url = :url", &[(":url", s(url))])
            .await
    }

    /// The status of the deletion `code`, if there is one (and it has not expired yet: DynamoDB's
    /// TTL removes items some time after `expires_at`).
    pub async fn facebook_deletion(&self, code: &str) -> Result<Option<FacebookDeletion>, StoreError> {
        let Some(item) = self.get(keys::facebook_deletion(code), true).await? else { return Ok(None) };
        let expired = matches!(item.get("expires_at"), Some(AttributeValue::N(v))
            if v.parse::<i64>().is_ok_and(|at| at <= crate::domain::clock::now_secs()));
        if expired {
            return Ok(None);
        }
        deletion_from_item(&item).map(Some)
    }
}
