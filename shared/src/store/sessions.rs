//! Rocket.Chat sessions: stored under the hash of their token, each listed under its user so that
//! "log out everywhere else" is one query. No transaction (issue 33): a session and its entry are
//! two single-item writes, and so is a logout; the order of each is in its function's doc.

use super::error::classify;
use super::items::{get_n, get_s, n, s};
use super::{keys, sweep, StoreError, UserStore};
use crate::domain::clock;
use crate::domain::instance::InstanceName;
use crate::domain::records::{Session, UserRecord};
use crate::domain::secret::Secret;
use crate::domain::tokens;

impl UserStore {
    /// The live session of `token`: expiry is enforced here, not only by DynamoDB's TTL, which
    /// deletes expired items late.
    pub async fn find_session(&self, token: &Secret) -> Result<Option<Session>, StoreError> {
        let token_hash = tokens::sha256_hex(token.expose());
        let item = self.get(keys::session(&token_hash), true).await?;
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

    /// Revokes `session`: its item first (from that write on the token opens nothing: every
    /// reader reads the session item consistently), then its entry in the user's session list.
    /// Two single-item deletes, each idempotent: a logout interrupted between them leaves an
    /// entry naming no session, which "log out everywhere else" and the deletion skip over
    /// (deleting it again) and the sweeper removes at the entry's expiry.
    pub async fn delete_session(&self, session: &Session) -> Result<(), StoreError> {
        self.delete_key(keys::session(&session.token_hash)).await?;
        self.delete_key(keys::user_session(&session.instance, session.user_id, &session.token_hash)).await
    }

    /// One unconditional `DeleteItem` (deleting what is gone already is no error).
    async fn delete_key(&self, key: super::items::Item) -> Result<(), StoreError> {
        self.write_gate().await?;
        self.client
            .delete_item()
            .table_name(&self.table)
            .set_key(Some(key))
            .send()
            .await
            .map_err(|e| classify("DeleteItem", e))?;
        Ok(())
    }

    /// The token hashes of every session of a user (live or expired but not yet deleted), from
    /// the user's session list: one consistent `Query`, no scan.
    pub async fn user_sessions(&self, instance: &InstanceName, user_id: u64) -> Result<Vec<String>, StoreError> {
        self.query_partition(keys::user_sessions(instance, user_id), "SESSION#")
            .await?
            .iter()
            .map(|item| {
                let sk = get_s(item, "sk")?;
                Ok(sk.strip_prefix("SESSION#").ok_or(StoreError::Corrupt("sk"))?.to_string())
            })
            .collect()
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

    /// Stores a Rocket.Chat session under the hash of its token, expiring at `expires_at` (epoch
    /// seconds; also the table's TTL attribute, and the sweep index's due time), and its entry in
    /// the user's session list: two single-item puts, the entry first (issue 33). A login that
    /// stops or fails between them leaves an entry that names no session (it opens nothing,
    /// "log out everywhere else" and a deletion delete it again, the sweeper removes it at its
    /// expiry) and never a session missing from its user's list, which a deletion or "log out
    /// everywhere else" would not find. (Sent together they would save a round trip, but a
    /// failure of one would leave the other written: a login function may not delete.)
    pub async fn put_session(&self, token: &Secret, user: &UserRecord, expires_at: i64) -> Result<(), StoreError> {
        let token_hash = tokens::sha256_hex(token.expose());
        let key = keys::session(&token_hash);
        let mut item = key.clone();
        item.extend([
            ("instance".to_string(), s(user.instance.as_str())),
            ("user_id".to_string(), n(user.user_id)),
            ("rc_id".to_string(), s(&user.rc_id)),
            ("created_at".to_string(), n(clock::now_micros())),
        ]);
        sweep::expiring(&mut item, expires_at);
        let mut entry = keys::user_session(&user.instance, user.user_id, &token_hash);
        sweep::expiring(&mut entry, expires_at);
        // The list entry: a plain put (its key holds the token's hash: writing it again is the same).
        self.write_gate().await?;
        let put = self.client.put_item().table_name(&self.table).set_item(Some(entry));
        put.send().await.map_err(|e| classify("PutItem", e))?;
        self.write_gate().await?;
        match self.put_new(item).send().await {
            Ok(_) => Ok(()),
            // The token is 256 fresh random bits, so the only item that can already hold its
            // hash is this very write, sent again by the SDK after its answer was lost.
            // Confirm it is ours.
            Err(e) if e.as_service_error().is_some_and(|se| se.is_conditional_check_failed_exception()) => {
                let existing = self.get(key, true).await?.ok_or(StoreError::Corrupt("session vanished"))?;
                let ours = get_s(&existing, "instance")? == user.instance.as_str()
                    && get_n::<u64>(&existing, "user_id")? == user.user_id
                    && get_n::<i64>(&existing, "expires_at")? == expires_at;
                if ours {
                    Ok(())
                } else {
                    Err(StoreError::Corrupt("session token collision"))
                }
            }
            Err(e) => Err(classify("PutItem", e)),
        }
    }
}
