//! A first login: the user of an identity no user has yet, made in single-item conditional
//! writes, no transaction (issue 33), safe under concurrent first logins of the same person and
//! under a process stopped between any two writes.
//!
//! (1) the identity item ([`UserStore::create_user`]), `attribute_not_exists(pk)`, decides: it
//! holds the user's snapshot, `pending` (with the sweep index's keys) and the plan of the steps
//! left (the user-key lookup's key, the email to index, the username attempt). Every later step
//! is idempotent and is finished by whoever finds the identity pending: the login that began it,
//! a login of the same person (the losers of the race, and returning logins, which never answer
//! with a pending snapshot: [`UserStore::user_of_identity`]), or the sweeper
//! ([`UserStore::finish_pending`]). The steps are in [`UserStore::finish_first_login`].
//!
//! Step (1) is here rather than with the lookups ([`super::users`]) because it writes the plan
//! (`plan_*`) that the later steps follow, and the finder of a pending identity is here because
//! it waits for, then finishes, those steps: one first login reads top to bottom in this file.
//! Only the new user's id comes from elsewhere ([`super::user_ids`], the environment's block).

use std::time::Duration;

use aws_sdk_dynamodb::types::AttributeValue;

use super::deletion::is_tombstone;
use super::error::classify;
use super::items::{get_n, get_opt_n, get_opt_s, n, s, user_attributes, user_from_item, Item, USERNAME_HOLD_SECS};
use super::sweep::Finished;
use super::user_ids::Allocation;
use super::user_keys::user_key_of;
use super::{keys, sweep, StoreError, UserStore};
use crate::domain::clock;
use crate::domain::identity::VerifiedIdentity;
use crate::domain::instance::InstanceName;
use crate::domain::records::{InstanceSettings, UserRecord};
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

/// The `wait`-th pause (from 0) of a login waiting for another's write: `LOSER_WAIT_MS`, then
/// twice that, ...
fn loser_wait(wait: u32) -> Duration {
    Duration::from_millis(LOSER_WAIT_MS * (1 + u64::from(wait)))
}

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

impl UserStore {
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
                if get_opt_n::<u64>(&item, "user_id") == Some(user_id) {
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
            tokio::time::sleep(loser_wait(wait)).await;
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
                let attempt = get_opt_n::<u32>(&item, PLAN_ATTEMPT).unwrap_or(0).saturating_add(1);
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
            if now.as_ref().and_then(|i| get_opt_n::<u64>(i, "user_id")) != Some(user.user_id) {
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
        self.put_where(held, "user_id = :id", &[(":id", n(user.user_id))]).await.map(|_| ())
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
                None => tokio::time::sleep(loser_wait(wait)).await,
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
            return match self.delete_where(key, Some(condition), &plan).await? {
                true => Err(StoreError::Contention),
                false => Ok(None),
            };
        }
        self.put_subject(provider, subject, instance).await?;
        self.write_gate().await?;
        let done = self
            .update_if(key, "REMOVE pending, sweep_pk, sweep_at, plan_link, plan_attempt", condition, &plan)
            .await?;
        Ok(done.then(|| user.clone()))
    }

    /// Step (2): the username for `user_id`; `false` if another user holds it.
    async fn claim_username(&self, instance: &InstanceName, name: &str, user_id: u64) -> Result<bool, StoreError> {
        let mut item = keys::username(instance, name);
        item.insert("user_id".into(), n(user_id));
        self.write_gate().await?;
        let condition = "attribute_not_exists(pk) OR held_until < :now OR user_id = :id";
        self.put_where(item, condition, &[(":now", n(clock::now_secs())), (":id", n(user_id))]).await
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
        self.put_where(item, "attribute_not_exists(pk) OR user_id = :id", &[(":id", n(user_id))]).await
    }
}
