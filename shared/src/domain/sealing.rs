//! Secrets we must keep (Apple's refresh tokens, to revoke them when an account is deleted),
//! sealed at rest: AES-256-GCM under `REFRESH_TOKEN_KEY` (32 bytes from SSM), a random 96-bit
//! nonce per seal, and associated data that binds the sealed value to where it belongs
//! (instance, provider, subject): a sealed token copied onto another identity does not open.
//!
//! The key is versioned, as `TOKEN_SECRET` is: new seals use the current key
//! (`REFRESH_TOKEN_KEY`, `REFRESH_TOKEN_KEY_VERSION`), and a value sealed under the previous one
//! (`REFRESH_TOKEN_KEY_PREVIOUS`, `REFRESH_TOKEN_KEY_PREVIOUS_VERSION`) still opens, so a rotation
//! loses no stored token (docs/sessions-and-limits.md, "Rotating REFRESH_TOKEN_KEY").
//!
//! Sealed form: `v2.{key version}.` + base64url(nonce ‖ ciphertext ‖ tag), no padding. The form
//! before versioning, `v1.` + the same, was sealed under key version 1.

use std::fmt;

use aes_gcm::aead::{Aead, KeyInit, Payload};
use aes_gcm::{Aes256Gcm, Key, Nonce};
use base64::engine::general_purpose::{STANDARD, URL_SAFE_NO_PAD};
use base64::Engine;
use rand::RngCore;

use crate::domain::secret::Secret;

/// The form sealed before the key had a version: key version 1.
const UNVERSIONED: &str = "v1.";
const VERSIONED: &str = "v2.";
const NONCE_LEN: usize = 12;

/// One 32-byte sealing key. Never printed.
#[derive(Clone)]
pub struct SealingKey([u8; 32]);

impl fmt::Debug for SealingKey {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("SealingKey(<redacted>)")
    }
}

/// Why a sealed value did not open (or a key did not read).
#[derive(Debug, thiserror::Error, PartialEq, Eq)]
pub enum SealingError {
    #[error("the key is not 32 bytes of standard base64")]
    BadKey,
    #[error("not a sealed value")]
    Malformed,
    /// Another key, other associated data, or a changed ciphertext.
    #[error("the sealed value does not open")]
    DoesNotOpen,
    /// Sealed under a key version this deployment no longer has (rotated twice since).
    #[error("sealed under key version {0}, which is not configured")]
    RetiredKey(u32),
}

impl SealingKey {
    /// `REFRESH_TOKEN_KEY`: standard base64 of exactly 32 bytes (`openssl rand -base64 32`).
    pub fn from_base64(value: &str) -> Result<SealingKey, SealingError> {
        let bytes = STANDARD.decode(value.trim()).map_err(|_| SealingError::BadKey)?;
        let key: [u8; 32] = bytes.try_into().map_err(|_| SealingError::BadKey)?;
        Ok(SealingKey(key))
    }

    fn cipher(&self) -> Aes256Gcm {
        Aes256Gcm::new(Key::<Aes256Gcm>::from_slice(&self.0))
    }

    /// nonce ‖ ciphertext ‖ tag of `plain`, bound to `aad`.
    fn encrypt(&self, plain: &Secret, aad: &str) -> Result<Vec<u8>, SealingError> {
        let mut nonce = [0u8; NONCE_LEN];
        rand::rng().fill_bytes(&mut nonce);
        let sealed = self
            .cipher()
            .encrypt(Nonce::from_slice(&nonce), Payload { msg: plain.expose().as_bytes(), aad: aad.as_bytes() })
            .map_err(|_| SealingError::DoesNotOpen)?;
        let mut out = nonce.to_vec();
        out.extend_from_slice(&sealed);
        Ok(out)
    }

    fn decrypt(&self, bytes: &[u8], aad: &str) -> Result<Secret, SealingError> {
        if bytes.len() < NONCE_LEN + 16 {
            return Err(SealingError::Malformed);
        }
        let (nonce, ciphertext) = bytes.split_at(NONCE_LEN);
        let plain = self
            .cipher()
            .decrypt(Nonce::from_slice(nonce), Payload { msg: ciphertext, aad: aad.as_bytes() })
            .map_err(|_| SealingError::DoesNotOpen)?;
        String::from_utf8(plain).map(Secret::new).map_err(|_| SealingError::DoesNotOpen)
    }
}

/// The sealing keys by version: the current one seals, the current and the previous one open.
#[derive(Debug, Clone)]
pub struct SealingKeys {
    current: (u32, SealingKey),
    previous: Option<(u32, SealingKey)>,
}

impl SealingKeys {
    /// `previous` must have another version than `current` (the configuration checks it).
    pub fn new(current: (u32, SealingKey), previous: Option<(u32, SealingKey)>) -> SealingKeys {
        SealingKeys { current, previous }
    }

    /// The version new seals are made with.
    pub fn current_version(&self) -> u32 {
        self.current.0
    }

    fn key(&self, version: u32) -> Option<&SealingKey> {
        std::iter::once(&self.current).chain(self.previous.iter()).find(|(v, _)| *v == version).map(|(_, k)| k)
    }

    /// Seals `plain`, bound to `aad`, under the current key.
    pub fn seal(&self, plain: &Secret, aad: &str) -> Result<String, SealingError> {
        let (version, key) = &self.current;
        Ok(format!("{VERSIONED}{version}.{}", URL_SAFE_NO_PAD.encode(key.encrypt(plain, aad)?)))
    }

    /// Opens what [`SealingKeys::seal`] made with the same `aad`, under the key of the version it
    /// names (or a `v1.` value, under version 1).
    pub fn open(&self, sealed: &str, aad: &str) -> Result<Secret, SealingError> {
        let (version, body) = match sealed.strip_prefix(VERSIONED) {
            Some(rest) => {
                let (version, body) = rest.split_once('.').ok_or(SealingError::Malformed)?;
                let digits = !version.is_empty() && version.len() <= 9 && version.bytes().all(|b| b.is_ascii_digit());
                (version.parse::<u32>().ok().filter(|_| digits).ok_or(SealingError::Malformed)?, body)
            }
            None => (1, sealed.strip_prefix(UNVERSIONED).ok_or(SealingError::Malformed)?),
        };
        let bytes = URL_SAFE_NO_PAD.decode(body).map_err(|_| SealingError::Malformed)?;
        self.key(version).ok_or(SealingError::RetiredKey(version))?.decrypt(&bytes, aad)
    }
}

/// The associated data of a provider token sealed for one identity.
pub fn identity_aad(instance: &str, provider: &str, subject: &str) -> String {
    format!("social-login/refresh-token\0{instance}\0{provider}\0{subject}")
}

#[cfg(test)]
mod tests {
    use super::*;

    fn key(byte: u8) -> SealingKey {
        SealingKey::from_base64(&STANDARD.encode([byte; 32])).expect("key")
    }

    fn keys(byte: u8) -> SealingKeys {
        SealingKeys::new((1, key(byte)), None)
    }

    /// What the code before versioning sealed: `v1.` under the one key.
    fn unversioned(k: &SealingKey, plain: &str, aad: &str) -> String {
        format!("{UNVERSIONED}{}", URL_SAFE_NO_PAD.encode(k.encrypt(&Secret::new(plain), aad).expect("seal")))
    }

    #[test]
    fn round_trip_with_a_fresh_nonce_each_time() {
        let k = keys(7);
        let aad = identity_aad("demo", "apple", "001.abc.1");
        let token = Secret::new("r.refresh-token-value");
        let a = k.seal(&token, &aad).expect("seal");
        let b = k.seal(&token, &aad).expect("seal");
        assert_ne!(a, b, "a random nonce per seal");
        assert!(a.starts_with("v2.1."), "{a}");
        assert!(!a.contains("refresh-token-value"));
        assert_eq!(k.open(&a, &aad).expect("open").expose(), "r.refresh-token-value");
        assert_eq!(k.open(&b, &aad).expect("open").expose(), "r.refresh-token-value");
    }

    #[test]
    fn a_tampered_ciphertext_does_not_open() {
        let k = keys(7);
        let aad = identity_aad("demo", "apple", "s");
        let sealed = k.seal(&Secret::new("token"), &aad).expect("seal");
        let prefix = "v2.1.";
        let mut bytes = URL_SAFE_NO_PAD.decode(&sealed[prefix.len()..]).expect("b64");
        for i in [0, NONCE_LEN, bytes.len() - 1] {
            bytes[i] ^= 1;
            let tampered = format!("{prefix}{}", URL_SAFE_NO_PAD.encode(&bytes));
            assert_eq!(k.open(&tampered, &aad).err(), Some(SealingError::DoesNotOpen), "byte {i}");
            bytes[i] ^= 1;
        }
        for malformed in ["v1.AAAA", "token", "v2.1.AAAA", "v2.AAAA", "v2..AAAA", "v2.x.AAAA", "v2.99999999999.AAAA"] {
            assert_eq!(k.open(malformed, &aad).err(), Some(SealingError::Malformed), "{malformed}");
        }
    }

    #[test]
    fn other_associated_data_does_not_open() {
        let k = keys(7);
        let sealed = k.seal(&Secret::new("token"), &identity_aad("demo", "apple", "s1")).expect("seal");
        for aad in [identity_aad("demo", "apple", "s2"), identity_aad("other", "apple", "s1"), String::new()] {
            assert_eq!(k.open(&sealed, &aad).err(), Some(SealingError::DoesNotOpen));
        }
    }

    #[test]
    fn another_key_does_not_open() {
        let aad = identity_aad("demo", "apple", "s");
        let sealed = keys(7).seal(&Secret::new("token"), &aad).expect("seal");
        assert_eq!(keys(8).open(&sealed, &aad).err(), Some(SealingError::DoesNotOpen));
    }

    /// A rotation: values sealed under the old key (in either form) still open while it is the
    /// previous one; new seals use the new key; after the next rotation the oldest no longer do.
    #[test]
    fn a_rotation_keeps_what_the_previous_key_sealed() {
        let aad = identity_aad("demo", "apple", "s");
        let before = keys(7);
        let old = before.seal(&Secret::new("old"), &aad).expect("seal");
        let older = unversioned(&key(7), "older", &aad);
        assert_eq!(before.open(&older, &aad).expect("v1 opens under version 1").expose(), "older");
        let rotated = SealingKeys::new((2, key(8)), Some((1, key(7))));
        assert_eq!(rotated.open(&old, &aad).expect("open").expose(), "old");
        assert_eq!(rotated.open(&older, &aad).expect("open").expose(), "older");
        let new = rotated.seal(&Secret::new("new"), &aad).expect("seal");
        assert!(new.starts_with("v2.2."), "{new}");
        assert_eq!(rotated.current_version(), 2);
        let again = SealingKeys::new((3, key(9)), Some((2, key(8))));
        assert_eq!(again.open(&new, &aad).expect("open").expose(), "new");
        assert_eq!(again.open(&old, &aad).err(), Some(SealingError::RetiredKey(1)));
        assert_eq!(again.open(&older, &aad).err(), Some(SealingError::RetiredKey(1)));
        // The version is part of what names the key, not of what is authenticated: a value
        // relabelled with another version is opened with that key, and does not open.
        let relabelled = new.replacen("v2.2.", "v2.3.", 1);
        assert_eq!(again.open(&relabelled, &aad).err(), Some(SealingError::DoesNotOpen));
    }

    #[test]
    fn keys_are_exactly_32_bytes_of_base64_and_never_printed() {
        assert_eq!(SealingKey::from_base64(&STANDARD.encode([1u8; 31])).err(), Some(SealingError::BadKey));
        assert_eq!(SealingKey::from_base64(&STANDARD.encode([1u8; 33])).err(), Some(SealingError::BadKey));
        assert_eq!(SealingKey::from_base64("not base64!").err(), Some(SealingError::BadKey));
        assert_eq!(format!("{:?}", key(7)), "SealingKey(<redacted>)");
        assert!(format!("{:?}", keys(7)).contains("SealingKey(<redacted>)"));
    }
}
