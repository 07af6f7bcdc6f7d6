//! Users: finding one by identity, username or id, and creating one on a first login (one
//! conditional transaction, safe under concurrent first logins of the same person).

use std::time::Duration;

use aws_sdk_dynamodb::operation::transact_write_items::TransactWriteItemsError;
use aws_sdk_dynamodb::operation::update_item::UpdateItemError;
use aws_sdk_dynamodb::types::{AttributeValue, ReturnValue};

use super::deletion::is_tombstone;
use super::error::{classify, throttled_reasons};
use super::items::{get_n, n, user_attributes, user_from_item, Item};
use super::user_ids::{BlockError, IdBlock};
use super::user_keys::user_key_of;
use super::{keys, StoreError, UserStore};
use crate::domain::clock;
use crate::domain::identity::VerifiedIdentity;
use crate::domain::instance::InstanceName;
use crate::domain::records::{InstanceSettings, SignUpPolicy, UserRecord};
use crate::domain::tokens::{self, UserKeys};
use crate::domain::username;

/// How often a first login retries a transaction that lost on a username or a write conflict.
const MAX_CREATE_ATTEMPTS: u32 = 12;

/// How far above the instance item's counter a migrated counter item starts: while a deployment
/// rolls out, functions of the previous version still take ids from the instance item, and
/// their next ids must not be the new counter's (fewer first logins than this during a rollout).
const LEGACY_COUNTER_GAP: u64 = 1_000;

/// What the allocation of a new user's id found.
enum Allocation {
    Id {
        user_id: u64,
        linking: bool,
    },
    /// The instance's sign-up policy is closed (no id was taken).
    SignUpClosed {
        linking: bool,
    },
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
    /// The user behind a provider identity, if this identity has logged in before.
    pub async fn find_by_identity(
        &self,
        instance: &InstanceName,
        provider: &str,
        subject: &str,
        consistent: bool,
    ) -> Result<Option<UserRecord>, StoreError> {
        let item = self.get(keys::identity(instance, provider, subject), consistent).await?;
        item.map(|item| user_from_item(instance, &item)).transpose()
    }

    /// When the identity `provider`/`subject` was made here (microseconds since the epoch), if
    /// it exists: its `linked_at`, or for items written before that was recorded, its user's
    /// `created_at` (no later than the identity: a linked identity joined an older user). One
    /// consistent `GetItem`.
    pub async fn identity_since(
        &self,
        instance: &InstanceName,
        provider: &str,
        subject: &str,
    ) -> Result<Option<i64>, StoreError> {
        let Some(item) = self.get(keys::identity(instance, provider, subject), true).await? else { return Ok(None) };
        let since =
            if item.contains_key("linked_at") { get_n(&item, "linked_at")? } else { get_n(&item, "created_at")? };
        Ok(Some(since))
    }

    /// Creates the user of `identity`, whose lookup ([`UserStore::find_by_identity`]) just found
    /// nothing, in an instance whose `settings` (sign-up policy, linking) the caller read or
    /// keeps ([`crate::usecases::access_cache`]). Safe under any number of concurrent first
    /// logins of the same identity: exactly one user is created, and the losers (or, with
    /// linking on, the logins of the same verified email) answer with it.
    pub async fn create_user(
        &self,
        instance: &InstanceName,
        identity: &VerifiedIdentity,
        keys: &UserKeys,
        settings: InstanceSettings,
    ) -> Result<UserRecord, StoreError> {
        let provider = identity.provider.as_str();
        let (user_id, linking) = match self.allocate_user_id(instance, settings).await? {
            Allocation::Id { user_id, linking } => (user_id, linking),
            Allocation::SignUpClosed { linking } => {
                // No new user; but a person the instance knows by a verified email is no new
                // user: with linking on, the new identity still joins them.
                if let Some(email) = identity.authoritative_email().filter(|_| linking) {
                    if let Some(user) = self.link_by_email(instance, identity, &email).await? {
                        return Ok(user);
                    }
                }
                return Err(StoreError::SignUpClosed { links_by_email: linking });
            }
        };
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

    /// Next Syncano user id of the instance if its sign-up policy (in `settings`, which the
    /// caller read or keeps: no read of the instance's partition here) is open, and whether the
    /// instance links accounts by verified email. Only then is an id taken: a closed instance's
    /// refusal takes none and writes nothing, and a login function writes nothing in the
    /// instance's partition, where its API keys are (docs/security.md, "Least privilege in the
    /// table"). The id comes from this execution environment's block ([`super::user_ids`]); when
    /// that is used up, the next block is reserved with one `ADD` on the counter's own item
    /// ([`keys::user_ids`]).
    async fn allocate_user_id(
        &self,
        instance: &InstanceName,
        settings: InstanceSettings,
    ) -> Result<Allocation, StoreError> {
        let linking = settings.links_by_email;
        if settings.sign_up != SignUpPolicy::Open {
            return Ok(Allocation::SignUpClosed { linking });
        }
        // One lock per instance and environment: concurrent first logins here take distinct ids,
        // and wait for one reservation rather than each making its own.
        let block = self.user_ids.of(instance);
        let mut block = block.lock().await;
        if let Some(user_id) = block.take() {
            return Ok(Allocation::Id { user_id, linking });
        }
        let size = self.user_ids.size();
        for _ in 0..2 {
            if let Some(top) = self.add_user_ids(instance, size).await? {
                *block = IdBlock::reserved(top, size).map_err(|e| match e {
                    BlockError::Corrupt => StoreError::Corrupt("next_user_id below its block"),
                    BlockError::Exhausted => StoreError::Corrupt("user ids exhausted: none left below 2^53"),
                })?;
                let user_id = block.take().ok_or(StoreError::Corrupt("an empty block of user ids"))?;
                return Ok(Allocation::Id { user_id, linking });
            }
            // The counter of an instance made before the counter item had one is on the
            // instance item: the first reservation without a counter item creates it from there.
            let legacy = self.legacy_next_user_id(instance).await?;
            self.create_user_ids(instance, legacy.saturating_add(LEGACY_COUNTER_GAP)).await?;
        }
        Err(StoreError::Corrupt("user id counter"))
    }

    /// The id counter an instance item made before the counter item may still carry (0 if
    /// none); fails if the instance does not exist. Read once per instance, when its counter
    /// item is first created.
    async fn legacy_next_user_id(&self, instance: &InstanceName) -> Result<u64, StoreError> {
        let item = self.instance_item(instance, "next_user_id").await?.ok_or(StoreError::InstanceNotFound)?;
        if item.contains_key("next_user_id") {
            get_n(&item, "next_user_id")
        } else {
            Ok(0)
        }
    }

    /// `ADD next_user_id :size` on the counter item, if it exists: the new value, the last id of
    /// the block this environment now owns.
    async fn add_user_ids(&self, instance: &InstanceName, size: u64) -> Result<Option<u64>, StoreError> {
        let out = self
            .client
            .update_item()
            .table_name(self.table())
            .set_key(Some(keys::user_ids(instance)))
            .update_expression("ADD next_user_id :block")
            .condition_expression("attribute_exists(pk)")
            .expression_attribute_values(":block", n(size))
            .return_values(ReturnValue::UpdatedNew)
            .send()
            .await;
        match out {
            Ok(out) => {
                let attrs = out.attributes.ok_or(StoreError::Corrupt("next_user_id"))?;
                Ok(Some(get_n(&attrs, "next_user_id")?))
            }
            Err(e) => match e.as_service_error() {
                Some(UpdateItemError::ConditionalCheckFailedException(_)) => Ok(None),
                _ => Err(classify("UpdateItem", e)),
            },
        }
    }

    /// Creates the counter item at `last` (the last id taken), unless it exists: of concurrent
    /// creations one wins and the others find it, so no id is handed out twice.
    pub(super) async fn create_user_ids(&self, instance: &InstanceName, last: u64) -> Result<(), StoreError> {
        let mut item = keys::user_ids(instance);
        item.insert("next_user_id".into(), n(last));
        match self.put_new(item).send().await {
            Ok(_) => Ok(()),
            Err(e) if e.as_service_error().is_some_and(|se| se.is_conditional_check_failed_exception()) => Ok(()),
            Err(e) => Err(classify("PutItem", e)),
        }
    }

    async fn create(
        &self,
        identity: &VerifiedIdentity,
        user: &UserRecord,
        keys: &UserKeys,
        link_email: Option<&str>,
    ) -> Result<CreateOutcome, StoreError> {
        let attrs = user_attributes(user);
        let mut identity_item = keys::identity(&user.instance, identity.provider.as_str(), &identity.subject);
        identity_item.extend(attrs.clone());
        // When this identity was made (here: with its user), for callbacks dated before it.
        identity_item.insert("linked_at".into(), n(user.created_at));
        let mut user_item = keys::user(&user.instance, user.user_id);
        user_item.extend(attrs);
        user_item.insert(
            "identities".into(),
            AttributeValue::Ss(vec![format!("{}#{}", identity.provider, identity.subject)]),
        );
        let mut name_item = keys::username(&user.instance, &user.username);
        name_item.insert("user_id".into(), n(user.user_id));
        let mut ukey_item = keys::syncano_user_key(&user.instance, &user_key_of(keys, user)?);
        ukey_item.insert("user_id".into(), n(user.user_id));

        let mut items = vec![
            self.transact_put_new(identity_item)?,
            self.transact_put_new(user_item)?,
            self.transact_put_username(name_item, clock::now_secs())?,
            self.transact_put_new(ukey_item)?,
        ];
        if let Some(email) = link_email {
            let mut email_item = keys::email(&user.instance, email);
            email_item.insert("user_id".into(), n(user.user_id));
            email_item.insert("authoritative".into(), AttributeValue::Bool(true));
            items.push(self.transact_put_new(email_item)?);
        }
        // Last, and unconditional: the positions of the reasons below stay those of the puts above.
        items.push(self.transact_put_subject(identity.provider.as_str(), &identity.subject, &user.instance)?);
        let count = items.len();
        let result = self.client.transact_write_items().set_transact_items(Some(items)).send().await;
        let err = match result {
            Ok(_) => return Ok(CreateOutcome::Created),
            Err(err) => err,
        };
        if let Some(TransactWriteItemsError::TransactionCanceledException(c)) = err.as_service_error() {
            // Throttled: DynamoDB did not try, whatever the other reasons say (nothing written;
            // a retry a little later decides).
            if throttled_reasons(c.cancellation_reasons()) {
                return Err(classify("TransactWriteItems", err));
            }
            let code = |i: usize| c.cancellation_reasons().get(i).and_then(|r| r.code()).unwrap_or("None");
            // Reasons are positional: 0 identity, 1 user, 2 username, 3 user key, 4 email (or the
            // subject's list entry, which has no condition).
            return if code(0) == "ConditionalCheckFailed" {
                Ok(CreateOutcome::IdentityExists)
            } else if code(4) == "ConditionalCheckFailed" {
                Ok(CreateOutcome::EmailTaken)
            } else if code(2) == "ConditionalCheckFailed" {
                Ok(CreateOutcome::UsernameTaken)
            } else if (0..count).any(|i| code(i) == "TransactionConflict") {
                Ok(CreateOutcome::Conflict)
            } else if code(1) == "ConditionalCheckFailed" || code(3) == "ConditionalCheckFailed" {
                Err(StoreError::Corrupt("user id allocated twice"))
            } else {
                Err(StoreError::Unavailable(format!("transaction cancelled: {}/{}/{}", code(0), code(1), code(2))))
            };
        }
        Err(classify("TransactWriteItems", err))
    }

    /// A live user by its Syncano id (consistent read): the tombstone of a deletion in progress
    /// is no user.
    pub async fn get_user(&self, instance: &InstanceName, user_id: u64) -> Result<Option<UserRecord>, StoreError> {
        self.get_user_item(instance, user_id)
            .await?
            .filter(|item| !is_tombstone(item))
            .map(|item| user_from_item(instance, &item))
            .transpose()
    }

    pub(super) async fn get_user_item(
        &self,
        instance: &InstanceName,
        user_id: u64,
    ) -> Result<Option<Item>, StoreError> {
        self.get(keys::user(instance, user_id), true).await
    }
}
