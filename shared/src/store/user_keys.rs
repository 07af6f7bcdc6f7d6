//! Syncano user keys: the lookup from a key to its user, and the key reset (a new key, the old
//! one refused from then on).

use std::time::Duration;

use aws_sdk_dynamodb::types::AttributeValue;

use super::error::classify;
use super::items::{get_n, is_tombstone, n, s, user_from_item, Item};
use super::sweep::Finished;
use super::{keys, sweep, StoreError, UserStore};

/// The `pk` of the old key's lookup, on a key reset's new lookup while it is pending.
const PLAN_OLD_UKEY: &str = "plan_old_ukey";

/// What a key reset sets on the user item and on its identities' snapshots.
const KEY_UPDATE: &str = "SET key_generation = :new, key_salt = :salt, key_version = :version, updated_at = :now";
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

    /// Gives the user a new Syncano user key, in single-item writes (issue 33). `None` if there is
    /// no such user.
    ///
    /// (1) the new key's lookup, `pending`, with its generation and the old lookup's `pk`
    /// (`attribute_not_exists OR user_id = ours`: idempotent); nobody knows the new key yet, so it
    /// opens nothing. (2) the user item's key generation, conditional on the generation read and
    /// on a live user: this decides between concurrent resets (the loser deletes its own new
    /// lookup and resets on top of the winner). (3) the identities' snapshots (only ever moved
    /// forward: `key_generation < new`), the old lookup deleted (`user_id = ours`), the new one's
    /// `pending` removed. A reset stopped after (2) is finished by the sweeper from the new
    /// lookup ([`UserStore::finish_pending`]); meanwhile the old key's lookup may still be there,
    /// but it opens nothing: a key is accepted only if it is its user's current one
    /// ([`crate::usecases`]' `user_of_user_key` derives it and compares).
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
            let old = user.key_generation;
            let old_lookup = keys::syncano_user_key(instance, &user_key_of(keys, &user)?);
            let material = keys.fresh(old + 1);
            user.key_generation = material.generation;
            user.key_salt = material.salt;
            user.key_version = material.version;
            user.updated_at = clock::now_micros();
            let new_lookup = keys::syncano_user_key(instance, &user_key_of(keys, &user)?);
            // (1)
            let mut lookup = new_lookup.clone();
            lookup.insert("user_id".into(), n(user_id));
            lookup.insert("key_generation".into(), n(user.key_generation));
            lookup.insert(PLAN_OLD_UKEY.into(), old_lookup.get("pk").cloned().unwrap_or_else(|| s("")));
            sweep::pending(&mut lookup, clock::now_secs());
            self.write_gate().await?;
            let put = self
                .client
                .put_item()
                .table_name(&self.table)
                .set_item(Some(lookup))
                .condition_expression("attribute_not_exists(pk) OR user_id = :id")
                .expression_attribute_values(":id", n(user_id));
            match put.send().await {
                Ok(_) => {}
                Err(e) if e.as_service_error().is_some_and(|se| se.is_conditional_check_failed_exception()) => {
                    return Err(StoreError::Corrupt("a user-key lookup of another user"));
                }
                Err(e) => return Err(classify("PutItem", e)),
            }
            // (2)
            self.write_gate().await?;
            let decided = self
                .update_if(
                    keys::user(instance, user_id),
                    KEY_UPDATE,
                    "key_generation = :old AND attribute_not_exists(deleted_at)",
                    &[
                        (":new", n(user.key_generation)),
                        (":salt", s(user.key_salt.clone().unwrap_or_default())),
                        (":version", n(user.key_version)),
                        (":now", n(user.updated_at)),
                        (":old", n(old)),
                    ],
                )
                .await;
            let won = match decided {
                Ok(won) => won,
                Err(e) => {
                    // Not decided (DynamoDB failed it: throttled, unavailable): the lookup of a key
                    // nobody will be given goes (best effort; else the sweeper removes it).
                    let _ = self.delete_if(new_lookup, "user_id = :id", &[(":id", n(user_id))]).await;
                    return Err(e);
                }
            };
            if !won {
                // Another reset (or a deletion) won: this lookup names a key nobody has.
                self.delete_if(new_lookup, "user_id = :id", &[(":id", n(user_id))]).await?;
                tokio::time::sleep(Duration::from_millis(20)).await;
                continue;
            }
            // (3)
            let identities = match item.get("identities") {
                Some(AttributeValue::Ss(ids)) => ids.clone(),
                _ => return Err(StoreError::Corrupt("identities")),
            };
            self.finish_key_reset(&user, &identities, Some(old_lookup), new_lookup).await?;
            return Ok(Some(user));
        }
        Err(StoreError::Contention)
    }

    /// Step (3) of a key reset that `user` (as the reset made it) won.
    async fn finish_key_reset(
        &self,
        user: &UserRecord,
        identities: &[String],
        old_lookup: Option<Item>,
        new_lookup: Item,
    ) -> Result<(), StoreError> {
        let values = [
            (":new", n(user.key_generation)),
            (":salt", s(user.key_salt.clone().unwrap_or_default())),
            (":version", n(user.key_version)),
            (":now", n(user.updated_at)),
            (":id", n(user.user_id)),
        ];
        for id in identities {
            let (provider, subject) = id.split_once('#').ok_or(StoreError::Corrupt("identities"))?;
            self.write_gate().await?;
            self.update_if(
                keys::identity(&user.instance, provider, subject),
                KEY_UPDATE,
                "attribute_exists(pk) AND user_id = :id AND key_generation < :new",
                &values,
            )
            .await?;
        }
        if let Some(old) = old_lookup {
            self.delete_if(old, "user_id = :id", &[(":id", n(user.user_id))]).await?;
        }
        self.write_gate().await?;
        self.update_if(
            new_lookup,
            "REMOVE pending, sweep_pk, sweep_at, plan_old_ukey",
            "attribute_exists(pending)",
            &[],
        )
        .await?;
        Ok(())
    }

    /// The sweeper's finisher of a key reset, from its new lookup `pk` ([`UserStore::finish_pending`]):
    /// decided (the user's generation reached the lookup's): finish it, and a lookup whose
    /// generation was passed goes with the old one it names; never decided (the user is still
    /// below it, or gone): the lookup names a key nobody has, and goes.
    pub(super) async fn finish_pending_key_reset(&self, pk: &str) -> Result<Finished, StoreError> {
        let key = keys::by_pk(pk, "UKEY");
        let Some(lookup) = self.get(key.clone(), true).await? else { return Ok(Finished::NotPending) };
        if !lookup.contains_key(sweep::PENDING) {
            return Ok(Finished::NotPending);
        }
        let instance = pk.split('#').nth(1).and_then(InstanceName::parse).ok_or(StoreError::Corrupt("UKEY pk"))?;
        let user_id: u64 = get_n(&lookup, "user_id")?;
        let planned: u64 = get_n(&lookup, "key_generation")?;
        let old = match lookup.get(PLAN_OLD_UKEY) {
            Some(AttributeValue::S(old)) if !old.is_empty() => Some(keys::by_pk(old, "UKEY")),
            _ => None,
        };
        let user = self.get_user_item(&instance, user_id).await?.filter(|i| !is_tombstone(i));
        let current = user.as_ref().map(|u| get_n::<u64>(u, "key_generation")).transpose()?;
        match (user, current) {
            (Some(item), Some(generation)) if generation == planned => {
                let user = user_from_item(&instance, &item)?;
                let identities = match item.get("identities") {
                    Some(AttributeValue::Ss(ids)) => ids.clone(),
                    _ => return Err(StoreError::Corrupt("identities")),
                };
                self.finish_key_reset(&user, &identities, old, key).await?;
            }
            (_, Some(generation)) if generation > planned => {
                if let Some(old) = old {
                    self.delete_if(old, "user_id = :id", &[(":id", n(user_id))]).await?;
                }
                self.delete_if(key, "user_id = :id", &[(":id", n(user_id))]).await?;
            }
            _ => self.delete_if(key, "user_id = :id", &[(":id", n(user_id))]).await?,
        }
        Ok(Finished::Done)
    }

    /// One `DeleteItem` of `key` where `condition` holds (a failed condition is no error: the
    /// item is not the one to delete).
    async fn delete_if(&self, key: Item, condition: &str, values: &[(&str, AttributeValue)]) -> Result<(), StoreError> {
        self.write_gate().await?;
        let mut delete =
            self.client.delete_item().table_name(&self.table).set_key(Some(key)).condition_expression(condition);
        for (name, value) in values {
            delete = delete.expression_attribute_values(*name, value.clone());
        }
        match delete.send().await {
            Ok(_) => Ok(()),
            Err(e) if e.as_service_error().is_some_and(|se| se.is_conditional_check_failed_exception()) => Ok(()),
            Err(e) => Err(classify("DeleteItem", e)),
        }
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
}
