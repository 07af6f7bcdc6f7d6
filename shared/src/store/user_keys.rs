//! Syncano user keys: the lookup from a key to its user, and the key reset (a new key, the old
//! one refused from then on).

use std::collections::HashMap;
use std::time::Duration;

use aws_sdk_dynamodb::types::{AttributeValue, TransactWriteItem};

use super::error::{build_err, classify, transaction_cancelled};
use super::items::{get_n, is_tombstone, n, s, user_from_item, Item};
use super::{keys, StoreError, UserStore};
use crate::domain::clock;
use crate::domain::instance::InstanceName;
use crate::domain::records::UserRecord;
use crate::domain::secret::Secret;
use crate::domain::tokens::UserKeys;

/// The current Syncano key of `user`.
pub fn user_key_of(keys: &UserKeys, user: &UserRecord) -> Result<Secret, StoreError> {
    keys.key(user.instance.as_str(), user.user_id, &user.key_material())
        .ok_or(StoreError::RetiredKeyVersion(user.key_version))
}

impl UserStore {
    /// The user whose current Syncano user key is `key`.
    pub async fn find_by_user_key(
        &self,
        instance: &InstanceName,
        key: &Secret,
    ) -> Result<Option<UserRecord>, StoreError> {
        let item = self.get(keys::syncano_user_key(instance, key), true).await?;
        let Some(item) = item else { return Ok(None) };
        self.get_user(instance, get_n(&item, "user_id")?).await
    }

    /// Gives the user a new Syncano user key: the generation is bumped on the user and every
    /// identity snapshot, the old key's lookup item is deleted and the new one written, in one
    /// transaction conditional on the generation it read. `None` if there is no such user.
    pub async fn reset_user_key(
        &self,
        instance: &InstanceName,
        user_id: u64,
        keys: &UserKeys,
    ) -> Result<Option<UserRecord>, StoreError> {
        for _ in 0..3 {
            let Some(item) = self.get_user_item(instance, user_id).await? else { return Ok(None) };
            if is_tombstone(&item) {
                return Ok(None);
            }
            let mut user = user_from_item(instance, &item)?;
            let identities = match item.get("identities") {
                Some(AttributeValue::Ss(ids)) => ids.clone(),
                _ => return Err(StoreError::Corrupt("identities")),
            };
            let old = user.key_generation;
            let old_key = user_key_of(keys, &user)?;
            let material = keys.fresh(old + 1);
            user.key_generation = material.generation;
            user.key_salt = material.salt;
            user.key_version = material.version;
            user.updated_at = clock::now_micros();
            let mut items = Vec::new();
            let mut values = HashMap::from([
                (":new".to_string(), n(user.key_generation)),
                (":salt".to_string(), s(user.key_salt.clone().unwrap_or_default())),
                (":version".to_string(), n(user.key_version)),
                (":now".to_string(), n(user.updated_at)),
                (":old".to_string(), n(old)),
            ]);
            items.push(self.transact_update(
                keys::user(instance, user_id),
                "key_generation = :old AND attribute_not_exists(deleted_at)",
                values.clone(),
            )?);
            values.remove(":old");
            for id in &identities {
                let (provider, subject) = id.split_once('#').ok_or(StoreError::Corrupt("identities"))?;
                items.push(self.transact_update(
                    keys::identity(instance, provider, subject),
                    "attribute_exists(pk)",
                    values.clone(),
                )?);
            }
            let delete = aws_sdk_dynamodb::types::Delete::builder()
                .table_name(&self.table)
                .set_key(Some(keys::syncano_user_key(instance, &old_key)))
                .build()
                .map_err(build_err)?;
            items.push(TransactWriteItem::builder().delete(delete).build());
            let mut new_lookup = keys::syncano_user_key(instance, &user_key_of(keys, &user)?);
            new_lookup.insert("user_id".into(), n(user_id));
            items.push(self.transact_put_new(new_lookup)?);
            match self.client.transact_write_items().set_transact_items(Some(items)).send().await {
                Ok(_) => return Ok(Some(user)),
                // Another reset won the race: read again and reset on top of it.
                Err(e) if transaction_cancelled(&e) => {
                    tokio::time::sleep(Duration::from_millis(20)).await;
                }
                Err(e) => return Err(classify("TransactWriteItems", e)),
            }
        }
        Err(StoreError::Contention)
    }

    /// The live users of `instance` whose key was made before keys had a salt (derived from
    /// `TOKEN_SECRET` alone), by id. No Scan: user ids are handed out by the instance's counter
    /// (its item [`keys::user_ids`], else the instance item's), so this reads the counter and then every user item below it, 100 a `BatchGetItem`
    /// (projected to three attributes). An operator's command (`admin legacy-keys`), never a
    /// request's: it reads each user of the instance once.
    pub async fn users_with_legacy_keys(&self, instance: &InstanceName) -> Result<Vec<u64>, StoreError> {
        let mut legacy = Vec::new();
        for user in self.every_user_item(instance, "user_id, key_salt, deleted_at").await? {
            if !is_tombstone(&user) && !user.contains_key("key_salt") {
                legacy.push(get_n(&user, "user_id")?);
            }
        }
        legacy.sort_unstable();
        Ok(legacy)
    }

    /// Every user item of `instance` (tombstones too), projected to `projection`, without a Scan:
    /// the instance's counter says the highest id any environment reserved (the ids of blocks
    /// never handed out are misses: docs/key-design.md, "User ids in blocks"), then 100 user
    /// items a `BatchGetItem`. For an operator's command only: it reads each user of the instance once.
    pub(super) async fn every_user_item(
        &self,
        instance: &InstanceName,
        projection: &str,
    ) -> Result<Vec<Item>, StoreError> {
        let Some(item) = self.get(keys::instance(instance), true).await? else {
            return Err(StoreError::InstanceNotFound);
        };
        // The counter item, or for an instance that has none yet, the instance item's counter.
        let counter = self.get(keys::user_ids(instance), true).await?.unwrap_or(item);
        let last: u64 = if counter.contains_key("next_user_id") { get_n(&counter, "next_user_id")? } else { 0 };
        let ids: Vec<u64> = (1..=last).collect();
        let mut users = Vec::new();
        for chunk in ids.chunks(100) {
            let keys = chunk.iter().map(|id| keys::user(instance, *id)).collect();
            users.extend(self.batch_get(keys, Some(projection), true).await?);
        }
        Ok(users)
    }

    fn transact_update(&self, key: Item, condition: &str, values: Item) -> Result<TransactWriteItem, StoreError> {
        let update = aws_sdk_dynamodb::types::Update::builder()
            .table_name(&self.table)
            .set_key(Some(key))
            .update_expression("SET key_generation = :new, key_salt = :salt, key_version = :version, updated_at = :now")
            .condition_expression(condition)
            .set_expression_attribute_values(Some(values))
            .build()
            .map_err(build_err)?;
        Ok(TransactWriteItem::builder().update(update).build())
    }
}
