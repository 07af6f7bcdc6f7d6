//! The user store: one DynamoDB table, keys `pk` (S) and `sk` (S), TTL on `expires_at`.
//!
//! | item                     | pk                                   | sk                 |
//! |--------------------------|--------------------------------------|--------------------|
//! | instance (+ id counter)  | `INST#{instance}`                    | `INSTANCE`         |
//! | API key (hash only)      | `INST#{instance}`                    | `APIKEY#{sha256}`  |
//! | identity → user snapshot | `IDENT#{instance}#{provider}#{sub}`  | `IDENT`            |
//! | user                     | `USER#{instance}#{user id}`          | `USER`             |
//! | username reservation     | `UNAME#{instance}#{username}`        | `UNAME`            |
//! | Rocket.Chat session      | `SESSION#{sha256(authToken)}`        | `SESSION`          |
//! | a user's session list    | `USESS#{instance}#{user id}`         | `SESSION#{sha256}` |
//! | Syncano user key → user  | `UKEY#{instance}#{sha256(user_key)}` | `UKEY`             |
//! | authoritative email → user | `EMAIL#{instance}#{ASCII-folded email}` | `EMAIL`        |
//! | rejected logins of an IP | `FAIL#{ip}#{window index}`           | `FAIL`             |
//!
//! Email items exist only in instances that enable account linking, and only for an email the
//! provider vouched for as verified.
//!
//! A first login writes identity, user and username in one `TransactWriteItems` whose puts are
//! all `attribute_not_exists(pk)`: two simultaneous first logins of one person make one user,
//! and the loser reads the winner's. The identity item carries a snapshot of the user so that a
//! returning login is one read.

use std::collections::HashMap;
use std::time::Duration;

use aws_sdk_dynamodb::config::http::HttpResponse;
use aws_sdk_dynamodb::error::{ProvideErrorMetadata, SdkError};
use aws_sdk_dynamodb::operation::transact_write_items::TransactWriteItemsError;
use aws_sdk_dynamodb::types::{AttributeValue, ConditionCheck, KeysAndAttributes, Put, ReturnValue, TransactWriteItem};
use aws_sdk_dynamodb::Client;

use crate::clock;
use crate::identity::VerifiedIdentity;
use crate::instance::InstanceName;
use crate::secret::Secret;
use crate::tokens::{self, KeyMaterial, UserKeys};
use crate::username;

type Item = HashMap<String, AttributeValue>;

/// How often a first login retries a transaction that lost on a username or a write conflict.
const MAX_CREATE_ATTEMPTS: u32 = 12;

#[derive(Debug, thiserror::Error)]
pub enum StoreError {
    #[error("instance not found")]
    InstanceNotFound,
    #[error("instance already exists")]
    InstanceExists,
    /// Throttled, 5xx or unreachable: the caller may retry later (503).
    #[error("DynamoDB unavailable: {0}")]
    Unavailable(String),
    /// Gave up after repeated write conflicts (503).
    #[error("too much contention creating the user")]
    Contention,
    /// Any other DynamoDB error: a bug or a misconfiguration (500).
    #[error("DynamoDB error: {0}")]
    Dynamo(String),
    /// An item that does not have the shape this code writes (500).
    #[error("malformed item: {0}")]
    Corrupt(&'static str),
    /// A user's key was made with a `TOKEN_SECRET` version this deployment no longer has, or this
    /// function has no `TOKEN_SECRET` at all (500).
    #[error("no TOKEN_SECRET of version {0} is configured")]
    RetiredKeyVersion(u32),
}

/// What an instance API key may do: Syncano's flags. A key stored without them (before the flags
/// existed) reads as a client key: it may create users, nothing more (fail closed).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct ApiKeyPermissions {
    /// Instance admin: bypasses per-user permissions (resets any user's key).
    pub ignore_acl: bool,
    /// May create users (a first social login).
    pub allow_user_create: bool,
}

impl ApiKeyPermissions {
    /// What an app ships: it logs users in and creates them on their first login.
    pub const CLIENT: ApiKeyPermissions = ApiKeyPermissions { ignore_acl: false, allow_user_create: true };
    /// The operator's key: everything.
    pub const ADMIN: ApiKeyPermissions = ApiKeyPermissions { ignore_acl: true, allow_user_create: true };

    /// May this key create a user? An admin key may do anything.
    pub fn may_create_users(&self) -> bool {
        self.allow_user_create || self.ignore_acl
    }

    fn from_item(item: &Item) -> ApiKeyPermissions {
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
}

/// Outcome of checking an instance's API key.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ApiKeyCheck {
    Valid(ApiKeyPermissions),
    UnknownInstance,
    InvalidKey,
}

/// A user as the login responses need it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct UserRecord {
    pub instance: InstanceName,
    /// Syncano's integer id, allocated per instance by an atomic counter.
    pub user_id: u64,
    /// Rocket.Chat's 17-character id.
    pub rc_id: String,
    pub username: String,
    pub name: Option<String>,
    pub email: Option<String>,
    pub email_verified: bool,
    pub avatar_url: Option<String>,
    /// Microseconds since the epoch.
    pub created_at: i64,
    pub updated_at: i64,
    pub revision: u64,
    /// Generation of the Syncano user key (bumped by a key reset).
    pub key_generation: u64,
    /// The user's random key salt (new at each reset); `None` for users made before salts.
    pub key_salt: Option<String>,
    /// The `TOKEN_SECRET` version the user's key is derived with.
    pub key_version: u32,
}

impl UserRecord {
    /// What the user's Syncano key is derived from.
    pub fn key_material(&self) -> KeyMaterial {
        KeyMaterial { generation: self.key_generation, salt: self.key_salt.clone(), version: self.key_version }
    }
}

/// A live Rocket.Chat session.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Session {
    pub instance: InstanceName,
    pub user_id: u64,
    pub rc_id: String,
    /// Epoch seconds.
    pub expires_at: i64,
    /// SHA-256 (hex) of the session's token: how the session is stored, never the token.
    pub token_hash: String,
}

/// An API key as `admin list-keys` shows it: its public id, never the key.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ApiKeyInfo {
    pub key_id: String,
    pub created_at: i64,
    pub permissions: ApiKeyPermissions,
}

#[derive(Clone)]
pub struct UserStore {
    client: Client,
    table: String,
}

fn s(v: impl Into<String>) -> AttributeValue {
    AttributeValue::S(v.into())
}

fn n(v: impl ToString) -> AttributeValue {
    AttributeValue::N(v.to_string())
}

fn key(pk: String, sk: &str) -> Item {
    HashMap::from([("pk".to_string(), s(pk)), ("sk".to_string(), s(sk))])
}

fn instance_key(instance: &InstanceName) -> Item {
    key(format!("INST#{instance}"), "INSTANCE")
}

fn api_key_key(instance: &InstanceName, key_hash: &str) -> Item {
    key(format!("INST#{instance}"), &format!("APIKEY#{key_hash}"))
}

fn identity_key(instance: &InstanceName, provider: &str, subject: &str) -> Item {
    key(format!("IDENT#{instance}#{provider}#{subject}"), "IDENT")
}

fn user_key(instance: &InstanceName, user_id: u64) -> Item {
    key(format!("USER#{instance}#{user_id}"), "USER")
}

fn username_key(instance: &InstanceName, username: &str) -> Item {
    key(format!("UNAME#{instance}#{username}"), "UNAME")
}

fn user_key_lookup(instance: &InstanceName, user_key: &Secret) -> Item {
    key(format!("UKEY#{instance}#{}", tokens::sha256_hex(user_key.expose())), "UKEY")
}

/// The email index item of `email`, already ASCII case-folded by
/// [`VerifiedIdentity::authoritative_email`].
fn email_key(instance: &InstanceName, email: &str) -> Item {
    key(format!("EMAIL#{instance}#{email}"), "EMAIL")
}

fn session_key(token_hash: &str) -> Item {
    key(format!("SESSION#{token_hash}"), "SESSION")
}

/// The partition listing a user's sessions: one item per session, sk `SESSION#{token hash}`.
fn user_sessions_pk(instance: &InstanceName, user_id: u64) -> String {
    format!("USESS#{instance}#{user_id}")
}

fn user_session_key(instance: &InstanceName, user_id: u64, token_hash: &str) -> Item {
    key(user_sessions_pk(instance, user_id), &format!("SESSION#{token_hash}"))
}

fn get_s<'a>(item: &'a Item, name: &'static str) -> Result<&'a str, StoreError> {
    match item.get(name) {
        Some(AttributeValue::S(v)) => Ok(v),
        _ => Err(StoreError::Corrupt(name)),
    }
}

fn get_opt_s(item: &Item, name: &str) -> Option<String> {
    match item.get(name) {
        Some(AttributeValue::S(v)) => Some(v.clone()),
        _ => None,
    }
}

fn get_n<T: std::str::FromStr>(item: &Item, name: &'static str) -> Result<T, StoreError> {
    match item.get(name) {
        Some(AttributeValue::N(v)) => v.parse().map_err(|_| StoreError::Corrupt(name)),
        _ => Err(StoreError::Corrupt(name)),
    }
}

fn user_attributes(u: &UserRecord) -> Item {
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

fn user_from_item(instance: &InstanceName, item: &Item) -> Result<UserRecord, StoreError> {
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

/// The current Syncano key of `user`.
pub fn user_key_of(keys: &UserKeys, user: &UserRecord) -> Result<Secret, StoreError> {
    keys.key(user.instance.as_str(), user.user_id, &user.key_material())
        .ok_or(StoreError::RetiredKeyVersion(user.key_version))
}

/// Maps an SDK error to a failure class; the text is for logs only.
fn classify<E>(op: &'static str, err: SdkError<E, HttpResponse>) -> StoreError
where
    E: ProvideErrorMetadata + std::error::Error + 'static,
{
    let retryable_codes = [
        "ProvisionedThroughputExceededException",
        "ThrottlingException",
        "RequestLimitExceeded",
        "InternalServerError",
        "ServiceUnavailable",
        "TransactionInProgressException",
    ];
    let detail = format!("{op}: {}", aws_sdk_dynamodb::error::DisplayErrorContext(&err));
    match &err {
        SdkError::TimeoutError(_) | SdkError::DispatchFailure(_) | SdkError::ResponseError(_) => {
            StoreError::Unavailable(detail)
        }
        SdkError::ServiceError(e) if e.raw().status().is_server_error() => StoreError::Unavailable(detail),
        _ if err.code().is_some_and(|c| retryable_codes.contains(&c)) => StoreError::Unavailable(detail),
        _ => StoreError::Dynamo(detail),
    }
}

fn build_err(e: aws_sdk_dynamodb::error::BuildError) -> StoreError {
    StoreError::Dynamo(format!("request build: {e}"))
}

enum CreateOutcome {
    Created,
    IdentityExists,
    UsernameTaken,
    /// Linking is on and another user holds this verified email (a race): link instead.
    EmailTaken,
    Conflict,
}

impl UserStore {
    /// One `GetItem` of `key`.
    async fn get(&self, key: Item, consistent: bool) -> Result<Option<Item>, StoreError> {
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

    /// A `PutItem` that only creates: fails if an item with the same key exists.
    fn put_new(&self, item: Item) -> aws_sdk_dynamodb::operation::put_item::builders::PutItemFluentBuilder {
        self.client
            .put_item()
            .table_name(&self.table)
            .set_item(Some(item))
            .condition_expression("attribute_not_exists(pk)")
    }

    /// The same, as one item of a `TransactWriteItems`.
    fn transact_put_new(&self, item: Item) -> Result<TransactWriteItem, StoreError> {
        let put = Put::builder()
            .table_name(&self.table)
            .set_item(Some(item))
            .condition_expression("attribute_not_exists(pk)")
            .build()
            .map_err(build_err)?;
        Ok(TransactWriteItem::builder().put(put).build())
    }

    pub fn new(client: Client, table: impl Into<String>) -> UserStore {
        UserStore { client, table: table.into() }
    }

    pub fn table(&self) -> &str {
        &self.table
    }

    /// One consistent BatchGetItem answers both "does the instance exist" and "is this one of its
    /// keys", so a revoked key stops working at once.
    pub async fn check_api_key(&self, instance: &InstanceName, api_key: &Secret) -> Result<ApiKeyCheck, StoreError> {
        let keys = KeysAndAttributes::builder()
            .keys(instance_key(instance))
            .keys(api_key_key(instance, &tokens::sha256_hex(api_key.expose())))
            .projection_expression("sk, ignore_acl, allow_user_create")
            .consistent_read(true)
            .build()
            .map_err(build_err)?;
        let mut request = HashMap::from([(self.table.clone(), keys)]);
        let mut found: Vec<Item> = Vec::new();
        // BatchGetItem may leave keys unprocessed under load: ask again for those, a few times.
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
                Some(_) => return Err(StoreError::Unavailable("BatchGetItem left keys unprocessed".into())),
            }
        }
        let sk = |i: &Item| get_opt_s(i, "sk").unwrap_or_default();
        Ok(if !found.iter().any(|i| sk(i) == "INSTANCE") {
            ApiKeyCheck::UnknownInstance
        } else if let Some(key) = found.iter().find(|i| sk(i).starts_with("APIKEY#")) {
            ApiKeyCheck::Valid(ApiKeyPermissions::from_item(key))
        } else {
            ApiKeyCheck::InvalidKey
        })
    }

    /// The user holding `username` in `instance` (its `UNAME#` reservation, then the user): two
    /// eventually consistent reads, for `GET /avatar/{username}`.
    pub async fn find_by_username(
        &self,
        instance: &InstanceName,
        username: &str,
    ) -> Result<Option<UserRecord>, StoreError> {
        let Some(item) = self.get(username_key(instance, username), false).await? else { return Ok(None) };
        let user_id: u64 = get_n(&item, "user_id")?;
        let Some(user) = self.get(user_key(instance, user_id), false).await? else { return Ok(None) };
        user_from_item(instance, &user).map(Some)
    }

    /// The user behind a provider identity, if this identity has logged in before.
    pub async fn find_by_identity(
        &self,
        instance: &InstanceName,
        provider: &str,
        subject: &str,
        consistent: bool,
    ) -> Result<Option<UserRecord>, StoreError> {
        let item = self.get(identity_key(instance, provider, subject), consistent).await?;
        item.map(|item| user_from_item(instance, &item)).transpose()
    }

    /// Creates the user of `identity`, whose lookup ([`UserStore::find_by_identity`]) just found
    /// nothing. Safe under any number of concurrent first logins of the same identity: exactly
    /// one user is created, and the losers (or, with linking on, the logins of the same verified
    /// email) answer with it.
    pub async fn create_user(
        &self,
        instance: &InstanceName,
        identity: &VerifiedIdentity,
        keys: &UserKeys,
    ) -> Result<UserRecord, StoreError> {
        let provider = identity.provider.as_str();
        let (user_id, linking) = self.allocate_user_id(instance).await?;
        let link_email = if linking { identity.authoritative_email() } else { None };
        let mut link_email = link_email.as_deref();
        if let Some(email) = link_email {
            if let Some(user) = self.link_by_email(instance, identity, email).await? {
                return Ok(user);
            }
        }
        let now = clock::now_micros();
        let base = username::base_username(identity.name.as_deref());
        let mut user = UserRecord {
            instance: instance.clone(),
            user_id,
            rc_id: tokens::new_rocketchat_id(),
            username: base.clone(),
            name: identity.name.clone(),
            email: identity.email.clone(),
            email_verified: identity.email_verified,
            avatar_url: identity.avatar_url.clone(),
            created_at: now,
            updated_at: now,
            revision: 1,
            key_generation: 1,
            key_salt: None,
            key_version: 1,
        };
        let material = keys.fresh(1);
        (user.key_salt, user.key_version) = (material.salt, material.version);
        let mut name_attempt = 0;
        for conflict in 0..MAX_CREATE_ATTEMPTS {
            user.username = username::candidate(&base, name_attempt, rand::random());
            match self.create(identity, &user, keys, link_email).await? {
                CreateOutcome::Created => return Ok(user),
                CreateOutcome::EmailTaken => {
                    if let Some(linked) = self.link_by_email(instance, identity, link_email.unwrap_or_default()).await?
                    {
                        return Ok(linked);
                    }
                    // Held by an entry that may not link (written before the authority rules):
                    // the new user goes without an index entry.
                    link_email = None;
                }
                CreateOutcome::IdentityExists => {
                    // Another login of the same person won the race: answer with its user.
                    return self
                        .find_by_identity(instance, provider, &identity.subject, true)
                        .await?
                        .ok_or(StoreError::Corrupt("identity vanished after a conflict"));
                }
                CreateOutcome::UsernameTaken => name_attempt += 1,
                CreateOutcome::Conflict => {
                    tokio::time::sleep(Duration::from_millis(10 + 10 * u64::from(conflict))).await;
                    if let Some(u) = self.find_by_identity(instance, provider, &identity.subject, true).await? {
                        return Ok(u);
                    }
                }
            }
        }
        Err(StoreError::Contention)
    }

    /// Next Syncano user id of the instance (atomic ADD), and whether the instance links accounts
    /// by verified email; fails if the instance does not exist.
    async fn allocate_user_id(&self, instance: &InstanceName) -> Result<(u64, bool), StoreError> {
        let attrs = self
            .update_instance(instance, "ADD next_user_id :v", n(1), ReturnValue::AllNew)
            .await?
            .ok_or(StoreError::Corrupt("next_user_id"))?;
        Ok((
            get_n(&attrs, "next_user_id")?,
            matches!(attrs.get("link_by_verified_email"), Some(AttributeValue::Bool(true))),
        ))
    }

    /// Turns account linking by verified email on or off for an instance (off by default).
    pub async fn set_linking(&self, instance: &InstanceName, on: bool) -> Result<(), StoreError> {
        self.update_instance(instance, "SET link_by_verified_email = :v", AttributeValue::Bool(on), ReturnValue::None)
            .await?;
        Ok(())
    }

    /// One `UpdateItem` of an existing instance item (`:v` is `value`); `InstanceNotFound` if
    /// there is no such instance. Returns the attributes `returns` asks for.
    async fn update_instance(
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
            .set_key(Some(instance_key(instance)))
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

    /// Links `identity` to the user that holds `email` as verified, if there is one: one
    /// transaction puts the identity (with the user's snapshot) and adds it to the user,
    /// conditional on the user's key generation it read. `None`: no such user.
    async fn link_by_email(
        &self,
        instance: &InstanceName,
        identity: &VerifiedIdentity,
        email: &str,
    ) -> Result<Option<UserRecord>, StoreError> {
        let provider = identity.provider.as_str();
        for _ in 0..3 {
            let item = self.get(email_key(instance, email), true).await?;
            // Only an index entry written by an authoritative provider links (entries written
            // before the authority rules existed carry no `authoritative` flag, and never do).
            let Some(holder) = item.filter(|i| matches!(i.get("authoritative"), Some(AttributeValue::Bool(true))))
            else {
                return Ok(None);
            };
            let Some(user) = self.get_user(instance, get_n(&holder, "user_id")?).await? else { return Ok(None) };
            let mut identity_item = identity_key(instance, provider, &identity.subject);
            identity_item.extend(user_attributes(&user));
            let add = aws_sdk_dynamodb::types::Update::builder()
                .table_name(&self.table)
                .set_key(Some(user_key(instance, user.user_id)))
                .update_expression("ADD identities :id")
                .condition_expression("key_generation = :gen")
                .expression_attribute_values(
                    ":id",
                    AttributeValue::Ss(vec![format!("{provider}#{}", identity.subject)]),
                )
                .expression_attribute_values(":gen", n(user.key_generation))
                .build()
                .map_err(build_err)?;
            let result = self
                .client
                .transact_write_items()
                .transact_items(self.transact_put_new(identity_item)?)
                .transact_items(TransactWriteItem::builder().update(add).build())
                .send()
                .await;
            match result {
                Ok(_) => return Ok(Some(user)),
                Err(e)
                    if matches!(
                        e.as_service_error(),
                        Some(TransactWriteItemsError::TransactionCanceledException(_))
                    ) =>
                {
                    // This identity was created meanwhile, or the user's key was reset: look again.
                    if let Some(u) = self.find_by_identity(instance, provider, &identity.subject, true).await? {
                        return Ok(Some(u));
                    }
                    tokio::time::sleep(Duration::from_millis(20)).await;
                }
                Err(e) => return Err(classify("TransactWriteItems", e)),
            }
        }
        Err(StoreError::Contention)
    }

    async fn create(
        &self,
        identity: &VerifiedIdentity,
        user: &UserRecord,
        keys: &UserKeys,
        link_email: Option<&str>,
    ) -> Result<CreateOutcome, StoreError> {
        let attrs = user_attributes(user);
        let mut identity_item = identity_key(&user.instance, identity.provider.as_str(), &identity.subject);
        identity_item.extend(attrs.clone());
        let mut user_item = user_key(&user.instance, user.user_id);
        user_item.extend(attrs);
        user_item.insert(
            "identities".into(),
            AttributeValue::Ss(vec![format!("{}#{}", identity.provider, identity.subject)]),
        );
        let mut name_item = username_key(&user.instance, &user.username);
        name_item.insert("user_id".into(), n(user.user_id));
        let mut ukey_item = user_key_lookup(&user.instance, &user_key_of(keys, user)?);
        ukey_item.insert("user_id".into(), n(user.user_id));

        let mut items = vec![
            self.transact_put_new(identity_item)?,
            self.transact_put_new(user_item)?,
            self.transact_put_new(name_item)?,
            self.transact_put_new(ukey_item)?,
        ];
        if let Some(email) = link_email {
            let mut email_item = email_key(&user.instance, email);
            email_item.insert("user_id".into(), n(user.user_id));
            email_item.insert("authoritative".into(), AttributeValue::Bool(true));
            items.push(self.transact_put_new(email_item)?);
        }
        let result = self.client.transact_write_items().set_transact_items(Some(items)).send().await;
        let err = match result {
            Ok(_) => return Ok(CreateOutcome::Created),
            Err(err) => err,
        };
        if let Some(TransactWriteItemsError::TransactionCanceledException(c)) = err.as_service_error() {
            let code = |i: usize| c.cancellation_reasons().get(i).and_then(|r| r.code()).unwrap_or("None");
            // Reasons are positional: 0 identity, 1 user, 2 username, 3 user key, 4 email.
            return if code(0) == "ConditionalCheckFailed" {
                Ok(CreateOutcome::IdentityExists)
            } else if code(4) == "ConditionalCheckFailed" {
                Ok(CreateOutcome::EmailTaken)
            } else if code(2) == "ConditionalCheckFailed" {
                Ok(CreateOutcome::UsernameTaken)
            } else if (0..5).any(|i| code(i) == "TransactionConflict") {
                Ok(CreateOutcome::Conflict)
            } else if code(1) == "ConditionalCheckFailed" || code(3) == "ConditionalCheckFailed" {
                Err(StoreError::Corrupt("user id allocated twice"))
            } else {
                Err(StoreError::Unavailable(format!("transaction cancelled: {}/{}/{}", code(0), code(1), code(2))))
            };
        }
        Err(classify("TransactWriteItems", err))
    }

    /// A user by its Syncano id (consistent read).
    pub async fn get_user(&self, instance: &InstanceName, user_id: u64) -> Result<Option<UserRecord>, StoreError> {
        self.get_user_item(instance, user_id).await?.map(|item| user_from_item(instance, &item)).transpose()
    }

    async fn get_user_item(&self, instance: &InstanceName, user_id: u64) -> Result<Option<Item>, StoreError> {
        self.get(user_key(instance, user_id), true).await
    }

    /// The user whose current Syncano user key is `key`.
    pub async fn find_by_user_key(
        &self,
        instance: &InstanceName,
        key: &Secret,
    ) -> Result<Option<UserRecord>, StoreError> {
        let item = self.get(user_key_lookup(instance, key), true).await?;
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
            items.push(self.transact_update(user_key(instance, user_id), "key_generation = :old", values.clone())?);
            values.remove(":old");
            for id in &identities {
                let (provider, subject) = id.split_once('#').ok_or(StoreError::Corrupt("identities"))?;
                items.push(self.transact_update(
                    identity_key(instance, provider, subject),
                    "attribute_exists(pk)",
                    values.clone(),
                )?);
            }
            let delete = aws_sdk_dynamodb::types::Delete::builder()
                .table_name(&self.table)
                .set_key(Some(user_key_lookup(instance, &old_key)))
                .build()
                .map_err(build_err)?;
            items.push(TransactWriteItem::builder().delete(delete).build());
            let mut new_lookup = user_key_lookup(instance, &user_key_of(keys, &user)?);
            new_lookup.insert("user_id".into(), n(user_id));
            items.push(self.transact_put_new(new_lookup)?);
            match self.client.transact_write_items().set_transact_items(Some(items)).send().await {
                Ok(_) => return Ok(Some(user)),
                // Another reset won the race: read again and reset on top of it.
                Err(e)
                    if matches!(
                        e.as_service_error(),
                        Some(TransactWriteItemsError::TransactionCanceledException(_))
                    ) =>
                {
                    tokio::time::sleep(Duration::from_millis(20)).await;
                }
                Err(e) => return Err(classify("TransactWriteItems", e)),
            }
        }
        Err(StoreError::Contention)
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

    /// The live session of `token`: expiry is enforced here, not only by DynamoDB's TTL, which
    /// deletes expired items late.
    pub async fn find_session(&self, token: &Secret) -> Result<Option<Session>, StoreError> {
        let token_hash = tokens::sha256_hex(token.expose());
        let item = self.get(session_key(&token_hash), true).await?;
        let Some(item) = item else { return Ok(None) };
        let expires_at: i64 = get_n(&item, "expires_at")?;
        if expires_at <= clock::now_secs() {
            return Ok(None);
        }
        let instance = InstanceName::parse(get_s(&item, "instance")?).ok_or(StoreError::Corrupt("instance"))?;
        Ok(Some(Session {
            instance,
            user_id: get_n(&item, "user_id")?,
            rc_id: get_s(&item, "rc_id")?.to_string(),
            expires_at,
            token_hash,
        }))
    }

    /// Revokes `session` (its item and its entry in the user's session list, together).
    pub async fn delete_session(&self, session: &Session) -> Result<(), StoreError> {
        let items = vec![
            self.transact_delete(session_key(&session.token_hash))?,
            self.transact_delete(user_session_key(&session.instance, session.user_id, &session.token_hash))?,
        ];
        self.client
            .transact_write_items()
            .set_transact_items(Some(items))
            .send()
            .await
            .map_err(|e| classify("TransactWriteItems", e))?;
        Ok(())
    }

    /// The token hashes of every session of a user (live or expired but not yet deleted), from
    /// the user's session list: one consistent `Query`, no scan.
    pub async fn user_sessions(&self, instance: &InstanceName, user_id: u64) -> Result<Vec<String>, StoreError> {
        self.query_partition(user_sessions_pk(instance, user_id), "SESSION#")
            .await?
            .iter()
            .map(|item| {
                let sk = get_s(item, "sk")?;
                Ok(sk.strip_prefix("SESSION#").ok_or(StoreError::Corrupt("sk"))?.to_string())
            })
            .collect()
    }

    /// Every item of partition `pk` whose sort key starts with `sk_prefix`: consistent `Query`
    /// pages until the last.
    async fn query_partition(&self, pk: String, sk_prefix: &str) -> Result<Vec<Item>, StoreError> {
        let mut items = Vec::new();
        let mut start = None;
        loop {
            let out = self
                .client
                .query()
                .table_name(&self.table)
                .key_condition_expression("pk = :pk AND begins_with(sk, :prefix)")
                .expression_attribute_values(":pk", s(pk.clone()))
                .expression_attribute_values(":prefix", s(sk_prefix))
                .consistent_read(true)
                .set_exclusive_start_key(start)
                .send()
                .await
                .map_err(|e| classify("Query", e))?;
            items.extend(out.items.unwrap_or_default());
            start = out.last_evaluated_key;
            if start.is_none() {
                return Ok(items);
            }
        }
    }

    /// Revokes every session of `keep`'s user but `keep` itself (`users.removeOtherTokens`);
    /// returns how many were revoked.
    pub async fn delete_other_sessions(&self, keep: &Session) -> Result<usize, StoreError> {
        let others: Vec<String> = self
            .user_sessions(&keep.instance, keep.user_id)
            .await?
            .into_iter()
            .filter(|h| *h != keep.token_hash)
            .collect();
        for token_hash in &others {
            let other = Session { token_hash: token_hash.clone(), ..keep.clone() };
            self.delete_session(&other).await?;
        }
        Ok(others.len())
    }

    fn transact_delete(&self, key: Item) -> Result<TransactWriteItem, StoreError> {
        let delete = aws_sdk_dynamodb::types::Delete::builder()
            .table_name(&self.table)
            .set_key(Some(key))
            .build()
            .map_err(build_err)?;
        Ok(TransactWriteItem::builder().delete(delete).build())
    }

    /// Adds one rejected login under the limiter's counter `counter` (an IP, or an IP and a provider
    /// user) in window `window` (expiring at `expires_at`); returns the window's count so far.
    pub async fn count_failure(&self, counter: &str, window: i64, expires_at: i64) -> Result<u64, StoreError> {
        let out = self
            .client
            .update_item()
            .table_name(&self.table)
            .set_key(Some(key(format!("FAIL#{counter}#{window}"), "FAIL")))
            .update_expression("ADD failures :one SET expires_at = if_not_exists(expires_at, :exp)")
            .expression_attribute_values(":one", n(1))
            .expression_attribute_values(":exp", n(expires_at))
            .return_values(ReturnValue::UpdatedNew)
            .send()
            .await
            .map_err(|e| classify("UpdateItem", e))?;
        out.attributes.as_ref().ok_or(StoreError::Corrupt("failures")).and_then(|a| get_n(a, "failures"))
    }

    /// Stores a Rocket.Chat session under the hash of its token, expiring at `expires_at` (epoch
    /// seconds; also the table's TTL attribute), and its entry in the user's session list, in
    /// one transaction.
    pub async fn put_session(&self, token: &Secret, user: &UserRecord, expires_at: i64) -> Result<(), StoreError> {
        let token_hash = tokens::sha256_hex(token.expose());
        let key = session_key(&token_hash);
        let mut item = key.clone();
        item.extend([
            ("instance".to_string(), s(user.instance.as_str())),
            ("user_id".to_string(), n(user.user_id)),
            ("rc_id".to_string(), s(&user.rc_id)),
            ("created_at".to_string(), n(clock::now_micros())),
            ("expires_at".to_string(), n(expires_at)),
        ]);
        let mut entry = user_session_key(&user.instance, user.user_id, &token_hash);
        entry.insert("expires_at".to_string(), n(expires_at));
        let result = self
            .client
            .transact_write_items()
            .transact_items(self.transact_put_new(item)?)
            .transact_items(self.transact_put_new(entry)?)
            // The same token is the same request: an SDK retry of a write whose answer was lost
            // is then DynamoDB's idempotent replay, not a conflict.
            .client_request_token(&token_hash[..36])
            .send()
            .await;
        match result {
            Ok(_) => Ok(()),
            // The token is 256 fresh random bits, so the only item that can already hold its hash
            // is this very write, retried after its idempotency window. Confirm it is ours.
            Err(e)
                if matches!(
                    e.as_service_error(),
                    Some(TransactWriteItemsError::TransactionCanceledException(_))
                        | Some(TransactWriteItemsError::IdempotentParameterMismatchException(_))
                ) =>
            {
                let existing = self.get(key, true).await?.ok_or_else(|| {
                    StoreError::Unavailable(format!(
                        "session transaction cancelled: {}",
                        aws_sdk_dynamodb::error::DisplayErrorContext(&e)
                    ))
                })?;
                let ours = get_s(&existing, "instance")? == user.instance.as_str()
                    && get_n::<u64>(&existing, "user_id")? == user.user_id
                    && get_n::<i64>(&existing, "expires_at")? == expires_at;
                if ours {
                    Ok(())
                } else {
                    Err(StoreError::Corrupt("session token collision"))
                }
            }
            Err(e) => Err(classify("TransactWriteItems", e)),
        }
    }

    /// Creates an instance (the operator's `admin create-instance`).
    pub async fn create_instance(&self, instance: &InstanceName) -> Result<(), StoreError> {
        let mut item = instance_key(instance);
        item.insert("created_at".into(), n(clock::now_micros()));
        item.insert("next_user_id".into(), n(0));
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
        let mut item = api_key_key(instance, &tokens::sha256_hex(api_key.expose()));
        item.insert("key_id".into(), s(&key_id));
        item.insert("ignore_acl".into(), AttributeValue::Bool(permissions.ignore_acl));
        item.insert("allow_user_create".into(), AttributeValue::Bool(permissions.allow_user_create));
        item.insert("created_at".into(), n(clock::now_micros()));
        let check = ConditionCheck::builder()
            .table_name(&self.table)
            .set_key(Some(instance_key(instance)))
            .condition_expression("attribute_exists(pk)")
            .build()
            .map_err(build_err)?;
        self.client
            .transact_write_items()
            .transact_items(TransactWriteItem::builder().condition_check(check).build())
            .transact_items(self.transact_put_new(item)?)
            .send()
            .await
            .map_err(|e| match e.as_service_error() {
                Some(TransactWriteItemsError::TransactionCanceledException(_)) => StoreError::InstanceNotFound,
                _ => classify("TransactWriteItems", e),
            })?;
        Ok(key_id)
    }

    async fn api_key_items(&self, instance: &InstanceName) -> Result<Vec<Item>, StoreError> {
        self.query_partition(format!("INST#{instance}"), "APIKEY#").await
    }

    pub async fn list_api_keys(&self, instance: &InstanceName) -> Result<Vec<ApiKeyInfo>, StoreError> {
        self.api_key_items(instance)
            .await?
            .iter()
            .map(|i| {
                Ok(ApiKeyInfo {
                    key_id: get_s(i, "key_id")?.to_string(),
                    created_at: get_n(i, "created_at")?,
                    permissions: ApiKeyPermissions::from_item(i),
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
            .set_key(Some(key(format!("INST#{instance}"), sk)))
            .send()
            .await
            .map_err(|e| classify("DeleteItem", e))?;
        Ok(true)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

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
        let mut item = api_key_key(&InstanceName::parse("demo").expect("valid"), "ab");
        assert_eq!(ApiKeyPermissions::from_item(&item), ApiKeyPermissions::CLIENT);
        item.insert("ignore_acl".into(), AttributeValue::Bool(true));
        assert_eq!(
            ApiKeyPermissions::from_item(&item),
            ApiKeyPermissions { ignore_acl: true, allow_user_create: false }
        );
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

    #[test]
    fn keys_follow_the_documented_design() {
        let i = InstanceName::parse("demo").expect("valid");
        assert_eq!(identity_key(&i, "facebook", "10158")["pk"], s("IDENT#demo#facebook#10158"));
        assert_eq!(user_key(&i, 5)["pk"], s("USER#demo#5"));
        assert_eq!(username_key(&i, "rocket.cat")["pk"], s("UNAME#demo#rocket.cat"));
        assert_eq!(api_key_key(&i, "ab")["sk"], s("APIKEY#ab"));
    }
}
