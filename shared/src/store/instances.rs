//! Instances and their API keys: the check every Syncano request starts with (one read, or none
//! while the environment keeps its answer), and the operator's instance and key administration.

use aws_sdk_dynamodb::types::{AttributeValue, ReturnValue};

use super::error::classify;
use super::items::{api_key_permissions, get_n, get_opt_s, get_s, n, s, sign_up_policy, Item};
use super::{keys, StoreError, UserStore};
use crate::domain::clock;
use crate::domain::instance::InstanceName;
use crate::domain::records::{
    ApiKeyCheck, ApiKeyInfo, ApiKeyPermissions, InstanceAccess, InstanceSettings, SignUpPolicy,
};
use crate::domain::secret::Secret;
use crate::domain::tokens;

impl UserStore {
    /// One consistent BatchGetItem answers both "does the instance exist" and "is this one of its
    /// keys": what it answers is current (each environment keeps it for a while:
    /// `crate::usecases::access_cache`).
    pub async fn check_api_key(&self, instance: &InstanceName, api_key: &Secret) -> Result<ApiKeyCheck, StoreError> {
        Ok(self.check_api_key_access(instance, api_key).await?.check)
    }

    /// [`UserStore::check_api_key`], and the instance's sign-up policy from the same read (the
    /// instance item it fetches anyway): a Syncano login refuses a first login of a closed
    /// instance before the provider is asked for what only a new user needs.
    pub async fn check_api_key_access(
        &self,
        instance: &InstanceName,
        api_key: &Secret,
    ) -> Result<InstanceAccess, StoreError> {
        let found = self
            .batch_get(
                vec![keys::instance(instance), keys::api_key(instance, &tokens::sha256_hex(api_key.expose()))],
                Some("sk, ignore_acl, allow_user_create, sign_up, link_by_verified_email"),
                true,
            )
            .await?;
        let sk = |i: &Item| get_opt_s(i, "sk").unwrap_or_default();
        let instance_item = found.iter().find(|i| sk(i) == "INSTANCE");
        let check = if instance_item.is_none() {
            ApiKeyCheck::UnknownInstance
        } else if let Some(key) = found.iter().find(|i| sk(i).starts_with("APIKEY#")) {
            ApiKeyCheck::Valid(api_key_permissions(key))
        } else {
            ApiKeyCheck::InvalidKey
        };
        Ok(InstanceAccess {
            check,
            sign_up: instance_item.map_or(SignUpPolicy::Closed, sign_up_policy),
            links_by_email: instance_item
                .is_some_and(|i| matches!(i.get("link_by_verified_email"), Some(AttributeValue::Bool(true)))),
        })
    }

    /// The instance item, projected to `projection` (one consistent `GetItem`); `None` if there
    /// is no such instance.
    pub(super) async fn instance_item(
        &self,
        instance: &InstanceName,
        projection: &str,
    ) -> Result<Option<Item>, StoreError> {
        let read = self
            .client
            .get_item()
            .table_name(self.table())
            .set_key(Some(keys::instance(instance)))
            .projection_expression(projection)
            .consistent_read(true);
        Ok(read.send().await.map_err(|e| classify("GetItem", e))?.item)
    }

    /// What an instance item says of new users (one consistent `GetItem`); `None` if there is
    /// no such instance. A first login's read when its environment keeps no answer.
    pub async fn instance_settings(&self, instance: &InstanceName) -> Result<Option<InstanceSettings>, StoreError> {
        let item = self.instance_item(instance, "sign_up, link_by_verified_email").await?;
        Ok(item.map(|i| InstanceSettings {
            sign_up: sign_up_policy(&i),
            links_by_email: matches!(i.get("link_by_verified_email"), Some(AttributeValue::Bool(true))),
        }))
    }

    /// The sign-up policy an instance item records (`admin show-sign-up`), one consistent read:
    /// `None` if it records none (an item from before the policy), which logins read as closed.
    pub async fn stored_sign_up(&self, instance: &InstanceName) -> Result<Option<SignUpPolicy>, StoreError> {
        let item = self.get(keys::instance(instance), true).await?.ok_or(StoreError::InstanceNotFound)?;
        Ok(get_opt_s(&item, "sign_up").as_deref().and_then(SignUpPolicy::parse))
    }

    /// Opens or closes an instance to new users (`admin set-sign-up`); both dialects obey it
    /// from the next first login on.
    pub async fn set_sign_up(&self, instance: &InstanceName, policy: SignUpPolicy) -> Result<(), StoreError> {
        self.update_instance(instance, "SET sign_up = :v", s(policy.as_str()), ReturnValue::None).await?;
        Ok(())
    }

    /// Turns account linking by verified email on or off for an instance (off by default).
    pub async fn set_linking(&self, instance: &InstanceName, on: bool) -> Result<(), StoreError> {
        self.update_instance(instance, "SET link_by_verified_email = :v", AttributeValue::Bool(on), ReturnValue::None)
            .await?;
        Ok(())
    }

    /// One `UpdateItem` of an existing instance item (`:v` is `value`); `InstanceNotFound` if
    /// there is no such instance. Returns the attributes `returns` asks for.
    pub(super) async fn update_instance(
        &self,
        instance: &InstanceName,
        expression: &str,
        value: AttributeValue,
        returns: ReturnValue,
    ) -> Result<Option<Item>, StoreError> {
        let out = self
            .client
            .update_item()
            .table_name(&self.table)
            .set_key(Some(keys::instance(instance)))
            .update_expression(expression)
            .condition_expression("attribute_exists(pk)")
            .expression_attribute_values(":v", value)
            .return_values(returns)
            .send()
            .await
            .map_err(|e| match e.as_service_error() {
                Some(se) if se.is_conditional_check_failed_exception() => StoreError::InstanceNotFound,
                _ => classify("UpdateItem", e),
            })?;
        Ok(out.attributes)
    }

    /// Creates an instance closed to new users (open it with [`UserStore::set_sign_up`]).
    pub async fn create_instance(&self, instance: &InstanceName) -> Result<(), StoreError> {
        self.create_instance_with(instance, SignUpPolicy::Closed).await
    }

    /// Creates an instance with its sign-up policy (the operator's `admin create-instance`); the
    /// item always records the policy. Its user id counter is an item of its own
    /// ([`keys::user_ids`]), created first (if absent: idempotent), then the instance item, whose
    /// `attribute_not_exists` decides between two creations. Killed between the two, the
    /// operator's retry finishes it; a counter whose instance never came names no instance anyone
    /// can reach (every request reads the instance item first).
    pub async fn create_instance_with(&self, instance: &InstanceName, sign_up: SignUpPolicy) -> Result<(), StoreError> {
        let mut counter = keys::user_ids(instance);
        counter.insert("next_user_id".into(), n(0));
        self.write_gate().await?;
        match self.put_new(counter).send().await {
            Ok(_) => {}
            Err(e) if e.as_service_error().is_some_and(|se| se.is_conditional_check_failed_exception()) => {}
            Err(e) => return Err(classify("PutItem", e)),
        }
        let mut item = keys::instance(instance);
        item.insert("created_at".into(), n(clock::now_micros()));
        item.insert("sign_up".into(), s(sign_up.as_str()));
        self.write_gate().await?;
        self.put_new(item).send().await.map_err(|e| match e.as_service_error() {
            Some(se) if se.is_conditional_check_failed_exception() => StoreError::InstanceExists,
            _ => classify("PutItem", e),
        })?;
        Ok(())
    }

    /// Issues a new API key for an existing instance; only its hash is stored. Returns the key's
    /// public id and the key, which is shown once.
    pub async fn create_api_key(
        &self,
        instance: &InstanceName,
        permissions: ApiKeyPermissions,
    ) -> Result<(String, Secret), StoreError> {
        let api_key = tokens::new_api_key();
        let key_id = self.import_api_key(instance, &api_key, permissions).await?;
        Ok((key_id, api_key))
    }

    /// Stores the hash of a key chosen by the caller (the local stack's fixed demo key, which the
    /// `events/` samples carry). Returns the key's public id.
    pub async fn import_api_key(
        &self,
        instance: &InstanceName,
        api_key: &Secret,
        permissions: ApiKeyPermissions,
    ) -> Result<String, StoreError> {
        let key_id = tokens::new_key_id();
        let mut item = keys::api_key(instance, &tokens::sha256_hex(api_key.expose()));
        item.insert("key_id".into(), s(&key_id));
        item.insert("ignore_acl".into(), AttributeValue::Bool(permissions.ignore_acl));
        item.insert("allow_user_create".into(), AttributeValue::Bool(permissions.allow_user_create));
        item.insert("created_at".into(), n(clock::now_micros()));
        // Instances are never deleted: the instance read consistently before the put is there
        // after it. The key's hash is its own item (`attribute_not_exists`: a key never replaces
        // another's item).
        if self.instance_item(instance, "pk").await?.is_none() {
            return Err(StoreError::InstanceNotFound);
        }
        self.write_gate().await?;
        self.put_new(item).send().await.map_err(|e| classify("PutItem", e))?;
        Ok(key_id)
    }

    async fn api_key_items(&self, instance: &InstanceName) -> Result<Vec<Item>, StoreError> {
        self.query_partition(keys::instance_pk(instance), "APIKEY#").await
    }

    pub async fn list_api_keys(&self, instance: &InstanceName) -> Result<Vec<ApiKeyInfo>, StoreError> {
        self.api_key_items(instance)
            .await?
            .iter()
            .map(|i| {
                Ok(ApiKeyInfo {
                    key_id: get_s(i, "key_id")?.to_string(),
                    created_at: get_n(i, "created_at")?,
                    permissions: api_key_permissions(i),
                })
            })
            .collect()
    }

    /// Deletes the key with public id `key_id`; `false` if there is none.
    pub async fn revoke_api_key(&self, instance: &InstanceName, key_id: &str) -> Result<bool, StoreError> {
        let items = self.api_key_items(instance).await?;
        let Some(item) = items.iter().find(|i| get_opt_s(i, "key_id").as_deref() == Some(key_id)) else {
            return Ok(false);
        };
        let sk = get_s(item, "sk")?;
        self.client
            .delete_item()
            .table_name(&self.table)
            .set_key(Some(keys::api_key_sk(instance, sk)))
            .send()
            .await
            .map_err(|e| classify("DeleteItem", e))?;
        Ok(true)
    }
}
