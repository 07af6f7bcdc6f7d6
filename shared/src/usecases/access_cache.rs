//! What an execution environment remembers of the API key check and of instances' settings, so
//! that an app's traffic does not read its instance's partition (`INST#{instance}`) in every
//! request (issue 30; docs/key-design.md, docs/security.md "API key cache"):
//!
//! - a client key's positive answer (its permissions) and an instance's settings (sign-up
//!   policy, linking by email) for `API_KEY_CACHE_SECS`;
//! - an unknown key or an unknown instance for `API_KEY_NEGATIVE_CACHE_SECS` (no longer);
//! - never an admin key's positive answer (`ignore_acl`): what it may do (reset any user's key,
//!   delete users) must stop at once when it is revoked, and its requests are the operator's few.
//!
//! Keys are kept as the instance and the SHA-256 of the key, never the key. Each map holds at
//! most [`MAX_ENTRIES`]; a full map first drops what has run out, then the oldest entry.

use std::collections::HashMap;
use std::hash::Hash;
use std::sync::Mutex;
use std::time::{Duration, Instant};

use crate::domain::instance::InstanceName;
use crate::domain::records::{ApiKeyCheck, InstanceAccess, InstanceSettings, SignUpPolicy};
use crate::domain::secret::Secret;
use crate::domain::tokens;

/// Entries each map keeps at most (an entry is about 100 bytes: at most about 100 KB each). A
/// deployment serves a few instances with a few keys each; the bound is for made-up keys.
pub const MAX_ENTRIES: usize = 1_024;

/// A key's answer as kept: the key's standing in an instance that exists.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum KeyAnswer {
    Valid(crate::domain::records::ApiKeyPermissions),
    Invalid,
}

/// The environment's memory of API key checks and instance settings.
#[derive(Debug)]
pub struct AccessCache {
    positive: Duration,
    negative: Duration,
    /// (instance, SHA-256 hex of the key) → the key's answer.
    keys: Bounded<(InstanceName, String), KeyAnswer>,
    /// instance → its settings; `None`: no such instance.
    instances: Bounded<InstanceName, Option<InstanceSettings>>,
}

impl AccessCache {
    /// Keeps positive answers `positive`, negative ones `negative` (zero: not at all).
    pub fn new(positive: Duration, negative: Duration) -> AccessCache {
        AccessCache {
            positive,
            negative: negative.min(positive),
            keys: Bounded::new(MAX_ENTRIES),
            instances: Bounded::new(MAX_ENTRIES),
        }
    }

    /// The answer of `api_key` in `instance`, if this environment has one that has not run out.
    pub fn access(&self, instance: &InstanceName, api_key: &Secret) -> Option<InstanceAccess> {
        let now = Instant::now();
        let settings = self.instances.get(instance, now)?;
        let Some(settings) = settings else {
            return Some(InstanceAccess {
                check: ApiKeyCheck::UnknownInstance,
                sign_up: SignUpPolicy::Closed,
                links_by_email: false,
            });
        };
        let check = match self.keys.get(&(instance.clone(), key_hash(api_key)), now)? {
            KeyAnswer::Valid(permissions) => ApiKeyCheck::Valid(permissions),
            KeyAnswer::Invalid => ApiKeyCheck::InvalidKey,
        };
        Some(InstanceAccess { check, sign_up: settings.sign_up, links_by_email: settings.links_by_email })
    }

    /// Keeps what one read of `instance` and `api_key` found.
    pub fn remember_access(&self, instance: &InstanceName, api_key: &Secret, access: &InstanceAccess) {
        let now = Instant::now();
        let key = (instance.clone(), key_hash(api_key));
        match access.check {
            ApiKeyCheck::UnknownInstance => {
                self.instances.put(instance.clone(), None, now, self.negative);
                self.keys.remove(&key);
            }
            ApiKeyCheck::Valid(permissions) => {
                self.instances.put(instance.clone(), Some(access.settings()), now, self.positive);
                if permissions.ignore_acl {
                    self.keys.remove(&key);
                } else {
                    self.keys.put(key, KeyAnswer::Valid(permissions), now, self.positive);
                }
            }
            ApiKeyCheck::InvalidKey => {
                self.instances.put(instance.clone(), Some(access.settings()), now, self.positive);
                self.keys.put(key, KeyAnswer::Invalid, now, self.negative);
            }
        }
    }

    /// The settings of `instance` this environment has (`Some(None)`: it does not exist).
    pub fn settings(&self, instance: &InstanceName) -> Option<Option<InstanceSettings>> {
        self.instances.get(instance, Instant::now())
    }

    /// Keeps the settings one read of `instance` found (`None`: no such instance).
    pub fn remember_settings(&self, instance: &InstanceName, settings: Option<InstanceSettings>) {
        let ttl = if settings.is_some() { self.positive } else { self.negative };
        self.instances.put(instance.clone(), settings, Instant::now(), ttl);
    }
}

fn key_hash(api_key: &Secret) -> String {
    tokens::sha256_hex(api_key.expose())
}

/// A map of at most `max` entries, each until its own deadline.
#[derive(Debug)]
pub(crate) struct Bounded<K, V> {
    max: usize,
    /// key → (value, kept until, kept since).
    entries: Mutex<HashMap<K, (V, Instant, Instant)>>,
}

impl<K: Eq + Hash + Clone, V: Clone> Bounded<K, V> {
    pub(crate) fn new(max: usize) -> Self {
        Bounded { max, entries: Mutex::new(HashMap::new()) }
    }

    pub(crate) fn get(&self, key: &K, now: Instant) -> Option<V> {
        let entries = self.entries.lock().unwrap_or_else(|e| e.into_inner());
        entries.get(key).filter(|(_, until, _)| *until > now).map(|(v, _, _)| v.clone())
    }

    pub(crate) fn put(&self, key: K, value: V, now: Instant, ttl: Duration) {
        let mut entries = self.entries.lock().unwrap_or_else(|e| e.into_inner());
        if ttl.is_zero() {
            entries.remove(&key);
            return;
        }
        if entries.len() >= self.max && !entries.contains_key(&key) {
            entries.retain(|_, (_, until, _)| *until > now);
            if entries.len() >= self.max {
                let oldest = entries.iter().min_by_key(|(_, (_, _, since))| *since).map(|(k, _)| k.clone());
                if let Some(oldest) = oldest {
                    entries.remove(&oldest);
                }
            }
        }
        entries.insert(key, (value, now + ttl, now));
    }

    fn remove(&self, key: &K) {
        self.entries.lock().unwrap_or_else(|e| e.into_inner()).remove(key);
    }

    #[cfg(test)]
    fn len(&self) -> usize {
        self.entries.lock().unwrap_or_else(|e| e.into_inner()).len()
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::domain::records::ApiKeyPermissions;

    fn instance(name: &str) -> InstanceName {
        InstanceName::parse(name).expect("valid")
    }

    fn access(check: ApiKeyCheck) -> InstanceAccess {
        InstanceAccess { check, sign_up: SignUpPolicy::Open, links_by_email: true }
    }

    const SECS: Duration = Duration::from_secs(60);

    #[test]
    fn a_client_key_is_kept_an_admin_key_never() {
        let cache = AccessCache::new(SECS, SECS);
        let (demo, client, admin) = (instance("demo"), Secret::new("client-key"), Secret::new("admin-key"));
        assert_eq!(cache.access(&demo, &client), None);
        let valid = access(ApiKeyCheck::Valid(ApiKeyPermissions::CLIENT));
        cache.remember_access(&demo, &client, &valid);
        assert_eq!(cache.access(&demo, &client), Some(valid));
        assert_eq!(cache.access(&instance("other"), &client), None, "per instance");
        cache.remember_access(&demo, &admin, &access(ApiKeyCheck::Valid(ApiKeyPermissions::ADMIN)));
        assert_eq!(cache.access(&demo, &admin), None, "an admin key is checked in every request");
        assert_eq!(cache.settings(&demo), Some(Some(valid.settings())), "its read still refreshes the settings");
    }

    #[test]
    fn negative_answers_run_out_first() {
        let cache = AccessCache::new(SECS, Duration::ZERO);
        let (demo, key) = (instance("demo"), Secret::new("made-up"));
        cache.remember_access(&demo, &key, &access(ApiKeyCheck::InvalidKey));
        assert_eq!(cache.access(&demo, &key), None, "no negative answer kept");
        assert!(cache.settings(&demo).is_some(), "the instance exists: its settings are positive");
        cache.remember_access(&instance("ghost"), &key, &access(ApiKeyCheck::UnknownInstance));
        assert_eq!(cache.settings(&instance("ghost")), None);

        let cache = AccessCache::new(Duration::ZERO, Duration::ZERO);
        cache.remember_access(&demo, &key, &access(ApiKeyCheck::Valid(ApiKeyPermissions::CLIENT)));
        assert_eq!(cache.access(&demo, &key), None, "0 keeps nothing");
    }

    #[test]
    fn an_unknown_instance_answers_every_key() {
        let cache = AccessCache::new(SECS, SECS);
        let ghost = instance("ghost");
        cache.remember_access(&ghost, &Secret::new("a"), &access(ApiKeyCheck::UnknownInstance));
        let answer = cache.access(&ghost, &Secret::new("b")).expect("kept");
        assert_eq!((answer.check, answer.sign_up), (ApiKeyCheck::UnknownInstance, SignUpPolicy::Closed));
    }

    #[test]
    fn entries_run_out_and_a_full_map_drops_the_oldest() {
        let map: Bounded<u32, u32> = Bounded::new(3);
        let t0 = Instant::now();
        map.put(1, 1, t0, SECS);
        map.put(2, 2, t0 + Duration::from_secs(1), SECS);
        map.put(3, 3, t0 + Duration::from_secs(2), SECS);
        map.put(4, 4, t0 + Duration::from_secs(3), SECS);
        assert_eq!(map.len(), 3);
        let now = t0 + Duration::from_secs(4);
        assert_eq!((map.get(&1, now), map.get(&2, now), map.get(&4, now)), (None, Some(2), Some(4)));
        assert_eq!(map.get(&2, t0 + SECS + Duration::from_secs(1)), None, "run out");
        // Run-out entries go before any live one.
        map.put(5, 5, t0 + SECS + Duration::from_secs(2), SECS);
        let later = t0 + SECS + Duration::from_secs(2);
        assert_eq!((map.get(&4, later), map.get(&5, later)), (Some(4), Some(5)));
    }

    #[test]
    fn the_key_is_kept_only_as_its_hash() {
        let cache = AccessCache::new(SECS, SECS);
        let key = Secret::new("a-very-secret-api-key");
        cache.remember_access(&instance("demo"), &key, &access(ApiKeyCheck::Valid(ApiKeyPermissions::CLIENT)));
        assert!(!format!("{cache:?}").contains("a-very-secret-api-key"));
    }
}
