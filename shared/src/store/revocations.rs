//! What we hold at providers and must withdraw when an account goes: Apple's refresh token on
//! the Apple identity item (sealed), and the pending revocations a deletion records in its first
//! step (`REVOKE#{shard}` / `{provider}#{instance}#{subject}`, spread over
//! [`keys::REVOKE_SHARDS`] partitions), which the deletion tries at once and `revocation-retry`
//! retries until they are done or their TTL (30 days) runs out.

use std::collections::HashMap;

use super::error::classify;
use super::items::{get_n, get_opt_s, get_s, n, s, Item};
use super::{keys, StoreError, UserStore};
use crate::domain::instance::InstanceName;

/// One revocation still to do at a provider. `sealed_token` (Apple) is sealed for the identity
/// (`crate::domain::sealing::identity_aad(instance, provider, subject)`), never plain.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PendingRevocation {
    pub provider: String,
    pub instance: String,
    pub subject: String,
    /// Apple: the client id the token was issued to.
    pub client_id: Option<String>,
    pub sealed_token: Option<String>,
    /// The deleted user whose identity this was (absent on items recorded before issue 33): an
    /// identity that still names it is that deletion under way, not a new sign-up.
    pub user_id: Option<u64>,
    pub attempts: u32,
    /// Epoch seconds: not tried again before.
    pub next_attempt: i64,
    /// DynamoDB's TTL (epoch seconds).
    pub expires_at: i64,
    /// Recorded by an older deployment in the one `REVOKE` partition (read from there, and
    /// deleted or rescheduled there).
    pub(super) unsharded: bool,
}

/// What a deletion's first step records to revoke: the identities of `providers` (Apple only
/// where a refresh token is held), due `now`, kept until `expires_at`.
#[derive(Debug, Clone, Default)]
pub struct RevocationPlan {
    pub providers: Vec<&'static str>,
    pub now: i64,
    pub expires_at: i64,
}

impl PendingRevocation {
    /// Its key: in its shard, or where an older deployment put it.
    fn key(&self) -> Item {
        match self.unsharded {
            true => keys::unsharded_revocation(&self.provider, &self.instance, &self.subject),
            false => keys::revocation(&self.provider, &self.instance, &self.subject),
        }
    }

    fn to_item(&self) -> Item {
        let mut item = self.key();
        item.extend([
            ("provider".to_string(), s(&self.provider)),
            ("instance".to_string(), s(&self.instance)),
            ("subject".to_string(), s(&self.subject)),
            ("attempts".to_string(), n(self.attempts)),
            ("next_attempt".to_string(), n(self.next_attempt)),
            ("expires_at".to_string(), n(self.expires_at)),
        ]);
        if let Some(c) = &self.client_id {
            item.insert("client_id".into(), s(c));
        }
        if let Some(t) = &self.sealed_token {
            item.insert("sealed_token".into(), s(t));
        }
        if let Some(id) = self.user_id {
            item.insert("user_id".into(), n(id));
        }
        item
    }

    fn from_item(item: &Item) -> Result<PendingRevocation, StoreError> {
        Ok(PendingRevocation {
            provider: get_s(item, "provider")?.to_string(),
            instance: get_s(item, "instance")?.to_string(),
            subject: get_s(item, "subject")?.to_string(),
            client_id: get_opt_s(item, "client_id"),
            sealed_token: get_opt_s(item, "sealed_token"),
            user_id: if item.contains_key("user_id") { Some(get_n(item, "user_id")?) } else { None },
            attempts: get_n(item, "attempts")?,
            next_attempt: get_n(item, "next_attempt")?,
            expires_at: get_n(item, "expires_at")?,
            unsharded: get_s(item, "pk")? == keys::REVOKE_PK,
        })
    }
}

impl UserStore {
    /// Keeps Apple's refresh token, sealed, on the identity item (with the client id it was
    /// issued to). `false`: no such identity (deleted meanwhile).
    pub async fn set_refresh_token(
        &self,
        instance: &InstanceName,
        provider: &str,
        subject: &str,
        client_id: &str,
        sealed: &str,
    ) -> Result<bool, StoreError> {
        self.update_if(
            keys::identity(instance, provider, subject),
            "SET refresh_token = :t, refresh_token_client = :c",
            "attribute_exists(pk)",
            &[(":t", s(sealed)), (":c", s(client_id))],
        )
        .await
    }

    /// The pending revocation a deletion records for the identity `provider#subject` of the
    /// user `user_id` (an entry of the tombstone's plan), if `plan` covers it and the identity
    /// still names that user (read consistently before the deletion deletes it; an identity
    /// already gone had its revocation recorded before, and one a new sign-up made since is
    /// another grant): Apple only with a sealed refresh token on the identity item.
    pub(super) async fn planned_revocation(
        &self,
        instance: &InstanceName,
        user_id: u64,
        provider: &str,
        subject: &str,
        plan: &RevocationPlan,
    ) -> Result<Option<PendingRevocation>, StoreError> {
        if !plan.providers.contains(&provider) {
            return Ok(None);
        }
        let Some(item) = self.get(keys::identity(instance, provider, subject), true).await? else {
            return Ok(None);
        };
        if get_n::<u64>(&item, "user_id").ok() != Some(user_id) {
            return Ok(None);
        }
        let (client_id, sealed_token) = match provider {
            "apple" => match (get_opt_s(&item, "refresh_token_client"), get_opt_s(&item, "refresh_token")) {
                (Some(c), Some(t)) => (Some(c), Some(t)),
                _ => return Ok(None),
            },
            _ => (None, None),
        };
        Ok(Some(PendingRevocation {
            provider: provider.to_string(),
            instance: instance.to_string(),
            subject: subject.to_string(),
            client_id,
            sealed_token,
            user_id: Some(user_id),
            attempts: 0,
            next_attempt: plan.now,
            expires_at: plan.expires_at,
            unsharded: false,
        }))
    }

    /// Records the pending revocation (a deletion's step 2), unless it is recorded already: a
    /// resumed step neither resets the attempts of one already tried nor writes it twice. One
    /// conditional `PutItem` in its shard.
    pub(super) async fn put_revocation_once(&self, p: &PendingRevocation) -> Result<(), StoreError> {
        let mut item = p.to_item();
        // Swept when it runs out (a multi-Region strongly consistent table has no TTL).
        super::sweep::expiring(&mut item, p.expires_at);
        self.put_where(item, "attribute_not_exists(pk)", &[]).await.map(|_| ())
    }

    /// Pending revocations due at `now`, at most `limit`: a consistent `Query` of each partition
    /// they are spread over (`REVOKE#0` … and the older `REVOKE`), from a random one on, so that
    /// a run that stops at `limit` does not always favour the same shards.
    pub async fn due_revocations(&self, now: i64, limit: usize) -> Result<Vec<PendingRevocation>, StoreError> {
        let mut partitions = keys::revocation_partitions();
        let start = rand::random_range(0..partitions.len());
        partitions.rotate_left(start);
        let mut due = Vec::new();
        for pk in partitions {
            if due.len() >= limit {
                break;
            }
            let values = [(":pk", s(pk)), (":now", n(now))];
            // An expired one (kept until `expires_at`, issue 33: no TTL) is given up, not retried.
            let filter = "next_attempt <= :now AND (attribute_not_exists(expires_at) OR expires_at > :now)";
            let items = self.query_items("pk = :pk", Some(filter), &values, limit - due.len()).await?;
            for item in &items {
                due.push(PendingRevocation::from_item(item)?);
            }
        }
        Ok(due)
    }

    /// Whether the identity `p` was recorded for exists again as another user's: a deletion
    /// records `p` (its step 2) before it deletes the identity (step 3), so an identity that
    /// still names the deleted user (`p.user_id`) is that deletion under way, while one that
    /// names another user is a new sign-up of the same person, whose grant is not the deleted
    /// account's to revoke. One consistent `GetItem` of the identity item per attempt
    /// (sign-ups read and write nothing more). A revocation recorded before issue 33 (no user
    /// id) was recorded with its identity's deletion: any identity there now is a new sign-up.
    pub async fn revocation_superseded(&self, p: &PendingRevocation) -> Result<bool, StoreError> {
        let Some(instance) = InstanceName::parse(&p.instance) else { return Ok(false) };
        let Some(identity) = self.get(keys::identity(&instance, &p.provider, &p.subject), true).await? else {
            return Ok(false);
        };
        Ok(p.user_id.is_none() || get_n::<u64>(&identity, "user_id").ok() != p.user_id)
    }

    /// A revocation is done: its item goes.
    pub async fn delete_revocation(&self, p: &PendingRevocation) -> Result<(), StoreError> {
        self.client
            .delete_item()
            .table_name(&self.table)
            .set_key(Some(p.key()))
            .send()
            .await
            .map_err(|e| classify("DeleteItem", e))?;
        Ok(())
    }

    /// A revocation failed again: `attempts` and `next_attempt` as given (only if it is still
    /// pending: a concurrent success deleted it).
    pub async fn reschedule_revocation(
        &self,
        p: &PendingRevocation,
        attempts: u32,
        next_attempt: i64,
    ) -> Result<(), StoreError> {
        let result = self
            .client
            .update_item()
            .table_name(&self.table)
            .set_key(Some(p.key()))
            .update_expression("SET attempts = :a, next_attempt = :next")
            .condition_expression("attribute_exists(pk)")
            .set_expression_attribute_values(Some(HashMap::from([
                (":a".to_string(), n(attempts)),
                (":next".to_string(), n(next_attempt)),
            ])))
            .send()
            .await;
        match result {
            Ok(_) => Ok(()),
            Err(e) if e.as_service_error().is_some_and(|se| se.is_conditional_check_failed_exception()) => Ok(()),
            Err(e) => Err(classify("UpdateItem", e)),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn pending_revocations_round_trip_through_items() {
        let p = PendingRevocation {
            provider: "apple".into(),
            instance: "demo".into(),
            subject: "001.abc.1".into(),
            client_id: Some("com.example.app".into()),
            sealed_token: Some("v1.sealed".into()),
            user_id: Some(7),
            attempts: 2,
            next_attempt: 100,
            expires_at: 200,
            unsharded: false,
        };
        let item = p.to_item();
        assert!(get_s(&item, "pk").is_ok_and(|pk| pk.starts_with("REVOKE#")));
        assert_eq!(get_s(&item, "sk").ok(), Some("apple#demo#001.abc.1"));
        assert_eq!(PendingRevocation::from_item(&item).expect("reads"), p);
        // One an older deployment recorded stays where it is.
        let old = PendingRevocation { unsharded: true, ..p.clone() };
        assert_eq!(get_s(&old.to_item(), "pk").ok(), Some("REVOKE"));
        assert_eq!(PendingRevocation::from_item(&old.to_item()).expect("reads"), old);
        let fb = PendingRevocation { provider: "facebook".into(), client_id: None, sealed_token: None, ..p.clone() };
        assert_eq!(PendingRevocation::from_item(&fb.to_item()).expect("reads"), fb);
        // One recorded before issue 33 names no user.
        let fb = PendingRevocation { user_id: None, ..fb };
        assert_eq!(PendingRevocation::from_item(&fb.to_item()).expect("reads"), fb);
    }
}
