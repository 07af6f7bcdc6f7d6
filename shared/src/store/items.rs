//! Item encoding: attribute values to and from the domain records, and the generic requests
//! (get, batch get, create-only put, transactional put and delete, paged query) every other part uses.

use std::collections::HashMap;
use std::time::Duration;

use aws_sdk_dynamodb::types::{AttributeValue, KeysAndAttributes};

use super::error::{build_err, classify, is_condition_failed};
use super::{StoreError, UserStore};
use crate::domain::instance::InstanceName;
use crate::domain::records::{ApiKeyPermissions, SignUpPolicy, UserRecord};
use aws_sdk_dynamodb::config::http::HttpResponse;
use aws_sdk_dynamodb::error::SdkError;

pub(super) type Item = HashMap<String, AttributeValue>;

/// How long a deleted user's username stays held before anyone else may take it: 30 days, so
/// that people who knew the user by that name (mentions, direct messages, links to the avatar)
/// do not reach a stranger in the meantime.
pub const USERNAME_HOLD_SECS: i64 = 30 * 86_400;

pub(super) fn s(v: impl Into<String>) -> AttributeValue {
    AttributeValue::S(v.into())
}

pub(super) fn n(v: impl ToString) -> AttributeValue {
    AttributeValue::N(v.to_string())
}

pub(super) fn get_s<'a>(item: &'a Item, name: &'static str) -> Result<&'a str, StoreError> {
    match item.get(name) {
        Some(AttributeValue::S(v)) => Ok(v),
        _ => Err(StoreError::Corrupt(name)),
    }
}

pub(super) fn get_opt_s(item: &Item, name: &str) -> Option<String> {
    match item.get(name) {
        Some(AttributeValue::S(v)) => Some(v.clone()),
        _ => None,
    }
}

pub(super) fn get_n<T: std::str::FromStr>(item: &Item, name: &'static str) -> Result<T, StoreError> {
    match item.get(name) {
        Some(AttributeValue::N(v)) => v.parse().map_err(|_| StoreError::Corrupt(name)),
        _ => Err(StoreError::Corrupt(name)),
    }
}

/// A number attribute if the item has it and it reads as `T`.
pub(super) fn get_opt_n<T: std::str::FromStr>(item: &Item, name: &'static str) -> Option<T> {
    item.contains_key(name).then(|| get_n(item, name).ok()).flatten()
}

pub(super) fn user_attributes(u: &UserRecord) -> Item {
    let mut item = HashMap::from([
        ("user_id".to_string(), n(u.user_id)),
        ("rc_id".to_string(), s(&u.rc_id)),
        ("username".to_string(), s(&u.username)),
        ("email_verified".to_string(), AttributeValue::Bool(u.email_verified)),
        ("created_at".to_string(), n(u.created_at)),
        ("updated_at".to_string(), n(u.updated_at)),
        ("revision".to_string(), n(u.revision)),
        ("key_generation".to_string(), n(u.key_generation)),
        ("key_version".to_string(), n(u.key_version)),
    ]);
    for (name, value) in
        [("name", &u.name), ("email", &u.email), ("avatar_url", &u.avatar_url), ("key_salt", &u.key_salt)]
    {
        if let Some(v) = value {
            item.insert(name.to_string(), s(v));
        }
    }
    item
}

pub(super) fn user_from_item(instance: &InstanceName, item: &Item) -> Result<UserRecord, StoreError> {
    Ok(UserRecord {
        instance: instance.clone(),
        user_id: get_n(item, "user_id")?,
        rc_id: get_s(item, "rc_id")?.to_string(),
        username: get_s(item, "username")?.to_string(),
        name: get_opt_s(item, "name"),
        email: get_opt_s(item, "email"),
        email_verified: matches!(item.get("email_verified"), Some(AttributeValue::Bool(true))),
        avatar_url: get_opt_s(item, "avatar_url"),
        created_at: get_n(item, "created_at")?,
        updated_at: get_n(item, "updated_at")?,
        revision: get_n(item, "revision")?,
        key_generation: get_n(item, "key_generation")?,
        key_salt: get_opt_s(item, "key_salt"),
        // Users made before versions were recorded: version 1.
        key_version: if item.contains_key("key_version") { get_n(item, "key_version")? } else { 1 },
    })
}

/// What an instance item's `sign_up` says: open only if it says `open`.
pub(super) fn sign_up_policy(item: &Item) -> SignUpPolicy {
    SignUpPolicy::from_stored(get_opt_s(item, "sign_up").as_deref())
}

/// What an API key item says its key may do.
pub(super) fn api_key_permissions(item: &Item) -> ApiKeyPermissions {
    let flag = |name: &str| match item.get(name) {
        Some(AttributeValue::Bool(b)) => Some(*b),
        _ => None,
    };
    match (flag("ignore_acl"), flag("allow_user_create")) {
        (None, None) => ApiKeyPermissions::CLIENT,
        (ignore_acl, allow_user_create) => ApiKeyPermissions {
            ignore_acl: ignore_acl.unwrap_or(false),
            allow_user_create: allow_user_create.unwrap_or(false),
        },
    }
}

impl UserStore {
    /// One `GetItem` of `key`.
    pub(super) async fn get(&self, key: Item, consistent: bool) -> Result<Option<Item>, StoreError> {
        let out = self
            .client
            .get_item()
            .table_name(&self.table)
            .set_key(Some(key))
            .consistent_read(consistent)
            .send()
            .await
            .map_err(|e| classify("GetItem", e))?;
        Ok(out.item)
    }

    /// One `BatchGetItem` of at most 100 `keys` (whole items, or the attributes of
    /// `projection`); asks again for the keys DynamoDB leaves unprocessed under load, a few times.
    pub(super) async fn batch_get(
        &self,
        keys: Vec<Item>,
        projection: Option<&str>,
        consistent: bool,
    ) -> Result<Vec<Item>, StoreError> {
        let keys = KeysAndAttributes::builder()
            .set_keys(Some(keys))
            .set_projection_expression(projection.map(str::to_string))
            .consistent_read(consistent)
            .build()
            .map_err(build_err)?;
        let mut request = HashMap::from([(self.table.clone(), keys)]);
        let mut found: Vec<Item> = Vec::new();
        for attempt in 0..4u32 {
            let out = self
                .client
                .batch_get_item()
                .set_request_items(Some(request))
                .send()
                .await
                .map_err(|e| classify("BatchGetItem", e))?;
            if let Some(items) = out.responses.and_then(|mut r| r.remove(&self.table)) {
                found.extend(items);
            }
            match out.unprocessed_keys.filter(|u| !u.is_empty()) {
                None => break,
                Some(rest) if attempt < 3 => {
                    tokio::time::sleep(Duration::from_millis(20 << attempt)).await;
                    request = rest;
                }
                // DynamoDB leaves keys unprocessed when their partition's throughput is exceeded.
                Some(_) => return Err(StoreError::Throttled("BatchGetItem left keys unprocessed".into())),
            }
        }
        Ok(found)
    }

    /// A `PutItem` that only creates: fails if an item with the same key exists.
    pub(super) fn put_new(&self, item: Item) -> aws_sdk_dynamodb::operation::put_item::builders::PutItemFluentBuilder {
        self.client
            .put_item()
            .table_name(&self.table)
            .set_item(Some(item))
            .condition_expression("attribute_not_exists(pk)")
    }

    /// A `PutItem` applied only where `condition` holds: `false` if it did not (nothing written).
    pub(super) async fn put_where(
        &self,
        item: Item,
        condition: &str,
        values: &[(&str, AttributeValue)],
    ) -> Result<bool, StoreError> {
        let values = placeholders(values);
        let result = self
            .client
            .put_item()
            .table_name(&self.table)
            .set_item(Some(item))
            .condition_expression(condition)
            .set_expression_attribute_values((!values.is_empty()).then_some(values))
            .send()
            .await;
        applied("PutItem", result)
    }

    /// A `DeleteItem` applied only where `condition` holds (none: always): `false` if it did not.
    pub(super) async fn delete_where(
        &self,
        key: Item,
        condition: Option<&str>,
        values: &[(&str, AttributeValue)],
    ) -> Result<bool, StoreError> {
        let values = placeholders(values);
        let result = self
            .client
            .delete_item()
            .table_name(&self.table)
            .set_key(Some(key))
            .set_condition_expression(condition.map(str::to_owned))
            .set_expression_attribute_values((!values.is_empty()).then_some(values))
            .send()
            .await;
        applied("DeleteItem", result)
    }

    /// `UpdateItem` of `key` with `update`, applied only where `condition` holds (`values` names
    /// both's placeholders): `true` if it was applied, `false` if the condition failed.
    pub(super) async fn update_if(
        &self,
        key: Item,
        update: &str,
        condition: &str,
        values: &[(&str, AttributeValue)],
    ) -> Result<bool, StoreError> {
        let values = placeholders(values);
        let result = self
            .client
            .update_item()
            .table_name(&self.table)
            .set_key(Some(key))
            .update_expression(update)
            .condition_expression(condition)
            .set_expression_attribute_values((!values.is_empty()).then_some(values))
            .send()
            .await;
        applied("UpdateItem", result)
    }

    /// `UpdateItem` whose `values` hold both the `:values` and the `#names` of its expressions.
    pub(super) async fn update_named(
        &self,
        key: Item,
        update: &str,
        condition: &str,
        values: Vec<(String, AttributeValue)>,
    ) -> Result<bool, StoreError> {
        let mut request = self
            .client
            .update_item()
            .table_name(&self.table)
            .set_key(Some(key))
            .update_expression(update)
            .condition_expression(condition);
        for (name, value) in values {
            request = match (name.starts_with('#'), value) {
                (true, AttributeValue::S(attr)) => request.expression_attribute_names(name, attr),
                (_, value) => request.expression_attribute_values(name, value),
            };
        }
        match request.send().await {
            Ok(_) => Ok(true),
            Err(e) if e.as_service_error().is_some_and(|se| se.is_conditional_check_failed_exception()) => Ok(false),
            Err(e) => Err(classify("UpdateItem", e)),
        }
    }

    /// Every item of partition `pk` whose sort key starts with `sk_prefix`.
    pub(super) async fn query_partition(&self, pk: String, sk_prefix: &str) -> Result<Vec<Item>, StoreError> {
        let condition = "pk = :pk AND begins_with(sk, :prefix)";
        self.query_items(condition, None, &[(":pk", s(pk)), (":prefix", s(sk_prefix))], usize::MAX).await
    }

    /// The items `key_condition` (and `filter`, if any) select, at most `limit`: consistent
    /// `Query` pages until the last or the limit (`values` names the expressions' placeholders).
    pub(super) async fn query_items(
        &self,
        key_condition: &str,
        filter: Option<&str>,
        values: &[(&str, AttributeValue)],
        limit: usize,
    ) -> Result<Vec<Item>, StoreError> {
        let values = placeholders(values);
        let mut items = Vec::new();
        let mut start = None;
        loop {
            let out = self
                .client
                .query()
                .table_name(&self.table)
                .key_condition_expression(key_condition)
                .set_filter_expression(filter.map(str::to_owned))
                .set_expression_attribute_values(Some(values.clone()))
                .consistent_read(true)
                .set_exclusive_start_key(start)
                .send()
                .await
                .map_err(|e| classify("Query", e))?;
            items.extend(out.items.unwrap_or_default());
            start = out.last_evaluated_key;
            if start.is_none() || items.len() >= limit {
                items.truncate(limit);
                return Ok(items);
            }
        }
    }
}

/// Is this user item the tombstone of a deletion in progress?
pub(super) fn is_tombstone(item: &Item) -> bool {
    item.contains_key("deleted_at")
}

/// Whether a conditional write was applied: `false` when its condition failed (nothing written).
fn applied<T, E>(op: &'static str, result: Result<T, SdkError<E, HttpResponse>>) -> Result<bool, StoreError>
where
    E: aws_sdk_dynamodb::error::ProvideErrorMetadata + std::error::Error + 'static,
{
    match result {
        Ok(_) => Ok(true),
        Err(e) if is_condition_failed(&e) => Ok(false),
        Err(e) => Err(classify(op, e)),
    }
}

/// Expression attribute values as a request takes them (`None` for none).
fn placeholders(values: &[(&str, AttributeValue)]) -> HashMap<String, AttributeValue> {
    values.iter().map(|(k, v)| ((*k).to_owned(), v.clone())).collect()
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::store::keys;

    fn user() -> UserRecord {
        UserRecord {
            instance: InstanceName::parse("demo").expect("valid"),
            user_id: 5,
            rc_id: "aYjNnig8BEAWeQzMh".into(),
            username: "rocket.cat".into(),
            name: Some("Rocket Cat".into()),
            email: None,
            email_verified: false,
            avatar_url: Some("https://x.test/a.png".into()),
            created_at: 1,
            updated_at: 2,
            revision: 1,
            key_generation: 1,
            key_salt: Some("00112233445566778899aabbccddeeff".into()),
            key_version: 2,
        }
    }

    #[test]
    fn users_made_before_salts_read_as_legacy_version_1() {
        let mut u = user();
        let mut item = user_attributes(&u);
        item.remove("key_salt");
        item.remove("key_version");
        (u.key_salt, u.key_version) = (None, 1);
        assert_eq!(user_from_item(&u.instance, &item).expect("readable"), u);
    }

    #[test]
    fn api_keys_without_flags_are_client_keys() {
        let mut item = keys::api_key(&InstanceName::parse("demo").expect("valid"), "ab");
        assert_eq!(api_key_permissions(&item), ApiKeyPermissions::CLIENT);
        item.insert("ignore_acl".into(), AttributeValue::Bool(true));
        assert_eq!(api_key_permissions(&item), ApiKeyPermissions { ignore_acl: true, allow_user_create: false });
    }

    #[test]
    fn user_round_trips_through_attributes() {
        let u = user();
        assert_eq!(user_from_item(&u.instance, &user_attributes(&u)).expect("readable"), u);
    }

    #[test]
    fn malformed_items_are_corrupt_not_panics() {
        let u = user();
        let mut item = user_attributes(&u);
        item.insert("user_id".into(), s("five"));
        assert!(matches!(user_from_item(&u.instance, &item), Err(StoreError::Corrupt("user_id"))));
        item.remove("username");
        assert!(user_from_item(&u.instance, &item).is_err());
    }
}
