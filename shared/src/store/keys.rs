//! The table's key layout: the `pk`/`sk` of every item kind (the table in [`super`]'s docs).
//! Each function is named after the item whose key it builds.

use std::collections::HashMap;

use super::items::{s, Item};
use crate::domain::instance::InstanceName;
use crate::domain::secret::Secret;
use crate::domain::tokens;

fn key(pk: String, sk: &str) -> Item {
    HashMap::from([("pk".to_string(), s(pk)), ("sk".to_string(), s(sk))])
}

/// The partition of an instance: its item and its API keys.
pub(super) fn instance_pk(instance: &InstanceName) -> String {
    format!("INST#{instance}")
}

/// The instance item (its sign-up policy and linking; before the counter item below, also the
/// user id counter).
pub(super) fn instance(instance: &InstanceName) -> Item {
    key(instance_pk(instance), "INSTANCE")
}

/// The instance's user id counter, in a partition of its own: a login function may write it
/// without any right on the instance's partition (its API keys).
pub(super) fn user_ids(instance: &InstanceName) -> Item {
    key(format!("USERIDS#{instance}"), "USERIDS")
}

/// An API key of the instance, by the key's SHA-256 (or by its whole `sk`, `APIKEY#{hash}`).
pub(super) fn api_key(instance: &InstanceName, key_hash: &str) -> Item {
    api_key_sk(instance, &format!("APIKEY#{key_hash}"))
}

pub(super) fn api_key_sk(instance: &InstanceName, sk: &str) -> Item {
    key(instance_pk(instance), sk)
}

/// A provider identity (with a snapshot of its user).
pub(super) fn identity(instance: &InstanceName, provider: &str, subject: &str) -> Item {
    key(format!("IDENT#{instance}#{provider}#{subject}"), "IDENT")
}

/// The partition listing the instances where a provider's subject has an identity: one item
/// per instance (sk `INST#{instance}`), written and deleted with the identity (issue 28: the
/// deletion callbacks of a deployment-wide provider app act in every instance).
pub(super) fn subject_pk(provider: &str, subject: &str) -> String {
    format!("SUBJECT#{provider}#{subject}")
}

/// The entry of `instance` in the subject's list.
pub(super) fn subject_instance(provider: &str, subject: &str, instance: &InstanceName) -> Item {
    key(subject_pk(provider, subject), &format!("{SUBJECT_INSTANCE_PREFIX}{instance}"))
}

/// The sort key prefix of a subject's entries.
pub(super) const SUBJECT_INSTANCE_PREFIX: &str = "INST#";

/// The user item.
pub(super) fn user(instance: &InstanceName, user_id: u64) -> Item {
    key(format!("USER#{instance}#{user_id}"), "USER")
}

/// A username's reservation.
pub(super) fn username(instance: &InstanceName, username: &str) -> Item {
    key(format!("UNAME#{instance}#{username}"), "UNAME")
}

/// The lookup item of a Syncano user key (by its SHA-256), which names the key's user.
pub(super) fn syncano_user_key(instance: &InstanceName, user_key: &Secret) -> Item {
    key(format!("UKEY#{instance}#{}", tokens::sha256_hex(user_key.expose())), "UKEY")
}

/// The one partition of pending revocations before they were spread (issue 30): written no
/// more, still read and emptied by `revocation-retry` (its items expire within 30 days).
pub(super) const REVOKE_PK: &str = "REVOKE";

/// How many partitions pending revocations are spread over (issue 30): a wave of deletions
/// (a provider notifying many, an admin clean-up) writes to this many keys, not one;
/// `revocation-retry` reads every one.
pub(super) const REVOKE_SHARDS: u32 = 32;

/// The partition of the pending revocation whose sort key is `sk`: `REVOKE#{shard}`, the shard
/// from the SHA-256 of `sk`.
fn revocation_pk(sk: &str) -> String {
    format!("{REVOKE_PK}#{}", shard(sk, REVOKE_SHARDS))
}

/// Every partition of pending revocations: the shards, then the one of older deployments.
pub(super) fn revocation_partitions() -> Vec<String> {
    (0..REVOKE_SHARDS).map(|i| format!("{REVOKE_PK}#{i}")).chain([REVOKE_PK.to_string()]).collect()
}

/// A pending revocation of what we hold of `provider`'s `subject` in `instance`.
pub(super) fn revocation(provider: &str, instance: &str, subject: &str) -> Item {
    let sk = format!("{provider}#{instance}#{subject}");
    key(revocation_pk(&sk), &sk)
}

/// The same pending revocation as an older deployment recorded it, in the one `REVOKE` partition.
pub(super) fn unsharded_revocation(provider: &str, instance: &str, subject: &str) -> Item {
    key(REVOKE_PK.to_string(), &format!("{provider}#{instance}#{subject}"))
}

/// Which of `shards` a key spreads `text` to: the first four bytes of its SHA-256.
fn shard(text: &str, shards: u32) -> u32 {
    use sha2::Digest;
    let digest = sha2::Sha256::digest(text.as_bytes());
    u32::from_be_bytes([digest[0], digest[1], digest[2], digest[3]]) % shards
}

/// How many partitions an instance's deletion audit is spread over (issue 30): by user id, so a
/// wave of deletions in one instance writes to this many keys; an auditor reads every one.
pub(super) const AUDIT_SHARDS: u64 = 32;

/// An item by the `pk` another item records (a tombstone records its user-key lookup's).
pub(super) fn by_pk(pk: &str, sk: &str) -> Item {
    key(pk.to_string(), sk)
}

/// The email index item of `email`, already ASCII case-folded by
/// [`VerifiedIdentity::authoritative_email`](crate::domain::identity::VerifiedIdentity::authoritative_email).
pub(super) fn email(instance: &InstanceName, email: &str) -> Item {
    key(format!("EMAIL#{instance}#{email}"), "EMAIL")
}

/// A Rocket.Chat session, by the SHA-256 of its token.
pub(super) fn session(token_hash: &str) -> Item {
    key(format!("SESSION#{token_hash}"), "SESSION")
}

/// The partition listing a user's sessions: one item per session, sk `SESSION#{token hash}`.
pub(super) fn user_sessions(instance: &InstanceName, user_id: u64) -> String {
    format!("USESS#{instance}#{user_id}")
}

/// A session's entry in its user's session list.
pub(super) fn user_session(instance: &InstanceName, user_id: u64, token_hash: &str) -> Item {
    key(user_sessions(instance, user_id), &format!("SESSION#{token_hash}"))
}

/// The audit item of an account deletion: one of the instance's audit partitions
/// (`AUDIT#{instance}#{user id mod AUDIT_SHARDS}`), one item per deletion
/// (`DELETED#{user id}#{micros}`); it holds no personal data.
pub(super) fn deletion_audit(instance: &InstanceName, user_id: u64, micros: i64) -> Item {
    key(format!("AUDIT#{instance}#{}", user_id % AUDIT_SHARDS), &format!("DELETED#{user_id}#{micros}"))
}

/// The status of a Facebook data deletion request, by its confirmation code.
pub(super) fn facebook_deletion(code: &str) -> Item {
    key(format!("FBDEL#{code}"), "FBDEL")
}

/// A Facebook data deletion request, by the SHA-256 of its signature: names its code.
pub(super) fn facebook_deletion_request(fingerprint: &str) -> Item {
    key(format!("FBREQ#{fingerprint}"), "FBREQ")
}

/// The replay record of an Apple notification, by the SHA-256 of its `jti` (or payload).
pub(super) fn apple_notification(id: &str) -> Item {
    key(format!("APPLENOTE#{id}"), "APPLENOTE")
}

/// The replay record of a Facebook deauthorize request, by the SHA-256 of its signature.
pub(super) fn facebook_deauthorization(fingerprint: &str) -> Item {
    key(format!("FBDEAUTH#{fingerprint}"), "FBDEAUTH")
}

/// A failure counter of the login limiter in one window.
pub(super) fn failure_counter(counter: &str, window: i64) -> Item {
    key(format!("FAIL#{counter}#{window}"), "FAIL")
}

/// An instance's configuration: its own provider apps, one attribute per provider.
pub(super) fn instance_apps(instance: &InstanceName) -> Item {
    key(format!("INSTCONF#{instance}"), "PROVIDERS")
}

#[cfg(test)]
mod tests {
    use super::*;
    use aws_sdk_dynamodb::types::AttributeValue;

    fn text(item: &Item, name: &str) -> String {
        match item.get(name) {
            Some(AttributeValue::S(v)) => v.clone(),
            _ => String::new(),
        }
    }

    #[test]
    fn pending_revocations_spread_over_every_shard() {
        let mut seen = std::collections::BTreeSet::new();
        for i in 0..2_000 {
            seen.insert(text(&revocation("facebook", "demo", &i.to_string()), "pk"));
        }
        assert_eq!(seen.len(), REVOKE_SHARDS as usize);
        assert_eq!(revocation_partitions().len(), REVOKE_SHARDS as usize + 1);
    }

    #[test]
    fn keys_follow_the_documented_design() {
        let i = InstanceName::parse("demo").expect("valid");
        assert_eq!(text(&identity(&i, "facebook", "10158"), "pk"), "IDENT#demo#facebook#10158");
        assert_eq!(text(&user(&i, 5), "pk"), "USER#demo#5");
        assert_eq!(text(&username(&i, "rocket.cat"), "pk"), "UNAME#demo#rocket.cat");
        assert_eq!(text(&api_key(&i, "ab"), "sk"), "APIKEY#ab");
        assert_eq!(text(&user_ids(&i), "pk"), "USERIDS#demo");
        assert_eq!(text(&user_session(&i, 5, "ab"), "pk"), "USESS#demo#5");
        assert_eq!(text(&deletion_audit(&i, 5, 7), "sk"), "DELETED#5#7");
        assert_eq!(text(&deletion_audit(&i, 37, 7), "pk"), "AUDIT#demo#5");
        let revoke = revocation("apple", "demo", "001.a.1");
        assert!(text(&revoke, "pk").starts_with("REVOKE#") && revocation_partitions().contains(&text(&revoke, "pk")));
        assert_eq!(text(&revoke, "sk"), "apple#demo#001.a.1");
        assert_eq!(text(&unsharded_revocation("apple", "demo", "001.a.1"), "pk"), "REVOKE");
        assert_eq!(text(&failure_counter("203.0.113.1", 7), "pk"), "FAIL#203.0.113.1#7");
        assert_eq!(text(&facebook_deletion("ab12"), "pk"), "FBDEL#ab12");
        assert_eq!(text(&facebook_deletion_request("cd34"), "pk"), "FBREQ#cd34");
        assert_eq!(text(&apple_notification("ef56"), "pk"), "APPLENOTE#ef56");
        assert_eq!(text(&facebook_deauthorization("ab78"), "pk"), "FBDEAUTH#ab78");
        let entry = subject_instance("facebook", "10158", &i);
        assert_eq!((text(&entry, "pk"), text(&entry, "sk")), ("SUBJECT#facebook#10158".into(), "INST#demo".into()));
    }
}
