//! Secrets we must keep (Apple's refresh tokens, to revoke them when an account is deleted),
//! sealed at rest: AES-256-GCM under `REFRESH_TOKEN_KEY` (32 bytes from SSM), a random 96-bit
//! nonce per seal, and associated data that binds the sealed value to where it belongs
//! (instance, provider, subject): a sealed token copied onto another identity does not open.
//!
//! Sealed form: `v1.` + base64url(nonce ‖ ciphertext ‖ tag), no padding.

use std::fmt;

use aes_gcm::aead::{Aead, KeyInit, Payload};
use aes_gcm::{Aes256Gcm, Key, Nonce};
use base64::engine::general_purpose::{STANDARD, URL_SAFE_NO_PAD};
use base64::Engine;
use rand::RngCore;

use crate::secret::Secret;

const PREFIX: &str = "v1.";
const NONCE_LEN: usize = 12;

/// The 32-byte sealing key. Never printed.
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

    /// Seals `plain`, bound to `aad`.
    pub fn seal(&self, plain: &Secret, aad: &str) -> Result<String, SealingError> {
        let mut nonce = [0u8; NONCE_LEN];
        rand::rng().fill_bytes(&mut nonce);
        let sealed = self
            .cipher()
            .encrypt(Nonce::from_slice(&nonce), Payload { msg: plain.expose().as_bytes(), aad: aad.as_bytes() })
            .map_err(|_| SealingError::DoesNotOpen)?;
        let mut out = nonce.to_vec();
        out.extend_from_slice(&sealed);
        Ok(format!("{PREFIX}{}", URL_SAFE_NO_PAD.encode(out)))
    }

    /// Opens what [`SealingKey::seal`] made with the same key and `aad`.
    pub fn open(&self, sealed: &str, aad: &str) -> Result<Secret, SealingError> {
        let body = sealed.strip_prefix(PREFIX).ok_or(SealingError::Malformed)?;
        let bytes = URL_SAFE_NO_PAD.decode(body).map_err(|_| SealingError::Malformed)?;
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

    #[test]
    fn round_trip_with_a_fresh_nonce_each_time() {
        let k = key(7);
        let aad = identity_aad("demo", "apple", "001.abc.1");
        let token = Secret::new("r.refresh-token-value");
        let a = k.seal(&token, &aad).expect("seal");
        let b = k.seal(&token, &aad).expect("seal");
        assert_ne!(a, b, "a random nonce per seal");
        assert!(!a.contains("refresh-token-value"));
        assert_eq!(k.open(&a, &aad).expect("open").expose(), "r.refresh-token-value");
        assert_eq!(k.open(&b, &aad).expect("open").expose(), "r.refresh-token-value");
    }

    #[test]
    fn a_tampered_ciphertext_does_not_open() {
        let k = key(7);
        let aad = identity_aad("demo", "apple", "s");
        let sealed = k.seal(&Secret::new("token"), &aad).expect("seal");
        let mut bytes = URL_SAFE_NO_PAD.decode(&sealed[PREFIX.len()..]).expect("b64");
        for i in [0, NONCE_LEN, bytes.len() - 1] {
            bytes[i] ^= 1;
            let tampered = format!("{PREFIX}{}", URL_SAFE_NO_PAD.encode(&bytes));
            assert_eq!(k.open(&tampered, &aad).err(), Some(SealingError::DoesNotOpen), "byte {i}");
            bytes[i] ^= 1;
        }
        assert_eq!(k.open("v1.AAAA", &aad).err(), Some(SealingError::Malformed));
        assert_eq!(k.open("token", &aad).err(), Some(SealingError::Malformed));
    }

    #[test]
    fn other_associated_data_does_not_open() {
        let k = key(7);
        let sealed = k.seal(&Secret::new("token"), &identity_aad("demo", "apple", "s1")).expect("seal");
        for aad in [identity_aad("demo", "apple", "s2"), identity_aad("other", "apple", "s1"), String::new()] {
            assert_eq!(k.open(&sealed, &aad).err(), Some(SealingError::DoesNotOpen));
        }
    }

    #[test]
    fn another_key_does_not_open() {
        let aad = identity_aad("demo", "apple", "s");
        let sealed = key(7).seal(&Secret::new("token"), &aad).expect("seal");
        assert_eq!(key(8).open(&sealed, &aad).err(), Some(SealingError::DoesNotOpen));
    }

    #[test]
    fn keys_are_exactly_32_bytes_of_base64_and_never_printed() {
        assert_eq!(SealingKey::from_base64(&STANDARD.encode([1u8; 31])).err(), Some(SealingError::BadKey));
        assert_eq!(SealingKey::from_base64(&STANDARD.encode([1u8; 33])).err(), Some(SealingError::BadKey));
        assert_eq!(SealingKey::from_base64("not base64!").err(), Some(SealingError::BadKey));
        assert_eq!(format!("{:?}", key(7)), "SealingKey(<redacted>)");
    }
}
