//! Bearer secrets this service issues, and how they are kept: only as SHA-256 hashes, or derived
//! on demand from the server's `TOKEN_SECRET`, never stored in plain text.

use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use base64::Engine;
use hmac::{Hmac, Mac};
use rand::RngCore;
use sha2::{Digest, Sha256};

use crate::domain::secret::Secret;

type HmacSha256 = Hmac<Sha256>;

/// Meteor's id alphabet: Rocket.Chat user ids are 17 characters of it.
const METEOR_ALPHABET: &[u8] = b"23456789ABCDEFGHJKLMNPQRSTWXYZabcdefghijkmnopqrstuvwxyz";

fn random_bytes<const N: usize>() -> [u8; N] {
    let mut buf = [0u8; N];
    rand::rng().fill_bytes(&mut buf);
    buf
}

/// Lowercase hex SHA-256: how every issued secret is stored and looked up.
pub fn sha256_hex(value: &str) -> String {
    hex::encode(Sha256::digest(value.as_bytes()))
}

/// Lowercase hex HMAC-SHA256 of `msg` under `key`.
pub fn hmac_sha256_hex(key: &str, msg: &str) -> String {
    hex::encode(hmac_sha256(key, msg))
}

fn hmac_sha256(key: &str, msg: &str) -> [u8; 32] {
    // HMAC accepts keys of any length, so `new_from_slice` cannot fail here.
    let mut mac = <HmacSha256 as Mac>::new_from_slice(key.as_bytes()).unwrap_or_else(|_| unreachable!());
    mac.update(msg.as_bytes());
    mac.finalize().into_bytes().into()
}

/// A Rocket.Chat `authToken`: 256 random bits, base64url without padding (43 characters).
pub fn new_session_token() -> Secret {
    Secret::new(URL_SAFE_NO_PAD.encode(random_bytes::<32>()))
}

/// A Syncano-style API key: 40 lowercase hex characters (160 random bits).
pub fn new_api_key() -> Secret {
    Secret::new(hex::encode(random_bytes::<20>()))
}

/// A short public id for an API key, shown by `admin list-keys` and used to revoke it.
pub fn new_key_id() -> String {
    hex::encode(random_bytes::<4>())
}

/// A Rocket.Chat (Meteor) user id: 17 characters of the Meteor alphabet.
pub fn new_rocketchat_id() -> String {
    random_bytes::<17>()
        .iter()
        // 256 is not a multiple of 55: reject-free mapping has a tiny bias, harmless for an
        // identifier that is not a secret.
        .map(|b| METEOR_ALPHABET[*b as usize % METEOR_ALPHABET.len()] as char)
        .collect()
}

/// The Syncano `user_key` of a user made before keys had a salt: 40 hex characters derived from
/// the token secret, the instance, the user id and the key's generation only. Still answered for
/// such users until their next reset; never made anew.
pub fn derive_legacy_user_key(token_secret: &Secret, instance: &str, user_id: u64, generation: u64) -> Secret {
    let full = hmac_sha256_hex(token_secret.expose(), &format!("user_key\n{instance}\n{user_id}\n{generation}"));
    Secret::new(&full[..40])
}

/// The Syncano `user_key` of a user: 40 hex characters, HMAC-SHA256 under the token secret of
/// the user's key version, over the instance, the user id, the key's generation and the user's
/// random salt (stored on the user). Stable across logins, changed by a reset (new generation,
/// new salt, current secret version), never stored in plain text; and `TOKEN_SECRET` alone does
/// not yield it: the salt is needed too.
pub fn derive_user_key(token_secret: &Secret, instance: &str, user_id: u64, generation: u64, salt: &str) -> Secret {
    let msg = format!("user_key/v2\n{instance}\n{user_id}\n{generation}\n{salt}");
    Secret::new(&hmac_sha256_hex(token_secret.expose(), &msg)[..40])
}

/// A new per-user key salt: 128 random bits, hex.
pub fn new_key_salt() -> String {
    hex::encode(random_bytes::<16>())
}

/// What a user's key is derived from, as stored on the user.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct KeyMaterial {
    pub generation: u64,
    /// `None`: a user made before salts (legacy derivation, secret version 1).
    pub salt: Option<String>,
    /// The token secret version the key was made with.
    pub version: u32,
}

/// The deployment's user-key derivation (holds the token secrets).
#[derive(Clone)]
pub struct UserKeys {
    /// `None` in a function configured without `TOKEN_SECRET` (it derives no key).
    secrets: Option<TokenSecrets>,
}

impl UserKeys {
    pub fn new(secrets: Option<TokenSecrets>) -> UserKeys {
        UserKeys { secrets }
    }

    /// Fresh material for a new key: generation `generation`, a new salt, the current secret.
    pub fn fresh(&self, generation: u64) -> KeyMaterial {
        let version = self.secrets.as_ref().map_or(1, |s| s.current.0);
        KeyMaterial { generation, salt: Some(new_key_salt()), version }
    }

    /// The key of a user of `instance`; `None` if the secret of its version is gone (retired
    /// before every user of it had a reset: see the rotation procedure) or none is configured.
    pub fn key(&self, instance: &str, user_id: u64, material: &KeyMaterial) -> Option<Secret> {
        let secret = self.secrets.as_ref()?.get(material.version)?;
        Some(match &material.salt {
            Some(salt) => derive_user_key(secret, instance, user_id, material.generation, salt),
            None => derive_legacy_user_key(secret, instance, user_id, material.generation),
        })
    }
}

/// The secrets Syncano user keys are derived from, by version. New keys (a first login, a reset)
/// use the current one; a user's key stays derived from the version it was made with, so a
/// rotation breaks no key a user holds: `TOKEN_SECRET` + `TOKEN_SECRET_VERSION` (default 1) are
/// the current secret, `TOKEN_SECRET_PREVIOUS` + `TOKEN_SECRET_PREVIOUS_VERSION` the one before
/// (docs/sessions-and-limits.md, "Rotating TOKEN_SECRET").
#[derive(Debug, Clone)]
pub struct TokenSecrets {
    pub current: (u32, Secret),
    pub previous: Option<(u32, Secret)>,
}

impl TokenSecrets {
    /// The secret of `version`, if this deployment still has it.
    pub fn get(&self, version: u32) -> Option<&Secret> {
        std::iter::once(&self.current).chain(self.previous.iter()).find(|(v, _)| *v == version).map(|(_, s)| s)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn session_tokens_are_256_bit_base64url_and_unique() {
        let a = new_session_token();
        let b = new_session_token();
        assert_eq!(a.expose().len(), 43);
        assert!(a.expose().bytes().all(|c| c.is_ascii_alphanumeric() || c == b'-' || c == b'_'));
        assert_ne!(a, b);
    }

    #[test]
    fn api_keys_are_40_hex() {
        let k = new_api_key();
        assert_eq!(k.expose().len(), 40);
        assert!(k.expose().bytes().all(|c| c.is_ascii_hexdigit()));
    }

    #[test]
    fn rocketchat_ids_are_17_meteor_characters() {
        let id = new_rocketchat_id();
        assert_eq!(id.len(), 17);
        assert!(id.bytes().all(|c| METEOR_ALPHABET.contains(&c)));
    }

    #[test]
    fn user_keys_are_stable_until_the_generation_or_salt_changes() {
        let s = Secret::new("0123456789abcdef0123456789abcdef");
        let k1 = derive_user_key(&s, "demo", 5, 1, "salt");
        assert_eq!(k1, derive_user_key(&s, "demo", 5, 1, "salt"));
        assert_eq!(k1.expose().len(), 40);
        assert_ne!(k1, derive_user_key(&s, "demo", 5, 2, "salt"));
        assert_ne!(k1, derive_user_key(&s, "demo", 5, 1, "other salt"));
        assert_ne!(k1, derive_user_key(&s, "other", 5, 1, "salt"));
        assert_ne!(k1, derive_user_key(&Secret::new("another-secret-another-secret-xx"), "demo", 5, 1, "salt"));
        assert_ne!(k1, derive_legacy_user_key(&s, "demo", 5, 1), "the secret alone does not give the key");
    }

    #[test]
    fn each_key_uses_the_secret_of_its_version() {
        let (a, b) = (Secret::new("a".repeat(32)), Secret::new("b".repeat(32)));
        let keys = UserKeys::new(Some(TokenSecrets { current: (2, b.clone()), previous: Some((1, a.clone())) }));
        let old = KeyMaterial { generation: 1, salt: Some("s".into()), version: 1 };
        assert_eq!(keys.key("demo", 5, &old), Some(derive_user_key(&a, "demo", 5, 1, "s")));
        let fresh = keys.fresh(2);
        assert_eq!(fresh.version, 2);
        assert_eq!(
            keys.key("demo", 5, &fresh),
            Some(derive_user_key(&b, "demo", 5, 2, fresh.salt.as_deref().unwrap_or_default()))
        );
        let legacy = KeyMaterial { generation: 1, salt: None, version: 1 };
        assert_eq!(keys.key("demo", 5, &legacy), Some(derive_legacy_user_key(&a, "demo", 5, 1)));
        assert_eq!(keys.key("demo", 5, &KeyMaterial { version: 3, ..old.clone() }), None, "a retired version");
        assert_eq!(UserKeys::new(None).key("demo", 5, &old), None, "no TOKEN_SECRET configured");
    }

    #[test]
    fn hmac_matches_rfc_4231_case_2() {
        assert_eq!(
            hmac_sha256_hex("Jefe", "what do ya want for nothing?"),
            "5bdcc146bf60754e6a042426089575c75a003f089d2739839dec58b964ec3843"
        );
    }
}
