//! Where a provider's subject has an identity: `SUBJECT#{provider}#{sub}` lists the instances
//! (one item each, sk `INST#{instance}`, attribute `instance`). The provider apps are
//! deployment-wide, so Facebook's app-scoped id and Apple's `sub` name the same person in every
//! instance, and a provider's deletion callback must act in all of them (issue 28): this list
//! finds them with one `Query`, no scan.
//!
//! Without transactions (issue 33) each entry is a plain idempotent write of its own: put after
//! the identity item that decides (a first login's step 3, a link), deleted with or after its
//! identity (an unlink, a deletion). The finisher of a change left unfinished writes it again (the
//! same item), so the list may briefly lack an entry of a pending identity, or keep one of an
//! identity being deleted: a deletion callback acting in one instance too many finds nothing
//! there, and one acting in one too few is finished by the next request or the sweeper, which
//! puts the entry before the identity stops being pending. One partition per person: touched by that
//! person's first login in an instance and by their deletions, never by a returning login.
//! Identities made before the list existed are listed by `admin backfill-subjects INSTANCE`;
//! until then a callback still acts at least in the instance its URL names, as before.

use aws_sdk_dynamodb::types::AttributeValue;

use super::error::classify;
use super::items::{get_s, s, Item};
use super::{keys, StoreError, UserStore};
use crate::domain::instance::InstanceName;

impl UserStore {
    /// Puts `instance`'s entry in the list of `provider`/`subject` (one unconditional `PutItem`:
    /// written again, it is the same item).
    pub(super) async fn put_subject(
        &self,
        provider: &str,
        subject: &str,
        instance: &InstanceName,
    ) -> Result<(), StoreError> {
        self.write_gate().await?;
        let put = self.client.put_item().table_name(&self.table).set_item(Some(entry(provider, subject, instance)));
        put.send().await.map_err(|e| classify("PutItem", e))?;
        Ok(())
    }

    /// Deletes `instance`'s entry in the list of `provider`/`subject` (one unconditional
    /// `DeleteItem`: deleting it again is no error). For unlinking and deletion as they move off
    /// transactions (linking.rs, deletion.rs).
    #[allow(dead_code)]
    pub(super) async fn delete_subject(
        &self,
        provider: &str,
        subject: &str,
        instance: &InstanceName,
    ) -> Result<(), StoreError> {
        self.write_gate().await?;
        let delete = self
            .client
            .delete_item()
            .table_name(&self.table)
            .set_key(Some(keys::subject_instance(provider, subject, instance)));
        delete.send().await.map_err(|e| classify("DeleteItem", e))?;
        Ok(())
    }

    /// Every instance where `provider`/`subject` has an identity (consistent `Query` of its list).
    pub async fn instances_of_subject(&self, provider: &str, subject: &str) -> Result<Vec<InstanceName>, StoreError> {
        let items = self.query_partition(keys::subject_pk(provider, subject), keys::SUBJECT_INSTANCE_PREFIX).await?;
        items
            .iter()
            .map(|item| InstanceName::parse(get_s(item, "instance")?).ok_or(StoreError::Corrupt("subject instance")))
            .collect()
    }

    /// Adds the list entry of every identity of `instance`'s users (the admin tool's
    /// `backfill-subjects`, once per instance after the upgrade that brought the list; idempotent):
    /// reads every user item (no Scan, as `admin legacy-keys`) and puts one entry per identity.
    /// Returns how many identities it listed.
    pub async fn backfill_subjects(&self, instance: &InstanceName) -> Result<usize, StoreError> {
        let mut listed = 0;
        for user in self.every_user_item(instance, "identities, deleted_at").await? {
            let Some(AttributeValue::Ss(identities)) = user.get("identities") else { continue };
            if user.contains_key("deleted_at") {
                continue;
            }
            for id in identities {
                let (provider, subject) = id.split_once('#').ok_or(StoreError::Corrupt("identities"))?;
                self.put_subject(provider, subject, instance).await?;
                listed += 1;
            }
        }
        Ok(listed)
    }
}

/// `instance`'s entry in the list of `provider`/`subject`.
fn entry(provider: &str, subject: &str, instance: &InstanceName) -> Item {
    let mut entry = keys::subject_instance(provider, subject, instance);
    entry.insert("instance".into(), s(instance.as_str()));
    entry
}
