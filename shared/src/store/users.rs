//! Users: finding one by identity, username or id, and creating one on a first login: single-item
//! conditional writes, no transaction (issue 33), safe under concurrent first logins of the same
//! person and under a process stopped between any two writes.
//!
//! A first login: (1) the identity item, `attribute_not_exists(pk)`, decides: it holds the user's
//! snapshot, `pending` (with the sweep index's keys) and the plan of the steps left (the
//! user-key lookup's key, the email to index, the username attempt). Every later step is
//! idempotent and is finished by whoever finds the identity pending: the login that began it, a
//! login of the same person (the losers of the race, and returning logins, which never answer
//! with a pending snapshot), or the sweeper ([`UserStore::finish_pending`]). The steps are in
//! [`UserStore::finish_first_login`].

use std::time::Duration;

use aws_sdk_dynamodb::operation::update_item::UpdateItemError;
use aws_sdk_dynamodb::types::{AttributeValue, ReturnValue};

use super::deletion::is_tombstone;
use super::error::classify;
use super::items::{get_n, get_opt_s, n, s, user_attributes, user_from_item, Item, USERNAME_HOLD_SECS};
use super::sweep::Finished;
use super::user_ids::{BlockError, IdBlock};
use super::user_keys::user_key_of;
use super::{keys, sweep, StoreError, UserStore};
use crate::domain::clock;
use crate::domain::identity::VerifiedIdentity;
use crate::domain::instance::InstanceName;
use crate::domain::records::{InstanceSettings, SignUpPolicy, UserRecord};
use crate::domain::tokens::{self, UserKeys};
use crate::domain::username;

/// How many rounds a finisher of a first login makes (a username taken moves the plan on and
/// costs one round; so does another finisher's move).
const MAX_CREATE_ATTEMPTS: u32 = 12;

/// The plan a pending identity item carries: the `pk` of the new user's user-key lookup (the
/// SHA-256 of the key, never the key), the email to index (linking), the username attempt.
const PLAN_UKEY: &str = "plan_ukey";
const PLAN_EMAIL: &str = "plan_email";
const PLAN_ATTEMPT: &str = "plan_attempt";
/// Set when the plan became a link to the user that holds the verified email (the identity's
/// snapshot is that user's).
const PLAN_LINK: &str = "plan_link";

/// How often a first login that lost the email to another identity's first login waits for that
/// user's item to be written before it answers 503.
const HOLDER_WAITS: u32 = 12;

/// How long the tombstone of a user no identity names stays before the sweeper removes it (it
/// has no session: nothing else needs it longer).
const ORPHAN_TOMBSTONE_SECS: i64 = 86_400;

/// A login that finds a first login pending (it lost the race) first waits for the login that
/// began it, this many times (`LOSER_WAIT_MS`, then twice that, ...), then finishes it itself.
const LOSER_WAITS: u32 = 3;
const LOSER_WAIT_MS: u64 = 25;

fn has(user: &UserRecord, attr: &str) -> bool {
    match attr {
        "name" => user.name.is_some(),
        "email" => user.email.is_some(),
        "avatar_url" => user.avatar_url.is_some(),
        _ => user.key_salt.is_some(),
    }
}

fn entry_is_ours(entry: Option<&Item>, user_id: u64) -> bool {
    entry.and_then(|e| get_n::<u64>(e, "user_id").ok()) == Some(user_id)
}

fn get_opt_n64(item: &Item, name: &'static str) -> Option<u64> {
    item.contains_key(name).then(|| get_n(item, name).ok()).flatten()
}

fn get_opt_n(item: &Item, name: &'static str) -> Option<u32> {
    item.contains_key(name).then(|| get_n(item, name).ok()).flatten()
}

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

impl UserStore {
    /// The user behind a provider identity, if this identity has logged in before.
    pub async fn find_by_identity(
        &self,
        instance: &InstanceName,
        provider: &str,
        subject: &str,
        consistent: bool,
    ) -> Result<Option<UserRecord>, StoreError> {
        let Some(item) = self.get(keys::identity(instance, provider, subject), consistent).await? else {
            return Ok(None);
        };
        Box::pin(self.user_of_identity(instance, provider, subject, item)).await.map(Some)
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
        let link_email = link_email.as_deref();
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
            username: username::candidate(&base, 0, rand::random()),
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
        let ukey = keys::syncano_user_key(instance, &user_key_of(keys, &user)?);
        // (1) The identity, with the user's snapshot and the plan of the steps after it: the write
        // that decides, of concurrent first logins of this person, whose user it is.
        let key = keys::identity(instance, provider, &identity.subject);
        let mut item = key.clone();
        item.extend(user_attributes(&user));
        // When this identity was made (here: with its user), for callbacks dated before it.
        item.insert("linked_at".into(), n(user.created_at));
        if let Some(AttributeValue::S(pk)) = ukey.get("pk") {
            item.insert(PLAN_UKEY.into(), s(pk));
        }
        if let Some(email) = link_email {
            item.insert(PLAN_EMAIL.into(), s(email));
        }
        item.insert(PLAN_ATTEMPT.into(), n(0));
        sweep::pending(&mut item, clock::now_secs());
        self.write_gate().await?;
        match self.put_new(item.clone()).send().await {
            Ok(_) => Box::pin(self.finish_first_login(instance, provider, &identity.subject, item)).await,
            Err(e) if e.as_service_error().is_some_and(|se| se.is_conditional_check_failed_exception()) => {
                // Another login of the same person won the race (or this very write, sent again
                // by the SDK after its answer was lost: then the item is ours): its user, finished
                // if it is not yet.
                let item = self.get(key, true).await?.ok_or(StoreError::Contention)?;
                if get_opt_n64(&item, "user_id") == Some(user_id) {
                    // Our own write, whose answer was lost: go on with it.
                    return Box::pin(self.finish_first_login(instance, provider, &identity.subject, item)).await;
                }
                Box::pin(self.user_of_identity(instance, provider, &identity.subject, item)).await
            }
            Err(e) => Err(classify("PutItem", e)),
        }
    }

    /// The user an identity item names; if the item is a first login's that has not finished
    /// (`pending`), it is finished first (after a short wait for the login that began it, which
    /// normally finishes it within milliseconds), so that no login answers with a user whose
    /// items are not all written.
    pub(super) async fn user_of_identity(
        &self,
        instance: &InstanceName,
        provider: &str,
        subject: &str,
        mut item: Item,
    ) -> Result<UserRecord, StoreError> {
        let key = keys::identity(instance, provider, subject);
        for wait in 0..LOSER_WAITS {
            if !item.contains_key(sweep::PENDING) {
                return user_from_item(instance, &item);
            }
            tokio::time::sleep(Duration::from_millis(LOSER_WAIT_MS * (1 + u64::from(wait)))).await;
            item = self.get(key.clone(), true).await?.ok_or(StoreError::Contention)?;
        }
        if item.contains_key(super::linking::PENDING_LINK) {
            // A link by email left half-way (linking.rs), not a first login: finished as a link;
            // if its user went meanwhile the identity went too, and the next login is a first one.
            let pk = super::items::get_s(&key, "pk")?.to_string();
            self.finish_pending_link(&pk).await?;
            let item = self.get(key, true).await?.ok_or(StoreError::Contention)?;
            return match item.contains_key(sweep::PENDING) {
                true => Err(StoreError::Contention),
                false => user_from_item(instance, &item),
            };
        }
        Box::pin(self.finish_first_login(instance, provider, subject, item)).await
    }

    /// The sweeper's finisher of a first login ([`UserStore::finish_pending`]).
    pub(super) async fn finish_pending_identity(&self, pk: &str) -> Result<Finished, StoreError> {
        let mut parts = pk.splitn(4, '#').skip(1);
        let (Some(instance), Some(provider), Some(subject)) = (parts.next(), parts.next(), parts.next()) else {
            return Err(StoreError::Corrupt("identity key"));
        };
        let instance = InstanceName::parse(instance).ok_or(StoreError::Corrupt("identity key"))?;
        let Some(item) = self.get(keys::identity(&instance, provider, subject), true).await? else {
            return Ok(Finished::NotPending);
        };
        if !item.contains_key(sweep::PENDING) || item.contains_key(super::linking::PENDING_LINK) {
            // Not pending, or a link's (finished by `finish_link`, before this).
            return Ok(Finished::NotPending);
        }
        Box::pin(self.finish_first_login(&instance, provider, subject, item)).await?;
        Ok(Finished::Done)
    }

    /// Steps (2) to (4) of a first login whose identity item (1) is `item`, pending: each
    /// idempotent, so any number of finishers (the login that began it, a login of the same person
    /// that found it pending, the sweeper) may run them, in any interleaving, and any of them may
    /// stop between two steps. Returns the user as the identity finally holds it.
    ///
    /// (2) the username, `attribute_not_exists OR held_until < now OR user_id = ours`; taken by
    /// another user: the next candidate goes into the plan first (conditional on the plan read),
    /// then is claimed. (3) the user item (`attribute_not_exists`: never over a deletion's
    /// tombstone), the user-key lookup and the email index entry (`attribute_not_exists OR
    /// user_id = ours`) and the subject's list entry (plain put), sent together. (4) the identity:
    /// `REMOVE pending` and the plan, conditional on the plan the steps followed.
    async fn finish_first_login(
        &self,
        instance: &InstanceName,
        provider: &str,
        subject: &str,
        mut item: Item,
    ) -> Result<UserRecord, StoreError> {
        let key = keys::identity(instance, provider, subject);
        for _ in 0..MAX_CREATE_ATTEMPTS {
            if !item.contains_key(sweep::PENDING) {
                return user_from_item(instance, &item);
            }
            let user = user_from_item(instance, &item)?;
            let id = n(user.user_id);
            if item.contains_key(PLAN_LINK) {
                match self.finish_link(instance, provider, subject, &user).await? {
                    Some(user) => return Ok(user),
                    None => {
                        item = self.get(key.clone(), true).await?.ok_or(StoreError::Contention)?;
                        continue;
                    }
                }
            }
            // (2a) Linking on: the verified email, which decides between first logins of two
            // identities of one address: held by another user, this identity joins that user.
            if let Some(email) = get_opt_s(&item, PLAN_EMAIL) {
                let claim = self.put_owned(Some(keys::email(instance, &email)), user.user_id, Some(true));
                if !claim.await? {
                    self.replan_to_holder(instance, &key, &user, &email).await?;
                    item = self.get(key.clone(), true).await?.ok_or(StoreError::Contention)?;
                    continue;
                }
            }
            // (2b)
            if !self.claim_username(instance, &user.username, user.user_id).await? {
                let attempt = get_opt_n(&item, PLAN_ATTEMPT).unwrap_or(0).saturating_add(1);
                let base = username::base_username(user.name.as_deref());
                let next = username::candidate(&base, attempt, rand::random());
                self.write_gate().await?;
                self.update_if(
                    key.clone(),
                    "SET username = :next, plan_attempt = :attempt",
                    "attribute_exists(pending) AND user_id = :id AND username = :old",
                    &[(":next", s(next)), (":attempt", n(attempt)), (":id", id), (":old", s(&user.username))],
                )
                .await?;
                // Moved by this finisher or another: the plan as it is now.
                item = self.get(key.clone(), true).await?.ok_or(StoreError::Contention)?;
                continue;
            }
            // (3)
            let ukey = get_opt_s(&item, PLAN_UKEY);
            // (Boxed: SDK requests' futures side by side would make every login's future large.)
            let (made, lookup, listed) = tokio::join!(
                Box::pin(self.put_user_item(&user, provider, subject)),
                Box::pin(self.put_owned(ukey.map(|pk| keys::by_pk(&pk, "UKEY")), user.user_id, None)),
                Box::pin(self.put_subject(provider, subject, instance)),
            );
            made?;
            if !lookup? {
                return Err(StoreError::Corrupt("a user-key lookup of another user"));
            }
            listed?;
            // (4)
            self.write_gate().await?;
            let finished = self
                .update_if(
                    key.clone(),
                    "REMOVE pending, sweep_pk, sweep_at, plan_ukey, plan_email, plan_attempt, plan_link",
                    "attribute_exists(pending) AND user_id = :id AND username = :name",
                    &[(":id", id), (":name", s(&user.username))],
                )
                .await?;
            if finished {
                return Ok(user);
            }
            let now = self.get(key.clone(), true).await?;
            if now.as_ref().and_then(|i| get_opt_n64(i, "user_id")) != Some(user.user_id) {
                // The identity went (a deletion finished meanwhile) or names another user: what
                // step (3) wrote may have made a user no identity names. Its credentials die now.
                self.retire_orphan(&user, get_opt_s(&item, PLAN_UKEY)).await?;
            }
            item = now.ok_or(StoreError::Contention)?;
        }
        Err(StoreError::Contention)
    }

    /// A user item this finisher may have written for an identity that is gone (a finisher that
    /// read the identity pending, then paused while a whole deletion of its user ran): made a
    /// tombstone (conditional on its `rc_id`, only if live), so no session or user key opens it,
    /// with its user-key lookup's `pk` for the deletion's last step and the sweeper; its username
    /// becomes a hold, as a deletion leaves it. Login functions may update but not delete.
    async fn retire_orphan(&self, user: &UserRecord, ukey: Option<String>) -> Result<(), StoreError> {
        let now = clock::now_secs();
        let expires_at = now + ORPHAN_TOMBSTONE_SECS;
        let key = keys::user(&user.instance, user.user_id);
        let (pk, sk) = (format!("USER#{}#{}", user.instance, user.user_id), "USER");
        let (due, due_values) = sweep::due_update(&pk, sk, expires_at);
        let mut values = vec![
            (":now", n(clock::now_micros())),
            (":why", s("orphan")),
            (":exp", n(expires_at)),
            (":ukey", s(ukey.unwrap_or_default())),
            (":rc", s(&user.rc_id)),
        ];
        let due_values: Vec<(String, AttributeValue)> = due_values.into_iter().collect();
        for (name, value) in &due_values {
            values.push((name.as_str(), value.clone()));
        }
        self.write_gate().await?;
        self.update_if(
            key,
            &format!(
                "SET deleted_at = :now, deletion_reason = :why, expires_at = :exp, ukey_pk = :ukey, {due} \
                 REMOVE username, identities, key_salt, email, avatar_url"
            ),
            "rc_id = :rc AND attribute_not_exists(deleted_at)",
            &values,
        )
        .await?;
        let mut held = keys::username(&user.instance, &user.username);
        let held_until = now + USERNAME_HOLD_SECS;
        held.insert("held_until".into(), n(held_until));
        sweep::expiring(&mut held, held_until);
        self.write_gate().await?;
        let put = self
            .client
            .put_item()
            .table_name(&self.table)
            .set_item(Some(held))
            .condition_expression("user_id = :id")
            .expression_attribute_values(":id", n(user.user_id));
        match put.send().await {
            Ok(_) => Ok(()),
            Err(e) if e.as_service_error().is_some_and(|se| se.is_conditional_check_failed_exception()) => Ok(()),
            Err(e) => Err(classify("PutItem", e)),
        }
    }

    /// Step (2a) lost: the email entry names another user. If that entry may link (written by an
    /// authoritative provider) and its user is live, the plan becomes a link to it (the identity
    /// takes that user's snapshot, conditional on still being this pending plan); its user not
    /// written yet (its own first login is under way): wait, `Contention` after a while; else the
    /// new user goes without an email entry.
    async fn replan_to_holder(
        &self,
        instance: &InstanceName,
        key: &Item,
        user: &UserRecord,
        email: &str,
    ) -> Result<(), StoreError> {
        let ours = [(":ours", n(user.user_id))];
        let condition = "attribute_exists(pending) AND user_id = :ours";
        for wait in 0..HOLDER_WAITS {
            let entry = self.get(keys::email(instance, email), true).await?;
            let holder = entry
                .filter(|e| matches!(e.get("authoritative"), Some(AttributeValue::Bool(true))))
                .and_then(|e| get_n::<u64>(&e, "user_id").ok())
                .filter(|holder| *holder != user.user_id);
            let Some(holder) = holder else {
                // Not a linking entry (or ours after all): no email entry for this user.
                if entry_is_ours(self.get(keys::email(instance, email), true).await?.as_ref(), user.user_id) {
                    return Ok(());
                }
                self.write_gate().await?;
                self.update_if(key.clone(), "REMOVE plan_email", condition, &ours).await?;
                return Ok(());
            };
            match self.get_user_item(instance, holder).await? {
                Some(found) if !is_tombstone(&found) => {
                    let target = user_from_item(instance, &found)?;
                    let attrs = user_attributes(&target);
                    let mut sets = Vec::new();
                    let mut values: Vec<(String, AttributeValue)> = vec![(":ours".into(), n(user.user_id))];
                    for (i, (name, value)) in attrs.into_iter().enumerate() {
                        sets.push(format!("#a{i} = :a{i}"));
                        values.push((format!(":a{i}"), value));
                        values.push((format!("#a{i}"), s(name)));
                    }
                    let removes: Vec<&str> =
                        ["name", "email", "avatar_url", "key_salt"].into_iter().filter(|a| !has(&target, a)).collect();
                    let mut update = format!("SET {}, plan_link = :link REMOVE plan_email, plan_ukey", sets.join(", "));
                    for (i, attr) in removes.iter().enumerate() {
                        update.push_str(&format!(", #r{i}"));
                        values.push((format!("#r{i}"), s(*attr)));
                    }
                    values.push((":link".into(), AttributeValue::Bool(true)));
                    self.write_gate().await?;
                    self.update_named(key.clone(), &update, condition, values).await?;
                    return Ok(());
                }
                Some(_) => {
                    // Being deleted: no link to it; the new user goes without an email entry.
                    self.write_gate().await?;
                    self.update_if(key.clone(), "REMOVE plan_email", condition, &ours).await?;
                    return Ok(());
                }
                None => tokio::time::sleep(Duration::from_millis(LOSER_WAIT_MS * (1 + u64::from(wait)))).await,
            }
        }
        Err(StoreError::Contention)
    }

    /// A pending identity re-planned as a link to the user its snapshot names: that user's
    /// identities get this one (`ADD`, idempotent; live only), the subject's list its entry, and
    /// the identity its `REMOVE pending`. `None`: the plan moved meanwhile (read it again). The user
    /// gone or being deleted: the identity goes (conditional on this plan) and the login answers
    /// 503; its retry makes a new user.
    async fn finish_link(
        &self,
        instance: &InstanceName,
        provider: &str,
        subject: &str,
        user: &UserRecord,
    ) -> Result<Option<UserRecord>, StoreError> {
        let key = keys::identity(instance, provider, subject);
        let plan = [(":id", n(user.user_id))];
        let condition = "attribute_exists(pending) AND user_id = :id";
        self.write_gate().await?;
        let added = self
            .update_if(
                keys::user(instance, user.user_id),
                "ADD identities :ident, identities_version :one",
                "attribute_exists(pk) AND attribute_not_exists(deleted_at)",
                &[(":ident", AttributeValue::Ss(vec![format!("{provider}#{subject}")])), (":one", n(1))],
            )
            .await?;
        if !added {
            self.write_gate().await?;
            let delete = self.client.delete_item().table_name(&self.table).set_key(Some(key));
            let delete = delete.condition_expression(condition).expression_attribute_values(":id", n(user.user_id));
            match delete.send().await {
                Ok(_) => return Err(StoreError::Contention),
                Err(e) if e.as_service_error().is_some_and(|se| se.is_conditional_check_failed_exception()) => {
                    return Ok(None)
                }
                Err(e) => return Err(classify("DeleteItem", e)),
            }
        }
        self.put_subject(provider, subject, instance).await?;
        self.write_gate().await?;
        let done = self
            .update_if(key, "REMOVE pending, sweep_pk, sweep_at, plan_link, plan_attempt", condition, &plan)
            .await?;
        Ok(done.then(|| user.clone()))
    }

    /// `UpdateItem` whose `values` hold both the `:values` and the `#names` of its expressions.
    async fn update_named(
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

    /// Step (2): the username for `user_id`; `false` if another user holds it.
    async fn claim_username(&self, instance: &InstanceName, name: &str, user_id: u64) -> Result<bool, StoreError> {
        let mut item = keys::username(instance, name);
        item.insert("user_id".into(), n(user_id));
        self.write_gate().await?;
        let put = self
            .client
            .put_item()
            .table_name(&self.table)
            .set_item(Some(item))
            .condition_expression("attribute_not_exists(pk) OR held_until < :now OR user_id = :id")
            .expression_attribute_values(":now", n(clock::now_secs()))
            .expression_attribute_values(":id", n(user_id));
        match put.send().await {
            Ok(_) => Ok(true),
            Err(e) if e.as_service_error().is_some_and(|se| se.is_conditional_check_failed_exception()) => Ok(false),
            Err(e) => Err(classify("PutItem", e)),
        }
    }

    /// Step (3)'s user item, created once: written again by another finisher it is the same user
    /// (same id, same plan). Never over a tombstone: a deletion of this user began meanwhile
    /// (someone found it by its identity), and the login answers 503; its retry finds the
    /// identity gone and makes a new user.
    async fn put_user_item(&self, user: &UserRecord, provider: &str, subject: &str) -> Result<(), StoreError> {
        let mut item = keys::user(&user.instance, user.user_id);
        item.extend(user_attributes(user));
        item.insert("identities".into(), AttributeValue::Ss(vec![format!("{provider}#{subject}")]));
        self.write_gate().await?;
        match self.put_new(item).send().await {
            Ok(_) => Ok(()),
            Err(e) if e.as_service_error().is_some_and(|se| se.is_conditional_check_failed_exception()) => {
                match self.get_user_item(&user.instance, user.user_id).await? {
                    Some(found) if is_tombstone(&found) => Err(StoreError::Contention),
                    Some(found) if get_opt_s(&found, "rc_id").as_deref() == Some(user.rc_id.as_str()) => Ok(()),
                    Some(_) => Err(StoreError::Corrupt("user id allocated twice")),
                    None => Err(StoreError::Contention),
                }
            }
            Err(e) => Err(classify("PutItem", e)),
        }
    }

    /// Step (3)'s lookups that name their user (`key`, if any): created, or already this user's.
    /// `false` if another user holds it.
    async fn put_owned(
        &self,
        key: Option<Item>,
        user_id: u64,
        authoritative: Option<bool>,
    ) -> Result<bool, StoreError> {
        let Some(mut item) = key else { return Ok(true) };
        item.insert("user_id".into(), n(user_id));
        if let Some(flag) = authoritative {
            item.insert("authoritative".into(), AttributeValue::Bool(flag));
        }
        self.write_gate().await?;
        let put = self
            .client
            .put_item()
            .table_name(&self.table)
            .set_item(Some(item))
            .condition_expression("attribute_not_exists(pk) OR user_id = :id")
            .expression_attribute_values(":id", n(user_id));
        match put.send().await {
            Ok(_) => Ok(true),
            Err(e) if e.as_service_error().is_some_and(|se| se.is_conditional_check_failed_exception()) => Ok(false),
            Err(e) => Err(classify("PutItem", e)),
        }
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
