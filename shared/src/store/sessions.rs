//! Rocket.Chat sessions: stored under the hash of their token, each listed under its user so that
//! "log out everywhere else" is one query.

use aws_sdk_dynamodb::operation::transact_write_items::TransactWriteItemsError;

use super::error::{classify, transaction_cancelled};
use super::items::{get_n, get_s, n, s};
use super::{keys, StoreError, UserStore};
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

    /// Revokes `session` (its item and its entry in the user's session list, together).
    pub async fn delete_session(&self, session: &Session) -> Result<(), StoreError> {
        let items = vec![
            self.transact_delete(keys::session(&session.token_hash))?,
            self.transact_delete(keys::user_session(&session.instance, session.user_id, &session.token_hash))?,
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
    /// seconds; also the table's TTL attribute), and its entry in the user's session list, in
    /// one transaction.
    pub async fn put_session(&self, token: &Secret, user: &UserRecord, expires_at: i64) -> Result<(), StoreError> {
        let token_hash = tokens::sha256_hex(token.expose());
        let key = keys::session(&token_hash);
        let mut item = key.clone();
        item.extend([
            ("instance".to_string(), s(user.instance.as_str())),
            ("user_id".to_string(), n(user.user_id)),
            ("rc_id".to_string(), s(&user.rc_id)),
            ("created_at".to_string(), n(clock::now_micros())),
            ("expires_at".to_string(), n(expires_at)),
        ]);
        let mut entry = keys::user_session(&user.instance, user.user_id, &token_hash);
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
            // (Not a cancellation for throttling: nothing was written, `classify` says so below.)
            Err(e)
                if transaction_cancelled(&e)
                    || matches!(
                        e.as_service_error(),
                        Some(TransactWriteItemsError::IdempotentParameterMismatchException(_))
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
}
